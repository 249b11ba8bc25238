// Patch info mining as `unified_resampler` in the official mgm/model/mgm_arch.py computes it: every
// low-resolution token (r, c) of a p×p grid attends, with one scaled dot product, over the M×M block
// of high-resolution pixels rows M·r…M·r+M−1, columns M·c…M·c+M−1 (M = W / p).
import MGTensor

/// Mini-Gemini's patch info mining: three LayerNorm+Linear projectors (query from the LR token,
/// key and value from each HR pixel) and a per-token softmax over its own M×M block.
///
/// The official code projects every HR pixel to keys and values (`[N, T, M², C]` each, about
/// 217 GFLOP for a 192×192×2880 map). Both projections are linear after the LayerNorm's
/// standardisation, so they are folded into the query and into the attention-weighted sum instead:
/// `q·(W_k(γ_k⊙x̂ + β_k) + b_k) = ((qW_k)⊙γ_k)·x̂ + q·(W_kβ_k + b_k)` and
/// `Σ p_j (W_v(γ_v⊙x̂_j + β_v) + b_v) = W_v(γ_v⊙Σ p_j x̂_j + β_v) + b_v` (the p_j sum to one).
/// The result is the same function (≈ 3.6 GFLOP), equal to the official one within float rounding.
public struct PatchInfoMining: PatchMiner {
    public let query: NormalizedProjection
    public let key: NormalizedProjection
    public let value: NormalizedProjection
    /// The arithmetic of the three large products (the query projection, the key weight folded into
    /// the query, the value projection): `.float32` (the default, the exact path the parity tests
    /// use) or `.bfloat16Activations`, the bf16 vision mode (`VisionPrecision.bfloat16`), where
    /// those products take bf16 weights and bf16-rounded activations with F32 accumulation (~1e-3
    /// relative error). The standardisation, logits, softmax and weighted sums stay F32.
    public let precision: LinearPrecision
    /// bf16 copies of the product weights in the bf16 mode: query `[C, C]`, the key weight
    /// transposed `[C_aux, C]` (so `q·W_k` is a `linear`), value `[C, C_aux]`; nil in the exact mode.
    let productWeights: (query: Tensor, keyTransposed: Tensor, value: Tensor)?

    /// Token width `C` (CLIP hidden size, e.g. 1024).
    public var tokenSize: Int { query.inputSize }
    /// High-resolution channel count `C_aux` (e.g. 2880).
    public var mapChannels: Int { key.inputSize }

    /// Combines three projectors whose sizes agree (query `C→C`, key and value `C_aux→C`).
    /// - Parameters:
    ///   - query: the low-resolution token projector.
    ///   - key: the high-resolution pixel key projector.
    ///   - value: the high-resolution pixel value projector.
    ///   - precision: the arithmetic of the large products (see ``precision``).
    public init(
        query: NormalizedProjection, key: NormalizedProjection, value: NormalizedProjection, precision: LinearPrecision = .float32
    ) throws(MiningError) {
        let c = query.inputSize
        guard query.outputSize == c, key.outputSize == c, value.outputSize == c, value.inputSize == key.inputSize else {
            throw .shapeMismatch(
                "projector sizes disagree: query \(query.inputSize)→\(query.outputSize), "
                    + "key \(key.inputSize)→\(key.outputSize), value \(value.inputSize)→\(value.outputSize)")
        }
        guard key.epsilon == value.epsilon else {
            throw .shapeMismatch("key and value LayerNorm epsilons differ")
        }
        self.query = query
        self.key = key
        self.value = value
        self.precision = precision
        if precision == .bfloat16Activations {
            do {
                productWeights = (
                    try query.weight.converted(to: .bf16),
                    try permute(key.weight, [1, 0]).converted(to: .bf16),
                    try value.weight.converted(to: .bf16)
                )
            } catch { throw .tensor(error) }
        } else {
            productWeights = nil
        }
    }

    /// Loads the projectors under their MGM names (`<prefix>vlm_uni_query_projector.0.weight`, …),
    /// checking every shape, and the widths against the towers' when given.
    /// - Parameters:
    ///   - store: the checkpoint's tensors.
    ///   - prefix: the name prefix of the projectors (`model.` in the releases).
    ///   - tokenSize: the low-resolution token width `C` the towers make, if known.
    ///   - mapChannels: the high-resolution map's channel count `C_aux`, if known.
    ///   - precision: the arithmetic of the large products (see ``precision``).
    public init(
        from store: some WeightStore, prefix: String = "model.", tokenSize: Int? = nil, mapChannels: Int? = nil,
        precision: LinearPrecision = .float32
    ) throws(MiningError) {
        try self.init(
            query: NormalizedProjection(
                from: store, prefix: prefix + "vlm_uni_query_projector", inputSize: tokenSize, outputSize: tokenSize),
            key: NormalizedProjection(
                from: store, prefix: prefix + "vlm_uni_aux_projector", inputSize: mapChannels, outputSize: tokenSize),
            value: NormalizedProjection(
                from: store, prefix: prefix + "vlm_uni_val_projector", inputSize: mapChannels, outputSize: tokenSize),
            precision: precision)
    }

    public func mine(tokens: Tensor, highResolutionMap: Tensor) throws(MiningError) -> Tensor {
        try mineRecordingLogits(tokens: tokens, highResolutionMap: highResolutionMap, recordLogits: false).mined
    }

    /// Mines and, on request, also returns the attention logits `[N, T, 1, M²]` after `nan_to_num`
    /// (as the official code's `embed_att`), for parity checks.
    public func mineRecordingLogits(
        tokens: Tensor, highResolutionMap map: Tensor, recordLogits: Bool
    ) throws(MiningError) -> (mined: Tensor, logits: Tensor?) {
        let geometry = try Geometry(tokens: tokens, map: map, tokenSize: tokenSize, mapChannels: mapChannels)
        do {
            return try run(tokens: tokens, map: map, geometry: geometry, recordLogits: recordLogits)
        } catch { throw .tensor(error) }
    }

    /// Sizes of one mining call, validated against the official reshape's requirements.
    struct Geometry {
        let batch: Int, tokens: Int, perSide: Int, block: Int, channels: Int, mapChannels: Int, height: Int, width: Int

        init(tokens: Tensor, map: Tensor, tokenSize: Int, mapChannels: Int) throws(MiningError) {
            guard tokens.rank == 3, map.rank == 4 else {
                throw .shapeMismatch("expected tokens [N, T, C] and map [N, C_aux, H, W], got \(tokens.shape) and \(map.shape)")
            }
            guard tokens.shape[0] == map.shape[0] else {
                throw .shapeMismatch("batch sizes differ: tokens \(tokens.shape), map \(map.shape)")
            }
            guard tokens.shape[2] == tokenSize, map.shape[1] == mapChannels else {
                throw .shapeMismatch("expected \(tokenSize)-wide tokens and a \(mapChannels)-channel map, got \(tokens.shape) and \(map.shape)")
            }
            let count = tokens.shape[1]
            var side = 0
            while (side + 1) * (side + 1) <= count { side += 1 }
            guard count > 0, side * side == count else { throw .tokensNotSquare(count: count) }
            let (height, width) = (map.shape[2], map.shape[3])
            let block = width / side
            guard block > 0, width == side * block, height == side * block else {
                throw .blockMismatch(tokensPerSide: side, mapHeight: height, mapWidth: width)
            }
            self.batch = tokens.shape[0]
            self.tokens = count
            self.perSide = side
            self.block = block
            self.channels = tokenSize
            self.mapChannels = mapChannels
            self.height = height
            self.width = width
        }
    }

    private func run(tokens: Tensor, map: Tensor, geometry g: Geometry, recordLogits: Bool) throws(TensorError) -> (mined: Tensor, logits: Tensor?) {
        let scale = 1 / Float(key.outputSize).squareRoot()
        let candidates = g.block * g.block

        // q: [N·T, C]; folded key query q' = ((q W_k) ⊙ γ_k) / √C: [N·T, C_aux]; offset q·(W_k β_k + b_k) / √C: [N·T, 1].
        let rows = try tokens.reshaped([g.batch * g.tokens, g.channels])
        let q: Tensor, keyProduct: Tensor
        if let productWeights {
            let normed = try layerNorm(rows, weight: query.normWeight, bias: query.normBias, eps: query.epsilon)
            q = try linear(normed, weight: productWeights.query, bias: query.bias, precision: precision)
            keyProduct = try linear(q, weight: productWeights.keyTransposed, precision: precision)
        } else {
            q = try query.project(rows)
            keyProduct = try matmul(q, key.weight.asFloat32())
        }
        let foldedQuery = try MGTensor.scale(mul(keyProduct, key.normWeight), by: scale)
        let keyOffset = try linear(key.normBias.reshaped([1, g.mapChannels]), weight: key.weight, bias: key.bias)
        let logitOffset = try MGTensor.scale(matmul(q, keyOffset.reshaped([g.channels, 1])), by: scale)

        var weightedPixels: [Tensor] = []   // per (n, r): [p, C_aux]
        var logitRows: [Tensor] = []        // per (n, r): [p, M²]
        for n in 0..<g.batch {
            let image = try map.row(n)   // [C_aux, H, W]
            for r in 0..<g.perSide {
                // Standardised pixels of the p blocks of grid row r: [p, M², C_aux], candidates row-major in the block.
                let slab = try slice(image, axis: 1, range: (r * g.block)..<((r + 1) * g.block))
                let blocks = try permute(slab.reshaped([g.mapChannels, g.block, g.perSide, g.block]), [2, 1, 3, 0])
                    .reshaped([g.perSide, candidates, g.mapChannels])
                let standardized = try layerNorm(blocks, weight: nil, bias: nil, eps: key.epsilon)

                let first = n * g.tokens + r * g.perSide
                let rowQuery = try slice(foldedQuery, axis: 0, range: first..<(first + g.perSide)).reshaped([g.perSide, g.mapChannels, 1])
                let rowOffset = try slice(logitOffset, axis: 0, range: first..<(first + g.perSide))   // [p, 1]
                var logits = try add(matmul(standardized, rowQuery).reshaped([g.perSide, candidates]), rowOffset)
                logits = try nanToNum(logits)
                if recordLogits { logitRows.append(logits) }
                let probabilities = try softmax(logits, axis: -1).reshaped([g.perSide, 1, candidates])
                weightedPixels.append(try matmul(probabilities, standardized).reshaped([g.perSide, g.mapChannels]))
            }
        }
        // Value projection of the weighted standardised pixels: W_v(γ_v ⊙ s + β_v) + b_v.
        let summed = try concat(weightedPixels, axis: 0)
        let mined = try linear(
            add(mul(summed, value.normWeight), value.normBias), weight: productWeights?.value ?? value.weight, bias: value.bias,
            precision: precision)
        let logits = recordLogits ? try concat(logitRows, axis: 0).reshaped([g.batch, g.tokens, 1, candidates]) : nil
        return (try mined.reshaped([g.batch, g.tokens, g.channels]), logits)
    }
}
