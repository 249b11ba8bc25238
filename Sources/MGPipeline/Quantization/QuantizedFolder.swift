import Foundation
import MGLanguage
import MGTensor

/// A Mini-Gemini release folder with its decoder quantized: `mgm quantize` writes it, and
/// ``MiniGemini/init(directory:options:)`` loads it like any release.
///
/// Layout of the output folder:
/// - `language_model.<type>.gguf`: the decoder (``DecoderGGUFExport``), llama.cpp-compatible;
/// - `model.safetensors`: every other tensor of the checkpoint (vision towers, projector, mining),
///   in its stored dtype;
/// - the `*.json`, `tokenizer.model` and other small files of the source, copied.
public enum QuantizedFolder {
    /// The GGUF file name for `quantization`.
    public static func ggufName(_ quantization: DecoderQuantization) -> String { "language_model.\(quantization.rawValue).gguf" }

    /// Tensors that are not the decoder's.
    static func isDecoderTensor(_ name: String) -> Bool {
        !["vision_tower", "mm_projector", "vlm_uni"].contains { name.contains($0) } && !name.contains("rotary_emb.inv_freq")
    }

    /// Quantizes the checkpoint at `source` into `destination` (created; files in it are replaced).
    /// - Returns: a one-line summary per written file.
    public static func write(
        from source: URL, to destination: URL, quantization: DecoderQuantization
    ) throws -> [String] {
        let fm = FileManager.default
        try fm.createDirectory(at: destination, withIntermediateDirectories: true)
        let configuration = try DecoderConfiguration(contentsOf: source)
        let weights = try openCheckpointWeights(directory: source)
        var report: [String] = []
        let weightSuffixes = [".safetensors", ".safetensors.index.json", ".bin", ".gguf", ".pt", ".pth", "pytorch_model.bin.index.json"]
        for item in try fm.contentsOfDirectory(atPath: source.path).sorted() {
            let from = source.appendingPathComponent(item)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: from.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            guard !weightSuffixes.contains(where: { item.hasSuffix($0) }) else { continue }
            let to = destination.appendingPathComponent(item)
            if fm.fileExists(atPath: to.path) { try fm.removeItem(at: to) }
            try fm.copyItem(at: from, to: to)
            report.append("copied \(item)")
        }
        let others = weights.names.filter { !isDecoderTensor($0) }
        var tensors: [String: Tensor] = [:]
        for name in others { tensors[name] = try weights.tensor(named: name) }
        if !tensors.isEmpty {
            try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: destination.appendingPathComponent("model.safetensors").path)
            report.append("model.safetensors: \(tensors.count) tower, projector and mining tensors")
        }
        let gguf = destination.appendingPathComponent(ggufName(quantization))
        let (count, formats) = try DecoderGGUFExport.export(
            configuration: configuration, weights: weights, quantization: quantization, tokenizerDirectory: source,
            name: source.lastPathComponent, to: gguf.path)
        let mix = formats.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        report.append("\(gguf.lastPathComponent): \(count) decoder tensors (\(mix))")
        return report
    }
}
