import Foundation
import Testing
@testable import MGTensor

/// `ShardedSafetensors` on the Python-written `io_sharded/` checkpoint and on crafted broken ones.
@Suite struct SafetensorsShardedTests {
    let scratch: ScratchDirectory
    init() throws { scratch = try ScratchDirectory() }

    static func fixtureDirectory() throws -> String {
        guard let index = Bundle.module.url(
            forResource: "model.safetensors.index", withExtension: "json", subdirectory: "Fixtures/io_sharded")
        else { throw GoldenMissing(name: "io_sharded") }
        return index.deletingLastPathComponent().path
    }

    /// The expected value of a fixture tensor: `det_uniform(seed, shape)` in the stored dtype.
    private func expectFixtureTensor(_ store: some WeightStore, _ name: String, seed: UInt64, shape: [Int], dtype: DType) throws {
        let tensor = try store.tensor(named: name)
        #expect(tensor.dtype == dtype && tensor.shape == shape, "\(name)")
        #expect(tensor.storage.isMemoryMapped, "\(name)")
        let expected = try DeterministicData.tensor(seed: seed, shape: shape).converted(to: dtype)
        #expect(storedBits(tensor) == storedBits(expected), "\(name)")
    }

    @Test func opensPythonShardsFromDirectoryOrIndex() throws {
        let directory = try Self.fixtureDirectory()
        for path in [directory, directory + "/" + ShardedSafetensors.indexFileName] {
            let store = try ShardedSafetensors(contentsOf: URL(fileURLWithPath: path))
            #expect(store.shards.count == 2)
            #expect(store.names == ["embed.weight", "layers.0.bias", "layers.0.weight", "layers.1.weight"])
            #expect(store.shard(containing: "layers.1.weight")?.path.hasSuffix("model-00002-of-00002.safetensors") == true)
            #expect(store.entry(named: "layers.0.weight")?.dtype == .bf16)
            #expect(store.names(withPrefix: "layers.0.") == ["layers.0.bias", "layers.0.weight"])
            try expectFixtureTensor(store, "layers.0.weight", seed: 21, shape: [4, 3], dtype: .bf16)
            try expectFixtureTensor(store, "layers.0.bias", seed: 22, shape: [4], dtype: .f32)
            try expectFixtureTensor(store, "layers.1.weight", seed: 23, shape: [2, 4], dtype: .f16)
            try expectFixtureTensor(store, "embed.weight", seed: 24, shape: [5, 2], dtype: .f32)
            let missing = checkpointError { () throws(CheckpointError) in try store.tensor(named: "lm_head.weight") }
            #expect(missing == .tensorNotFound(path: store.path, tensor: "lm_head.weight"))
        }
    }

    @Test func singleFileDirectoryAndFile() throws {
        let file = scratch.path + "/" + ShardedSafetensors.singleFileName
        try SafetensorsWriter.write(["w": try Tensor(shape: [2], values: [1, 2])], to: file)
        for path in [scratch.path, file] {
            let store: any WeightStore = try ShardedSafetensors(contentsOf: URL(fileURLWithPath: path))
            #expect(store.names == ["w"] && store.contains("w") && !store.contains("v"))
            #expect(try store.tensor(named: "w").floats() == [1, 2])
        }
    }

    @Test func emptyDirectoryHasNoCheckpoint() throws {
        let error = checkpointError { () throws(CheckpointError) in try ShardedSafetensors(contentsOf: scratch.url) }
        #expect(error == .noCheckpoint(path: scratch.path))
    }

    /// Writes shard `name` holding F32 tensors with the given names.
    private func writeShard(_ name: String, tensors: [String]) throws {
        let values = try Tensor(shape: [1], values: [1])
        try SafetensorsWriter.write(Dictionary(uniqueKeysWithValues: tensors.map { ($0, values) }), to: scratch.path + "/" + name)
    }

    private func writeIndex(_ json: String) throws -> String {
        try scratch.write(json, to: ShardedSafetensors.indexFileName)
    }

    private func openError(_ path: String) -> CheckpointError? {
        checkpointError { () throws(CheckpointError) in try ShardedSafetensors(contentsOf: URL(fileURLWithPath: path)) }
    }

    @Test func malformedIndexJSON() throws {
        let index = try writeIndex("{\"weight_map\": {\"a\": \"s1.safetensors\",}}")
        guard case .invalidJSON(index, _, _) = openError(index) else {
            Issue.record("expected invalidJSON, got \(String(describing: openError(index)))")
            return
        }
        let noMap = try writeIndex("{\"metadata\": {}}")
        #expect(openError(noMap) == .invalidIndex(path: noMap, reason: "needs exactly one \"weight_map\" object"))
        let notString = try writeIndex("{\"weight_map\": {\"a\": 1}}")
        #expect(openError(notString) == .invalidIndex(path: notString, reason: "shard of a is not a string"))
        let escaping = try writeIndex("{\"weight_map\": {\"a\": \"../s1.safetensors\"}}")
        guard case .invalidIndex = openError(escaping) else {
            Issue.record("expected invalidIndex for a path outside the checkpoint")
            return
        }
    }

    @Test func missingShard() throws {
        try writeShard("s1.safetensors", tensors: ["a"])
        let index = try writeIndex("{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}")
        #expect(openError(index) == .shardNotFound(index: index, shard: "s2.safetensors"))
    }

    @Test func tensorMissingFromItsShard() throws {
        try writeShard("s1.safetensors", tensors: ["a"])
        try writeShard("s2.safetensors", tensors: ["b"])
        let index = try writeIndex("{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s1.safetensors\"}}")
        #expect(openError(index) == .tensorMissingFromShard(shard: scratch.path + "/s1.safetensors", tensor: "b"))
    }

    @Test func sameTensorInTwoShards() throws {
        try writeShard("s1.safetensors", tensors: ["a", "b"])
        try writeShard("s2.safetensors", tensors: ["b"])
        let index = try writeIndex("{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}")
        #expect(openError(index) == .duplicateTensor(
            tensor: "b", first: scratch.path + "/s1.safetensors", second: scratch.path + "/s2.safetensors"))
        // Listed twice in the index itself (JSONSerialization would silently keep one).
        let twice = try writeIndex("{\"weight_map\": {\"b\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}")
        #expect(openError(twice) == .duplicateTensor(tensor: "b", first: "s1.safetensors", second: "s2.safetensors"))
    }

    @Test func brokenShardReportsItsOwnError() throws {
        let shard = try scratch.write([1, 2, 3], to: "s1.safetensors")
        let index = try writeIndex("{\"weight_map\": {\"a\": \"s1.safetensors\"}}")
        #expect(openError(index) == .fileTooShort(path: shard, byteCount: 3))
    }
}
