import Foundation
import Testing
@testable import MGTensor

/// Hostile and malformed checkpoints: each fails with its own `CheckpointError`, nothing executes,
/// nothing traps.
@Suite struct TorchCheckpointHostileTests {
    let scratch: ScratchDirectory
    init() throws { scratch = try ScratchDirectory() }

    private func openError(fixture name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (CheckpointError?, String) {
        let path = try torchFixture(name)
        return (checkpointError(sourceLocation: sourceLocation) { () throws(CheckpointError) in try TorchCheckpoint(contentsOf: URL(fileURLWithPath: path)) }, path)
    }

    private func openError(_ bytes: [UInt8], limits: TorchCheckpoint.Limits = .init(),
                           sourceLocation: SourceLocation = #_sourceLocation) throws -> (CheckpointError?, String) {
        let path = try scratch.write(bytes, to: "case.bin")
        let error = checkpointError(sourceLocation: sourceLocation) { () throws(CheckpointError) in
            try TorchCheckpoint(contentsOf: URL(fileURLWithPath: path), limits: limits)
        }
        return (error, path)
    }

    // MARK: Fixtures from Tools/goldens/torch_bin.py

    @Test func disallowedGlobalsAreRefusedWhenRead() throws {
        let cases = [
            ("tb_evil_os_system", "os", "system"), ("tb_evil_builtins_eval", "builtins", "eval"),
            ("tb_evil_getattr", "__builtin__", "getattr"), ("tb_evil_posix_system_legacy", "posix", "system"),
        ]
        for (fixture, module, name) in cases {
            let (error, path) = try openError(fixture: fixture)
            #expect(error == .disallowedGlobal(path: path, module: module, name: name), "\(fixture)")
        }
    }

    @Test func localHeaderSizeDisagreesWithCentralDirectory() throws {
        let (error, path) = try openError(fixture: "tb_bad_local_size")
        // Storage 0 is the first tensor of the state dict, the position_ids buffer: 5 int64.
        #expect(error == .archiveSizeMismatch(path: path, entry: "tb_module/data/0", centralSize: 40, localSize: 44))
    }

    @Test func truncatedArchive() throws {
        let (error, path) = try openError(fixture: "tb_truncated")
        #expect(error == .archiveEndNotFound(path: path))
    }

    @Test func compressedEntries() throws {
        let (error, _) = try openError(fixture: "tb_deflated")
        guard case .archiveUnsupported(_, _, let reason) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("compression method 8"))
    }

    @Test func storageOffsetOutOfRange() throws {
        let (error, path) = try openError(fixture: "tb_storage_out_of_range")
        #expect(error == .storageOutOfRange(path: path, tensor: "x", storage: "0", endByte: 20, storageBytes: 16))
    }

    @Test func truncatedLegacyStorage() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: try torchFixture("tb_legacy"))))
        let (error, _) = try openError(Array(bytes.dropLast(3)))
        guard case .storageSizeMismatch(_, _, let expected, let actual) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(actual == expected - 3)
    }

    @Test func bigEndianLegacyFile() throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: try torchFixture("tb_legacy"))))
        let marker = TorchTestArchive.string("little_endian")
        guard let start = (0...(bytes.count - marker.count)).first(where: { Array(bytes[$0..<($0 + marker.count)]) == marker }) else {
            Issue.record("no little_endian key")
            return
        }
        let flag = start + marker.count + (bytes[start + marker.count] == 0x71 ? 2 : 0)  // skip a BINPUT
        #expect(bytes[flag] == 0x88)
        bytes[flag] = 0x89  // NEWTRUE -> NEWFALSE
        let (error, path) = try openError(bytes)
        #expect(error == .unsupportedByteOrder(path: path, byteOrder: "big (legacy little_endian is not True)"))
    }

    // MARK: Hand-built archives

    @Test func zip64RecordsAndExtraFields() throws {
        for zip64 in [false, true] {
            let bytes = TorchTestArchive.archive(TorchTestArchive.entries(floats: [1, 2, 3, 4]), zip64: zip64)
            let path = try scratch.write(bytes, to: "zip64-\(zip64).bin")
            let checkpoint = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: path))
            #expect(try checkpoint.tensor(named: "w").floats() == [1, 2, 3, 4])
        }
    }

    @Test func centralDirectoryOutOfRange() throws {
        var bytes = TorchTestArchive.archive(TorchTestArchive.entries(floats: [1]))
        let end = bytes.count - 22
        TorchTestArchive.put32(&bytes, at: end + 16, 1 << 30)
        let (error, path) = try openError(bytes)
        guard case .archiveRecordOutOfRange(path, "central directory", 1 << 30, _, end) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
    }

    @Test func localHeaderOffsetOutOfRange() throws {
        var bytes = TorchTestArchive.archive(TorchTestArchive.entries(floats: [1]))
        let directory = Int(TorchTestArchive.get32(bytes, at: bytes.count - 22 + 16))
        TorchTestArchive.put32(&bytes, at: directory + 42, UInt32(directory - 10))  // first entry: data.pkl
        let (error, path) = try openError(bytes)
        #expect(error == .archiveRecordOutOfRange(
            path: path, record: "local header of archive/data.pkl", offset: directory - 10, length: 30, limit: directory))
    }

    @Test func archiveContentErrors() throws {
        let good = TorchTestArchive.entries(floats: [1, 2])
        let (missingPickle, path) = try openError(TorchTestArchive.archive(good.filter { !$0.0.hasSuffix("data.pkl") }))
        #expect(missingPickle == .archiveMissingEntry(path: path, entry: "*/data.pkl"))
        let (missingStorage, _) = try openError(TorchTestArchive.archive(good.filter { !$0.0.hasSuffix("data/0") }))
        #expect(missingStorage == .storageNotFound(path: path, storage: "0"))
        let short = good.map { $0.0.hasSuffix("data/0") ? ($0.0, Array($0.1.prefix(4))) : $0 }
        let (size, _) = try openError(TorchTestArchive.archive(short))
        #expect(size == .storageSizeMismatch(path: path, storage: "0", expectedBytes: 8, actualBytes: 4))
        let big = good.map { $0.0.hasSuffix("byteorder") ? ($0.0, Array("big".utf8)) : $0 }
        let (order, _) = try openError(TorchTestArchive.archive(big))
        #expect(order == .unsupportedByteOrder(path: path, byteOrder: "big"))
        let (duplicate, _) = try openError(TorchTestArchive.archive(good + [good[1]]))
        #expect(duplicate == .archiveDuplicateEntry(path: path, entry: good[1].0))
        let (garbage, _) = try openError(Array("not a checkpoint".utf8))
        #expect(garbage == .unrecognizedTorchFormat(path: path))
    }

    // MARK: Hostile pickles

    /// A zip around `pickle` (no storages).
    private func pickleError(_ pickle: [UInt8], limits: TorchCheckpoint.Limits = .init(),
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> (CheckpointError?, String) {
        try openError(TorchTestArchive.archive([("archive/data.pkl", pickle)]), limits: limits, sourceLocation: sourceLocation)
    }

    @Test func resourceLimits() throws {
        var limits = TorchCheckpoint.Limits()
        limits.maximumStackDepth = 100
        let (depth, path) = try pickleError([0x80, 2] + [UInt8](repeating: 0x4E, count: 200) + [0x2E], limits: limits)
        #expect(depth == .pickleLimitExceeded(path: path, limit: "stack depth", value: 101))
        let (marks, _) = try pickleError([0x80, 2] + [UInt8](repeating: 0x28, count: 200) + [0x2E], limits: limits)
        #expect(marks == .pickleLimitExceeded(path: path, limit: "stack depth", value: 101))

        limits = TorchCheckpoint.Limits()
        limits.maximumMemoEntries = 10
        let memo = (0..<20).flatMap { key -> [UInt8] in [0x72, UInt8(key), 0, 0, 0] }
        let (memoError, _) = try pickleError([0x80, 2, 0x4E] + memo + [0x2E], limits: limits)
        #expect(memoError == .pickleLimitExceeded(path: path, limit: "memo size", value: 11))

        limits = TorchCheckpoint.Limits()
        limits.maximumValues = 50
        let (values, _) = try pickleError([0x80, 2] + Array(repeating: [0x4E, 0x30], count: 60).flatMap { $0 } + [0x4E, 0x2E], limits: limits)
        #expect(values == .pickleLimitExceeded(path: path, limit: "value count", value: 51))
    }

    @Test func deepNestingAndCyclesDoNotRecurse() throws {
        // 100 000 nested 1-tuples: built and released without recursion.
        let (nested, path) = try pickleError([0x80, 2, 0x4E] + [UInt8](repeating: 0x85, count: 100_000) + [0x2E])
        #expect(nested == .unsupportedCheckpointContent(path: path, reason: "the pickled object is a tuple, not a state dict"))
        // d = {}; d["a"] = d
        let cycle: [UInt8] = [0x80, 2, 0x7D, 0x71, 0] + TorchTestArchive.string("a") + [0x68, 0, 0x73, 0x2E]
        let (cyclic, _) = try pickleError(cycle)
        #expect(cyclic == .unsupportedCheckpointContent(path: path, reason: "the state dict holds no tensors"))
    }

    @Test func malformedPickles() throws {
        let (opcode, _) = try pickleError([0x80, 2, 0x69, 0x2E])  // INST
        guard case .unsupportedPickleOpcode(_, 0x69, _) = opcode else { Issue.record("\(String(describing: opcode))"); return }
        let cases: [[UInt8]] = [
            [0x80, 2, 0x58, 0xFF, 0, 0, 0, 0x61],  // string length past the end
            [0x80, 2, 0x68, 7, 0x2E],  // BINGET of an unset memo key
            [0x80, 2, 0x73, 0x2E],  // SETITEM on an empty stack
            [0x80, 2, 0x4E, 0x4E, 0x2E],  // two values at STOP
            [0x80, 2] + TorchTestArchive.global("torch", "FloatStorage") + [0x29, 0x52, 0x2E],  // calling a storage type
            [0x80, 2, 0x29, 0x51, 0x2E],  // persistent id that is not a storage tuple
            [0x80, 2, 0x7D, 0x4E, 0x4E, 0x73, 0x2E],  // dict key None
        ]
        for pickle in cases {
            let (error, _) = try pickleError(pickle)
            guard case .invalidPickle = error else { Issue.record("\(pickle): \(String(describing: error))"); continue }
        }
        let (tensorClass, path) = try pickleError([0x80, 2] + TorchTestArchive.global("torch", "Tensor") + [0x2E])
        #expect(tensorClass == .disallowedGlobal(path: path, module: "torch", name: "Tensor"))
        let (notDict, _) = try pickleError([0x80, 2, 0x4E, 0x2E])
        #expect(notDict == .unsupportedCheckpointContent(path: path, reason: "the pickled object is a None, not a state dict"))
    }
}

/// Hand-assembled zip archives and pickles for the tests above.
enum TorchTestArchive {
    static func le(_ value: UInt64, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

    static func put32(_ bytes: inout [UInt8], at offset: Int, _ value: UInt32) {
        bytes.replaceSubrange(offset..<(offset + 4), with: le(UInt64(value), 4))
    }

    static func get32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    static func string(_ text: String) -> [UInt8] { [0x58] + le(UInt64(text.utf8.count), 4) + Array(text.utf8) }
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    static func int(_ value: Int) -> [UInt8] { [0x4A] + le(UInt64(UInt32(truncatingIfNeeded: value)), 4) }

    /// The entries of `{"w": tensor(floats)}` as torch.save lays them out (storage key "0").
    static func entries(floats: [Float]) -> [(String, [UInt8])] {
        let count = floats.count
        var pickle: [UInt8] = [0x80, 2, 0x7D, 0x28] + string("w") + global("torch._utils", "_rebuild_tensor_v2")
        pickle += [0x28, 0x28] + string("storage") + global("torch", "FloatStorage") + string("0") + string("cpu") + int(count)
        pickle += [0x74, 0x51] + int(0) + int(count) + [0x85] + int(1) + [0x85, 0x89, 0x7D, 0x74, 0x52, 0x75, 0x2E]
        let data = floats.flatMap { le(UInt64($0.bitPattern), 4) }
        return [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8)), ("archive/data/0", data)]
    }

    /// A stored zip of `entries`; with `zip64`, every central size and offset is in a ZIP64 extra
    /// field and the ZIP64 end records are present.
    static func archive(_ entries: [(String, [UInt8])], zip64: Bool = false) -> [UInt8] {
        var output: [UInt8] = []
        var central: [UInt8] = []
        for (name, data) in entries {
            let offset = UInt64(output.count), size = UInt64(data.count), nameBytes = Array(name.utf8)
            output += le(0x0403_4B50, 4) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4)
            output += le(size, 4) + le(size, 4) + le(UInt64(nameBytes.count), 2) + le(0, 2) + nameBytes + data
            let extra = zip64 ? le(1, 2) + le(24, 2) + le(size, 8) + le(size, 8) + le(offset, 8) : []
            let saturated: UInt64 = 0xFFFF_FFFF
            central += le(0x0201_4B50, 4) + le(45, 2) + le(45, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4)
            central += le(zip64 ? saturated : size, 4) + le(zip64 ? saturated : size, 4)
            central += le(UInt64(nameBytes.count), 2) + le(UInt64(extra.count), 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4)
            central += le(zip64 ? saturated : offset, 4) + nameBytes + extra
        }
        let directoryOffset = UInt64(output.count), count = UInt64(entries.count), directorySize = UInt64(central.count)
        output += central
        if zip64 {
            let record = UInt64(output.count)
            output += le(0x0606_4B50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4)
            output += le(count, 8) + le(count, 8) + le(directorySize, 8) + le(directoryOffset, 8)
            output += le(0x0706_4B50, 4) + le(0, 4) + le(record, 8) + le(1, 4)
            output += le(0x0605_4B50, 4) + le(0, 4) + le(0xFFFF, 2) + le(0xFFFF, 2) + le(0xFFFF_FFFF, 4) + le(0xFFFF_FFFF, 4) + le(0, 2)
        } else {
            output += le(0x0605_4B50, 4) + le(0, 4) + le(count, 2) + le(count, 2) + le(directorySize, 4) + le(directoryOffset, 4) + le(0, 2)
        }
        return output
    }
}
