import Foundation
import MGLanguage
import MGMining
import MGTensor
import MGVision

// Loading a released checkpoint folder as the official `load_pretrained_model`
// (MGM repo: mgm/model/builder.py) and `initialize_uni_modules` (mgm_arch.py) do, with the
// differences documented on ``MiniGemini/init(directory:options:)``.

extension MiniGemini {
    /// Loads a Mini-Gemini checkpoint folder as released (MGM-2B, MGM-7B, MGM-7B-HD, MGM-8x7B, …).
    ///
    /// Reads `config.json`, the tokenizer files, the weights (safetensors or PyTorch `.bin`, single
    /// or sharded; kept memory-mapped in their stored dtype), and the two tower folders the
    /// configuration names (found by ``TowerLocator``). As in the official loader, the CLIP tower
    /// takes the copy of its weights stored in the checkpoint when there is one (else the CLIP
    /// folder's), and ConvNeXt always takes the OpenCLIP folder's weights. The ConvNeXt architecture
    /// comes from the model named by the folder's `open_clip_config.json` (the official code infers
    /// it from the folder name, which is used when that file is absent); when neither names a model
    /// the library knows, it is read from the weights, and a known name whose sizes contradict the
    /// weights is ``MiniGeminiError/vision(_:)`` with ``/MGVision/VisionError/architectureMismatch(field:configured:weights:)``.
    /// A CLIP folder without `config.json` has its sizes read from the weights the same way.
    ///
    /// The conversation template follows ``MiniGeminiLoadOptions/templateSelection``: by default
    /// it is decided from the tokenizer's special tokens and `config.json`
    /// (``TemplateChoice/fromFiles(_:)``), and ``MiniGemini/templateChoice`` records why.
    ///
    /// ```swift
    /// let model = try MiniGemini(directory: URL(fileURLWithPath: "MGM-7B-HD"),
    ///                            options: .init(progress: { print("\($0.step.rawValue) loaded") }))
    /// ```
    /// - Throws: ``MiniGeminiError`` naming the missing file, folder, key or mismatched size.
    public convenience init(directory: URL, options: MiniGeminiLoadOptions = .init()) throws(MiniGeminiError) {
        let start = DispatchTime.now().uptimeNanoseconds
        var completed = 0
        var total = LoadProgress.Step.allCases.count
        func report(_ step: LoadProgress.Step, _ detail: String) {
            completed += 1
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            options.progress?(LoadProgress(step: step, completed: completed, total: total, elapsedSeconds: elapsed, detail: detail))
            logger.debug("loaded \(step.rawValue): \(detail)", metadata: ["checkpoint": "\(directory.path)", "seconds": "\(elapsed)"])
        }

        let configuration = try MiniGeminiConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        if !configuration.hasHighResolutionBranch { total -= 1 }
        report(.configuration, configuration.decoder.modelType)

        let family = configuration.decoder.family
        let useFast = options.useFastTokenizer ?? (family == .gemma || family == .mixtral)
        let tokenizer: any Tokenizer
        do { tokenizer = try TokenizerLoader.load(directory: directory, useFast: useFast) } catch { throw .tokenizer(error) }
        // Decided before the weights load, so an unknown template name fails fast.
        let templateChoice = try TemplateChoice.choose(
            options.templateSelection, evidence: TemplateEvidence(tokenizer: tokenizer, configuration: configuration.decoder, directory: directory),
            modelPath: directory.standardizedFileURL.path)
        logger.debug("template \(templateChoice.template.name): \(templateChoice.reason)")
        // The file TokenizerLoader used: it falls back to the other one when the preferred is absent.
        let hasModelFile = FileManager.default.fileExists(atPath: directory.appendingPathComponent("tokenizer.model").path)
        let hasJSONFile = FileManager.default.fileExists(atPath: directory.appendingPathComponent("tokenizer.json").path)
        report(.tokenizer, hasModelFile && (!useFast || !hasJSONFile) ? "tokenizer.model" : "tokenizer.json")

        let locator = TowerLocator(checkpoint: directory)
        let clipFolder = try locator.locate(configuration.visionTower, role: "low-resolution (CLIP)", override: options.visionTower)
        let auxFolder = try configuration.visionTowerAux.map { (aux) throws(MiniGeminiError) in
            try locator.locate(aux, role: "high-resolution (ConvNeXt)", override: options.visionTowerAux)
        }
        if options.checksMemory {
            try MemoryEstimate(
                checkpoint: directory, configuration: configuration, towers: [clipFolder] + [auxFolder].compactMap { $0 },
                contextLength: options.limits.maximumPromptPositions, concurrentRequests: options.concurrentSequences,
                kvCachePrecision: options.kvCachePrecision
            ).check(allowPaging: options.allowsPaging)
        }

        let weights: any WeightStore
        do { weights = try openCheckpointWeights(directory: directory) } catch { throw .checkpoint(error) }
        let languageModel: DecoderModel
        do {
            languageModel = try DecoderModel(
                configuration: configuration.decoder, weights: weights, options: DecoderLoadOptions(matrixPrecision: options.decoderPrecision, kvCachePrecision: options.kvCachePrecision))
        } catch { throw .language(error) }
        report(.languageModel, "\(configuration.decoder.layerCount) layers, \(configuration.decoder.hiddenSize) wide")

        let (lowResolution, clipSource) = try Self.loadCLIP(
            folder: clipFolder, checkpoint: weights, configuration: configuration, precision: options.visionPrecision)
        let preprocessorConfig = try Self.preprocessorConfig(in: clipFolder)
        report(.lowResolutionTower, clipFolder.path + Self.architectureNote(clipSource))

        var highResolution: ConvNeXtTower?
        var miner: PatchInfoMining?
        if let folder = auxFolder {
            let (tower, convNeXtSource) = try Self.loadConvNeXt(folder: folder, precision: options.visionPrecision)
            if let stated = configuration.highResolutionWidth, stated != tower.channels {
                throw .incompatibleComponents("config.json says mm_hidden_size_aux \(stated) but the ConvNeXt tower makes \(tower.channels) channels")
            }
            highResolution = tower
            // The bf16 vision mode covers mining's products too (issue #16).
            let miningPrecision: LinearPrecision = options.visionPrecision == .bfloat16 ? .bfloat16Activations : .float32
            do {
                miner = try PatchInfoMining(from: weights, prefix: "model.", mapChannels: tower.channels, precision: miningPrecision)
            } catch { throw .mining(error) }
            report(.highResolutionTower, folder.path + Self.architectureNote(convNeXtSource))
        }
        if let stated = configuration.lowResolutionWidth, stated != lowResolution.tokenSize {
            throw .incompatibleComponents("config.json says mm_hidden_size \(stated) but the CLIP tower makes \(lowResolution.tokenSize)-wide tokens")
        }

        let projector: MultimodalProjector
        do { projector = try MultimodalProjector(
                type: configuration.projectorType, from: weights, outputSize: configuration.decoder.hiddenSize) } catch { throw .mining(error) }
        if let output = projector.outputSize, output != configuration.decoder.hiddenSize {
            throw .incompatibleComponents("the projector makes \(output)-wide rows but the language model is \(configuration.decoder.hiddenSize) wide")
        }
        let preprocessor: MGMImagePreprocessor
        do {
            preprocessor = try MGMImagePreprocessor(
                config: preprocessorConfig, imageSizeAux: configuration.imageSizeAux ?? lowResolution.imageSize,
                grid: configuration.imageGrid, global: configuration.imageGlobal)
        } catch {
            throw .vision(error)
        }
        let encoder = try ImageEncoder(
            preprocessor: preprocessor, lowResolution: lowResolution, highResolution: highResolution, miner: miner, projector: projector)
        report(.miningAndProjector, configuration.projectorType)

        self.init(
            directory: directory, configuration: configuration, tokenizer: tokenizer, languageModel: languageModel,
            imageEncoder: encoder, templateChoice: templateChoice, limits: options.limits)
    }

    private static func loadCLIP(
        folder: URL, checkpoint: any WeightStore, configuration: MiniGeminiConfiguration, precision: VisionPrecision
    ) throws(MiniGeminiError) -> (tower: CLIPVisionTower, source: TowerArchitectureSource) {
        let configURL = folder.appendingPathComponent("config.json")
        let selection: CLIPFeatureSelection = configuration.visionSelectFeature == "cls_patch" ? .classAndPatch : .patch
        do {
            // Without config.json the sizes are read from the weights (CLIPVisionConfiguration.resolve).
            let stated = FileManager.default.fileExists(atPath: configURL.path) ? try CLIPVisionConfiguration(contentsOf: configURL) : nil
            // The official initialize_uni_modules overwrites the openai weights with the copy the
            // checkpoint stores; use that copy whenever it is there.
            let weights: any WeightStore, prefix: String
            if checkpoint.contains(CLIPVisionTower.miniGeminiPrefix + "embeddings.patch_embedding.weight") {
                (weights, prefix) = (checkpoint, CLIPVisionTower.miniGeminiPrefix)
            } else {
                do { weights = try openCheckpointWeights(directory: folder) } catch { throw MiniGeminiError.checkpoint(error) }
                prefix = CLIPVisionTower.huggingFacePrefix
            }
            let (clipConfiguration, source) = try CLIPVisionConfiguration.resolve(configuration: stated, weights: weights, prefix: prefix)
            let tower = try CLIPVisionTower(
                configuration: clipConfiguration, weights: weights, prefix: prefix,
                selectLayer: configuration.visionSelectLayer, featureSelection: selection, precision: precision)
            return (tower, source)
        } catch let error as MiniGeminiError {
            throw error
        } catch {
            throw ImageEncoder.wrap(error)
        }
    }

    /// A progress note when a tower's architecture was read from its weights.
    private static func architectureNote(_ source: TowerArchitectureSource) -> String {
        if case .weights = source { return "; architecture \(source)" }
        return ""
    }

    private static func preprocessorConfig(in folder: URL) throws(MiniGeminiError) -> CLIPPreprocessorConfig {
        let url = folder.appendingPathComponent("preprocessor_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(path: url.path) }
        do { return try CLIPPreprocessorConfig(contentsOf: url) } catch { throw .vision(error) }
    }

    private static func loadConvNeXt(folder: URL, precision: VisionPrecision) throws(MiniGeminiError) -> (tower: ConvNeXtTower, source: TowerArchitectureSource) {
        let configURL = folder.appendingPathComponent("open_clip_config.json")
        do {
            // The model name of open_clip_config.json, else the one the official code derives from
            // the folder name; an unknown or absent name reads the architecture from the weights.
            let modelName: String?
            if let data = FileManager.default.contents(atPath: configURL.path) {
                modelName = try ConvNeXtConfiguration.timmModelName(openCLIPConfigData: data)
            } else {
                modelName = ConvNeXtConfiguration.miniGeminiModelName(forDirectory: folder.lastPathComponent)
            }
            let weights: any WeightStore
            do { weights = try openCheckpointWeights(directory: folder) } catch { throw MiniGeminiError.checkpoint(error) }
            let (configuration, source) = try ConvNeXtConfiguration.resolve(modelName: modelName, weights: weights)
            return (try ConvNeXtTower(configuration: configuration, weights: weights, precision: precision), source)
        } catch let error as MiniGeminiError {
            throw error
        } catch {
            throw ImageEncoder.wrap(error)
        }
    }
}
