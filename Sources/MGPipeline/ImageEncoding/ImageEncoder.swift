import Foundation
import MGMining
import MGTensor
import MGVision

/// The intermediate tensors of encoding one image, as `mgm run --dump` writes them.
public struct ImageEncodingTrace: Sendable {
    /// What the CLIP tower saw: `[V, 3, L, L]` (HD: the crops, then the global view).
    public var pixelsLowResolution: Tensor
    /// The normalised HR tensor fed to ConvNeXt, `[1, 3, S, S]` (nil without the HR branch).
    public var pixelsHighResolution: Tensor?
    /// CLIP's selected hidden state, `[V, T, C]`.
    public var featuresLowResolution: Tensor
    /// The fused ConvNeXt map, `[1, C_aux, S/4, S/4]` (nil without the HR branch).
    public var featuresHighResolution: Tensor?
    /// LR tokens plus mined detail in final token order, `[1, V·T, C]` (`[global, crops…]` for HD).
    public var mined: Tensor
    /// The projector output, `[1, V·T, hidden]`.
    public var visualTokens: Tensor
}

/// Turns one image into the rows Mini-Gemini splices into the language model's input: MGM
/// preprocessing, the CLIP tower, the ConvNeXt tower, patch info mining (with the HD token
/// extension) and the multimodal projector.
///
/// Any encoders and miner can be plugged in through the protocols of MGVision and MGMining.
/// Without a high-resolution encoder the LR tokens go straight to the projector, as MGM does for a
/// checkpoint with no `mm_vision_tower_aux`.
public struct ImageEncoder: Sendable {
    public let preprocessor: MGMImagePreprocessor
    public let lowResolution: any LowResolutionTokenEncoder
    public let highResolution: (any HighResolutionFeatureEncoder)?
    /// The mining and HD fusion step; nil exactly when ``highResolution`` is nil.
    public let fuser: VisualTokenFuser?
    public let projector: MultimodalProjector

    /// Assembles the parts, checking that their sizes fit together.
    /// - Throws: ``MiniGeminiError/incompatibleComponents(_:)`` naming the first disagreement.
    public init(
        preprocessor: MGMImagePreprocessor, lowResolution: any LowResolutionTokenEncoder,
        highResolution: (any HighResolutionFeatureEncoder)?, miner: (any PatchMiner)?, projector: MultimodalProjector
    ) throws(MiniGeminiError) {
        func fail(_ reason: String) -> MiniGeminiError { .incompatibleComponents(reason) }
        guard preprocessor.lowResolutionSize == lowResolution.imageSize else {
            throw fail("the CLIP preprocessor crops to \(preprocessor.lowResolutionSize) px but the CLIP tower takes \(lowResolution.imageSize) px")
        }
        if let input = projector.inputSize, input != lowResolution.tokenSize {
            throw fail("the projector takes \(input)-wide features but CLIP tokens are \(lowResolution.tokenSize) wide")
        }
        switch (highResolution, miner) {
        case (nil, nil):
            guard preprocessor.grid == 1 else { throw fail("image_grid \(preprocessor.grid) needs the high-resolution branch") }
            fuser = nil
        case (let high?, let miner?):
            guard miner.tokenSize == lowResolution.tokenSize else {
                throw fail("patch info mining takes \(miner.tokenSize)-wide tokens but CLIP tokens are \(lowResolution.tokenSize) wide")
            }
            guard miner.mapChannels == high.channels else {
                throw fail("patch info mining takes a \(miner.mapChannels)-channel map but the ConvNeXt tower makes \(high.channels) channels")
            }
            let mapSide = preprocessor.imageSizeAux / high.featureStride
            let tokenSide = Int(Double(lowResolution.tokenCount).squareRoot().rounded())
            guard preprocessor.imageSizeAux % high.featureStride == 0, mapSide % preprocessor.grid == 0,
                  tokenSide * tokenSide == lowResolution.tokenCount, (mapSide / preprocessor.grid) % tokenSide == 0
            else {
                throw fail("a \(mapSide)×\(mapSide) high-resolution map (image_size_aux \(preprocessor.imageSizeAux)) cannot be split "
                    + "into \(preprocessor.grid)×\(preprocessor.grid) views of \(tokenSide)×\(tokenSide) token regions")
            }
            fuser = try Self.fuser(miner, preprocessor)
        default:
            throw fail("the high-resolution tower and the patch miner must be given together")
        }
        self.preprocessor = preprocessor
        self.lowResolution = lowResolution
        self.highResolution = highResolution
        self.projector = projector
    }

    private static func fuser(_ miner: any PatchMiner, _ preprocessor: MGMImagePreprocessor) throws(MiniGeminiError) -> VisualTokenFuser {
        do { return try VisualTokenFuser(miner: miner, grid: preprocessor.grid, hasGlobalView: preprocessor.global) } catch { throw .mining(error) }
    }

    /// Visual tokens per image: `V · T` (576 normal, 2880 HD for the releases).
    public var tokensPerImage: Int {
        (preprocessor.grid * preprocessor.grid + (preprocessor.global && preprocessor.grid >= 2 ? 1 : 0)) * lowResolution.tokenCount
    }

    /// Encodes one decoded image.
    /// - Returns: `[V·T, hidden]` rows for the language model.
    /// - Throws: ``MiniGeminiError/cancelled`` when the task is cancelled between stages, and the
    ///   errors of each stage.
    public func encode(_ image: RGBImage) throws(MiniGeminiError) -> Tensor {
        try encode(image, keepingTrace: false).rows
    }

    /// Encodes one decoded image and returns every intermediate tensor too (they can be large:
    /// the fused HR map of a release is 2880 × 192² floats).
    /// - Throws: as ``encode(_:)``.
    public func encodeTracing(_ image: RGBImage) throws(MiniGeminiError) -> (rows: Tensor, trace: ImageEncodingTrace) {
        let (rows, trace) = try encode(image, keepingTrace: true)
        guard let trace else { throw .incompatibleComponents("no trace recorded") }
        return (rows, trace)
    }

    private func encode(_ image: RGBImage, keepingTrace: Bool) throws(MiniGeminiError) -> (rows: Tensor, trace: ImageEncodingTrace?) {
        try Self.checkCancellation()
        let inputs: MGMImageTensors
        do { inputs = try preprocessor(image) } catch { throw .vision(error) }
        try Self.checkCancellation()
        let tokens: Tensor
        do { tokens = try lowResolution.encode(inputs.lowResolution) } catch { throw .vision(error) }
        var map: Tensor?
        var fused = tokens  // without the HR branch: one LR view, [1, T, C]
        if let highResolution, let fuser {
            try Self.checkCancellation()
            let encoded: Tensor
            do { encoded = try highResolution.encode(inputs.highResolution) } catch { throw .vision(error) }
            map = encoded
            try Self.checkCancellation()
            do { fused = try fuser.fuse(tokens: tokens, highResolutionMap: encoded) } catch { throw .mining(error) }
        }
        let views = fused.shape[0] * fused.shape[1]
        do {
            fused = try fused.reshaped([1, views, fused.shape[2]])
        } catch {
            throw .tensor(error)
        }
        let projected: Tensor
        do { projected = try projector(fused) } catch { throw .mining(error) }
        let trace = keepingTrace ? ImageEncodingTrace(
            pixelsLowResolution: inputs.lowResolution, pixelsHighResolution: highResolution == nil ? nil : inputs.highResolution,
            featuresLowResolution: tokens, featuresHighResolution: map, mined: fused, visualTokens: projected) : nil
        do { return (try projected.reshaped([views, projected.shape[2]]), trace) } catch { throw .tensor(error) }
    }

    static func checkCancellation() throws(MiniGeminiError) {
        if Task.isCancelled { throw .cancelled }
    }

    static func wrap(_ error: any Error) -> MiniGeminiError {
        switch error {
        case let error as VisionError: .vision(error)
        case let error as MiningError: .mining(error)
        case let error as TensorError: .tensor(error)
        case let error as MiniGeminiError: error
        default: .incompatibleComponents("\(error)")
        }
    }
}
