import Foundation
import Testing
@testable import MGTensor

/// Hand-built malformed GGUF files: each maps to its own ``GGUFProblem``, none traps.
@Suite struct GGUFHostileTests {
    let scratch: ScratchDirectory
    init() throws { scratch = try ScratchDirectory() }

    /// GGUF bytes assembled field by field.
    struct Bytes {
        var data: [UInt8] = []
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
        mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); data += Array(s.utf8) }
        mutating func header(tensors: UInt64, entries: UInt64) { u32(0x4655_4747); u32(3); u64(tensors); u64(entries) }
        mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
            string(name); u32(UInt32(dims.count)); for d in dims { u64(d) }; u32(type); u64(offset)
        }
        mutating func pad(to alignment: Int = 32) { data += [UInt8](repeating: 0, count: (alignment - data.count % alignment) % alignment) }
    }

    private func problem(_ bytes: Bytes, sourceLocation: SourceLocation = #_sourceLocation) throws -> GGUFProblem? {
        let path = try scratch.write(bytes.data, to: "case.gguf")
        do {
            _ = try GGUFFile(contentsOf: URL(fileURLWithPath: path))
            Issue.record("opened without error", sourceLocation: sourceLocation)
            return nil
        } catch {
            guard case .invalidGGUF(let errorPath, let problem) = error, errorPath == path else {
                Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
                return nil
            }
            return problem
        }
    }

    /// A valid one-tensor file (F32 [2, 4]) as the starting point of the cases.
    private func valid(type: UInt32 = 0, dims: [UInt64] = [4, 2], offset: UInt64 = 0, payload: Int = 32) -> Bytes {
        var b = Bytes()
        b.header(tensors: 1, entries: 1)
        b.string("general.architecture"); b.u32(8); b.string("llama")
        b.tensor("t", dims: dims, type: type, offset: offset)
        b.pad()
        b.data += [UInt8](repeating: 0, count: payload)
        return b
    }

    @Test func validFileOpens() throws {
        let path = try scratch.write(valid().data, to: "ok.gguf")
        let file = try GGUFFile(contentsOf: URL(fileURLWithPath: path))
        #expect(file.tensorInfos["t"]?.shape == [2, 4])
    }

    @Test func badMagicAndVersion() throws {
        var b = valid(); b.data[0] = 0x47 ^ 0xFF
        #expect(try problem(b) == .badMagic(0x4655_47B8))
        var v = valid(); v.data[4] = 4
        #expect(try problem(v) == .unsupportedVersion(4))
    }

    @Test func truncationAnywhereIsTyped() throws {
        let full = valid().data
        // Every cut inside the header and tensor infos is an error, never a trap.
        for length in [0, 3, 7, 15, 23, 30, 50, 60, 70, 80] where length < full.count {
            var b = Bytes(); b.data = Array(full[0..<length])
            let found = try problem(b)
            #expect(found != nil)
        }
        var cut = Bytes(); cut.data = Array(full.dropLast(1))
        if case .tensorPastEnd = try problem(cut) {} else { Issue.record("data cut short is not tensorPastEnd") }
    }

    @Test func absurdCounts() throws {
        var b = Bytes(); b.header(tensors: .max, entries: 0)
        if case .countTooLarge(let what, _, _) = try problem(b) { #expect(what == "tensor") } else { Issue.record("no countTooLarge") }
        var e = Bytes(); e.header(tensors: 0, entries: 1 << 40)
        if case .countTooLarge(let what, _, _) = try problem(e) { #expect(what == "metadata entry") } else { Issue.record("no countTooLarge") }
        var a = Bytes(); a.header(tensors: 0, entries: 1); a.string("k"); a.u32(9); a.u32(4); a.u64(1 << 50)
        if case .countTooLarge(let what, _, _) = try problem(a) { #expect(what == "array element") } else { Issue.record("no countTooLarge") }
    }

    @Test func absurdStringLengthAndBadUTF8() throws {
        var b = Bytes(); b.header(tensors: 0, entries: 1); b.u64(.max); b.data += [UInt8](repeating: 0, count: 16)
        #expect(try problem(b) == .stringTooLong(offset: 24, length: .max))
        var u = Bytes(); u.header(tensors: 0, entries: 1); u.u64(2); u.data += [0xC3, 0x28]; u.u32(0); u.data.append(1)
        #expect(try problem(u) == .invalidUTF8(offset: 24))
    }

    @Test func unknownValueTypeAndNesting() throws {
        var b = Bytes(); b.header(tensors: 0, entries: 1); b.string("k"); b.u32(13); b.u64(0)
        #expect(try problem(b) == .unknownValueType(offset: 33, type: 13))
        var n = Bytes(); n.header(tensors: 0, entries: 1); n.string("k")
        n.u32(9); for _ in 0..<6 { n.u32(9); n.u64(1) }
        n.data += [UInt8](repeating: 0, count: 64)
        if case .arrayNestingTooDeep = try problem(n) {} else { Issue.record("nesting accepted") }
    }

    @Test func duplicateKeysAndTensors() throws {
        var b = Bytes(); b.header(tensors: 0, entries: 2)
        for _ in 0..<2 { b.string("k"); b.u32(0); b.data.append(1) }
        #expect(try problem(b) == .duplicateKey("k"))
        var t = Bytes(); t.header(tensors: 2, entries: 0)
        t.tensor("t", dims: [4], type: 0, offset: 0); t.tensor("t", dims: [4], type: 0, offset: 32)
        t.pad(); t.data += [UInt8](repeating: 0, count: 64)
        #expect(try problem(t) == .duplicateTensor("t"))
    }

    @Test func invalidAlignment() throws {
        for (type, payload) in [(UInt32(4), UInt32(48)), (4, 0), (0, 32)] {
            var b = Bytes(); b.header(tensors: 0, entries: 1); b.string("general.alignment"); b.u32(type)
            if type == 4 { b.u32(payload) } else { b.data.append(UInt8(payload)) }
            if case .invalidAlignment = try problem(b) {} else { Issue.record("alignment \(payload) accepted") }
        }
    }

    @Test func unknownTensorTypeAndShapes() throws {
        #expect(try problem(valid(type: 99)) == .unknownTensorType(tensor: "t", type: 99))
        #expect(try problem(valid(type: 4)) == .unknownTensorType(tensor: "t", type: 4))   // removed Q4_2
        #expect(try problem(valid(dims: [0, 2])) == .invalidShape(tensor: "t", dimensions: [0, 2]))
        #expect(try problem(valid(dims: [1 << 62, 1 << 62])) == .invalidShape(tensor: "t", dimensions: [1 << 62, 1 << 62]))
        #expect(try problem(valid(dims: [1, 1, 1, 1, 1])) == .invalidShape(tensor: "t", dimensions: []))
        #expect(try problem(valid(type: 8, dims: [33, 1])) == .rowNotWholeBlocks(tensor: "t", columns: 33, type: "Q8_0"))
    }

    @Test func offsetsPastEndMisalignedAndOverlapping() throws {
        #expect(try problem(valid(offset: 16)) == .misalignedTensor(tensor: "t", offset: 16, alignment: 32))
        #expect(try problem(valid(offset: 1 << 40)) == .tensorPastEnd(tensor: "t", offset: 1 << 40, byteCount: 32, dataSize: 32))
        #expect(try problem(valid(offset: .max - 31)) == .tensorPastEnd(tensor: "t", offset: .max - 31, byteCount: 32, dataSize: 32))
        var t = Bytes(); t.header(tensors: 2, entries: 0)
        t.tensor("a", dims: [16], type: 0, offset: 0); t.tensor("b", dims: [4], type: 0, offset: 32)
        t.pad(); t.data += [UInt8](repeating: 0, count: 96)
        #expect(try problem(t) == .overlappingTensors(tensor: "b", other: "a"))
    }
}
