/// The validated JSON header of a `.safetensors` file: every entry well-typed, sized consistently
/// with its dtype and shape, inside the data section, and disjoint from every other entry.
struct SafetensorsHeader {
    let entries: [String: SafetensorsFile.Entry]
    let metadata: [String: String]

    /// Parses and validates `bytes` (the header without its length prefix).
    /// - Parameters:
    ///   - dataSize: bytes in the data section that follows the header.
    ///   - path: the file, for error messages.
    init(bytes: UnsafeRawBufferPointer, dataSize: Int, path: String) throws(CheckpointError) {
        if let offset = firstInvalidUTF8Offset(bytes) { throw .headerNotUTF8(path: path, offset: offset) }
        let root: JSONValue
        do throws(JSONSyntaxError) {
            root = try StrictJSONParser.parse(bytes)
        } catch {
            throw .invalidJSON(path: path, reason: error.reason, offset: error.offset)
        }
        guard case .object(let members) = root else { throw .headerNotObject(path: path) }

        var entries: [String: SafetensorsFile.Entry] = [:]
        entries.reserveCapacity(members.count)
        var metadata: [String: String]?
        for member in members {
            if member.key == "__metadata__" {
                guard metadata == nil else { throw .invalidMetadata(path: path, key: member.key, reason: "given twice") }
                metadata = try Self.parseMetadata(member.value, path: path)
                continue
            }
            guard entries[member.key] == nil else { throw .duplicateTensorName(path: path, tensor: member.key) }
            entries[member.key] = try Self.parseEntry(member.value, name: member.key, dataSize: dataSize, path: path)
        }
        try Self.checkDisjoint(entries, path: path)
        self.entries = entries
        self.metadata = metadata ?? [:]
    }

    private static func parseMetadata(_ value: JSONValue, path: String) throws(CheckpointError) -> [String: String] {
        switch value {
        case .null:
            return [:]
        case .object(let members):
            var metadata: [String: String] = [:]
            for member in members {
                guard metadata[member.key] == nil else {
                    throw .invalidMetadata(path: path, key: member.key, reason: "duplicate key")
                }
                guard let text = member.value.string else {
                    throw .invalidMetadata(path: path, key: member.key, reason: "value is not a string")
                }
                metadata[member.key] = text
            }
            return metadata
        default:
            throw .invalidMetadata(path: path, key: "__metadata__", reason: "not an object")
        }
    }

    private static func parseEntry(
        _ value: JSONValue, name: String, dataSize: Int, path: String
    ) throws(CheckpointError) -> SafetensorsFile.Entry {
        guard case .object(let members) = value else { throw .entryNotObject(path: path, tensor: name) }
        var seen = Set<String>(minimumCapacity: members.count)
        for member in members where !seen.insert(member.key).inserted {
            throw .invalidField(path: path, tensor: name, field: member.key, expected: "given once")
        }
        func field(_ key: String) throws(CheckpointError) -> JSONValue {
            guard let member = members.first(where: { $0.key == key }) else {
                throw .missingField(path: path, tensor: name, field: key)
            }
            return member.value
        }

        guard let dtypeName = try field("dtype").string else {
            throw .invalidField(path: path, tensor: name, field: "dtype", expected: "a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        let shape = try integers(try field("shape"), field: "shape", tensor: name, path: path)
        let offsets = try integers(try field("data_offsets"), field: "data_offsets", tensor: name, path: path)
        guard offsets.count == 2 else {
            throw .invalidField(path: path, tensor: name, field: "data_offsets", expected: "an array of two integers")
        }
        let (begin, end) = (offsets[0], offsets[1])

        guard let count = Shape.elementCount(shape) else { throw .invalidShape(path: path, tensor: name, shape: shape) }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw .invalidShape(path: path, tensor: name, shape: shape) }
        guard begin >= 0, begin <= end else { throw .invalidOffsets(path: path, tensor: name, begin: begin, end: end) }
        guard end <= dataSize else {
            throw .offsetsOutOfRange(path: path, tensor: name, begin: begin, end: end, dataSize: dataSize)
        }
        guard end - begin == byteCount else {
            throw .byteLengthMismatch(path: path, tensor: name, expectedBytes: byteCount, begin: begin, end: end)
        }
        return SafetensorsFile.Entry(dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    /// An array of integers that fit `Int` (the sign is checked by the caller).
    private static func integers(
        _ value: JSONValue, field: String, tensor: String, path: String
    ) throws(CheckpointError) -> [Int] {
        guard case .array(let elements) = value else {
            throw .invalidField(path: path, tensor: tensor, field: field, expected: "an array of integers")
        }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard let integer = element.integer else {
                throw .invalidField(path: path, tensor: tensor, field: field, expected: "an array of integers")
            }
            result.append(integer)
        }
        return result
    }

    /// Sorted by start offset, each non-empty range must begin at or after the furthest end so far.
    private static func checkDisjoint(_ entries: [String: SafetensorsFile.Entry], path: String) throws(CheckpointError) {
        let occupied = entries.filter { !$0.value.dataRange.isEmpty }.sorted {
            ($0.value.dataRange.lowerBound, $0.key) < ($1.value.dataRange.lowerBound, $1.key)
        }
        var furthest: (end: Int, name: String)?
        for (name, entry) in occupied {
            if let previous = furthest, entry.dataRange.lowerBound < previous.end {
                throw .overlappingTensors(path: path, tensor: name, other: previous.name, offset: entry.dataRange.lowerBound)
            }
            if entry.dataRange.upperBound > furthest?.end ?? -1 { furthest = (entry.dataRange.upperBound, name) }
        }
    }
}
