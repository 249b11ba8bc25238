import ArgumentParser
import Foundation
import MGPipeline

/// `mgm quantize`: writes a checkpoint folder whose decoder is one GGUF file (llama.cpp layout).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a checkpoint's language model to GGUF (Q8_0, Q4_0, Q4_K_M; or F16 for llama.cpp's own quantizer).",
        discussion: """
            The output folder holds language_model.<type>.gguf (the decoder, loadable by llama.cpp), \
            model.safetensors (vision towers, projector, mining) and copies of the config and tokenizer \
            files; `mgm run --model OUTPUT` loads it.
            """)

    @Option(help: "The checkpoint folder to quantize.") var model: String
    @Option(help: "q8_0, q4_0, q4_k_m, f16 or f32.") var type: String
    @Option(help: "Output folder (default: MODEL-<type>).") var output: String?

    func run() throws {
        guard let quantization = DecoderQuantization(rawValue: type.lowercased()) else {
            throw ValidationError("unknown type '\(type)' (use \(DecoderQuantization.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let source = URL(fileURLWithPath: model)
        let destination = URL(fileURLWithPath: output ?? (source.standardizedFileURL.path + "-" + quantization.rawValue))
        for line in try QuantizedFolder.write(from: source, to: destination, quantization: quantization) { print(line) }
        print("wrote \(destination.path)")
    }
}
