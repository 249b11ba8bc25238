import Foundation

/// A GGUF file (llama.cpp's model format, version 3), memory-mapped and validated when opened.
///
/// Opening parses the header, every metadata entry and every tensor info, and checks that each
/// tensor has a known type, a valid shape (whole blocks per row for quantized types), an aligned
/// offset, lies inside the file and overlaps no other tensor; each problem is a
/// ``CheckpointError/invalidGGUF(path:problem:)`` with a ``GGUFProblem`` naming it. Malformed
/// input never traps, and no count in the file is trusted beyond the bytes that could hold it.
///
/// Names are the file's own (llama.cpp's `blk.0.attn_q.weight`); ``GGUFDecoderWeights`` presents a
/// decoder under Hugging Face names. Shapes are outermost first, the reverse of GGUF's `ne` order,
/// so a `[out, in]` linear weight has the same shape as in safetensors.
///
/// ```swift
/// let file = try GGUFFile(contentsOf: URL(fileURLWithPath: "language_model.q8_0.gguf"))
/// let arch = file.metadata["general.architecture"]?.string        // "llama"
/// let wq = try file.matrix(named: "blk.0.attn_q.weight")            // .quantized, mapped
/// ```
public final class GGUFFile: WeightStore {
    /// Caps on counts and lengths in the header, far above any real model's.
    public struct Limits: Sendable {
        public var maximumTensors: UInt64 = 1 << 20
        public var maximumMetadataEntries: UInt64 = 1 << 20
        public var maximumArrayElements: UInt64 = 1 << 24
        public var maximumStringBytes: UInt64 = 1 << 26
        public var maximumArrayNesting = 4
        public init() {}
    }

    /// One tensor's description from the file.
    public struct TensorInfo: Sendable, Equatable {
        /// The element type.
        public let type: GGUFTensorType
        /// Dimensions, outermost first (GGUF `ne` reversed).
        public let shape: [Int]
        /// Offset of the bytes from the start of the data section.
        public let offset: Int
        /// Number of bytes.
        public let byteCount: Int
    }

    /// GGUF's default tensor data alignment.
    public static let defaultAlignment = 32

    /// The path the file was opened from.
    public var path: String { file.path }
    /// The format version (3).
    public let version: UInt32
    /// Metadata entries by key.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos by name.
    public let tensorInfos: [String: TensorInfo]
    /// Tensor names in file order.
    public let tensorOrder: [String]
    /// Tensor names, sorted.
    public let names: [String]
    /// The data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// File offset of the data section.
    public let dataStart: Int

    private let file: MappedFile

    /// Maps and validates the GGUF file at `url`.
    /// - Throws: ``CheckpointError/invalidGGUF(path:problem:)`` for a malformed file,
    ///   ``CheckpointError/fileNotFound(path:)`` or ``CheckpointError/ioFailure(path:reason:)``.
    public init(contentsOf url: URL, limits: Limits = Limits()) throws(CheckpointError) {
        let path = url.path
        file = try MappedFile(contentsOf: url)
        let all = file.bytes(0..<file.byteCount)
        do throws(GGUFProblem) {
            var cursor = GGUFCursor(bytes: all, limits: limits)
            let magic = try cursor.u32()
            guard magic == 0x4655_4747 else { throw .badMagic(magic) }
            version = try cursor.u32()
            guard version == 3 || version == 2 else { throw .unsupportedVersion(version) }
            // A tensor info takes at least 8 (name length) + 4 + 8 + 4 + 8 bytes; a metadata entry 8 + 4 + 1.
            let tensorCount = try cursor.count("tensor", limit: limits.maximumTensors, minimumBytesEach: 32)
            let entryCount = try cursor.count("metadata entry", limit: limits.maximumMetadataEntries, minimumBytesEach: 13)
            var metadata: [String: GGUFValue] = [:]
            var keys: [String] = []
            for _ in 0..<entryCount {
                let key = try cursor.string()
                let type = try cursor.valueType()
                let value = try cursor.value(of: type)
                guard metadata.updateValue(value, forKey: key) == nil else { throw .duplicateKey(key) }
                keys.append(key)
            }
            var alignment = Self.defaultAlignment
            if let value = metadata["general.alignment"] {
                guard case .uint32(let raw) = value else { throw .invalidAlignment("must be a uint32") }
                guard raw > 0, raw & (raw - 1) == 0, raw <= 1 << 20 else { throw .invalidAlignment("\(raw) is not a power of two up to 2^20") }
                alignment = Int(raw)
            }
            var raw: [(name: String, dims: [UInt64], type: UInt32, offset: UInt64)] = []
            var seen = Set<String>()
            for _ in 0..<tensorCount {
                let name = try cursor.string()
                guard seen.insert(name).inserted else { throw .duplicateTensor(name) }
                let rank = try cursor.u32()
                guard rank >= 1, rank <= 4 else { throw .invalidShape(tensor: name, dimensions: []) }
                var dims: [UInt64] = []
                for _ in 0..<rank { dims.append(try cursor.u64()) }
                let type = try cursor.u32()
                let offset = try cursor.u64()
                raw.append((name, dims, type, offset))
            }
            let headerEnd = cursor.offset
            let (padded, overflow) = headerEnd.addingReportingOverflow(alignment - 1)
            let start = overflow ? Int.max : padded / alignment * alignment
            // A file with no tensors may end right after its header, without padding.
            dataStart = min(start, all.count)
            let dataSize = all.count - dataStart
            var infos: [String: TensorInfo] = [:]
            for entry in raw {
                guard let type = GGUFTensorType(ggmlType: entry.type) else { throw .unknownTensorType(tensor: entry.name, type: entry.type) }
                var count = 1
                for dim in entry.dims {
                    guard dim >= 1, dim <= UInt64(Int.max) else { throw .invalidShape(tensor: entry.name, dimensions: entry.dims) }
                    let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
                    guard !overflow else { throw .invalidShape(tensor: entry.name, dimensions: entry.dims) }
                    count = product
                }
                let columns = Int(entry.dims[0])
                guard let bytes = type.byteCount(columns: columns, count: count) else {
                    if case .quantized(let format) = type, columns % format.blockSize != 0 {
                        throw .rowNotWholeBlocks(tensor: entry.name, columns: columns, type: format.name)
                    }
                    throw .invalidShape(tensor: entry.name, dimensions: entry.dims)
                }
                guard entry.offset % UInt64(alignment) == 0 else {
                    throw .misalignedTensor(tensor: entry.name, offset: entry.offset, alignment: alignment)
                }
                guard entry.offset <= UInt64(dataSize), bytes <= dataSize - Int(entry.offset) else {
                    throw .tensorPastEnd(tensor: entry.name, offset: entry.offset, byteCount: bytes, dataSize: dataSize)
                }
                infos[entry.name] = TensorInfo(
                    type: type, shape: entry.dims.reversed().map { Int($0) }, offset: Int(entry.offset), byteCount: bytes)
            }
            let byOffset = raw.map(\.name).sorted { (infos[$0]?.offset ?? 0, $0) < (infos[$1]?.offset ?? 0, $1) }
            for (first, second) in zip(byOffset, byOffset.dropFirst()) {
                guard let a = infos[first], let b = infos[second] else { continue }
                if a.offset + a.byteCount > b.offset { throw .overlappingTensors(tensor: second, other: first) }
            }
            self.metadata = metadata
            metadataKeys = keys
            self.alignment = alignment
            tensorInfos = infos
            tensorOrder = raw.map(\.name)
            names = tensorOrder.sorted()
        } catch {
            throw .invalidGGUF(path: path, problem: error)
        }
    }

    /// Whether the file holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { tensorInfos[name] != nil }

    /// The raw bytes of tensor `name` (a view of the mapping, kept alive by the storage).
    public func storage(named name: String) throws(CheckpointError) -> (info: TensorInfo, storage: TensorStorage) {
        guard let info = tensorInfos[name] else { throw .tensorNotFound(path: path, tensor: name) }
        let bytes = file.bytes((dataStart + info.offset)..<(dataStart + info.offset + info.byteCount))
        let dtype: DType
        switch info.type {
        case .plain(let plain): dtype = plain
        case .quantized: dtype = .u8
        }
        guard let base = bytes.baseAddress, Int(bitPattern: base) % dtype.byteSize == 0 else {
            // Alignment is at least 1 byte in a hostile file; typed loads need element alignment.
            let storage = TensorStorage(allocating: bytes.count, dtype: dtype)
            if let base = bytes.baseAddress { storage.mutableBase.copyMemory(from: base, byteCount: bytes.count) }
            return (info, storage)
        }
        return (info, TensorStorage(borrowing: base, byteCount: bytes.count, dtype: dtype, owner: file))
    }

    /// Drops the mapped pages of tensor `name` from the resident set after a loader copied it
    /// (``MappedFile/releaseResidentPages(_:)``); nothing for an unknown name.
    func releaseResidentPages(ofTensor name: String) {
        guard let info = tensorInfos[name] else { return }
        file.releaseResidentPages((dataStart + info.offset)..<(dataStart + info.offset + info.byteCount))
    }

    /// The tensor `name`. Plain types are zero-copy views of the mapping in their stored dtype;
    /// quantized tensors are dequantized to F32 (a copy — linear layers should use
    /// ``matrix(named:)``, which keeps the blocks).
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``.
    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        let (info, storage) = try storage(named: name)
        switch info.type {
        case .plain(let dtype):
            return Tensor(shape: info.shape, count: info.byteCount / dtype.byteSize, storage: storage)
        case .quantized(let format):
            let matrix = try quantizedMatrix(info: info, format: format, storage: storage, name: name)
            do { return try matrix.dequantized().reshaped(info.shape) } catch { throw .invalidGGUF(path: path, problem: .unknownTensorType(tensor: name, type: format.rawValue)) }
        }
    }

    /// The matrix `name`: ``MatrixWeight/quantized(_:)`` over the mapped blocks for quantized
    /// tensors (tensors of rank > 2 are seen as `[product of outer dims, innermost]`), otherwise
    /// ``MatrixWeight/dense(_:)``.
    public func matrix(named name: String) throws(CheckpointError) -> MatrixWeight {
        let (info, storage) = try storage(named: name)
        guard case .quantized(let format) = info.type else { return .dense(try tensor(named: name)) }
        return .quantized(try quantizedMatrix(info: info, format: format, storage: storage, name: name))
    }

    private func quantizedMatrix(info: TensorInfo, format: QuantizationFormat, storage: TensorStorage, name: String) throws(CheckpointError) -> QuantizedMatrix {
        let columns = info.shape.last ?? 0
        do {
            return try QuantizedMatrix(format: format, rows: info.shape.dropLast().reduce(1, *), columns: columns, storage: storage)
        } catch {
            throw .invalidGGUF(path: path, problem: .invalidShape(tensor: name, dimensions: info.shape.reversed().map { UInt64($0) }))
        }
    }
}
