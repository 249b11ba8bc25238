import Foundation
import MGTensor

/// A golden fixture written by `Tools/make_goldens.py`, read from a test target's `Fixtures` folder.
public struct Golden {
    public let file: SafetensorsFile

    /// Opens `Fixtures/<name>.safetensors` of `bundle` (pass the test target's `Bundle.module`).
    public init(_ name: String, bundle: Bundle) throws {
        guard let url = bundle.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw GoldenMissing(name: name)
        }
        file = try SafetensorsFile(contentsOf: url)
    }

    public func tensor(_ name: String) throws -> Tensor { try file.tensor(named: name) }

    /// A metadata value decoded from its JSON text.
    public func meta<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        guard let text = file.metadata[key] else { throw GoldenMissing(name: "metadata \(key)") }
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
}

public struct GoldenMissing: Error, CustomStringConvertible {
    public let name: String
    public init(name: String) { self.name = name }
    public var description: String { "golden fixture \(name) is missing; run python3 Tools/make_goldens.py" }
}

/// Reproduces `det_uniform` of Tools/goldens/common.py bit-exactly.
public enum DeterministicData {
    public static func uniform(seed: UInt64, count: Int, low: Float = -1, high: Float = 1) -> [Float] {
        let golden: UInt64 = 0x9E37_79B9_7F4A_7C15
        let base = seed &* golden
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count {
                var z = UInt64(index) &+ base &+ golden
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z = z ^ (z >> 31)
                buffer[index] = low + (high - low) * (Float(z >> 40) * 0x1p-24)
            }
            initialized = count
        }
    }

    public static func tensor(seed: UInt64, shape: [Int], low: Float = -1, high: Float = 1) throws -> Tensor {
        try Tensor(shape: shape, values: uniform(seed: seed, count: shape.reduce(1, *), low: low, high: high))
    }
}

/// Parity metric used across the suite: max |actual − expected| / max |expected|; a NaN in one but
/// not the other is an infinite error.
public func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
    precondition(actual.count == expected.count, "compared arrays differ in length")
    var maxDifference: Float = 0
    var maxReference: Float = 0
    for (a, e) in zip(actual, expected) {
        if a.isNaN != e.isNaN { return .infinity }
        if a.isNaN { continue }
        if a.isInfinite || e.isInfinite {
            if a != e { return .infinity }
            continue
        }
        maxDifference = max(maxDifference, abs(a - e))
        maxReference = max(maxReference, abs(e))
    }
    return maxReference == 0 ? maxDifference : maxDifference / maxReference
}

/// The elements of `tensor` at the flat `indices` (an I64 tensor written by `sample_indices`).
public func sampled(_ tensor: Tensor, at indices: Tensor) -> [Float] {
    let all = tensor.floats()
    return indices.withUnsafeBytes { raw in raw.bindMemory(to: Int64.self).map { all[Int($0)] } }
}

/// Material every checkout has next to the package at `../shared` (example photos, real
/// vocabularies), which tests read but the repository never contains.
public enum SharedResources {
    /// The package root (this file is `Tests/MGTestSupport/Golden.swift`).
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/images/<name>`, or `nil` (with a printed reason) when absent.
    public static func image(_ name: String) -> String? {
        let path = packageRoot.appendingPathComponent("../shared/images/\(name)").standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: path) else {
            print("skipping: \(path) is absent (the shared example photos live next to the package checkout)")
            return nil
        }
        return path
    }
}
