import Foundation
import MGLanguage
import MGTensor

/// The intermediate tensors and ids of one request, written so that any Mini-Gemini
/// implementation can be compared with this one from outside (`mgm run --dump DIR`).
///
/// Each tensor goes to `<name>.safetensors` holding one F32 tensor called `<name>`; images are
/// stacked on the first axis in prompt order:
/// - `pixels_lr` `[images·V, 3, L, L]`, `pixels_hr` `[images, 3, S, S]`,
/// - `features_lr` `[images·V, T, C]`, `features_hr` `[images, C_aux, S/4, S/4]`,
/// - `mined` `[images, V·T, C]`, `visual_tokens` `[images, V·T, hidden]`,
/// - `logits_prefill` `[vocab]` (the last prompt position),
///
/// and `run.json` holds the prompt text, the input ids (−200 for each image) and the generated ids
/// and text. Tensors of the image path are absent for a text-only request.
public struct RunDump: Sendable {
    public var prepared: PreparedPrompt
    /// Next-token logits at the last prompt position, `[vocab]` or `[1, vocab]`.
    public var prefillLogits: Tensor
    /// The generated ids as transformers' `generate` returns them (a final stop token included).
    public var generatedIDs: [Int]
    /// The answer as the official CLI shows it (see ``MiniGemini/finalText(of:)``).
    public var generatedText: String
    /// Extra string fields for `run.json` (model folder, template, image files, …).
    public var details: [String: String]

    public init(prepared: PreparedPrompt, prefillLogits: Tensor, generatedIDs: [Int], generatedText: String, details: [String: String] = [:]) {
        self.prepared = prepared
        self.prefillLogits = prefillLogits
        self.generatedIDs = generatedIDs
        self.generatedText = generatedText
        self.details = details
    }

    /// The tensors by dump name.
    /// - Throws: ``MiniGeminiError/tensor(_:)`` if the per-image tensors cannot be stacked.
    public func tensors() throws(MiniGeminiError) -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        let traces = prepared.traces
        func stack(_ name: String, _ parts: [Tensor?]) throws(MiniGeminiError) {
            let present = parts.compactMap { $0 }
            guard !present.isEmpty else { return }
            do throws(TensorError) {
                var floats: [Tensor] = []
                for part in present { floats.append(try part.asFloat32()) }
                tensors[name] = try concat(floats, axis: 0)
            } catch {
                throw .tensor(error)
            }
        }
        try stack("pixels_lr", traces.map(\.pixelsLowResolution))
        try stack("pixels_hr", traces.map(\.pixelsHighResolution))
        try stack("features_lr", traces.map(\.featuresLowResolution))
        try stack("features_hr", traces.map(\.featuresHighResolution))
        try stack("mined", traces.map(\.mined))
        try stack("visual_tokens", traces.map(\.visualTokens))
        do {
            tensors["logits_prefill"] = try prefillLogits.asFloat32().reshaped([prefillLogits.count])
        } catch {
            throw .tensor(error)
        }
        return tensors
    }

    /// Writes the dump into `directory` (created if needed).
    /// - Throws: ``MiniGeminiError/output(path:reason:)``.
    public func write(to directory: URL) throws(MiniGeminiError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .output(path: directory.path, reason: error.localizedDescription)
        }
        for (name, tensor) in try tensors() {
            let path = directory.appendingPathComponent("\(name).safetensors").path
            do { try SafetensorsWriter.write([name: tensor], to: path) } catch { throw .output(path: path, reason: "\(error)") }
        }
        var run: [String: Any] = [
            "prompt": prepared.text, "input_ids": prepared.inputIDs, "generated_ids": generatedIDs,
            "generated_text": generatedText, "image_placeholder_id": imagePlaceholderID,
        ]
        for (key, value) in details { run[key] = value }
        let url = directory.appendingPathComponent("run.json")
        do {
            let data = try JSONSerialization.data(withJSONObject: run, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: url, options: .atomic)
        } catch {
            throw .output(path: url.path, reason: error.localizedDescription)
        }
    }
}

extension MiniGemini {
    /// Runs a request synchronously and greedily or as its parameters say, recording everything
    /// ``RunDump`` writes. The prefill runs twice (once for the logits, once inside generation).
    /// - Throws: as ``prepare(_:tracing:)`` and generation.
    public func runRecording(_ request: MiniGeminiRequest) throws(MiniGeminiError) -> (dump: RunDump, info: MiniGeminiInfo) {
        let prepared = try prepare(request, tracing: true)
        do {
            var cache = try languageModel.newCache(maximumLength: prepared.embeddings.shape[0])
            let logits = try languageModel.forward(inputEmbeddings: prepared.embeddings, cache: &cache, logits: .lastPosition)
            let result = try generateText(
                model: languageModel, tokenizer: tokenizer,
                prompt: .embeddings(prepared.embeddings, tokenIDs: prepared.inputIDs.filter { $0 != imagePlaceholderID }),
                parameters: request.parameters)
            let info = MiniGeminiInfo(prompt: prepared.text, inputIDs: prepared.inputIDs, visionSeconds: prepared.visionSeconds, generation: result.info)
            // As transformers' generate returns them: the stop token included.
            var ids = result.tokenIDs
            if case .stopToken(let id) = result.info.stopReason { ids.append(id) }
            return (RunDump(prepared: prepared, prefillLogits: logits, generatedIDs: ids, generatedText: finalText(of: ids)), info)
        } catch {
            throw .language(error)
        }
    }
}
