/// The stream `torch.save(..., _use_new_zipfile_serialization=False)` writes (and PyTorch 0.1.10
/// to 1.5 wrote by default): five pickles — magic number, protocol version, system info, the object, the list
/// of storage keys — followed by each listed storage as an 8-byte element count and its raw bytes.
enum TorchLegacyFormat {
    /// `0x1950a86a20f9469cfc6c` as LONG1 bytes (little-endian).
    static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let protocolVersion: Int64 = 1001

    /// Whether `bytes` starts like a legacy file: `PROTO 2, LONG1 10 <magic>`.
    static func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let prefix: [UInt8] = [0x80, 0x02, 0x8A, 0x0A] + magic
        return bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 }
    }

    /// Unpickles the object of a legacy file and locates every storage it references.
    /// - Returns: the object, and the file byte range of each stored storage by key.
    static func load(
        _ bytes: UnsafeRawBufferPointer, unpickler: inout TorchUnpickler
    ) throws(CheckpointError) -> (PickleValue, [String: Range<Int>]) {
        let path = unpickler.path
        let (magicValue, afterMagic) = try unpickler.load(bytes, persistentIDs: false)
        guard magicValue == .bigInt(magic) else { throw .unrecognizedTorchFormat(path: path) }
        let (version, afterVersion) = try unpickler.load(bytes, from: afterMagic, persistentIDs: false)
        guard version == .int(protocolVersion) else {
            throw .unsupportedCheckpointContent(path: path, reason: "legacy protocol version \(version), expected 1001")
        }
        let (systemInfo, afterInfo) = try unpickler.load(bytes, from: afterVersion, persistentIDs: false)
        guard case .dict(let info) = systemInfo else {
            throw .unsupportedCheckpointContent(path: path, reason: "legacy system info is not a dict")
        }
        // Storages are raw native-endian bytes: only little-endian writers are readable here.
        guard unpickler.dicts[info]["little_endian"] == .bool(true) else {
            throw .unsupportedByteOrder(path: path, byteOrder: "big (legacy little_endian is not True)")
        }
        let (root, afterRoot) = try unpickler.load(bytes, from: afterInfo, persistentIDs: true)
        let (keyList, afterKeys) = try unpickler.load(bytes, from: afterRoot, persistentIDs: false)
        guard case .list(let keyIndex) = keyList else {
            throw .unsupportedCheckpointContent(path: path, reason: "legacy storage key list is a \(keyList.kind)")
        }

        var ranges: [String: Range<Int>] = [:]
        var cursor = afterKeys
        for item in unpickler.lists[keyIndex] {
            guard case .string(let key) = item else {
                throw .unsupportedCheckpointContent(path: path, reason: "legacy storage key is a \(item.kind)")
            }
            guard ranges[key] == nil else {
                throw .unsupportedCheckpointContent(path: path, reason: "legacy storage \(key) is stored twice")
            }
            // A listed storage that nothing references cannot be sized; torch never writes one.
            guard let first = unpickler.storageByKey[key] else {
                throw .unsupportedCheckpointContent(path: path, reason: "legacy storage \(key) is stored but never referenced")
            }
            let reference = unpickler.storages[first]
            let expected = reference.count * reference.dtype.byteSize
            guard bytes.count - cursor >= 8 else {
                throw .storageSizeMismatch(path: path, storage: key, expectedBytes: expected, actualBytes: 0)
            }
            var declared: UInt64 = 0
            for index in (cursor..<(cursor + 8)).reversed() { declared = declared << 8 | UInt64(bytes[index]) }
            cursor += 8
            guard declared == UInt64(reference.count) else {
                let actual = declared.multipliedReportingOverflow(by: UInt64(reference.dtype.byteSize))
                throw .storageSizeMismatch(
                    path: path, storage: key, expectedBytes: expected,
                    actualBytes: actual.overflow ? Int.max : Int(clamping: actual.partialValue))
            }
            guard expected <= bytes.count - cursor else {
                throw .storageSizeMismatch(path: path, storage: key, expectedBytes: expected, actualBytes: bytes.count - cursor)
            }
            ranges[key] = cursor..<(cursor + expected)
            cursor += expected
        }
        return (root, ranges)
    }
}
