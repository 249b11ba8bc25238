import Testing
@testable import MGTensor

/// `permute`, `concat`, `slice`/`narrow`/`split` against PyTorch (Tools/goldens/spatial_ops.py);
/// layout ops move bytes, so results must be exact.
@Suite struct LayoutTests {
    @Test func permutationsMatchTorch() throws {
        let g = try Golden("sp_layout")
        let x = try g.tensor("input")
        let perms: [[Int]] = try g.meta("perms")
        for (index, axes) in perms.enumerated() {
            let expected = try g.tensor("permute\(index)")
            let out = try permute(x, axes)
            #expect(out.shape == expected.shape)
            #expect(out.floats() == expected.floats(), "permute \(axes)")
        }
        // Negative axes, and an order that keeps memory as is (a view).
        #expect(try permute(x, [0, -2, -1, 1]).floats() == g.tensor("permute0").floats())
        let view = try permute(x.reshaped([2, 1, 60]), [1, 0, 2])
        #expect(view.shape == [1, 2, 60] && view.floats() == x.floats())
    }

    /// Larger permutes against a plain index computation: NCHW↔NHWC (batched transpose path),
    /// [B,T,H,D]→[B,H,T,D] (row copies) and a general gather, in F32 and BF16 (dtype kept).
    @Test func largePermutesAreExact() throws {
        for (shape, axes) in [([2, 40, 33, 35], [0, 2, 3, 1]), ([1, 1155, 40], [0, 2, 1]), ([2, 70, 8, 64], [0, 2, 1, 3]),
                              ([3, 20, 7, 11], [3, 1, 0, 2])] {
            let x = try DeterministicData.tensor(seed: 9, shape: shape)
            let expected = referencePermute(x.floats(), shape: shape, axes: axes)
            #expect(try permute(x, axes).floats() == expected, "\(shape) \(axes)")
            let half = try x.converted(to: .bf16)
            let permuted = try permute(half, axes)
            #expect(permuted.dtype == .bf16)
            #expect(permuted.floats() == referencePermute(half.floats(), shape: shape, axes: axes))
        }
    }

    @Test func concatMatchesTorch() throws {
        let g = try Golden("sp_layout")
        let parts = try (0..<4).map { try g.tensor("part\($0)") }
        #expect(try concat(parts, axis: 1).floats() == g.tensor("concat1").floats())
        let firstChannels = try parts.map { try slice($0, axis: 1, range: 0..<1) }
        let wide = try concat(firstChannels, axis: -1)
        let expectedWide = try g.tensor("concat3")
        #expect(wide.shape == [1, 1, 3, 16] && wide.floats() == expectedWide.floats())
        // Same dtype is kept; mixed float dtypes become F32.
        let half = try parts.map { try $0.converted(to: .bf16) }
        #expect(try concat(half, axis: 1).dtype == .bf16)
        let mixed = try concat([parts[0], half[1]], axis: 1)
        #expect(mixed.dtype == .f32 && mixed.shape == [1, 3, 3, 4])
    }

    /// The 2×2 quadrant split of an image, by `split` and by `narrow`.
    @Test func quadrantSplitMatchesTorch() throws {
        let g = try Golden("sp_layout")
        let image = try g.tensor("image")
        let rows = try split(image, axis: 2, sizes: [3, 3])
        var quadrants = [Tensor]()
        for half in rows { quadrants += try split(half, axis: 3, sizes: [4, 4]) }
        for index in 0..<4 {
            #expect(quadrants[index].floats() == (try g.tensor("quadrant\(index)").floats()))
        }
        let q3 = try narrow(narrow(image, axis: 2, start: 3, length: 3), axis: -1, start: 4, length: 4)
        #expect(q3.floats() == (try g.tensor("quadrant3").floats()))
        // A slice of leading rows is a view of the same bytes.
        let x = try DeterministicData.tensor(seed: 4, shape: [6, 5])
        let rowsView = try slice(x, axis: 0, range: 2..<4)
        #expect(!rowsView.storage.isMemoryMapped && rowsView.floats() == Array(x.floats()[10..<20]))
    }

    @Test func invalidArgumentsThrow() throws {
        let x = try Tensor.zeros([2, 3, 4])
        #expect(throws: TensorError.invalidArgument(operation: "permute", reason: "[0, 1] is not a permutation of 3 axes")) {
            try permute(x, [0, 1])
        }
        #expect(throws: TensorError.self) { try permute(x, [0, 1, 1]) }
        #expect(throws: TensorError.invalidAxis(operation: "permute", axis: 3, rank: 3)) { try permute(x, [0, 1, 3]) }
        #expect(throws: TensorError.invalidArgument(operation: "concat", reason: "no tensors to concatenate")) {
            try concat([], axis: 0)
        }
        #expect(throws: TensorError.shapeMismatch(operation: "concat", [2, 3, 4], [2, 3, 5])) {
            try concat([x, Tensor.zeros([2, 3, 5])], axis: 1)
        }
        #expect(throws: TensorError.indexOutOfRange(operation: "slice", index: 5, count: 4)) {
            try slice(x, axis: 2, range: 1..<5)
        }
        #expect(throws: TensorError.invalidAxis(operation: "slice", axis: 3, rank: 3)) { try slice(x, axis: 3, range: 0..<1) }
        #expect(throws: TensorError.self) { try narrow(x, axis: 0, start: -1, length: 1) }
        #expect(throws: TensorError.self) { try split(x, axis: 1, sizes: [1, 1]) }
    }
}

/// out[i] = x[index permuted back], by explicit index arithmetic.
private func referencePermute(_ values: [Float], shape: [Int], axes: [Int]) -> [Float] {
    let strides = Shape.strides(shape)
    let outShape = axes.map { shape[$0] }
    var out = [Float]()
    out.reserveCapacity(values.count)
    var index = [Int](repeating: 0, count: shape.count)
    for _ in 0..<values.count {
        var offset = 0
        for axis in 0..<axes.count { offset += index[axis] * strides[axes[axis]] }
        out.append(values[offset])
        var axis = axes.count - 1
        while axis >= 0 {
            index[axis] += 1
            if index[axis] < outShape[axis] { break }
            index[axis] = 0
            axis -= 1
        }
    }
    return out
}
