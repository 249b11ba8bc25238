import Foundation
import MGTensor
import Testing

/// A golden fixture written by `Tools/make_goldens.py`.
struct Golden {
    let file: SafetensorsFile

    init(_ name: String) throws {
        guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw GoldenMissing(name: name)
        }
        file = try SafetensorsFile(path: url.path)
    }

    func tensor(_ name: String) throws -> Tensor { try file.tensor(named: name) }

    /// A metadata value decoded from its JSON text.
    func meta<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        guard let text = file.metadata[key] else { throw GoldenMissing(name: "metadata \(key)") }
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
}

struct GoldenMissing: Error, CustomStringConvertible {
    let name: String
    var description: String { "golden fixture \(name) is missing; run python3 Tools/make_goldens.py" }
}

/// Reproduces `det_uniform` of Tools/goldens/common.py bit-exactly.
enum DeterministicData {
    static func uniform(seed: UInt64, count: Int, low: Float = -1, high: Float = 1) -> [Float] {
        let golden: UInt64 = 0x9E37_79B9_7F4A_7C15
        let base = seed &* golden
        return (0..<count).map { index in
            var z = UInt64(index) &+ base &+ golden
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z = z ^ (z >> 31)
            let unit = Float(z >> 40) * 0x1p-24
            return low + (high - low) * unit
        }
    }

    static func tensor(seed: UInt64, shape: [Int], low: Float = -1, high: Float = 1) throws -> Tensor {
        try Tensor(shape: shape, values: uniform(seed: seed, count: shape.reduce(1, *), low: low, high: high))
    }
}

/// Parity metric used across the suite: max |actual − expected| / max |expected|.
func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
    precondition(actual.count == expected.count)
    var maxDifference: Float = 0
    var maxReference: Float = 0
    for (a, e) in zip(actual, expected) {
        if a.isNaN != e.isNaN { return .infinity }
        if a.isNaN { continue }
        maxDifference = max(maxDifference, abs(a - e))
        maxReference = max(maxReference, abs(e))
    }
    return maxReference == 0 ? maxDifference : maxDifference / maxReference
}

/// Expects `actual` to match `expected` in shape and within `tolerance` relative error.
func expectClose(
    _ actual: Tensor, _ expected: Tensor, tolerance: Float,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.shape == expected.shape, sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    let error = relativeError(actual.floats(), expected.floats())
    #expect(error <= tolerance, "relative error \(error) > \(tolerance)", sourceLocation: sourceLocation)
}

/// Compares a large output at the flat `indices` a fixture sampled.
func expectCloseAtSamples(
    _ actual: Tensor, indices: Tensor, expected: Tensor, tolerance: Float,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let all = actual.floats()
    let picked = indices.withUnsafeBytes { raw in
        raw.bindMemory(to: Int64.self).map { all[Int($0)] }
    }
    let error = relativeError(picked, expected.floats())
    #expect(error <= tolerance, "relative error \(error) > \(tolerance) at sampled positions", sourceLocation: sourceLocation)
}
