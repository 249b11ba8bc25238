/// A parsed JSON document, read by a small parser over the raw bytes.
///
/// Foundation's `JSONSerialization` builds bridged dictionaries and is slow on Linux for a
/// 6.6 MB `tokenizer.json`; this parser decodes strings straight from UTF-8 and keeps objects as
/// ordered key/value arrays, so the 128k-entry Llama-3 vocabulary is one pass over the bytes.
enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    static func parse(_ bytes: [UInt8]) throws(TokenizerError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(TokenizerError) in
            var parser = JSONParser(buffer: buffer)
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            guard parser.position == buffer.count else { throw parser.failure("trailing characters") }
            return value
        }
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var int: Int? { if case .integer(let value) = self { value } else { nil } }
    var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    var object: JSONObject? { if case .object(let value) = self { value } else { nil } }
    var isNull: Bool { if case .null = self { true } else { false } }

    /// Member of an object (`nil` for other values or a missing key).
    subscript(key: String) -> JSONValue? { object?[key] }
}

/// A JSON object with its keys in file order.
struct JSONObject: Sendable {
    var keys: [String] = []
    var values: [JSONValue] = []

    /// Linear lookup: config objects have a handful of keys (the vocabulary is iterated, not searched).
    subscript(key: String) -> JSONValue? {
        keys.firstIndex(of: key).map { values[$0] }
    }
}

private struct JSONParser {
    let buffer: UnsafeBufferPointer<UInt8>
    var position = 0

    init(buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

    func failure(_ reason: String) -> TokenizerError {
        .invalidJSON(reason: "\(reason) at byte \(position)")
    }

    mutating func skipWhitespace() {
        while position < buffer.count {
            switch buffer[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(TokenizerError) -> JSONValue {
        guard depth < 512 else { throw failure("nesting too deep") }
        skipWhitespace()
        guard position < buffer.count else { throw failure("unexpected end") }
        switch buffer[position] {
        case UInt8(ascii: "{"): return .object(try parseObject(depth: depth))
        case UInt8(ascii: "["):
            position += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if position < buffer.count, buffer[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
            while true {
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard position < buffer.count else { throw failure("unterminated array") }
                let byte = buffer[position]
                position += 1
                if byte == UInt8(ascii: "]") { return .array(elements) }
                guard byte == UInt8(ascii: ",") else { throw failure("expected , or ]") }
            }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        default: return try parseNumber()
        }
    }

    mutating func parseObject(depth: Int) throws(TokenizerError) -> JSONObject {
        position += 1
        var object = JSONObject()
        skipWhitespace()
        if position < buffer.count, buffer[position] == UInt8(ascii: "}") { position += 1; return object }
        while true {
            skipWhitespace()
            guard position < buffer.count, buffer[position] == UInt8(ascii: "\"") else { throw failure("expected a key") }
            object.keys.append(try parseString())
            skipWhitespace()
            guard position < buffer.count, buffer[position] == UInt8(ascii: ":") else { throw failure("expected :") }
            position += 1
            object.values.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard position < buffer.count else { throw failure("unterminated object") }
            let byte = buffer[position]
            position += 1
            if byte == UInt8(ascii: "}") { return object }
            guard byte == UInt8(ascii: ",") else { throw failure("expected , or }") }
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(TokenizerError) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= buffer.count else { throw failure("invalid literal") }
        for index in 0..<count where buffer[position + index] != literal.utf8Start[index] {
            throw failure("invalid literal")
        }
        position += count
    }

    mutating func parseNumber() throws(TokenizerError) -> JSONValue {
        let start = position
        var isInteger = true
        while position < buffer.count {
            let byte = buffer[position]
            if (0x30...0x39).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") {
                position += 1
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                isInteger = false
                position += 1
            } else {
                break
            }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<position]), as: UTF8.self)
        if isInteger, let value = Int(text) { return .integer(value) }
        guard let value = Double(text) else { throw failure("invalid number") }
        return .double(value)
    }

    mutating func parseString() throws(TokenizerError) -> String {
        position += 1
        let start = position
        // Fast path: no escapes, decode the UTF-8 slice directly.
        while position < buffer.count {
            let byte = buffer[position]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<position]), as: UTF8.self)
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            position += 1
        }
        var bytes = Array(buffer[start..<position])
        while position < buffer.count {
            let byte = buffer[position]
            position += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: bytes, as: UTF8.self) }
            guard byte == UInt8(ascii: "\\") else { bytes.append(byte); continue }
            guard position < buffer.count else { break }
            let escape = buffer[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(escape)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800...0xDBFF).contains(scalar), position + 1 < buffer.count,
                    buffer[position] == UInt8(ascii: "\\"), buffer[position + 1] == UInt8(ascii: "u")
                {
                    position += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw failure("invalid surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                // A lone surrogate cannot be a Swift string; serde would reject it as well.
                guard let value = Unicode.Scalar(scalar) else { throw failure("lone surrogate") }
                bytes.append(contentsOf: String(Character(value)).utf8)
            default: throw failure("invalid escape")
            }
        }
        throw failure("unterminated string")
    }

    mutating func parseHex4() throws(TokenizerError) -> UInt32 {
        guard position + 4 <= buffer.count else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = buffer[position]
            position += 1
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw failure("invalid \\u escape")
            }
            value = value << 4 | digit
        }
        return value
    }
}
