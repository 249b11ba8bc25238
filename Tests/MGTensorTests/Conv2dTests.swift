import Testing
@testable import MGTensor

/// `conv2d` against `torch.nn.functional.conv2d` (Tools/goldens/spatial_ops.py). 16-bit weights are
/// compared with torch run on their exact F32 upcast.
@Suite struct Conv2dTests {
    private func run(_ g: Golden, bias: Bool) throws -> Tensor {
        let stride: [Int] = try g.meta("stride"), padding: [Int] = try g.meta("padding")
        return try conv2d(
            g.tensor("input"), weight: g.tensor("weight"), bias: bias ? g.tensor("bias") : nil,
            stride: (stride[0], stride[1]), padding: (padding[0], padding[1]), groups: g.meta("groups"))
    }

    /// Grouped conv with asymmetric stride/padding, BF16 3×3, F16 1×1 pointwise, depthwise 7×7
    /// (batch 2, width not a multiple of the kernel's block) and strided depthwise 3×3; tolerance 1e-5.
    @Test func smallCasesMatchTorch() throws {
        for (name, bias) in [
            ("sp_conv_small", true), ("sp_conv_bf16", false), ("sp_conv_pointwise", true),
            ("sp_conv_depthwise_small", true), ("sp_conv_depthwise_strided", false),
        ] {
            let g = try Golden(name)
            expectClose(try run(g, bias: bias), try g.tensor("expected"), tolerance: 1e-5)
        }
        #expect(try Golden("sp_conv_bf16").tensor("weight").dtype == .bf16)
        #expect(try Golden("sp_conv_pointwise").tensor("weight").dtype == .f16)
    }

    /// Model geometries at (or near) model size, sampled outputs; tolerance 1e-4:
    /// CLIP 14×14/14 patch embedding, ConvNeXt 4×4/4 stem, 2×2/2 downsampling, depthwise 7×7.
    @Test(arguments: ["sp_conv_clip_patch", "sp_conv_convnext_stem", "sp_conv_convnext_down", "sp_conv_depthwise_96"])
    func realisticGeometries(name: String) throws {
        let g = try Golden(name)
        let seed: UInt64 = try g.meta("seed")
        let bound: Float = try g.meta("weight_bound")
        let weightShape: [Int] = try g.meta("weight_shape")
        let stride: [Int] = try g.meta("stride"), padding: [Int] = try g.meta("padding")
        let x = try DeterministicData.tensor(seed: seed, shape: g.meta("input_shape"))
        let w = try DeterministicData.tensor(seed: seed + 1, shape: weightShape, low: -bound, high: bound)
        let b = try g.meta("bias", as: Bool.self)
            ? try DeterministicData.tensor(seed: seed + 2, shape: [weightShape[0]], low: -0.25, high: 0.25) : nil
        let out = try conv2d(
            x, weight: w, bias: b, stride: (stride[0], stride[1]), padding: (padding[0], padding[1]),
            groups: g.meta("groups"))
        #expect(out.shape == (try g.meta("shape", as: [Int].self)))
        expectCloseAtSamples(out, indices: try g.tensor("indices"), expected: try g.tensor("expected"), tolerance: 1e-4)
    }

    /// A BF16 weight gives the same result as its F32 upcast on every path.
    @Test func sixteenBitWeightsMatchUpcast() throws {
        let x = try DeterministicData.tensor(seed: 7, shape: [1, 4, 12, 12])
        for (shape, stride, padding, groups) in [
            ([8, 4, 2, 2], 2, 0, 1), ([4, 1, 7, 7], 1, 3, 4), ([6, 4, 1, 1], 1, 0, 1), ([6, 2, 3, 3], 1, 1, 2),
        ] {
            let w = try DeterministicData.tensor(seed: 8, shape: shape).converted(to: .bf16)
            let reference = try conv2d(
                x, weight: w.asFloat32(), stride: (stride, stride), padding: (padding, padding), groups: groups)
            let out = try conv2d(x, weight: w, stride: (stride, stride), padding: (padding, padding), groups: groups)
            #expect(out.floats() == reference.floats())
        }
    }

    @Test func invalidArgumentsThrow() throws {
        let x = try Tensor.zeros([1, 4, 5, 5])
        let w = try Tensor.zeros([6, 2, 3, 3])
        // weight expects C/groups = 2 input channels, so groups must be 2.
        #expect(throws: TensorError.shapeMismatch(operation: "conv2d (channels/groups)", [1, 4, 5, 5], [6, 2, 3, 3])) {
            try conv2d(x, weight: w)
        }
        // 6 output channels are not divisible by 4 groups.
        #expect(throws: TensorError.self) { try conv2d(x, weight: Tensor.zeros([6, 1, 3, 3]), groups: 4) }
        #expect(throws: TensorError.invalidArgument(operation: "conv2d", reason: "stride must be positive, got (0, 1)")) {
            try conv2d(x, weight: w, stride: (0, 1), groups: 2)
        }
        #expect(throws: TensorError.invalidArgument(operation: "conv2d", reason: "groups must be positive, got 0")) {
            try conv2d(x, weight: w, groups: 0)
        }
        #expect(
            throws: TensorError.invalidArgument(
                operation: "conv2d", reason: "kernel 7×7 is larger than the padded input 5×5")
        ) {
            try conv2d(x, weight: Tensor.zeros([4, 1, 7, 7]), groups: 4)
        }
        #expect(throws: TensorError.shapeMismatch(operation: "conv2d bias", [5], [6])) {
            try conv2d(x, weight: w, bias: Tensor.zeros([5]), groups: 2)
        }
        #expect(throws: TensorError.self) { try conv2d(x.reshaped([4, 5, 5]), weight: w, groups: 2) }
        #expect(throws: TensorError.self) { try conv2d(x, weight: w, padding: (-1, 0), groups: 2) }
        // Padding makes a large kernel valid.
        #expect(try conv2d(x, weight: Tensor.zeros([4, 1, 7, 7]), padding: (1, 1), groups: 4).shape == [1, 4, 1, 1])
    }
}

extension Conv2dTests {
    /// With no input channels every output is its bias, as in PyTorch.
    @Test func zeroInputChannelsGiveBias() throws {
        let bias = try Tensor(shape: [2], values: [0.5, -1])
        let out = try conv2d(Tensor.zeros([1, 0, 3, 3]), weight: Tensor.zeros([2, 0, 1, 1]), bias: bias)
        #expect(out.shape == [1, 2, 3, 3])
        #expect(out.floats() == [Float](repeating: 0.5, count: 9) + [Float](repeating: -1, count: 9))
    }
}
