import Foundation
import MGTestSupport
import Testing
@testable import MGTensor

/// Reading a file written by the gguf Python package, and writing and re-reading our own.
@Suite struct GGUFFileTests {
    let scratch: ScratchDirectory
    init() throws { scratch = try ScratchDirectory() }

    private var samplePath: String {
        get throws {
            guard let url = Bundle.module.url(forResource: "gguf_py_sample", withExtension: "gguf", subdirectory: "Fixtures") else {
                throw GoldenMissing(name: "gguf_py_sample.gguf")
            }
            return url.path
        }
    }

    @Test func readsEveryMetadataTypeWrittenByGGUFPy() throws {
        let file = try GGUFFile(contentsOf: URL(fileURLWithPath: try samplePath))
        #expect(file.version == 3)
        #expect(file.metadata["general.architecture"] == .string("llama"))
        #expect(file.metadata["test.u8"] == .uint8(200))
        #expect(file.metadata["test.i8"] == .int8(-100))
        #expect(file.metadata["test.u16"] == .uint16(60000))
        #expect(file.metadata["test.i16"] == .int16(-30000))
        #expect(file.metadata["test.u32"] == .uint32(4_000_000_000))
        #expect(file.metadata["test.i32"] == .int32(-2_000_000_000))
        #expect(file.metadata["test.u64"] == .uint64((1 << 63) + 5))
        #expect(file.metadata["test.i64"] == .int64(-(1 << 62)))
        #expect(file.metadata["test.f32"] == .float32(1.5))
        #expect(file.metadata["test.f64"] == .float64(-2.25))
        #expect(file.metadata["test.bool"] == .bool(true))
        #expect(file.metadata["test.string"] == .string("héllo"))
        #expect(file.metadata["test.array_i32"] == .array(elementType: .int32, [.int32(1), .int32(-2), .int32(3)]))
        #expect(file.metadata["test.array_str"] == .array(elementType: .string, [.string("a"), .string("bc"), .string("")]))
    }

    @Test func readsTensorsWrittenByGGUFPy() throws {
        let file = try GGUFFile(contentsOf: URL(fileURLWithPath: try samplePath))
        let values = try Golden("gguf_py_sample_values", bundle: .module)
        let f32 = try file.tensor(named: "plain.f32")
        #expect(f32.shape == [3, 5] && f32.dtype == .f32 && f32.storage.isMemoryMapped)
        #expect(f32.floats() == (try values.tensor("plain.f32").floats()))
        #expect(try file.tensor(named: "plain.f16").dtype == .f16)
        guard case .quantized(let q8) = try file.matrix(named: "quant.q8_0") else { Issue.record("Q8_0 is not quantized"); return }
        #expect(q8.shape == [2, 64] && q8.format == .q8_0 && q8.storage.isMemoryMapped)
        #expect(try q8.dequantized().floats() == (try values.tensor("quant.q8_0.values").floats()))
        #expect(try file.tensor(named: "quant.q8_0").floats() == (try values.tensor("quant.q8_0.values").floats()))
        guard case .quantized(let q4k) = try file.matrix(named: "quant.q4_k") else { Issue.record("Q4_K is not quantized"); return }
        #expect(q4k.shape == [2, 256] && q4k.format == .q4_K)
        guard case .dense = try file.matrix(named: "plain.f32") else { Issue.record("F32 should be dense"); return }
    }

    @Test func writerRoundTrips() throws {
        var generator = SplitMix(seed: 3)
        let dense = try Tensor(shape: [4, 6], values: (0..<24).map { _ in generator.gaussian() })
        let half = try dense.converted(to: .f16)
        let q = try QuantizedMatrix.quantizing(try Tensor(shape: [6, 256], values: (0..<1536).map { _ in generator.gaussian() }), to: .q4_K)
        var writer = GGUFWriter()
        writer.metadata = [
            ("general.architecture", .string("llama")), ("general.alignment", .uint32(64)),
            ("x.array", .array(elementType: .float32, [.float32(1), .float32(2)])), ("x.empty", .array(elementType: .string, [])),
        ]
        writer.tensors = [("dense", .tensor(dense)), ("half", .tensor(half)), ("stacked", .quantized(q, shape: [2, 3, 256]))]
        let path = scratch.path + "/round.gguf"
        try writer.write(to: path)
        let file = try GGUFFile(contentsOf: URL(fileURLWithPath: path))
        #expect(file.alignment == 64)
        #expect(file.tensorOrder == ["dense", "half", "stacked"])
        #expect(file.metadata["x.empty"] == .array(elementType: .string, []))
        #expect(try file.tensor(named: "dense").floats() == dense.floats())
        #expect(try file.tensor(named: "half").floats() == half.floats())
        for name in file.names { #expect((file.tensorInfos[name]?.offset ?? 1) % 64 == 0) }
        guard case .quantized(let back) = try file.matrix(named: "stacked") else { Issue.record("not quantized"); return }
        #expect(back.rows == 6 && back.columns == 256)
        #expect(file.tensorInfos["stacked"]?.shape == [2, 3, 256])
        #expect(try back.dequantized().floats() == (try q.dequantized().floats()))
        let expert = try back.rows(3..<6)
        #expect(try expert.dequantized().floats() == Array(try q.dequantized().floats()[768...]))
    }
}
