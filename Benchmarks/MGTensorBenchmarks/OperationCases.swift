import MGTensor

/// The non-GEMM operations at the sizes the model runs them (ViT-L/14-336, ConvNeXt-L at 768,
/// Gemma-2B prefill of 640 tokens).
func operationCases() -> [BenchmarkCase] {
    [
        BenchmarkCase(name: "softmax 16×577×577", torchOp: "softmax", torchArgs: ["shape": [16, 577, 577]]) {
            let x = try randomTensor([16, 577, 577])
            return { _ = try softmax(x, axis: -1) }
        },
        BenchmarkCase(name: "layerNorm 577×1024", torchOp: "layer_norm", torchArgs: ["shape": [577, 1024]]) {
            let x = try randomTensor([577, 1024]), w = try randomTensor([1024], seed: 1), b = try randomTensor([1024], seed: 2)
            return { _ = try layerNorm(x, weight: w, bias: b, eps: 1e-5) }
        },
        BenchmarkCase(name: "layerNorm2d 1×192×192×192", torchOp: "layer_norm_2d", torchArgs: ["shape": [1, 192, 192, 192]]) {
            let x = try randomTensor([1, 192, 192, 192]), w = try randomTensor([192], seed: 1), b = try randomTensor([192], seed: 2)
            return { _ = try layerNorm2d(x, weight: w, bias: b, eps: 1e-6) }
        },
        BenchmarkCase(name: "rmsNorm (1+w) 640×2048", torchOp: "rms_norm", torchArgs: ["shape": [640, 2048]]) {
            let x = try randomTensor([640, 2048]), w = try randomTensor([2048], seed: 1)
            return { _ = try rmsNorm(x, weight: w, eps: 1e-6, addUnitOffset: true) }
        },
        BenchmarkCase(name: "gelu erf 577×4096", torchOp: "gelu", torchArgs: ["shape": [577, 4096], "approximate": "none"]) {
            let x = try randomTensor([577, 4096])
            return { _ = try gelu(x, approximation: .none) }
        },
        BenchmarkCase(name: "gelu tanh 640×16384", torchOp: "gelu", torchArgs: ["shape": [640, 16384], "approximate": "tanh"]) {
            let x = try randomTensor([640, 16384])
            return { _ = try gelu(x, approximation: .tanh) }
        },
        BenchmarkCase(name: "quickGelu 577×4096", torchOp: "quick_gelu", torchArgs: ["shape": [577, 4096]]) {
            let x = try randomTensor([577, 4096])
            return { _ = try quickGelu(x) }
        },
        BenchmarkCase(name: "silu 640×16384", torchOp: "silu", torchArgs: ["shape": [640, 16384]]) {
            let x = try randomTensor([640, 16384])
            return { _ = try silu(x) }
        },
        BenchmarkCase(name: "silu(g)·u 640×16384", torchOp: "silu_gated", torchArgs: ["shape": [640, 16384]]) {
            let g = try randomTensor([640, 16384]), u = try randomTensor([640, 16384], seed: 3)
            return { _ = try siluGated(g, u) }
        },
        BenchmarkCase(name: "add [577,4096]+[4096]", torchOp: "add_broadcast", torchArgs: ["shape": [577, 4096]]) {
            let x = try randomTensor([577, 4096]), y = try randomTensor([4096], seed: 3)
            return { _ = try add(x, y) }
        },
        BenchmarkCase(name: "mul 577×4096", torchOp: "mul", torchArgs: ["shape": [577, 4096]]) {
            let x = try randomTensor([577, 4096]), y = try randomTensor([577, 4096], seed: 3)
            return { _ = try mul(x, y) }
        },
        BenchmarkCase(name: "nanToNum 16×577×577", torchOp: "nan_to_num", torchArgs: ["shape": [16, 577, 577]]) {
            let x = try randomTensor([16, 577, 577])
            return { _ = try nanToNum(x) }
        },
        BenchmarkCase(name: "depthwise 7×7 1×192×192×192", torchOp: "depthwise_conv", torchArgs: ["C": 192, "H": 192, "W": 192]) {
            let x = try randomTensor([1, 192, 192, 192]), k = try randomTensor([192, 1, 7, 7], seed: 1), b = try randomTensor([192], seed: 2)
            return { _ = try conv2d(x, weight: k, bias: b, stride: (1, 1), padding: (3, 3), groups: 192) }
        },
        BenchmarkCase(name: "patch conv 14/14 3→1024 @336", torchOp: "patch_conv",
                      torchArgs: ["Cin": 3, "Cout": 1024, "H": 336, "W": 336, "k": 14, "bias": false]) {
            let x = try randomTensor([1, 3, 336, 336]), k = try randomTensor([1024, 3, 14, 14], seed: 1)
            return { _ = try conv2d(x, weight: k, bias: nil, stride: (14, 14), padding: (0, 0), groups: 1) }
        },
        BenchmarkCase(name: "stem conv 4/4 3→192 @768", torchOp: "patch_conv",
                      torchArgs: ["Cin": 3, "Cout": 192, "H": 768, "W": 768, "k": 4]) {
            let x = try randomTensor([1, 3, 768, 768]), k = try randomTensor([192, 3, 4, 4], seed: 1), b = try randomTensor([192], seed: 2)
            return { _ = try conv2d(x, weight: k, bias: b, stride: (4, 4), padding: (0, 0), groups: 1) }
        },
        BenchmarkCase(name: "downsample 2/2 192→384 @192", torchOp: "patch_conv",
                      torchArgs: ["Cin": 192, "Cout": 384, "H": 192, "W": 192, "k": 2]) {
            let x = try randomTensor([1, 192, 192, 192]), k = try randomTensor([384, 192, 2, 2], seed: 1), b = try randomTensor([384], seed: 2)
            return { _ = try conv2d(x, weight: k, bias: b, stride: (2, 2), padding: (0, 0), groups: 1) }
        },
        BenchmarkCase(name: "bilinear 1536×24² → 192²", torchOp: "bilinear",
                      torchArgs: ["C": 1536, "H": 24, "W": 24, "outH": 192, "outW": 192]) {
            let x = try randomTensor([1, 1536, 24, 24])
            return { _ = try interpolateBilinear(x, size: (192, 192)) }
        },
        BenchmarkCase(name: "bilinear 3×768² → 336²", torchOp: "bilinear",
                      torchArgs: ["C": 3, "H": 768, "W": 768, "outH": 336, "outW": 336]) {
            let x = try randomTensor([1, 3, 768, 768])
            return { _ = try interpolateBilinear(x, size: (336, 336)) }
        },
        BenchmarkCase(name: "permute NCHW→NHWC 192×192×192", torchOp: "permute_nchw_nhwc", torchArgs: ["shape": [1, 192, 192, 192]]) {
            let x = try randomTensor([1, 192, 192, 192])
            return { _ = try permute(x, [0, 2, 3, 1]) }
        },
        BenchmarkCase(name: "concat 4 stages → 2880×192²", torchOp: "concat_channels",
                      torchArgs: ["shapes": [[1, 192, 192, 192], [1, 384, 192, 192], [1, 768, 192, 192], [1, 1536, 192, 192]]]) {
            let parts = try [192, 384, 768, 1536].enumerated().map { try randomTensor([1, $1, 192, 192], seed: UInt64($0)) }
            return { _ = try concat(parts, axis: 1) }
        },
        BenchmarkCase(name: "embedding 640 ids, BF16 256000×2048", torchOp: "embedding",
                      torchArgs: ["vocab": 256_000, "dim": 2048, "count": 640]) {
            let table = try randomTensor([256_000, 2048]).converted(to: .bf16)
            let ids = (0..<640).map { ($0 * 7919) % 256_000 }
            return { _ = try embedding(ids: ids, table: table) }
        },
        BenchmarkCase(name: "RoPE 8×640×256 θ=1e4", torchOp: "rope", torchArgs: ["heads": 8, "T": 640, "D": 256, "theta": 10000.0]) {
            let x = try randomTensor([1, 8, 640, 256])
            let positions = Array(0..<640)
            return { _ = try applyRotaryEmbedding(x, positions: positions, theta: 10000) }
        },
        BenchmarkCase(name: "argmax 256000", torchOp: "argmax", torchArgs: ["count": 256_000]) {
            let x = try randomTensor([256_000])
            return { _ = try argmax(x, axis: -1) }
        },
        BenchmarkCase(name: "topK 50 of 256000", torchOp: "topk", torchArgs: ["count": 256_000, "k": 50]) {
            let x = try randomTensor([256_000])
            return { _ = try topK(x, k: 50, axis: -1) }
        },
        BenchmarkCase(name: "SDPA ViT-L 16×577×64", torchOp: "sdpa",
                      torchArgs: ["Hq": 16, "Hkv": 16, "Tq": 577, "Tk": 577, "D": 64, "causal": false]) {
            let q = try randomTensor([1, 16, 577, 64]), k = try randomTensor([1, 16, 577, 64], seed: 1), v = try randomTensor([1, 16, 577, 64], seed: 2)
            return { _ = try scaledDotProductAttention(q, key: k, value: v, causal: false) }
        },
        BenchmarkCase(name: "SDPA Gemma 8/1×640×256 causal", torchOp: "sdpa",
                      torchArgs: ["Hq": 8, "Hkv": 1, "Tq": 640, "Tk": 640, "D": 256, "causal": true]) {
            let q = try randomTensor([1, 8, 640, 256]), k = try randomTensor([1, 1, 640, 256], seed: 1), v = try randomTensor([1, 1, 640, 256], seed: 2)
            return { _ = try scaledDotProductAttention(q, key: k, value: v, causal: true) }
        },
    ]
}
