/// How a decoder's key/value cache stores its elements.
///
/// - ``KVCachePrecision/float32``: F32, exactly the values the projections produced (the parity path with
///   transformers' float32 eager attention).
/// - ``KVCachePrecision/float16``: IEEE half, as llama.cpp keeps its cache by default: each key and value is rounded
///   once (to nearest even) when it is written, and the attention widens it back to F32 as it reads
///   it, accumulating scores, softmax and the weighted values in F32. Half the bytes per position,
///   so a decode step at long context reads half the cache traffic; the rounding costs a relative
///   error of at most 2⁻¹¹ per cached element (values beyond ±65504 become infinite, far outside
///   what rotary-embedded keys and values of the supported decoders reach).
public enum KVCachePrecision: String, Sendable, Hashable, CaseIterable {
    case float32 = "f32"
    case float16 = "f16"

    /// Bytes of one cached element.
    public var elementBytes: Int {
        switch self {
        case .float32: 4
        case .float16: 2
        }
    }
}
