import Foundation
import MGTensor
import Testing

// Fixture loading, the deterministic input generator and the parity metric live in the shared
// MGTestSupport target; this file adds only what is specific to this test target.
@_exported import MGTestSupport

extension Golden {
    /// Opens `Fixtures/<name>.safetensors` of this test target.
    init(_ name: String) throws { try self.init(name, bundle: .module) }
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
