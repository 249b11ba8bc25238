import Foundation

/// A parsed JSON value that keeps the distinctions OpenAI's schema needs (a boolean is not a
/// number, an integer is not a fraction), so every wrong field type gets its own error.
enum JSONValue: Sendable, Decodable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    /// Parses a request body.
    /// - Throws: ``APIError`` 400 `invalid_json` when the bytes are not one JSON value.
    static func parse(_ bytes: [UInt8]) throws(APIError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw .invalid("the request body is not valid JSON", code: "invalid_json")
        }
    }

    /// The name of the value's JSON type, for error messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }
}

/// Typed access to the fields of a JSON object, each failure a 400 naming the field.
struct JSONFields {
    let fields: [String: JSONValue]
    /// The path of this object in the request, for `param` (`messages[1]`); empty at the top.
    let path: String

    init(_ value: JSONValue, path: String) throws(APIError) {
        guard case .object(let fields) = value else {
            throw .invalid("\(path.isEmpty ? "the request body" : path) must be an object, not \(value.typeName)", param: path.isEmpty ? nil : path, code: "invalid_type")
        }
        self.fields = fields
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value of `key`, treating an explicit `null` as absent (as OpenAI does for optional fields).
    func value(_ key: String) -> JSONValue? {
        guard let value = fields[key], value != .null else { return nil }
        return value
    }

    func wrongType(_ key: String, _ expected: String) -> APIError {
        .invalid("\(name(key)) must be \(expected), not \(fields[key]?.typeName ?? "missing")", param: name(key), code: "invalid_type")
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, "a string") }
        return text
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw wrongType(key, "a boolean") }
        return flag
    }

    func integer(_ key: String) throws(APIError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard case .integer(let number) = value else { throw wrongType(key, "an integer") }
        return number
    }

    func number(_ key: String) throws(APIError) -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = value.doubleValue else { throw wrongType(key, "a number") }
        return number
    }
}
