// The random stream of the scene generator; Tools/scenes/scenes.py implements the same one, and
// the two must agree bit for bit (see the specification at the top of that file).

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, a Weyl step and a mixing function.
///
/// Chosen because it is a handful of integer operations that Python and Swift compute
/// identically; the scene generator draws every random choice from it through ``int(in:)``.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The state after the last draw.
    public private(set) var state: UInt64

    /// A stream starting from `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `lowerBound + next() mod count`: the generator's only integer rule. The slight modulo bias
    /// is part of the specification, so it must not be "fixed" on one side only.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let count = UInt64(range.upperBound - range.lowerBound + 1)
        return range.lowerBound + Int(next() % count)
    }
}
