/// Reads GGUF's little-endian fields from a byte buffer, checking every length against the bytes
/// left so that no count in the file can make it read out of bounds or allocate without limit.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0
    /// Caps that keep hostile counts from exhausting memory before the file's end is reached.
    let limits: GGUFFile.Limits

    init(bytes: UnsafeRawBufferPointer, limits: GGUFFile.Limits) {
        self.bytes = bytes
        self.limits = limits
    }

    var remaining: Int { bytes.count - offset }

    private mutating func need(_ count: Int) throws(GGUFProblem) {
        guard count <= remaining else { throw .truncated(offset: offset, needed: count) }
    }

    mutating func u8() throws(GGUFProblem) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(GGUFProblem) -> UInt16 { UInt16(truncatingIfNeeded: try little(2)) }
    mutating func u32() throws(GGUFProblem) -> UInt32 { UInt32(truncatingIfNeeded: try little(4)) }
    mutating func u64() throws(GGUFProblem) -> UInt64 { try little(8) }

    private mutating func little(_ width: Int) throws(GGUFProblem) -> UInt64 {
        try need(width)
        var value: UInt64 = 0
        for index in 0..<width { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        offset += width
        return value
    }

    /// A count that must be at most `limit` and at most the bytes left divided by `minimumBytesEach`.
    mutating func count(_ what: String, limit: UInt64, minimumBytesEach: Int) throws(GGUFProblem) -> Int {
        let value = try u64()
        let fits = UInt64(remaining / max(minimumBytesEach, 1))
        guard value <= limit, value <= fits else { throw .countTooLarge(what: what, count: value, limit: min(limit, fits)) }
        return Int(value)
    }

    mutating func string() throws(GGUFProblem) -> String {
        let start = offset
        let length = try u64()
        guard length <= UInt64(remaining), length <= limits.maximumStringBytes else { throw .stringTooLong(offset: start, length: length) }
        let count = Int(length)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        guard let text = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(offset: start) }
        offset += count
        return text
    }

    mutating func value(of type: GGUFValueType, depth: Int = 0) throws(GGUFProblem) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try u8())
        case .int8: return .int8(Int8(bitPattern: try u8()))
        case .uint16: return .uint16(try u16())
        case .int16: return .int16(Int16(bitPattern: try u16()))
        case .uint32: return .uint32(try u32())
        case .int32: return .int32(Int32(bitPattern: try u32()))
        case .uint64: return .uint64(try u64())
        case .int64: return .int64(Int64(bitPattern: try u64()))
        case .float32: return .float32(Float(bitPattern: try u32()))
        case .float64: return .float64(Double(bitPattern: try u64()))
        case .bool:
            // GGUF writes bools as one byte; any non-zero byte reads as true, like llama.cpp.
            return .bool(try u8() != 0)
        case .string: return .string(try string())
        case .array:
            let start = offset
            guard depth < limits.maximumArrayNesting else { throw .arrayNestingTooDeep(offset: start) }
            let elementType = try valueType()
            let minimum = elementType.fixedByteCount ?? (elementType == .string ? 8 : 12)
            let count = try self.count("array element", limit: limits.maximumArrayElements, minimumBytesEach: minimum)
            var values: [GGUFValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try value(of: elementType, depth: depth + 1)) }
            return .array(elementType: elementType, values)
        }
    }

    mutating func valueType() throws(GGUFProblem) -> GGUFValueType {
        let start = offset
        let raw = try u32()
        guard let type = GGUFValueType(rawValue: raw) else { throw .unknownValueType(offset: start, type: raw) }
        return type
    }
}
