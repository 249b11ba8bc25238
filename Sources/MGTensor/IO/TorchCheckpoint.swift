import Foundation

/// A PyTorch checkpoint (`pytorch_model.bin`, `open_clip_pytorch_model.bin`), read natively:
/// no Python, and no code from the file is ever run.
///
/// Both formats of `torch.save` are read: the zip archive (PyTorch ≥ 1.6) and the legacy stream
/// (`_use_new_zipfile_serialization=False`, and PyTorch 0.1.10 to 1.5; the tar files of older
/// versions are not). The pickle is interpreted by a restricted unpickler that knows only what a
/// state dict needs (`OrderedDict`, the tensor and parameter rebuild functions, storage and dtype
/// names); any other global — `os.system`, `builtins.eval` — fails with
/// ``CheckpointError/disallowedGlobal(path:module:name:)`` the moment it is read. Opening validates
/// every archive offset, storage size and tensor extent (CRCs are not checked, so that opening does
/// not read every byte).
///
/// Tensors keep their stored dtype. A contiguous tensor is a zero-copy view of the memory-mapped
/// file (copied only when a writer left its bytes misaligned, as legacy files and zips written by
/// other tools do); a non-contiguous one (a transposed tensor saved as such) is copied into
/// row-major order when requested. Several tensors may view one storage. Little-endian only.
///
/// What counts as the state dict:
/// - The pickled object must be a dict (`dict` or `OrderedDict`).
/// - While that dict holds no tensors itself but has a `state_dict`, `model_state_dict`, `model`
///   or `module` entry that is a dict, that entry is used instead (training checkpoints such as
///   `{"state_dict": {...}, "epoch": 3}`).
/// - Tensors are named by their key; nested dicts are flattened with `.` (`{"visual": {"proj": t}}`
///   gives `visual.proj`). Other values (numbers, strings, lists) are skipped and listed in
///   ``ignoredKeys``.
///
/// ```swift
/// let weights = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: "clip-vit-large-patch14-336/pytorch_model.bin"))
/// let patch = try weights.tensor(named: "vision_model.embeddings.patch_embedding.weight")
/// ```
public final class TorchCheckpoint: WeightStore {
    /// The container format of the file.
    public enum Format: String, Sendable {
        /// The zip archive of PyTorch ≥ 1.6.
        case zip
        /// The pickle stream of `_use_new_zipfile_serialization=False`.
        case legacy
    }

    /// Caps on what the pickle may allocate; the defaults are far above any real checkpoint.
    public struct Limits: Sendable, Equatable {
        /// Values on the unpickler's stack, marks included.
        public var maximumStackDepth = 1 << 20
        /// Entries in the unpickler's memo.
        public var maximumMemoEntries = 1 << 22
        /// Values created over the whole pickle (every push counts).
        public var maximumValues = 1 << 24
        /// Creates the default limits.
        public init() {}
    }

    /// Where one tensor's elements lie.
    public struct Entry: Sendable, Equatable {
        /// The stored element type.
        public let dtype: DType
        /// The dimensions, outermost first.
        public let shape: [Int]
        /// Strides in elements, as saved (row-major when ``isContiguous``).
        public let strides: [Int]
        /// The key of the storage the tensor views.
        public let storage: String
        /// File byte offset of the tensor's first element.
        let firstByte: Int
        /// Bytes from `firstByte` to the end of the last element (0 for an empty tensor).
        let extentBytes: Int
        /// Whether the elements are stored densely in row-major order.
        public var isContiguous: Bool { TorchTensorLayout.isContiguous(shape: shape, strides: strides) }
    }

    /// The path of the file read (the resolved file when a directory was given).
    public let path: String
    /// The container format.
    public let format: Format
    /// Tensor entries by flattened name.
    public let entries: [String: Entry]
    /// Tensor names, sorted.
    public let names: [String]
    /// Flattened names of the non-tensor values that were skipped (e.g. `epoch`).
    public let ignoredKeys: [String]

    private let file: MappedFile

    /// The file names looked for, in order, when a directory is given.
    public static let fileNames = ["pytorch_model.bin", "open_clip_pytorch_model.bin"]

    /// Opens and validates a checkpoint.
    /// - Parameters:
    ///   - url: a `.bin` file, or a directory holding `pytorch_model.bin`,
    ///     `open_clip_pytorch_model.bin` or a single `*.bin` file.
    ///   - limits: resource caps for the unpickler.
    /// - Throws: a ``CheckpointError`` naming the first problem found.
    public init(contentsOf url: URL, limits: Limits = Limits()) throws(CheckpointError) {
        let resolved = try Self.resolve(url.path)
        file = try MappedFile(contentsOf: URL(fileURLWithPath: resolved))
        self.path = resolved
        let bytes = file.bytes(0..<file.byteCount)
        var unpickler = TorchUnpickler(path: resolved, limits: limits)

        let root: PickleValue
        let storageRanges: [String: Range<Int>]
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 0x03, bytes[3] == 0x04 {
            format = .zip
            (root, storageRanges) = try Self.loadZip(file, unpickler: &unpickler)
        } else if TorchLegacyFormat.matches(bytes) {
            format = .legacy
            (root, storageRanges) = try TorchLegacyFormat.load(bytes, unpickler: &unpickler)
        } else {
            throw .unrecognizedTorchFormat(path: resolved)
        }

        var flattener = TorchStateDictFlattener(unpickler: unpickler, path: resolved)
        try flattener.flatten(root)
        var entries: [String: Entry] = [:]
        for (name, index) in flattener.tensors {
            entries[name] = try TorchTensorLayout.entry(
                name: name, record: unpickler.tensors[index], unpickler: unpickler, storageRanges: storageRanges, path: resolved)
        }
        self.entries = entries
        names = entries.keys.sorted()
        ignoredKeys = flattener.ignored
    }

    /// Whether the checkpoint holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The tensor `name` in its stored dtype: a zero-copy view of the mapped file when its bytes
    /// are contiguous and aligned, otherwise a row-major copy.
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``.
    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let entry = entries[name] else { throw .tensorNotFound(path: path, tensor: name) }
        return TorchTensorLayout.materialize(entry, file: file)
    }

    // MARK: Formats

    private static func loadZip(
        _ file: MappedFile, unpickler: inout TorchUnpickler
    ) throws(CheckpointError) -> (PickleValue, [String: Range<Int>]) {
        let path = file.path
        let archive = try TorchZipArchive(file: file)
        // The top folder is named after the file torch.save first wrote to; it varies.
        guard let pickleName = archive.names.first(where: {
            let parts = $0.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && parts[1] == "data.pkl"
        }), let pickleRange = archive.entries[pickleName] else {
            throw .archiveMissingEntry(path: path, entry: "*/data.pkl")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let orderRange = archive.entries[prefix + "byteorder"] {
            let order = String(decoding: file.bytes(orderRange), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard order == "little" else { throw .unsupportedByteOrder(path: path, byteOrder: order) }
        }
        let (root, _) = try unpickler.load(file.bytes(pickleRange), fileOffset: pickleRange.lowerBound, persistentIDs: true)

        var ranges: [String: Range<Int>] = [:]
        for key in unpickler.storageByKey.keys {
            let reference = unpickler.storages[unpickler.storageByKey[key] ?? 0]
            guard let range = archive.entries[prefix + "data/" + key] else { throw .storageNotFound(path: path, storage: key) }
            let expected = reference.count * reference.dtype.byteSize
            guard range.count == expected else {
                throw .storageSizeMismatch(path: path, storage: key, expectedBytes: expected, actualBytes: range.count)
            }
            ranges[key] = range
        }
        return (root, ranges)
    }

    private static func resolve(_ path: String) throws(CheckpointError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .fileNotFound(path: path) }
        guard isDirectory.boolValue else { return path }
        let directory = path as NSString
        for name in fileNames where FileManager.default.fileExists(atPath: directory.appendingPathComponent(name)) {
            return directory.appendingPathComponent(name)
        }
        let binaries = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".bin") }
        guard binaries.count == 1 else { throw .noTorchCheckpoint(path: path) }
        return directory.appendingPathComponent(binaries[0])
    }
}
