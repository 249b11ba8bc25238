import Foundation
import MGMining
import MGPipeline
import MGVision
import Testing

/// Broken checkpoints and requests fail with the specific typed error, never a crash.
@Suite("Checkpoint and request errors")
struct CheckpointErrorTests {
    private func load(_ variant: CheckpointVariant) throws -> MiniGemini {
        try MiniGemini(directory: variant.folder, options: .init(visionTower: variant.visionTower, visionTowerAux: variant.visionTowerAux))
    }

    @Test("a missing tower folder names every place searched")
    func missingTower() throws {
        let variant = try CheckpointVariant(of: "MGM-7B-tiny") { $0["mm_vision_tower_aux"] = "model_zoo/nowhere/openclip-convnext-missing" }
        defer { variant.remove() }
        #expect {
            try MiniGemini(directory: variant.folder, options: .init(visionTower: variant.visionTower))
        } throws: { error in
            guard case MiniGeminiError.towerNotFound(let role, let configured, let searched) = error else { return false }
            return role.contains("ConvNeXt") && configured.hasSuffix("openclip-convnext-missing") && searched.count >= 3
        }
    }

    @Test("sizes that contradict the weights are reported")
    func mismatchedSizes() throws {
        let variant = try CheckpointVariant(of: "MGM-7B-tiny") { $0["mm_hidden_size_aux"] = 2880 }
        defer { variant.remove() }
        #expect {
            try load(variant)
        } throws: { error in
            guard case MiniGeminiError.incompatibleComponents(let reason) = error else { return false }
            return reason.contains("2880")
        }
    }

    @Test("a language model size that contradicts the weights names the tensor")
    func mismatchedDecoder() throws {
        let variant = try CheckpointVariant(of: "MGM-7B-tiny") { $0["intermediate_size"] = 96 }
        defer { variant.remove() }
        #expect {
            try load(variant)
        } throws: { error in
            guard case MiniGeminiError.language(.weightShapeMismatch(let key, _, _)) = error else { return false }
            return key.contains("mlp")
        }
    }

    @Test("an unknown projector type is rejected")
    func unknownProjector() throws {
        let variant = try CheckpointVariant(of: "MGM-7B-tiny") { $0["mm_projector_type"] = "mlp2x_relu" }
        defer { variant.remove() }
        #expect {
            try load(variant)
        } throws: { error in
            if case MiniGeminiError.mining(.unknownProjectorType(let type)) = error { return type == "mlp2x_relu" }
            return false
        }
    }

    @Test("a config without mm_vision_tower is not a Mini-Gemini checkpoint")
    func notMultimodal() throws {
        let variant = try CheckpointVariant(of: "MGM-7B-tiny") { $0.removeValue(forKey: "mm_vision_tower") }
        defer { variant.remove() }
        #expect {
            try load(variant)
        } throws: { error in
            if case MiniGeminiError.invalidConfiguration(_, let reason) = error { return reason.contains("mm_vision_tower") }
            return false
        }
    }

    @Test("an undecodable image is a vision error")
    func undecodableImage() throws {
        let model = try MiniGemini(directory: try EndToEndFixtures.checkpoint("MGM-7B-tiny"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-not-an-image-\(UUID().uuidString).png")
        try Data("this is not a PNG".utf8).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        #expect {
            try model.decodeImage(contentsOf: path)
        } throws: { error in
            if case MiniGeminiError.vision(.unsupportedFormat) = error { return true }
            return false
        }
    }

    @Test("a prompt longer than the context is refused before any work")
    func promptTooLong() throws {
        let model = try MiniGemini(directory: try EndToEndFixtures.checkpoint("MGM-7B-tiny"))
        let question = String(repeating: "tell me about the image please ", count: 200)
        #expect {
            try model.prepare(MiniGeminiRequest(question: question))
        } throws: { error in
            guard case MiniGeminiError.promptTooLong(let tokens, let limit) = error else { return false }
            return tokens >= limit && limit == model.contextLength
        }
    }

    @Test("request limits are enforced")
    func limits() throws {
        let model = try MiniGemini(
            directory: try EndToEndFixtures.checkpoint("MGM-7B-tiny"), options: .init(limits: .init(maximumImages: 1, maximumNewTokens: 8)))
        let image = try RGBImage(width: 8, height: 8, color: RGBColor(red: 1, green: 2, blue: 3))
        #expect {
            try model.prepare(MiniGeminiRequest(question: "?", images: [image, image], parameters: .init(maximumTokens: 4)))
        } throws: { error in
            if case MiniGeminiError.limitExceeded(let what, 2, 1) = error { return what.contains("images") }
            return false
        }
        #expect {
            try model.prepare(MiniGeminiRequest(question: "?", parameters: .init(maximumTokens: 9)))
        } throws: { error in
            if case MiniGeminiError.limitExceeded(_, 9, 8) = error { return true }
            return false
        }
    }
}
