import Foundation
import Testing
@testable import MGTensor

/// Every malformed-header case maps to its own `CheckpointError`, built from hand-crafted bytes.
@Suite struct SafetensorsValidationTests {
    let scratch: ScratchDirectory
    init() throws { scratch = try ScratchDirectory() }

    /// Writes `bytes` and returns the error opening them throws.
    private func openError(_ bytes: [UInt8], maximumHeaderBytes: Int = SafetensorsFile.defaultMaximumHeaderBytes,
                           sourceLocation: SourceLocation = #_sourceLocation) throws -> (CheckpointError?, String) {
        let path = try scratch.write(bytes, to: "case.safetensors")
        let error = checkpointError(sourceLocation: sourceLocation) { () throws(CheckpointError) in
            try SafetensorsFile(contentsOf: URL(fileURLWithPath: path), maximumHeaderBytes: maximumHeaderBytes)
        }
        return (error, path)
    }

    @Test func missingFile() {
        let path = scratch.path + "/absent.safetensors"
        #expect(checkpointError { () throws(CheckpointError) in try SafetensorsFile(contentsOf: URL(fileURLWithPath: path)) } == .fileNotFound(path: path))
    }

    @Test func fileShorterThanLengthPrefix() throws {
        let (error, path) = try openError([1, 0, 0, 0, 0])
        #expect(error == .fileTooShort(path: path, byteCount: 5))
        let (empty, emptyPath) = try openError([])
        #expect(empty == .fileTooShort(path: emptyPath, byteCount: 0))
    }

    @Test func truncatedHeader() throws {
        let (error, path) = try openError(SafetensorsBytes.file(header: "{}", length: 100))
        #expect(error == .headerPastEndOfFile(path: path, headerLength: 100, fileSize: 10))
    }

    @Test func absurdHeaderLength() throws {
        let (error, path) = try openError(SafetensorsBytes.file(header: "{}", length: .max))
        #expect(error == .headerTooLarge(path: path, headerLength: .max, limit: SafetensorsFile.defaultMaximumHeaderBytes))
        let header = SafetensorsBytes.entry(shape: "[1]", offsets: "[0,4]")
        let (capped, _) = try openError(SafetensorsBytes.file(header: header, data: [0, 0, 0, 0]), maximumHeaderBytes: 16)
        #expect(capped == .headerTooLarge(path: path, headerLength: UInt64(header.utf8.count), limit: 16))
    }

    @Test func invalidUTF8() throws {
        let (error, path) = try openError(SafetensorsBytes.file(header: Array("{\"".utf8) + [0xFF] + Array("\":1}".utf8)))
        #expect(error == .headerNotUTF8(path: path, offset: 2))
        // An encoded surrogate (ED A0 80) is not UTF-8 either.
        let (surrogate, _) = try openError(SafetensorsBytes.file(header: [0x7B, 0xED, 0xA0, 0x80, 0x7D]))
        #expect(surrogate == .headerNotUTF8(path: path, offset: 1))
    }

    @Test func invalidJSON() throws {
        for header in ["{\"t\": }", "{\"t\":1,}", "{} x", "", "{\"a\":\"\\q\"}", "{\"a\":01}", String(repeating: "[", count: 500)] {
            let (error, path) = try openError(SafetensorsBytes.file(header: header))
            guard case .invalidJSON(let errorPath, _, let offset) = error else {
                Issue.record("\(header.prefix(20)): \(String(describing: error))")
                continue
            }
            #expect(errorPath == path && offset >= 0 && offset <= header.utf8.count)
        }
    }

    @Test func headerNotAnObject() throws {
        let (error, path) = try openError(SafetensorsBytes.file(header: "[1, 2]"))
        #expect(error == .headerNotObject(path: path))
    }

    @Test func entryNotAnObject() throws {
        let (error, path) = try openError(SafetensorsBytes.file(header: "{\"w\": [0, 4]}"))
        #expect(error == .entryNotObject(path: path, tensor: "w"))
    }

    @Test func missingField() throws {
        let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}"
        let (error, path) = try openError(SafetensorsBytes.file(header: header, data: [0, 0, 0, 0]))
        #expect(error == .missingField(path: path, tensor: "w", field: "data_offsets"))
    }

    @Test func wrongTypedFields() throws {
        let cases: [(String, String)] = [
            ("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", "dtype"),
            ("{\"w\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", "shape"),
            ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", "shape"),
            ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", "data_offsets"),
            ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4e0]}}", "data_offsets"),
            ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", "data_offsets"),
            ("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "dtype"),
        ]
        for (header, field) in cases {
            let (error, path) = try openError(SafetensorsBytes.file(header: header, data: [0, 0, 0, 0]))
            guard case .invalidField(path, "w", field, _) = error else {
                Issue.record("\(header): \(String(describing: error))")
                continue
            }
        }
    }

    @Test func unknownDType() throws {
        let header = SafetensorsBytes.entry("w", dtype: "F128", shape: "[1]", offsets: "[0,16]")
        let (error, path) = try openError(SafetensorsBytes.file(header: header, data: Array(repeating: 0, count: 16)))
        #expect(error == .unknownDType(path: path, tensor: "w", dtype: "F128"))
    }

    @Test func negativeOrOverflowingShape() throws {
        let negative = SafetensorsBytes.entry(shape: "[-1,2]", offsets: "[0,0]")
        let (error, path) = try openError(SafetensorsBytes.file(header: negative))
        #expect(error == .invalidShape(path: path, tensor: "t", shape: [-1, 2]))
        // The element count fits Int but its byte size does not.
        let huge = SafetensorsBytes.entry(dtype: "F64", shape: "[2305843009213693952]", offsets: "[0,0]")
        let (overflow, _) = try openError(SafetensorsBytes.file(header: huge))
        #expect(overflow == .invalidShape(path: path, tensor: "t", shape: [1 << 61]))
        let product = SafetensorsBytes.entry(dtype: "U8", shape: "[4294967296,4294967296]", offsets: "[0,0]")
        let (countOverflow, _) = try openError(SafetensorsBytes.file(header: product))
        #expect(countOverflow == .invalidShape(path: path, tensor: "t", shape: [1 << 32, 1 << 32]))
    }

    @Test func byteLengthDisagreesWithShape() throws {
        let header = SafetensorsBytes.entry(shape: "[2]", offsets: "[0,4]")
        let (error, path) = try openError(SafetensorsBytes.file(header: header, data: Array(repeating: 0, count: 8)))
        #expect(error == .byteLengthMismatch(path: path, tensor: "t", expectedBytes: 8, begin: 0, end: 4))
    }

    @Test func reversedOrNegativeOffsets() throws {
        let (error, path) = try openError(SafetensorsBytes.file(
            header: SafetensorsBytes.entry(shape: "[1]", offsets: "[4,0]"), data: Array(repeating: 0, count: 8)))
        #expect(error == .invalidOffsets(path: path, tensor: "t", begin: 4, end: 0))
        let (negative, _) = try openError(SafetensorsBytes.file(
            header: SafetensorsBytes.entry(shape: "[1]", offsets: "[-4,0]"), data: Array(repeating: 0, count: 8)))
        #expect(negative == .invalidOffsets(path: path, tensor: "t", begin: -4, end: 0))
    }

    @Test func offsetsPastEndOfFile() throws {
        let (error, path) = try openError(SafetensorsBytes.file(
            header: SafetensorsBytes.entry(shape: "[2]", offsets: "[0,8]"), data: [0, 0, 0, 0]))
        #expect(error == .offsetsOutOfRange(path: path, tensor: "t", begin: 0, end: 8, dataSize: 4))
        // Integers above 2^53 are read exactly, not rounded through Double.
        let (exact, _) = try openError(SafetensorsBytes.file(
            header: SafetensorsBytes.entry(dtype: "U8", shape: "[1]", offsets: "[9007199254740993,9007199254740994]")))
        #expect(exact == .offsetsOutOfRange(path: path, tensor: "t", begin: 9_007_199_254_740_993,
                                            end: 9_007_199_254_740_994, dataSize: 0))
    }

    @Test func overlappingTensors() throws {
        let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}"
        let (error, path) = try openError(SafetensorsBytes.file(header: header, data: Array(repeating: 0, count: 12)))
        #expect(error == .overlappingTensors(path: path, tensor: "b", other: "a", offset: 4))
    }

    @Test func duplicateTensorNames() throws {
        let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"
        let (error, path) = try openError(SafetensorsBytes.file(header: header, data: Array(repeating: 0, count: 8)))
        #expect(error == .duplicateTensorName(path: path, tensor: "a"))
    }

    @Test func nonStringMetadata() throws {
        let (error, path) = try openError(SafetensorsBytes.file(header: "{\"__metadata__\":{\"format\":\"pt\",\"n\":1}}"))
        #expect(error == .invalidMetadata(path: path, key: "n", reason: "value is not a string"))
        let (notObject, _) = try openError(SafetensorsBytes.file(header: "{\"__metadata__\":\"pt\"}"))
        #expect(notObject == .invalidMetadata(path: path, key: "__metadata__", reason: "not an object"))
    }

    @Test func missingTensorOnLookup() throws {
        let path = try scratch.write(SafetensorsBytes.file(header: "{\"__metadata__\":null}  "), to: "empty.safetensors")
        let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: path))
        #expect(file.names.isEmpty && file.metadata.isEmpty)
        #expect(checkpointError { () throws(CheckpointError) in try file.tensor(named: "w") } == .tensorNotFound(path: path, tensor: "w"))
        #expect(try file.tensorIfPresent(named: "w") == nil)
    }

    /// Valid but unusual files: escaped names, empty tensors, gaps, and a header whose length leaves
    /// a tensor misaligned (read through an aligned copy instead of a mapped view).
    @Test func unusualButValidFiles() throws {
        var header = "{\"e\\u00e9\\n\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
            + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}}"
        while (8 + header.utf8.count + 2) % 4 != 1 { header += " " }
        var data: [UInt8] = [0xAA, 0xBB]
        withUnsafeBytes(of: Float(1.5).bitPattern.littleEndian) { data += $0 }
        withUnsafeBytes(of: Float(-2).bitPattern.littleEndian) { data += $0 }
        let path = try scratch.write(SafetensorsBytes.file(header: header, data: data), to: "odd.safetensors")
        let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: path))
        #expect(file.names == ["eé\n", "w"])
        let empty = try file.tensor(named: "eé\n")
        #expect(empty.shape == [0, 3] && empty.count == 0)
        let weight = try file.tensor(named: "w")
        #expect(weight.floats() == [1.5, -2])
        #expect(!weight.storage.isMemoryMapped)
    }
}
