import Foundation
import Testing
@testable import MGTensor

/// Path of a `tb_*.bin` fixture written by Tools/goldens/torch_bin.py.
func torchFixture(_ name: String) throws -> String {
    guard let url = Bundle.module.url(forResource: name, withExtension: "bin", subdirectory: "Fixtures") else {
        throw GoldenMissing(name: name)
    }
    return url.path
}

/// Real `torch.save` output read back bit-exactly (tolerance 0: every byte must match PyTorch's).
@Suite struct TorchCheckpointTests {
    let expected: SafetensorsFile
    init() throws { expected = try Golden("tb_expected").file }

    /// The expected tensors of `case` (keys `<case>/<name>`), by name.
    private func expectedNames(_ prefix: String) -> [String] {
        expected.names.filter { $0.hasPrefix(prefix + "/") }.map { String($0.dropFirst(prefix.count + 1)) }.sorted()
    }

    private func bytes(_ tensor: Tensor) -> [UInt8] { tensor.withUnsafeBytes { Array($0) } }

    /// Every tensor of `checkpoint` equals the golden one in dtype, shape and bytes.
    private func expectMatches(_ checkpoint: TorchCheckpoint, golden prefix: String,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(checkpoint.names == expectedNames(prefix), sourceLocation: sourceLocation)
        for name in checkpoint.names {
            let actual = try checkpoint.tensor(named: name)
            let reference = try expected.tensor(named: "\(prefix)/\(name)")
            #expect(actual.dtype == reference.dtype, "\(name)", sourceLocation: sourceLocation)
            #expect(actual.shape == reference.shape, "\(name)", sourceLocation: sourceLocation)
            #expect(bytes(actual) == bytes(reference), "\(name) differs", sourceLocation: sourceLocation)
        }
    }

    @Test func zipFormatAllDTypesAndViews() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: try torchFixture("tb_zip")))
        #expect(checkpoint.format == .zip)
        try expectMatches(checkpoint, golden: "zip")
        #expect(checkpoint.ignoredKeys == ["step"])
        #expect(checkpoint.names.contains("nested.b.c"))
        #expect(checkpoint.entries["u16"]?.dtype == .u16)  // _rebuild_tensor_v3 over an untyped storage
        #expect(try checkpoint.tensor(named: "scalar").shape == [])
        #expect(try checkpoint.tensor(named: "empty").shape == [0, 3])
    }

    @Test func sharedStorageViewsAreZeroCopyWhenContiguous() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: try torchFixture("tb_zip")))
        let entries = checkpoint.entries
        let views = ["shared.base", "shared.row", "shared.transposed", "shared.block"]
        #expect(Set(views.compactMap { entries[$0]?.storage }).count == 1)
        #expect(entries["shared.row"]?.isContiguous == true)
        #expect(entries["shared.transposed"]?.isContiguous == false)
        #expect(entries["shared.transposed"]?.strides == [1, 6])
        #expect(entries["shared.block"]?.isContiguous == false)
        #expect(entries["permuted"]?.isContiguous == false)
        #expect(try checkpoint.tensor(named: "shared.base").storage.isMemoryMapped)
        #expect(try checkpoint.tensor(named: "shared.row").storage.isMemoryMapped)
        #expect(try checkpoint.tensor(named: "f32").storage.isMemoryMapped)
        #expect(try !checkpoint.tensor(named: "shared.transposed").storage.isMemoryMapped)
        // The row view starts 12 floats into the base storage.
        let base = try checkpoint.tensor(named: "shared.base").floats()
        #expect(try checkpoint.tensor(named: "shared.row").floats() == Array(base[12..<18]))
    }

    @Test func legacyFormat() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: try torchFixture("tb_legacy")))
        #expect(checkpoint.format == .legacy)
        try expectMatches(checkpoint, golden: "legacy")
        #expect(checkpoint.ignoredKeys == ["step"])
        #expect(checkpoint.entries["shared.transposed"]?.isContiguous == false)
    }

    @Test func moduleStateDict() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: try torchFixture("tb_module")))
        try expectMatches(checkpoint, golden: "module")
        #expect(checkpoint.names == ["conv.bias", "conv.weight", "head.bias", "head.weight", "norm.bias", "norm.weight", "position_ids"])
        #expect(checkpoint.ignoredKeys.isEmpty)  // _metadata is set by BUILD and dropped
        #expect(try checkpoint.tensor(named: "position_ids").dtype == .i64)
    }

    @Test func wrappedLegacyStateDict() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: try torchFixture("tb_wrapped_legacy")))
        #expect(checkpoint.format == .legacy)
        try expectMatches(checkpoint, golden: "module")
        #expect(checkpoint.ignoredKeys == ["epoch"])
    }

    @Test func protocol4Pickle() throws {
        // FRAME, MEMOIZE, SHORT_BINUNICODE and STACK_GLOBAL instead of protocol 2's opcodes.
        try expectMatches(try TorchCheckpoint(contentsOf: URL(fileURLWithPath: try torchFixture("tb_protocol4"))), golden: "module")
    }

    @Test func zipFromAnotherWriterWithUnalignedData() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: try torchFixture("tb_rezip")))
        try expectMatches(checkpoint, golden: "zip")
    }

    @Test func weightStoreConformance() throws {
        let store: any WeightStore = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: try torchFixture("tb_module")))
        #expect(store.contains("head.weight"))
        #expect(store.names(withPrefix: "conv.") == ["conv.bias", "conv.weight"])
        #expect(try store.tensorIfPresent(named: "head.missing") == nil)
        let path = try torchFixture("tb_module")
        #expect(checkpointError { () throws(CheckpointError) in try store.tensor(named: "nope") }
                == .tensorNotFound(path: path, tensor: "nope"))
    }

    @Test func directoryResolution() throws {
        let scratch = try ScratchDirectory()
        let source = try torchFixture("tb_module")
        try FileManager.default.copyItem(atPath: source, toPath: scratch.path + "/open_clip_pytorch_model.bin")
        let checkpoint = try TorchCheckpoint(contentsOf: scratch.url)
        #expect(checkpoint.path.hasSuffix("/open_clip_pytorch_model.bin"))
        #expect(checkpoint.names.count == 7)
        let empty = try ScratchDirectory()
        #expect(checkpointError { () throws(CheckpointError) in try TorchCheckpoint(contentsOf: empty.url) }
                == .noTorchCheckpoint(path: empty.path))
        let missing = empty.path + "/absent.bin"
        #expect(checkpointError { () throws(CheckpointError) in try TorchCheckpoint(contentsOf: URL(fileURLWithPath: missing)) } == .fileNotFound(path: missing))
    }

    @Test func stridedCopyMatchesIndexArithmetic() throws {
        // A [3, 2, 4] view with strides [1, 12, 3] of a 24-element buffer, against direct indexing.
        let source = (0..<24).map { Float($0) }
        let shape = [3, 2, 4], strides = [1, 12, 3]
        var output = [Float](repeating: -1, count: 24)
        source.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                TorchTensorLayout.stridedCopy(
                    from: input.baseAddress!, shape: shape, strides: strides, elementSize: 4, to: out.baseAddress!)
            }
        }
        var expected: [Float] = []
        for i in 0..<3 { for j in 0..<2 { for k in 0..<4 { expected.append(source[i * 1 + j * 12 + k * 3]) } } }
        #expect(output == expected)
    }
}
