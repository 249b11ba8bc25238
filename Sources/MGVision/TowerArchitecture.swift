import MGTensor

// Reading a tower's architecture from its tensor names and shapes, for tower folders whose
// configuration names a model this library has no table entry for (or has no configuration).

/// Where a tower's architecture came from.
public enum TowerArchitectureSource: Sendable, Equatable, CustomStringConvertible {
    /// A configuration file or model name the library knows, checked against the weights.
    case configuration(String)
    /// The tensor names and shapes, because the configuration was absent or named an unknown model.
    case weights(reason: String)

    public var description: String {
        switch self {
        case .configuration(let name): name
        case .weights(let reason): "read from the weights (\(reason))"
        }
    }
}

/// Shape look-ups on a weight store, with checkpoint errors wrapped as ``VisionError``.
struct WeightShapes {
    let store: any WeightStore

    /// The shape of `name`, or `nil` when the store has no such tensor.
    func shape(_ name: String) throws(VisionError) -> [Int]? {
        guard store.contains(name) else { return nil }
        do { return try store.tensor(named: name).shape } catch { throw .checkpoint(error) }
    }

    /// The shape of `name`.
    /// - Throws: ``VisionError/architectureNotInferable(_:)`` naming the tensor when it is absent.
    func require(_ name: String, rank: Int) throws(VisionError) -> [Int] {
        guard let shape = try shape(name) else { throw .architectureNotInferable("no tensor \(name)") }
        guard shape.count == rank else {
            throw .architectureNotInferable("\(name) has shape \(shape), expected rank \(rank)")
        }
        return shape
    }

    /// The numbers `N` of the names `<prefix>N.…` (e.g. the blocks of a stage), sorted and unique.
    func indices(under prefix: String) -> [Int] {
        var found = Set<Int>()
        for name in store.names(withPrefix: prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]), index >= 0 else { continue }
            found.insert(index)
        }
        return found.sorted()
    }

    /// One more than the largest index under `prefix` (0 when there is none).
    func count(under prefix: String) -> Int {
        (indices(under: prefix).last ?? -1) + 1
    }
}

/// Describes a disagreement between a configuration and what the weights imply.
struct ArchitectureComparison {
    var mismatches: [(field: String, configured: String, weights: String)] = []

    mutating func compare<T: Equatable>(_ field: String, _ configured: T, _ weights: T) {
        if configured != weights { mismatches.append((field, "\(configured)", "\(weights)")) }
    }

    /// - Throws: ``VisionError/architectureMismatch(field:configured:weights:)`` for the first mismatch.
    func check() throws(VisionError) {
        if let first = mismatches.first {
            throw .architectureMismatch(field: first.field, configured: first.configured, weights: first.weights)
        }
    }
}
