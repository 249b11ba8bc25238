/// The stored entries of a zip archive, located without copying: the container `torch.save` has
/// written since PyTorch 1.6 (`<name>/data.pkl`, `<name>/data/<key>`, `<name>/byteorder`, …).
///
/// Only what such checkpoints use is implemented: stored (uncompressed) entries in a single-disk
/// archive, with or without ZIP64 records (PyTorch always writes them). Every offset and size is
/// checked against the file before it is used; CRCs are not verified, since that would read every
/// byte of a multi-gigabyte checkpoint at open time.
struct TorchZipArchive {
    /// Byte ranges of each entry's data within the file, by entry name.
    let entries: [String: Range<Int>]
    /// Entry names in central-directory order.
    let names: [String]

    private static let endSignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let zip64EndSignature: UInt32 = 0x0606_4B50
    private static let centralSignature: UInt32 = 0x0201_4B50
    private static let localSignature: UInt32 = 0x0403_4B50
    private static let saturated32: UInt64 = 0xFFFF_FFFF

    /// Reads the central directory of `file` and validates every entry's local header and data range.
    init(file: MappedFile) throws(CheckpointError) {
        let path = file.path
        let all = file.bytes(0..<file.byteCount)
        let directory = try Self.locateCentralDirectory(all, path: path)

        var entries: [String: Range<Int>] = [:]
        var names: [String] = []
        var cursor = directory.offset
        let end = directory.offset + directory.size
        for _ in 0..<directory.count {
            let (name, range, next) = try Self.readEntry(
                all, at: cursor, directoryEnd: end, dataLimit: directory.offset, path: path)
            guard entries[name] == nil else { throw .archiveDuplicateEntry(path: path, entry: name) }
            entries[name] = range
            names.append(name)
            cursor = next
        }
        self.entries = entries
        self.names = names
    }

    // MARK: End records

    private struct CentralDirectory {
        var offset: Int
        var size: Int
        var count: Int
    }

    /// Finds the end-of-central-directory record (and the ZIP64 one when present) and checks the
    /// central directory lies in the file before them.
    private static func locateCentralDirectory(
        _ bytes: UnsafeRawBufferPointer, path: String
    ) throws(CheckpointError) -> CentralDirectory {
        let size = bytes.count
        guard size >= 22 else { throw .archiveEndNotFound(path: path) }
        // The record is the last thing in the file except for a comment of up to 65535 bytes; a
        // candidate only counts when its comment length reaches exactly to the end of the file.
        var endOffset: Int?
        var candidate = size - 22
        let lowest = max(0, size - 22 - 0xFFFF)
        while candidate >= lowest {
            if zipU32(bytes, candidate) == endSignature, Int(zipU16(bytes, candidate + 20)) == size - candidate - 22 {
                endOffset = candidate
                break
            }
            candidate -= 1
        }
        guard let endOffset else { throw .archiveEndNotFound(path: path) }

        var directory = CentralDirectory(
            offset: Int(zipU32(bytes, endOffset + 16)), size: Int(zipU32(bytes, endOffset + 12)),
            count: Int(zipU16(bytes, endOffset + 10)))
        let disk = zipU16(bytes, endOffset + 4)
        let directoryDisk = zipU16(bytes, endOffset + 6)
        let countOnDisk = zipU16(bytes, endOffset + 8)
        var directoryLimit = endOffset

        let locator = endOffset - 20
        if locator >= 0, zipU32(bytes, locator) == zip64LocatorSignature {
            guard zipU32(bytes, locator + 4) == 0, zipU32(bytes, locator + 16) <= 1 else {
                throw .archiveUnsupported(path: path, entry: "", reason: "archives spanning several disks")
            }
            let recordOffset = zipU64(bytes, locator + 8)
            guard locator >= 56, recordOffset <= UInt64(locator - 56) else {
                throw .archiveRecordOutOfRange(
                    path: path, record: "ZIP64 end record", offset: Int(clamping: recordOffset), length: 56, limit: locator)
            }
            let record = Int(recordOffset)
            guard zipU32(bytes, record) == zip64EndSignature else {
                throw .archiveInvalidRecord(path: path, record: "ZIP64 end record", offset: record, reason: "bad signature")
            }
            guard zipU32(bytes, record + 16) == 0, zipU32(bytes, record + 20) == 0,
                  zipU64(bytes, record + 24) == zipU64(bytes, record + 32) else {
                throw .archiveUnsupported(path: path, entry: "", reason: "archives spanning several disks")
            }
            let count = zipU64(bytes, record + 32), length = zipU64(bytes, record + 40), offset = zipU64(bytes, record + 48)
            guard count <= UInt64(Int.max), length <= UInt64(Int.max), offset <= UInt64(Int.max) else {
                throw .archiveInvalidRecord(path: path, record: "ZIP64 end record", offset: record, reason: "sizes overflow")
            }
            directory = CentralDirectory(offset: Int(offset), size: Int(length), count: Int(count))
            directoryLimit = record
        } else {
            guard disk == 0, directoryDisk == 0, countOnDisk == directory.count else {
                throw .archiveUnsupported(path: path, entry: "", reason: "archives spanning several disks")
            }
            if directory.count == 0xFFFF || UInt64(directory.size) == saturated32 || UInt64(directory.offset) == saturated32 {
                throw .archiveInvalidRecord(
                    path: path, record: "end of central directory", offset: endOffset,
                    reason: "saturated fields but no ZIP64 locator")
            }
        }

        let (directoryEnd, overflow) = directory.offset.addingReportingOverflow(directory.size)
        guard !overflow, directoryEnd <= directoryLimit else {
            throw .archiveRecordOutOfRange(
                path: path, record: "central directory", offset: directory.offset, length: directory.size, limit: directoryLimit)
        }
        // Each central header is at least 46 bytes: bounds the count before anything is allocated.
        guard directory.count <= directory.size / 46 else {
            throw .archiveInvalidRecord(
                path: path, record: "central directory", offset: directory.offset,
                reason: "\(directory.count) entries cannot fit in \(directory.size) bytes")
        }
        return directory
    }

    // MARK: Entries

    /// Parses the central header at `offset`, then the entry's local header, returning the entry's
    /// name, its data range and the offset of the next central header.
    private static func readEntry(
        _ bytes: UnsafeRawBufferPointer, at offset: Int, directoryEnd: Int, dataLimit: Int, path: String
    ) throws(CheckpointError) -> (String, Range<Int>, Int) {
        let record = "central directory header"
        guard offset + 46 <= directoryEnd else {
            throw .archiveRecordOutOfRange(path: path, record: record, offset: offset, length: 46, limit: directoryEnd)
        }
        guard zipU32(bytes, offset) == centralSignature else {
            throw .archiveInvalidRecord(path: path, record: record, offset: offset, reason: "bad signature")
        }
        let flags = zipU16(bytes, offset + 8)
        let method = zipU16(bytes, offset + 10)
        var compressedSize = UInt64(zipU32(bytes, offset + 20))
        var size = UInt64(zipU32(bytes, offset + 24))
        let nameLength = Int(zipU16(bytes, offset + 28))
        let extraLength = Int(zipU16(bytes, offset + 30))
        let commentLength = Int(zipU16(bytes, offset + 32))
        var disk = UInt64(zipU16(bytes, offset + 34))
        var localOffset = UInt64(zipU32(bytes, offset + 42))
        let next = offset + 46 + nameLength + extraLength + commentLength
        guard next <= directoryEnd else {
            throw .archiveRecordOutOfRange(path: path, record: record, offset: offset, length: next - offset, limit: directoryEnd)
        }
        let name = try decodeName(bytes, offset + 46, nameLength, record: record, at: offset, path: path)

        // ZIP64 extended information holds, in this order, each field whose 32-bit slot is saturated.
        var fields: [UInt64] = []
        if size == saturated32 { fields.append(0) }
        if compressedSize == saturated32 { fields.append(1) }
        if localOffset == saturated32 { fields.append(2) }
        if disk == 0xFFFF { fields.append(3) }
        if !fields.isEmpty {
            guard let extra = zip64Extra(bytes, offset + 46 + nameLength, extraLength) else {
                throw .archiveInvalidRecord(path: path, record: record, offset: offset, reason: "\(name): missing ZIP64 field")
            }
            var cursor = extra.lowerBound
            for field in fields {
                let width = field == 3 ? 4 : 8
                guard cursor + width <= extra.upperBound else {
                    throw .archiveInvalidRecord(path: path, record: record, offset: offset, reason: "\(name): short ZIP64 field")
                }
                let value = width == 8 ? zipU64(bytes, cursor) : UInt64(zipU32(bytes, cursor))
                switch field {
                case 0: size = value
                case 1: compressedSize = value
                case 2: localOffset = value
                default: disk = value
                }
                cursor += width
            }
        }
        guard disk == 0 else { throw .archiveUnsupported(path: path, entry: name, reason: "archives spanning several disks") }
        guard flags & 1 == 0 else { throw .archiveUnsupported(path: path, entry: name, reason: "encrypted entry") }
        guard method == 0 else {
            throw .archiveUnsupported(path: path, entry: name, reason: "compression method \(method) (only stored entries are read)")
        }
        guard compressedSize == size, size <= UInt64(Int.max), localOffset <= UInt64(Int.max) else {
            throw .archiveInvalidRecord(
                path: path, record: record, offset: offset,
                reason: "\(name): stored entry with compressed size \(compressedSize) and size \(size)")
        }
        let range = try localData(
            bytes, at: Int(localOffset), name: name, size: Int(size), centralFlags: flags, dataLimit: dataLimit, path: path)
        return (name, range, next)
    }

    /// Validates an entry's local header against its central header and returns its data range.
    private static func localData(
        _ bytes: UnsafeRawBufferPointer, at offset: Int, name: String, size: Int, centralFlags: UInt16,
        dataLimit: Int, path: String
    ) throws(CheckpointError) -> Range<Int> {
        let record = "local header of \(name)"
        guard offset <= dataLimit - 30 else {
            throw .archiveRecordOutOfRange(path: path, record: record, offset: offset, length: 30, limit: dataLimit)
        }
        guard zipU32(bytes, offset) == localSignature else {
            throw .archiveInvalidRecord(path: path, record: record, offset: offset, reason: "bad signature")
        }
        let flags = zipU16(bytes, offset + 6)
        let method = zipU16(bytes, offset + 8)
        var compressedSize = UInt64(zipU32(bytes, offset + 18))
        var localSize = UInt64(zipU32(bytes, offset + 22))
        let nameLength = Int(zipU16(bytes, offset + 26))
        let extraLength = Int(zipU16(bytes, offset + 28))
        let dataStart = offset + 30 + nameLength + extraLength
        guard dataStart <= dataLimit else {
            throw .archiveRecordOutOfRange(path: path, record: record, offset: offset, length: dataStart - offset, limit: dataLimit)
        }
        let localName = try decodeName(bytes, offset + 30, nameLength, record: record, at: offset, path: path)
        guard localName == name, method == 0, flags & 1 == 0 else {
            throw .archiveInvalidRecord(
                path: path, record: record, offset: offset, reason: "disagrees with the central directory (name, method or flags)")
        }
        if localSize == saturated32 || compressedSize == saturated32,
           let extra = zip64Extra(bytes, offset + 30 + nameLength, extraLength), extra.count >= 16 {
            localSize = zipU64(bytes, extra.lowerBound)
            compressedSize = zipU64(bytes, extra.lowerBound + 8)
        }
        // With a data descriptor (flag bit 3) the local sizes may be zero, the real ones following
        // the data; PyTorch writes entries that way. Otherwise they must match the central directory.
        let deferred = flags & 8 != 0 && localSize == 0 && compressedSize == 0
        if !deferred, localSize != UInt64(size) || compressedSize != UInt64(size) {
            let reported = localSize != UInt64(size) ? localSize : compressedSize
            throw .archiveSizeMismatch(path: path, entry: name, centralSize: size, localSize: Int(clamping: reported))
        }
        guard size <= dataLimit - dataStart else {
            throw .archiveRecordOutOfRange(path: path, record: "data of \(name)", offset: dataStart, length: size, limit: dataLimit)
        }
        return dataStart..<(dataStart + size)
    }

    /// The payload range of the ZIP64 extended-information field (id 1) in an extra area.
    private static func zip64Extra(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> Range<Int>? {
        var cursor = start
        let end = start + length
        while cursor + 4 <= end {
            let id = zipU16(bytes, cursor)
            let fieldLength = Int(zipU16(bytes, cursor + 2))
            guard cursor + 4 + fieldLength <= end else { return nil }
            if id == 1 { return (cursor + 4)..<(cursor + 4 + fieldLength) }
            cursor += 4 + fieldLength
        }
        return nil
    }

    private static func decodeName(
        _ bytes: UnsafeRawBufferPointer, _ start: Int, _ length: Int, record: String, at offset: Int, path: String
    ) throws(CheckpointError) -> String {
        guard let name = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)]), as: UTF8.self) else {
            throw .archiveInvalidRecord(path: path, record: record, offset: offset, reason: "entry name is not UTF-8")
        }
        return name
    }
}

// MARK: - Little-endian loads (callers have checked the bounds)

@inline(__always) private func zipU16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

@inline(__always) private func zipU32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

@inline(__always) private func zipU64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
    UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
}
