import Foundation
import Hummingbird
import MGMining
import MGPipeline
import MGTensor

/// `POST /v1/mining`: the attention weights of patch info mining for one image, what the web page
/// draws over the picture.
///
/// Body: `{"image": "data:image/png;base64,…"}`. Answer: the low-resolution token grid (`grid` ×
/// `grid` tokens), the high-resolution block each token attends over (`block` × `block` cells of
/// the `map_size`² ConvNeXt map, which covers the `hr_size`² padded square image), and `weights`:
/// per token (row-major), its softmax weights over its block (row-major), summing to one.
/// Only models with one view per image (`image_grid` 1) are supported.
struct MiningWeights: Sendable {
    let model: MiniGemini
    let options: ServerOptions

    func handle(_ request: Request, context: some RequestContext) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: options.maximumBodyBytes)
        } catch {
            throw APIError.tooLarge("the request body is larger than \(options.maximumBodyBytes) bytes", code: "body_too_large")
        }
        let fields = try JSONFields(JSONValue.parse(Array(buffer: body)), path: "")
        guard let url = try fields.string("image") else { throw APIError.invalid("image is required", param: "image", code: "missing_field") }
        let message = try ChatCompletionRequest.parse(
            JSONBody.encode(["messages": [["role": "user", "content": [["type": "image_url", "image_url": ["url": url]]]]]]), maximumImages: 1)
        let (_, converted) = try ChatConversion(model: model, imageRoot: options.imageRoot).convert(message)
        guard let image = converted.images.first else { throw APIError.invalid("image is required", param: "image") }
        try ChatCompletions.preflight(MiniGeminiRequest(question: "", images: [image], parameters: .greedy), on: model)
        let encoder = model.imageEncoder
        guard let fuser = encoder.fuser, let miner = fuser.miner as? PatchInfoMining, fuser.grid == 1, !fuser.hasGlobalView else {
            throw APIError.invalid("this model has no single-view patch info mining to show", param: "image", code: "unsupported_model")
        }
        let result = try await Task.detached { () throws -> [UInt8] in
            let (_, trace) = try encoder.encodeTracing(image)
            guard let map = trace.featuresHighResolution else { throw APIError.invalid("this model has no high-resolution branch", code: "unsupported_model") }
            let (_, recorded) = try miner.mineRecordingLogits(tokens: trace.featuresLowResolution, highResolutionMap: map, recordLogits: true)
            guard let logits = recorded, logits.rank == 4 else { throw APIError(status: .internalServerError, message: "no mining logits recorded", type: "server_error") }
            let tokens = logits.shape[1], candidates = logits.shape[3]
            let values = try logits.asFloat32().floats()
            var weights: [[Double]] = []
            for token in 0..<tokens {
                let row = values[(token * candidates)..<((token + 1) * candidates)]
                let top = row.max() ?? 0
                let exps = row.map { Double(exp($0 - top)) }
                let total = exps.reduce(0, +)
                weights.append(exps.map { (($0 / total) * 1e5).rounded() / 1e5 })
            }
            let grid = Int(Double(tokens).squareRoot().rounded())
            return JSONBody.encode([
                "grid": grid, "block": Int(Double(candidates).squareRoot().rounded()), "map_size": map.shape[3],
                "hr_size": encoder.preprocessor.imageSizeAux, "image": ["width": image.width, "height": image.height], "weights": weights,
            ] as [String: Any])
        }.value
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: result)))
    }
}
