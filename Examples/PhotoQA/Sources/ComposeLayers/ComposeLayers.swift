import ExampleSupport
import Foundation
import MGLanguage
import MGMining
import MGPipeline
import MGTensor
import MGVision

/// Mini-Gemini built by hand from its layers, each held through its protocol, without the
/// `MiniGemini` type:
///
///     image → MGMImagePreprocessor ┬ LR pixels → any LowResolutionTokenEncoder (CLIP ViT)    → tokens ┐
///                                  └ HR pixels → any HighResolutionFeatureEncoder (ConvNeXt) → map    ┤
///            visual tokens ← MultimodalProjector ← VisualTokenFuser (any PatchMiner) ←────────────────┘
///     prompt ids + visual tokens → spliceVisualTokens → any CausalLanguageModel → greedy loop
///
/// Any of the four could be replaced by another conforming type. Only the prompt rendering and
/// splicing come from MGPipeline. Answers the same questions as PhotoQA and checks the same answers.
@main
struct ComposeLayers {
    static func main() async {
        await runExample {
            let arguments = try ExampleArguments(CommandLine.arguments.dropFirst())
            try run(arguments)
        }
    }

    static func run(_ arguments: ExampleArguments) throws {
        let folder = try arguments.model ?? BundledScene.modelFolder()
        let layers = try Layers(folder: folder)
        let image = try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: try arguments.image ?? BundledScene.imagePath()))
        let visualTokens = try layers.encode(image)

        var check = AnswerCheck()
        for question in arguments.questionsToAsk {
            let answer = try layers.answer(question, visualTokens: visualTokens, maximumTokens: arguments.maximumTokens)
            write("Q: \(question)\nA: \(answer)\n")
            if arguments.checksBundledAnswers { check.record(question: question, answer: answer) }
        }
        if arguments.checksBundledAnswers { check.finish() }
    }
}

/// The parts of a Mini-Gemini checkpoint folder, loaded one by one.
struct Layers {
    let preprocessor: MGMImagePreprocessor
    let lowResolution: any LowResolutionTokenEncoder
    let highResolution: any HighResolutionFeatureEncoder
    let fuser: VisualTokenFuser
    let projector: MultimodalProjector
    let decoder: any CausalLanguageModel
    let tokenizer: any Tokenizer
    let template: ConversationTemplate

    init(folder: URL) throws {
        // config.json: the decoder's hyper-parameters plus the mm_* fields of the vision side.
        let configuration = try MiniGeminiConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
        guard let auxiliaryTower = configuration.visionTowerAux, let imageSizeAux = configuration.imageSizeAux else {
            throw ExampleError.usage("this example composes both towers; \(folder.path) has no mm_vision_tower_aux")
        }
        // Every tensor of the checkpoint, memory-mapped in its stored dtype.
        let checkpoint = try openCheckpointWeights(directory: folder)
        let locator = TowerLocator(checkpoint: folder)
        let clipFolder = try locator.locate(configuration.visionTower, role: "CLIP")
        let convNeXtFolder = try locator.locate(auxiliaryTower, role: "ConvNeXt")

        // MGVision: MGM preprocessing (HD models: a grid of LR crops plus a global view) and the two
        // towers. CLIP takes the copy of its weights the checkpoint carries when there is one (as the
        // official loader does), else its own folder's; ConvNeXt comes from its OpenCLIP folder.
        preprocessor = try MGMImagePreprocessor(
            config: try CLIPPreprocessorConfig(contentsOf: clipFolder.appendingPathComponent("preprocessor_config.json")),
            imageSizeAux: imageSizeAux, grid: configuration.imageGrid, global: configuration.imageGlobal)
        let clipInCheckpoint = checkpoint.contains(CLIPVisionTower.miniGeminiPrefix + "embeddings.patch_embedding.weight")
        let clipWeights = clipInCheckpoint ? checkpoint : try openCheckpointWeights(directory: clipFolder)
        lowResolution = try CLIPVisionTower(
            configuration: try CLIPVisionConfiguration(contentsOf: clipFolder.appendingPathComponent("config.json")),
            weights: clipWeights, prefix: clipInCheckpoint ? CLIPVisionTower.miniGeminiPrefix : CLIPVisionTower.huggingFacePrefix,
            selectLayer: configuration.visionSelectLayer,
            featureSelection: configuration.visionSelectFeature == "cls_patch" ? .classAndPatch : .patch)
        highResolution = try ConvNeXtTower(
            configuration: try ConvNeXtConfiguration(contentsOf: convNeXtFolder.appendingPathComponent("open_clip_config.json")),
            weights: try openCheckpointWeights(directory: convNeXtFolder))

        // MGMining: patch info mining (model.vlm_uni_*) and the projector (model.mm_projector.*).
        let miner: any PatchMiner = try PatchInfoMining(from: checkpoint)
        fuser = try VisualTokenFuser(miner: miner, grid: configuration.imageGrid, hasGlobalView: configuration.imageGlobal)
        projector = try MultimodalProjector(type: configuration.projectorType, from: checkpoint)

        // MGLanguage: the decoder (model.layers.*, lm_head) and the tokenizer.
        decoder = try DecoderModel(configuration: configuration.decoder, weights: checkpoint)
        // MGM-2B (Gemma) and MGM-8x7B load the fast tokenizer, the Vicuna-based models the slow one.
        let family = configuration.decoder.family
        tokenizer = try TokenizerLoader.load(directory: folder, useFast: family == .gemma || family == .mixtral)
        // The template the official CLI picks from the folder name (MGM-Scenes → vicuna_v1).
        template = ConversationTemplate.officialChoice(forModelName: folder.lastPathComponent)
    }

    /// The visual tokens of one image, `[1, V·T, hidden]` (V = 1 view, or 5 for HD), printing the
    /// shape after every stage.
    func encode(_ image: RGBImage) throws -> Tensor {
        let pixels = try preprocessor(image)
        let tokens = try lowResolution.encode(pixels.lowResolution)
        let map = try highResolution.encode(pixels.highResolution)
        let mined = try fuser.fuse(tokens: tokens, highResolutionMap: map)
        let visualTokens = try projector(mined)
        write("""
            LR pixels \(pixels.lowResolution.shape) → CLIP tokens \(tokens.shape)
            HR pixels \(pixels.highResolution.shape) → ConvNeXt map \(map.shape)
            patch info mining → \(mined.shape) → projector → visual tokens \(visualTokens.shape)\n\n
            """)
        return visualTokens
    }

    /// The greedy answer to `question` about the image whose tokens are `visualTokens`.
    func answer(_ question: String, visualTokens: Tensor, maximumTokens: Int) throws -> String {
        // The prompt as the official CLI renders it, with the image placeholder where the visual
        // tokens go.
        var conversation = Conversation(template: template)
        conversation.append(.user, Conversation.userText(question: question, imageCount: 1))
        conversation.appendPendingAssistant()
        let ids = tokenizeWithImagePlaceholders(conversation.prompt(), tokenizer: tokenizer)
        let decoder = self.decoder
        let rows = try spliceVisualTokens(ids: ids, visualTokens: [visualTokens]) { (ids) throws(LanguageModelError) in
            try decoder.embed(ids: ids)
        }

        // Prefill the whole prompt once, then feed back one token at a time.
        var cache = try decoder.newCache(maximumLength: rows.shape[0] + maximumTokens)
        var logits = try decoder.forward(inputEmbeddings: rows, cache: &cache)
        var sampler = TokenSampler(parameters: .greedy)
        var generated: [Int] = []
        while generated.count < maximumTokens {
            let next = try sampler.sample(logits: logits, history: ids.filter { $0 != imagePlaceholderID } + generated)
            if next == tokenizer.eosTokenID { break }
            generated.append(next)
            logits = try decoder.forward(ids: [next], cache: &cache)
        }
        return tokenizer.decode(generated, skipSpecialTokens: true).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
