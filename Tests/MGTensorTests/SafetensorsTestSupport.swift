import Foundation
import Testing
@testable import MGTensor

/// A fresh directory under the system temporary directory, removed when the value is released.
final class ScratchDirectory {
    let path: String
    var url: URL { URL(fileURLWithPath: path) }

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("mgtensor-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` inside the directory and returns the file's path.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let file = (path as NSString).appendingPathComponent(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    func write(_ text: String, to name: String) throws -> String {
        try write(Array(text.utf8), to: name)
    }
}

/// Hand-assembled `.safetensors` bytes, for crafting malformed files.
enum SafetensorsBytes {
    /// The 8-byte little-endian length (the real one unless `length` is given), the header, the data.
    static func file(header: [UInt8], data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let prefix = length ?? UInt64(header.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: prefix >> (8 * UInt64($0))) } + header + data
    }

    static func file(header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        file(header: Array(header.utf8), data: data, length: length)
    }

    /// A one-entry header `{"<name>": {"dtype": ..., "shape": ..., "data_offsets": ...}}`.
    static func entry(_ name: String = "t", dtype: String = "F32", shape: String, offsets: String) -> String {
        "{\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}}"
    }
}

/// Runs `body` and returns the ``CheckpointError`` it throws, or `nil` (recording an issue) if it
/// does not throw.
func checkpointError<T>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(CheckpointError) -> T
) -> CheckpointError? {
    do {
        _ = try body()
        Issue.record("expected a CheckpointError", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// The raw stored bits of a 16- or 32-bit tensor, widened to `UInt32`.
func storedBits(_ tensor: Tensor) -> [UInt32] {
    tensor.withUnsafeBytes { raw in
        switch tensor.dtype.byteSize {
        case 2: raw.bindMemory(to: UInt16.self).map { UInt32($0) }
        case 4: raw.bindMemory(to: UInt32.self).map { $0 }
        default: []
        }
    }
}
