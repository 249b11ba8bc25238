/// xoshiro256** (Blackman & Vigna, 2018) seeded through splitmix64: a small, fast generator with a
/// 2²⁵⁶ − 1 period whose whole state is four words, so a sampler can be copied and replayed.
///
/// The same seed always gives the same sequence, on every platform. It does not reproduce
/// PyTorch's Mersenne-Twister/Philox streams: sampled outputs are reproducible within this
/// library, not comparable token-for-token with `torch.multinomial`.
public struct SeededRandomGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose state is four successive splitmix64 outputs of `seed` (never all zero).
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// A uniform double in `[0, 1)` from the top 53 bits.
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.state == rhs.state }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
