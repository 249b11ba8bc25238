import MGTensor

/// The GGUF tensor types `mgm quantize` writes, named as llama.cpp's file types.
public enum DecoderQuantization: String, Sendable, CaseIterable {
    /// Every matrix Q8_0 (8.5 bits per weight).
    case q8_0
    /// Matrices Q4_0; the output projection Q6_K, as llama.cpp's quantizer does.
    case q4_0
    /// llama.cpp's Q4_K_M mix: Q4_K, with Q6_K for the output projection and for `attn_v` and
    /// `ffn_down` in the layers llama.cpp gives more bits (the first and last eighth and every third
    /// between).
    case q4_k_m
    /// No quantization: F16 matrices (an input for llama.cpp's own `llama-quantize`).
    case f16
    /// No quantization: F32 matrices.
    case f32

    /// llama.cpp's `general.file_type` (`llama_ftype`).
    public var fileType: UInt32 {
        switch self {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q8_0: 7
        case .q4_k_m: 15
        }
    }

    /// What a matrix of the decoder is stored as.
    public enum Storage: Equatable, Sendable {
        case quantized(QuantizationFormat)
        case plain(DType)
    }

    /// The storage of the matrix `ggufName` (`blk.3.ffn_down.weight`) with `columns` inputs, in a
    /// decoder of `layerCount` layers. Rows that are not whole blocks of the chosen format fall back
    /// as llama.cpp's do (Q4_K → Q5_0, Q6_K → Q8_0, then F16).
    public func storage(forMatrix ggufName: String, columns: Int, layerCount: Int) -> Storage {
        let preferred: QuantizationFormat
        switch self {
        case .f32: return .plain(.f32)
        case .f16: return .plain(.f16)
        case .q8_0: preferred = .q8_0
        case .q4_0: preferred = ggufName == "output.weight" ? .q6_K : .q4_0
        case .q4_k_m:
            if ggufName == "output.weight" {
                preferred = .q6_K
            } else if ggufName.hasSuffix(".attn_v.weight") || ggufName.hasSuffix(".ffn_down.weight") || ggufName.hasSuffix(".ffn_down_exps.weight"),
                let layer = Self.layerIndex(ggufName), Self.usesMoreBits(layer: layer, layerCount: layerCount)
            {
                preferred = .q6_K
            } else {
                preferred = .q4_K
            }
        }
        for format in Self.fallbacks(preferred) where columns % format.blockSize == 0 { return .quantized(format) }
        return .plain(.f16)
    }

    private static func fallbacks(_ format: QuantizationFormat) -> [QuantizationFormat] {
        switch format {
        case .q4_K: [.q4_K, .q5_0, .q8_0]
        case .q6_K: [.q6_K, .q8_0]
        default: [format]
        }
    }

    private static func layerIndex(_ name: String) -> Int? {
        let parts = name.split(separator: ".")
        guard parts.count > 2, parts[0] == "blk" else { return nil }
        return Int(parts[1])
    }

    /// llama.cpp's `use_more_bits`: the first and last eighth of the layers and every third between.
    static func usesMoreBits(layer: Int, layerCount: Int) -> Bool {
        layer < layerCount / 8 || layer >= 7 * layerCount / 8 || (layer - layerCount / 8) % 3 == 2
    }
}
