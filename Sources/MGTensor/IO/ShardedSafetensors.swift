import Foundation

/// A checkpoint split over several `.safetensors` shards, as Hugging Face saves large models:
/// `model.safetensors.index.json` maps each tensor name to its shard (`weight_map`).
///
/// Every shard is opened and validated once, up front. The index and the shards must agree: each
/// tensor the index lists must be in the shard it names, and no tensor may be stored in two shards.
/// A tensor stored in a shard but absent from the index is still available (the shards' contents
/// are what loaders such as `transformers` read).
///
/// ```swift
/// let weights = try ShardedSafetensors(contentsOf: URL(fileURLWithPath: "checkpoints/MGM-2B"))  // directory, index or file
/// let embedding = try weights.tensor(named: "model.embed_tokens.weight")
/// ```
public final class ShardedSafetensors: WeightStore {
    /// The conventional index file name.
    public static let indexFileName = "model.safetensors.index.json"
    /// The conventional single-file checkpoint name.
    public static let singleFileName = "model.safetensors"

    /// The index file, or the single `.safetensors` file when the checkpoint is not sharded.
    public let path: String
    /// The open shards, in file-name order.
    public let shards: [SafetensorsFile]
    /// Every tensor name across the shards, sorted.
    public let names: [String]
    private let shardOfTensor: [String: Int]

    /// Opens a checkpoint from a directory, an index file or a single `.safetensors` file.
    ///
    /// A directory is resolved to `model.safetensors.index.json`, else `model.safetensors`, else its
    /// only `*.safetensors.index.json`, else its only `*.safetensors` file.
    /// - Parameters:
    ///   - url: a directory, a `*.json` index or a `.safetensors` file.
    ///   - maximumHeaderBytes: passed to every ``SafetensorsFile``.
    /// - Throws: a ``CheckpointError`` for a malformed index, a missing shard, a tensor missing
    ///   from its shard, a tensor in two shards, or any problem of a shard itself.
    public init(contentsOf url: URL, maximumHeaderBytes: Int = SafetensorsFile.defaultMaximumHeaderBytes) throws(CheckpointError) {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: path)
        }
        let resolved = isDirectory.boolValue ? try Self.resolve(directory: path) : path
        self.path = resolved

        let files: [String]
        let weightMap: [String: String]
        if resolved.hasSuffix(".json") {
            weightMap = try Self.readWeightMap(index: resolved)
            let opened = try openIndexedShards(index: resolved, weightMap: weightMap) { (url) throws(CheckpointError) in
                try SafetensorsFile(contentsOf: url, maximumHeaderBytes: maximumHeaderBytes)
            }
            files = opened.files
            shards = opened.shards
        } else {
            weightMap = [:]
            files = [resolved]
            shards = [try SafetensorsFile(contentsOf: URL(fileURLWithPath: resolved), maximumHeaderBytes: maximumHeaderBytes)]
        }

        let shardOfTensor = try assignTensorsToShards(
            shards.map { (path: $0.path, names: $0.names) }, files: files, weightMap: weightMap)
        self.shardOfTensor = shardOfTensor
        names = shardOfTensor.keys.sorted()
    }

    /// Whether any shard holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { shardOfTensor[name] != nil }

    /// The shard that stores `name`, if any.
    public func shard(containing name: String) -> SafetensorsFile? {
        shardOfTensor[name].map { shards[$0] }
    }

    /// The header entry of `name` (dtype, shape, byte range within its shard), if any.
    public func entry(named name: String) -> SafetensorsFile.Entry? {
        shard(containing: name)?.entries[name]
    }

    /// The tensor `name` as a zero-copy view of its shard, in its stored dtype.
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``.
    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let shard = shard(containing: name) else { throw .tensorNotFound(path: path, tensor: name) }
        return try shard.tensor(named: name)
    }

    private static func resolve(directory: String) throws(CheckpointError) -> String {
        let fileManager = FileManager.default
        for name in [indexFileName, singleFileName] {
            let candidate = (directory as NSString).appendingPathComponent(name)
            if fileManager.fileExists(atPath: candidate) { return candidate }
        }
        let contents = (try? fileManager.contentsOfDirectory(atPath: directory)) ?? []
        for suffix in [".safetensors.index.json", ".safetensors"] {
            let matches = contents.filter { $0.hasSuffix(suffix) }
            if matches.count == 1 { return (directory as NSString).appendingPathComponent(matches[0]) }
        }
        throw .noCheckpoint(path: directory)
    }

    /// Parses `{"weight_map": {tensor: shard file}, ...}`; other top-level keys are ignored.
    static func readWeightMap(index: String) throws(CheckpointError) -> [String: String] {
        let file = try MappedFile(contentsOf: URL(fileURLWithPath: index))
        let bytes = file.bytes(0..<file.byteCount)
        if let offset = firstInvalidUTF8Offset(bytes) {
            throw .invalidJSON(path: index, reason: "not UTF-8", offset: offset)
        }
        let root: JSONValue
        do throws(JSONSyntaxError) {
            root = try StrictJSONParser.parse(bytes)
        } catch {
            throw .invalidJSON(path: index, reason: error.reason, offset: error.offset)
        }
        guard case .object(let members) = root else { throw .invalidIndex(path: index, reason: "not a JSON object") }
        let maps = members.filter { $0.key == "weight_map" }
        guard maps.count == 1, case .object(let entries) = maps[0].value else {
            throw .invalidIndex(path: index, reason: "needs exactly one \"weight_map\" object")
        }
        var weightMap: [String: String] = [:]
        for entry in entries {
            guard let file = entry.value.string else {
                throw .invalidIndex(path: index, reason: "shard of \(entry.key) is not a string")
            }
            let components = file.split(separator: "/", omittingEmptySubsequences: false)
            guard !file.isEmpty, !file.hasPrefix("/"), !components.contains("..") else {
                throw .invalidIndex(path: index, reason: "shard \(file) of \(entry.key) is not a relative path inside the checkpoint")
            }
            if let previous = weightMap[entry.key] {
                guard previous != file else { throw .invalidIndex(path: index, reason: "\(entry.key) is listed twice") }
                throw .duplicateTensor(tensor: entry.key, first: previous, second: file)
            }
            weightMap[entry.key] = file
        }
        return weightMap
    }
}

/// Opens the shards an index's `weight_map` names, in file-name order, with `open`; a shard file
/// that does not exist is ``CheckpointError/shardNotFound(index:shard:)``. Shared by the
/// safetensors and PyTorch `.bin` indexes, which name their shards alike.
func openIndexedShards<Shard>(
    index: String, weightMap: [String: String], open: (URL) throws(CheckpointError) -> Shard
) throws(CheckpointError) -> (files: [String], shards: [Shard]) {
    let directory = (index as NSString).deletingLastPathComponent
    let files = Set(weightMap.values).sorted()
    var shards: [Shard] = []
    for file in files {
        do throws(CheckpointError) {
            shards.append(try open(URL(fileURLWithPath: (directory as NSString).appendingPathComponent(file))))
        } catch .fileNotFound {
            throw .shardNotFound(index: index, shard: file)
        }
    }
    return (files, shards)
}

/// Maps every tensor name to the position of the shard storing it, checking that no tensor is
/// stored twice and that each tensor the index lists is in the shard it names.
/// - Parameters:
///   - shards: path and tensor names of each open shard, in the order of `files`.
///   - files: the shard file names as the index writes them (or the single file).
///   - weightMap: the index's `weight_map` (empty for a single file).
func assignTensorsToShards(
    _ shards: [(path: String, names: [String])], files: [String], weightMap: [String: String]
) throws(CheckpointError) -> [String: Int] {
    var shardOfTensor: [String: Int] = [:]
    for (position, shard) in shards.enumerated() {
        for name in shard.names {
            if let other = shardOfTensor[name] {
                throw .duplicateTensor(tensor: name, first: shards[other].path, second: shard.path)
            }
            shardOfTensor[name] = position
        }
    }
    let listedByFile = Dictionary(grouping: weightMap.keys, by: { weightMap[$0] ?? "" })
    for (position, file) in files.enumerated() {
        for name in (listedByFile[file] ?? []).sorted() where shardOfTensor[name] != position {
            throw .tensorMissingFromShard(shard: shards[position].path, tensor: name)
        }
    }
    return shardOfTensor
}
