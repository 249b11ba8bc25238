/// A minimal reader of the protobuf wire format, enough for SentencePiece's `ModelProto`.
///
/// It walks a byte range field by field; sub-messages are read by a new reader over the same
/// array (arrays are copy-on-write, so no bytes are copied). Unknown fields are skipped, as
/// protobuf requires, so models written by newer SentencePiece versions still load.
struct ProtobufReader {
    /// The wire types of protobuf encoding 3 (groups, types 3 and 4, are not used by sentencepiece).
    enum WireType: Int {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    private let bytes: [UInt8]
    private var position: Int
    private let end: Int

    init(bytes: [UInt8]) {
        self.init(bytes: bytes, range: 0..<bytes.count)
    }

    private init(bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    /// The next field's number and wire type, or `nil` at the end of the message.
    mutating func nextField() throws(TokenizerError) -> (number: Int, wireType: WireType)? {
        guard position < end else { return nil }
        let key = try readVarint()
        guard let wireType = WireType(rawValue: Int(key & 7)) else {
            throw .invalidModelProto(reason: "unsupported wire type \(key & 7)")
        }
        let number = Int(truncatingIfNeeded: key >> 3)
        guard number > 0 else { throw .invalidModelProto(reason: "field number 0") }
        return (number, wireType)
    }

    mutating func readVarint() throws(TokenizerError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .invalidModelProto(reason: "truncated varint") }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw .invalidModelProto(reason: "varint longer than 10 bytes") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func readBool() throws(TokenizerError) -> Bool { try readVarint() != 0 }

    /// An `int32` field: negative values are written as 10-byte varints and truncated back.
    mutating func readInt32() throws(TokenizerError) -> Int {
        Int(Int32(truncatingIfNeeded: try readVarint()))
    }

    mutating func readFloat() throws(TokenizerError) -> Float {
        guard end - position >= 4 else { throw .invalidModelProto(reason: "truncated fixed32") }
        var bits: UInt32 = 0
        for index in 0..<4 { bits |= UInt32(bytes[position + index]) << (8 * UInt32(index)) }
        position += 4
        return Float(bitPattern: bits)
    }

    /// The payload range of a length-delimited field (string, bytes or sub-message).
    mutating func readLengthDelimited() throws(TokenizerError) -> Range<Int> {
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw .invalidModelProto(reason: "length-delimited field runs past the end")
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func readString() throws(TokenizerError) -> String {
        let range = try readLengthDelimited()
        return String(decoding: bytes[range], as: UTF8.self)
    }

    mutating func readBytes() throws(TokenizerError) -> [UInt8] {
        Array(bytes[try readLengthDelimited()])
    }

    /// A reader over the sub-message in the current length-delimited field.
    mutating func readMessage() throws(TokenizerError) -> ProtobufReader {
        ProtobufReader(bytes: bytes, range: try readLengthDelimited())
    }

    mutating func skip(_ wireType: WireType) throws(TokenizerError) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .fixed32, .fixed64:
            let size = wireType == .fixed32 ? 4 : 8
            guard end - position >= size else { throw .invalidModelProto(reason: "truncated fixed field") }
            position += size
        }
    }
}
