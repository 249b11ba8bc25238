import MGTensor

/// Enriches low-resolution visual tokens with high-resolution detail.
///
/// Mini-Gemini's miner is ``PatchInfoMining``; any type with the same contract can replace it, for
/// example to pair a different CLIP with a different high-resolution encoder.
public protocol PatchMiner: Sendable {
    /// The width `C` of the low-resolution tokens it takes (the CLIP hidden size, e.g. 1024).
    var tokenSize: Int { get }
    /// The channel count `C_aux` of the high-resolution map it takes (e.g. 2880).
    var mapChannels: Int { get }

    /// The mined features for `tokens`, to be added to them.
    /// - Parameters:
    ///   - tokens: low-resolution tokens `[N, T, C]`, `T = p²` in row-major grid order.
    ///   - highResolutionMap: the high-resolution feature map `[N, C_aux, H, W]` of the same images.
    /// - Returns: `[N, T, C]`.
    func mine(tokens: Tensor, highResolutionMap: Tensor) throws(MiningError) -> Tensor
}
