import Foundation
import Testing
@testable import MGTensor

/// `SafetensorsWriter`: round trips in the stored dtype, and the same bytes as Python `safetensors`.
@Suite struct SafetensorsWriterTests {
    let scratch: ScratchDirectory
    init() throws { scratch = try ScratchDirectory() }

    @Test func roundTripKeepsDTypesBitsAndMetadata() throws {
        let values = DeterministicData.uniform(seed: 3, count: 24, low: -4, high: 4) + [.infinity, -0.0, 1e-7, .nan]
        let f32 = try Tensor(shape: [4, 7], values: values)
        let ids: [Int64] = [0, -1, .max, (1 << 53) + 1]
        let i64 = try ids.withUnsafeBytes { raw throws(TensorError) in try Tensor(shape: [4], dtype: .i64, bytes: raw) }
        let tensors: [String: Tensor] = [
            "f32": f32, "f16": try f32.converted(to: .f16), "bf16": try f32.converted(to: .bf16),
            "i64": i64, "empty": try Tensor.zeros([3, 0]), "scalar": try Tensor(shape: [], values: [2.5]),
        ]
        let metadata = ["format": "pt", "note": "quote \" backslash \\ newline \n tab \t bell \u{07} é"]
        let path = scratch.path + "/round.safetensors"
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path)

        let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: path))
        #expect(file.metadata == metadata)
        #expect(file.names == tensors.keys.sorted())
        for (name, original) in tensors {
            let loaded = try file.tensor(named: name)
            #expect(loaded.dtype == original.dtype && loaded.shape == original.shape, "\(name)")
            let (a, b) = (loaded.withUnsafeBytes { Array($0) }, original.withUnsafeBytes { Array($0) })
            #expect(a == b, "\(name) bytes differ")
            #expect(loaded.storage.isMemoryMapped || loaded.count == 0, "\(name)")
        }
        // Writing what was read reproduces the file exactly.
        let copy = scratch.path + "/copy.safetensors"
        try SafetensorsWriter.write(Dictionary(uniqueKeysWithValues: try file.names.map { ($0, try file.tensor(named: $0)) }),
                                    metadata: file.metadata, to: copy)
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: path))
    }

    @Test func headerIsPaddedAndTensorsAligned() throws {
        let tensors: [String: Tensor] = [
            "a": try Tensor(shape: [3], values: [1, 2, 3]).converted(to: .bf16),
            "b": try Tensor(shape: [1], values: [4]),
            "c": try [UInt8(9)].withUnsafeBytes { raw throws(TensorError) in try Tensor(shape: [1], dtype: .u8, bytes: raw) },
        ]
        let header = try SafetensorsWriter.header(for: tensors, metadata: [:], path: "x")
        #expect(header.count % 8 == 0 && header.last == UInt8(ascii: " "))
        let path = scratch.path + "/aligned.safetensors"
        try SafetensorsWriter.write(tensors, to: path)
        let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: path))
        #expect(file.entries["b"]?.dataRange == 0..<4)   // widest dtype first
        #expect(file.entries["a"]?.dataRange == 4..<10)
        #expect(file.entries["c"]?.dataRange == 10..<11)
        #expect(try file.tensor(named: "a").floats() == [1, 2, 3])
    }

    @Test func reservedNameIsRejected() throws {
        let path = scratch.path + "/bad.safetensors"
        let zeros = try Tensor.zeros([1])
        let error = checkpointError { () throws(CheckpointError) in
            try SafetensorsWriter.write(["__metadata__": zeros], to: path)
        }
        #expect(error == .invalidTensorName(path: path, tensor: "__metadata__"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func unwritableDestinationThrows() throws {
        let path = scratch.path + "/missing-dir/out.safetensors"
        let zeros = try Tensor.zeros([1])
        let error = checkpointError { () throws(CheckpointError) in
            try SafetensorsWriter.write(["w": zeros], to: path)
        }
        guard case .ioFailure = error else {
            Issue.record("expected ioFailure, got \(String(describing: error))")
            return
        }
    }

    /// `io_layout` was written by `safetensors.torch.save_file` (mixed dtypes, an empty tensor, a
    /// name needing escapes); writing its tensors again gives the identical file.
    @Test func matchesPythonSafetensorsByteForByte() throws {
        let golden = try Golden("io_layout")
        let reference = golden.file
        #expect(reference.names.count == 7)
        #expect(reference.entries["e.u8"]?.dtype == .u8 && reference.entries["f.empty"]?.shape == [0, 4])
        var tensors: [String: Tensor] = [:]
        for name in reference.names { tensors[name] = try reference.tensor(named: name) }
        let path = scratch.path + "/layout.safetensors"
        try SafetensorsWriter.write(tensors, metadata: reference.metadata, to: path)
        let written = FileManager.default.contents(atPath: path)
        #expect(written != nil && written == FileManager.default.contents(atPath: reference.path))
    }
}
