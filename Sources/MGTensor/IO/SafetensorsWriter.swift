#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes tensors to a `.safetensors` file in their stored dtype.
///
/// The layout follows the reference `safetensors` library, so the files load in Python and, for
/// the same tensors and at most one metadata key, are byte-identical to what it writes: tensors
/// ordered by dtype (widest first, which keeps every tensor aligned to its element size without
/// gaps) and then by name, a compact JSON header in that order, padded with spaces to a multiple of
/// 8 bytes.
///
/// ```swift
/// try SafetensorsWriter.write(["weight": weight, "bias": bias], metadata: ["format": "pt"], to: "out.safetensors")
/// ```
public enum SafetensorsWriter {
    /// Writes `tensors` and `metadata` to `path`, replacing any existing file atomically (the bytes
    /// go to a temporary file in the same directory that is then renamed).
    /// - Throws: ``CheckpointError/invalidTensorName(path:tensor:)`` for the reserved name
    ///   `__metadata__`, ``CheckpointError/ioFailure(path:reason:)`` when writing fails.
    public static func write(
        _ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String
    ) throws(CheckpointError) {
        let header = try header(for: tensors, metadata: metadata, path: path)
        try writeAtomically(to: path) { descriptor throws(CheckpointError) in
            let length = UInt64(header.count)
            let prefixed = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) } + header
            // Array.withUnsafeBytes is untyped-rethrows; carry the typed error out in a Result.
            try prefixed.withUnsafeBytes { bytes in
                Result { () throws(CheckpointError) in try writeAll(bytes, to: descriptor, path: path) }
            }.get()
            for name in layoutOrder(tensors) {
                try tensors[name]?.withUnsafeBytes { bytes throws(CheckpointError) in
                    try writeAll(bytes, to: descriptor, path: path)
                }
            }
        }
    }

    /// The padded JSON header (without the 8-byte length) that ``write(_:metadata:to:)`` emits.
    /// - Parameters:
    ///   - tensors: the tensors by name.
    ///   - metadata: the `__metadata__` strings.
    ///   - path: the destination, for error messages.
    public static func header(
        for tensors: [String: Tensor], metadata: [String: String], path: String
    ) throws(CheckpointError) -> [UInt8] {
        if tensors["__metadata__"] != nil { throw .invalidTensorName(path: path, tensor: "__metadata__") }
        var json = "{"
        var separator = ""
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            json += keys.map { "\(quoted($0)):\(quoted(metadata[$0] ?? ""))" }.joined(separator: ",")
            json += "}"
            separator = ","
        }
        var offset = 0
        for name in layoutOrder(tensors) {
            guard let tensor = tensors[name] else { continue }
            let end = offset + tensor.storage.byteCount
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            json += "\(separator)\(quoted(name)):{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"
            separator = ","
            offset = end
        }
        json += "}"
        var bytes = Array(json.utf8)
        // Padding keeps the data section 8-byte aligned relative to the file start.
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
        return bytes
    }

    /// Names ordered as the reference library lays tensors out: dtype rank descending, then name
    /// (byte-wise, as Rust compares strings).
    static func layoutOrder(_ tensors: [String: Tensor]) -> [String] {
        tensors.keys.sorted { left, right in
            let (leftRank, rightRank) = (rank(tensors[left]?.dtype), rank(tensors[right]?.dtype))
            if leftRank != rightRank { return leftRank > rightRank }
            return left.utf8.lexicographicallyPrecedes(right.utf8)
        }
    }

    /// The position of `dtype` in the reference library's `Dtype` enum (wider types rank higher).
    private static func rank(_ dtype: DType?) -> Int {
        switch dtype {
        case .bool, nil: 0
        case .u8: 1
        case .i8: 2
        case .f8e5m2: 3
        case .f8e4m3: 4
        case .i16: 5
        case .u16: 6
        case .f16: 7
        case .bf16: 8
        case .i32: 9
        case .u32: 10
        case .f32: 11
        case .f64: 12
        case .i64: 13
        case .u64: 14
        }
    }

    /// A JSON string literal escaped as serde_json does (short escapes, `\u00xx` for other controls).
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

}
