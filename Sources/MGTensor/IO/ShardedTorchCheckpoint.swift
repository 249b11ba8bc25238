import Foundation

/// A checkpoint split over several PyTorch `.bin` shards, as older Hugging Face releases store
/// large models: `pytorch_model.bin.index.json` maps each tensor name to its shard.
///
/// The same rules as ``ShardedSafetensors`` apply: every shard is opened and validated up front
/// (with the restricted unpickler of ``TorchCheckpoint``), each tensor the index lists must be in
/// the shard it names, and no tensor may be stored twice.
///
/// ```swift
/// let weights = try ShardedTorchCheckpoint(contentsOf: URL(fileURLWithPath: "checkpoints/MGM-7B-HD"))
/// ```
public final class ShardedTorchCheckpoint: WeightStore {
    /// The conventional index file name.
    public static let indexFileName = "pytorch_model.bin.index.json"

    /// The index file, or the single `.bin` file when the checkpoint is not sharded.
    public let path: String
    /// The open shards, in file-name order.
    public let shards: [TorchCheckpoint]
    /// Every tensor name across the shards, sorted.
    public let names: [String]
    private let shardOfTensor: [String: Int]

    /// Opens a checkpoint from a directory (its `pytorch_model.bin.index.json`, else a single
    /// `.bin` file as ``TorchCheckpoint`` finds it), an index file or a `.bin` file.
    /// - Throws: a ``CheckpointError`` for a malformed index, a missing shard, a tensor missing
    ///   from its shard, a tensor in two shards, or any problem of a shard itself.
    public init(contentsOf url: URL, limits: TorchCheckpoint.Limits = .init()) throws(CheckpointError) {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: path)
        }
        var resolved = path
        if isDirectory.boolValue {
            let index = (path as NSString).appendingPathComponent(Self.indexFileName)
            resolved = FileManager.default.fileExists(atPath: index) ? index : path
        }
        var files: [String] = []
        var weightMap: [String: String] = [:]
        var shards: [TorchCheckpoint] = []
        if resolved.hasSuffix(".json") {
            weightMap = try ShardedSafetensors.readWeightMap(index: resolved)
            (files, shards) = try openIndexedShards(index: resolved, weightMap: weightMap) { (url) throws(CheckpointError) in
                try TorchCheckpoint(contentsOf: url, limits: limits)
            }
        } else {
            let shard = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: resolved), limits: limits)
            shards = [shard]
            files = [shard.path]
            resolved = shard.path
        }
        self.path = resolved
        self.shards = shards
        shardOfTensor = try assignTensorsToShards(shards.map { (path: $0.path, names: $0.names) }, files: files, weightMap: weightMap)
        names = shardOfTensor.keys.sorted()
    }

    public func contains(_ name: String) -> Bool { shardOfTensor[name] != nil }

    /// The tensor `name` in its stored dtype.
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``.
    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let position = shardOfTensor[name] else { throw .tensorNotFound(path: path, tensor: name) }
        return try shards[position].tensor(named: name)
    }
}

/// Opens the weights of a checkpoint directory, whatever their format: safetensors (one file or an
/// index of shards) when present, else PyTorch `.bin` (one file or an index of shards) — the
/// order in which transformers looks for them. A folder with one `.gguf` file (as `mgm quantize`
/// writes) reads the decoder from it under Hugging Face names (``GGUFDecoderWeights``) and the
/// other weights from the safetensors beside it.
/// - Throws: ``CheckpointError/noCheckpoint(path:)`` when the directory has neither, or the
///   error of the format found.
public func openCheckpointWeights(directory url: URL) throws(CheckpointError) -> any WeightStore {
        let directory = url.path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
        throw .fileNotFound(path: directory)
    }
    guard isDirectory.boolValue else {
        return directory.hasSuffix(".bin") || directory.hasSuffix(".pt") || directory.hasSuffix(".pth")
            ? try ShardedTorchCheckpoint(contentsOf: URL(fileURLWithPath: directory)) : try ShardedSafetensors(contentsOf: URL(fileURLWithPath: directory))
    }
    let contents = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    // A quantized folder (`mgm quantize`): the decoder in one GGUF file, the rest in safetensors.
    let ggufFiles = contents.filter { $0.hasSuffix(".gguf") }.sorted()
    if let gguf = ggufFiles.first {
        guard ggufFiles.count == 1 else {
            throw .invalidIndex(path: directory, reason: "several GGUF files (\(ggufFiles.joined(separator: ", "))); keep one decoder")
        }
        let decoder = try GGUFDecoderWeights(file: GGUFFile(contentsOf: url.appendingPathComponent(gguf)))
        let others = contents.filter { $0 != gguf }
        guard others.contains(where: { $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json") }) else { return decoder }
        return CombinedWeightStore([decoder, try ShardedSafetensors(contentsOf: url)])
    }
    if contents.contains(where: { $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json") }) {
        return try ShardedSafetensors(contentsOf: URL(fileURLWithPath: directory))
    }
    // `training_args.bin` sits beside the weights of many releases and is not a state dict.
    if contents.contains(where: { ($0.hasSuffix(".bin") && $0 != "training_args.bin") || $0 == ShardedTorchCheckpoint.indexFileName }) {
        return try ShardedTorchCheckpoint(contentsOf: URL(fileURLWithPath: directory))
    }
    throw .noCheckpoint(path: directory)
}
