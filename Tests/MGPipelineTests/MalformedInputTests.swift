import Foundation
import MGLanguage
import MGPipeline
import MGTensor
import MGVision
import Testing

/// The committed malformed-input corpus (`Fixtures/MalformedInputs`, written by
/// `Fuzz/make_corpora.py`): every hostile file fails with its own typed error, never a trap.
/// `MalformedInputCommandLineTests` runs the same files through `mgm`.
enum MalformedInputs {
    static var folder: URL {
        get throws { try EndToEndFixtures.root.appendingPathComponent("MalformedInputs") }
    }

    static func path(_ name: String) throws -> String { try folder.appendingPathComponent(name).path }

    /// One corpus file and the error it must raise.
    struct Case<Failure: Error & Sendable>: Sendable, CustomTestStringConvertible {
        let file: String
        let matches: @Sendable (Failure) -> Bool
        init(_ file: String, _ matches: @escaping @Sendable (Failure) -> Bool) {
            self.file = file
            self.matches = matches
        }
        var testDescription: String { file }
    }

    /// Runs `body`, which must throw an error that `expected` accepts.
    static func expect<Failure: Error>(
        _ testCase: Case<Failure>, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(Failure) -> Void
    ) {
        do {
            try body()
            Issue.record("\(testCase.file) was accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(testCase.matches(error), "\(testCase.file): unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    static let checkpointCases: [Case<CheckpointError>] = [
        Case("st_truncated_prefix.safetensors") { if case .fileTooShort(_, 5) = $0 { true } else { false } },
        Case("st_truncated_header.safetensors") { if case .headerPastEndOfFile(_, _, 30) = $0 { true } else { false } },
        Case("st_truncated_data.safetensors") { if case .offsetsOutOfRange(_, "w", 0, 16, 12) = $0 { true } else { false } },
        Case("st_absurd_header_length.safetensors") { if case .headerTooLarge(_, 1 << 62, _) = $0 { true } else { false } },
        Case("st_negative_shape.safetensors") { if case .invalidShape(_, "w", [-2, -2]) = $0 { true } else { false } },
        Case("st_zero_shape_with_data.safetensors") { if case .byteLengthMismatch(_, "w", 0, 0, 16) = $0 { true } else { false } },
        Case("st_overflowing_shape.safetensors") { if case .invalidShape(_, "w", [1 << 32, 1 << 32]) = $0 { true } else { false } },
        Case("st_overflowing_bytes.safetensors") { if case .invalidShape(_, "w", [1 << 61]) = $0 { true } else { false } },
        Case("st_offsets_outside_file.safetensors") { if case .offsetsOutOfRange(_, "w", 1_048_576, 1_048_592, 16) = $0 { true } else { false } },
        Case("st_reversed_offsets.safetensors") { if case .invalidOffsets(_, "w", 16, 0) = $0 { true } else { false } },
        Case("st_overlapping_tensors.safetensors") { if case .overlappingTensors(_, "b", "a", 8) = $0 { true } else { false } },
        Case("st_unknown_dtype.safetensors") { if case .unknownDType(_, "w", "F128") = $0 { true } else { false } },
        Case("st_duplicate_name.safetensors") { if case .duplicateTensorName(_, "w") = $0 { true } else { false } },
        Case("st_header_not_utf8.safetensors") { if case .headerNotUTF8(_, 2) = $0 { true } else { false } },
        Case("st_header_not_json.safetensors") { if case .invalidJSON = $0 { true } else { false } },
        Case("st_index_path_escapes") { if case .invalidIndex(_, let reason) = $0 { reason.contains("../") } else { false } },
        Case("st_index_missing_shard") { if case .shardNotFound(_, "model-00002-of-00002.safetensors") = $0 { true } else { false } },
        Case("st_index_tensor_not_in_shard") { if case .tensorMissingFromShard(_, "c.weight") = $0 { true } else { false } },
        Case("pt_os_system.bin") { if case .disallowedGlobal(_, "os", "system") = $0 { true } else { false } },
        Case("pt_builtins_eval.bin") { if case .disallowedGlobal(_, "builtins", "eval") = $0 { true } else { false } },
        Case("pt_subprocess_popen.bin") { if case .disallowedGlobal(_, "subprocess", "Popen") = $0 { true } else { false } },
        Case("pt_truncated.bin") { if case .archiveEndNotFound = $0 { true } else { false } },
        Case("pt_storage_size_mismatch.bin") { if case .storageSizeMismatch(_, "0", 32, 12) = $0 { true } else { false } },
        Case("pt_zip_local_size_differs.bin") { if case .archiveSizeMismatch(_, let entry, _, _) = $0 { entry.hasSuffix("data.pkl") } else { false } },
        Case("pt_tensor_outside_storage.bin") { if case .storageOutOfRange(_, "w", "0", 36, 32) = $0 { true } else { false } },
    ]

    static let imageCases: [Case<VisionError>] = [
        Case("png_100000x100000.png") { if case .imageTooLarge(100_000, 100_000, _) = $0 { true } else { false } },
        Case("png_bad_crc.png") { if case .corruptImage(.png, let reason) = $0 { reason.contains("CRC") } else { false } },
        Case("png_truncated.png") { if case .truncatedImage(.png, _) = $0 { true } else { false } },
        Case("jpeg_cut_mid_scan.jpg") { if case .truncatedImage(.jpeg, _) = $0 { true } else { false } },
        Case("jpeg_65500x65500.jpg") { if case .imageTooLarge(65500, 65500, _) = $0 { true } else { false } },
        Case("gif_not_supported.gif") { if case .unsupportedFormat = $0 { true } else { false } },
        Case("empty_image.png") { if case .unsupportedFormat = $0 { true } else { false } },
    ]

    /// Decodes (60000 pixels) but pads to a 60000×60000 square.
    static let thinImage = "png_1x60000_pads_too_large.png"

    static let tokenizerCases: [Case<TokenizerError>] = [
        Case("tokenizer_unknown_model.json") { if case .unsupported(let feature) = $0 { feature.contains("WordPiece") } else { false } },
        Case("tokenizer_unknown_normalizer.json") { if case .unsupported(let feature) = $0 { feature.contains("Precompiled") } else { false } },
        Case("tokenizer_missing_model.json") { if case .invalidJSON(let reason) = $0 { reason.contains("model") } else { false } },
        Case("tokenizer_missing_vocab.json") { if case .invalidJSON(let reason) = $0 { reason.contains("vocab") } else { false } },
        Case("tokenizer_truncated.json") { if case .invalidJSON = $0 { true } else { false } },
        Case("tokenizer_huge_vocab_id.json") { if case .invalidJSON(let reason) = $0 { reason.contains("2000000000") } else { false } },
        Case("tokenizer_added_token_id_int_max.json") {
            if case .invalidJSON(let reason) = $0 { reason.contains("9223372036854775807") } else { false }
        },
        Case("sentencepiece_truncated.model") { if case .invalidModelProto = $0 { true } else { false } },
    ]

    static let configurationCases: [Case<MiniGeminiError>] = [
        Case("config_unknown_model_type.json") { if case .language(.unsupportedModelType("mgm_mamba")) = $0 { true } else { false } },
        Case("config_negative_heads.json") {
            if case .language(.invalidConfiguration(let key, _)) = $0 { key.contains("num_attention_heads") } else { false }
        },
        Case("config_truncated.json") { if case .invalidConfiguration = $0 { true } else { false } },
    ]
}

extension MalformedInputs {
    /// GGUF files (read by `GGUFFile`; `mgm inspect` does not take GGUF yet).
    static let ggufCases: [Case<CheckpointError>] = [
        Case("gguf_truncated_data.gguf") { if case .invalidGGUF(_, .tensorPastEnd(tensor: "w", offset: 0, byteCount: 32, dataSize: 28)) = $0 { true } else { false } },
        Case("gguf_absurd_tensor_count.gguf") { if case .invalidGGUF(_, .countTooLarge(what: "tensor", count: 1 << 60, limit: _)) = $0 { true } else { false } },
        Case("gguf_unknown_type.gguf") { if case .invalidGGUF(_, .unknownTensorType(tensor: "w", type: 99)) = $0 { true } else { false } },
        Case("gguf_misaligned_tensor.gguf") { if case .invalidGGUF(_, .misalignedTensor(tensor: "w", offset: 16, alignment: 32)) = $0 { true } else { false } },
        Case("gguf_overlapping_tensors.gguf") { if case .invalidGGUF(_, .overlappingTensors(tensor: "b", other: "a")) = $0 { true } else { false } },
        Case("gguf_offset_past_end.gguf") { if case .invalidGGUF(_, .tensorPastEnd(tensor: "w", offset: 1 << 40, byteCount: 32, dataSize: 0)) = $0 { true } else { false } },
        Case("gguf_partial_block.gguf") { if case .invalidGGUF(_, .rowNotWholeBlocks(tensor: "w", columns: 33, type: "Q8_0")) = $0 { true } else { false } },
    ]
}

@Suite("Malformed inputs")
struct MalformedInputTests {
    @Test("GGUF files fail with their specific GGUFProblem", arguments: MalformedInputs.ggufCases)
    func gguf(_ testCase: MalformedInputs.Case<CheckpointError>) throws {
        let path = try MalformedInputs.path(testCase.file)
        MalformedInputs.expect(testCase) { () throws(CheckpointError) in _ = try GGUFFile(contentsOf: URL(fileURLWithPath: path)) }
    }

    @Test("checkpoint files fail with their specific CheckpointError", arguments: MalformedInputs.checkpointCases)
    func checkpoint(_ testCase: MalformedInputs.Case<CheckpointError>) throws {
        let path = try MalformedInputs.path(testCase.file)
        MalformedInputs.expect(testCase) { () throws(CheckpointError) in
            if testCase.file.hasSuffix(".bin") {
                _ = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: path))
            } else {
                _ = try ShardedSafetensors(contentsOf: URL(fileURLWithPath: path))
            }
        }
    }

    @Test("image files fail with their specific VisionError", arguments: MalformedInputs.imageCases)
    func image(_ testCase: MalformedInputs.Case<VisionError>) throws {
        let path = try MalformedInputs.path(testCase.file)
        MalformedInputs.expect(testCase) { () throws(VisionError) in _ = try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: path)) }
    }

    @Test("a 1×60000 image decodes, but its padded square is refused before it is allocated")
    func thinImage() throws {
        let image = try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: try MalformedInputs.path(MalformedInputs.thinImage)))
        #expect(image.width == 1 && image.height == 60000)
        let testCase = MalformedInputs.Case<VisionError>(MalformedInputs.thinImage) {
            if case .imageTooLarge(60000, 60000, MGMImagePreprocessor.maximumPaddedPixels) = $0 { true } else { false }
        }
        let preprocessor = try MGMImagePreprocessor()
        MalformedInputs.expect(testCase) { () throws(VisionError) in _ = try preprocessor(image) }
    }

    @Test("tokenizer files fail with their specific TokenizerError", arguments: MalformedInputs.tokenizerCases)
    func tokenizer(_ testCase: MalformedInputs.Case<TokenizerError>) throws {
        let url = try MalformedInputs.folder.appendingPathComponent(testCase.file)
        MalformedInputs.expect(testCase) { () throws(TokenizerError) in
            if testCase.file.hasSuffix(".model") {
                _ = try SentencePieceModel(contentsOf: url)
            } else {
                _ = try TokenizerJSON(url: url)
            }
        }
    }

    @Test("config.json files fail with their specific MiniGeminiError", arguments: MalformedInputs.configurationCases)
    func configuration(_ testCase: MalformedInputs.Case<MiniGeminiError>) throws {
        let url = try MalformedInputs.folder.appendingPathComponent(testCase.file)
        MalformedInputs.expect(testCase) { () throws(MiniGeminiError) in _ = try MiniGeminiConfiguration(contentsOf: url) }
    }

    @Test("a config.json whose sizes contradict the weights names the mismatched weight")
    func sizesContradictWeights() throws {
        let variant = try MalformedCheckpoint(replacing: "config.json", with: "config_sizes_contradict_weights.json")
        defer { variant.remove() }
        let testCase = MalformedInputs.Case<MiniGeminiError>("config_sizes_contradict_weights.json") {
            if case .language(.weightShapeMismatch(let key, let expected, let actual)) = $0 {
                key == "model.embed_tokens.weight" && expected == [768, 96] && actual == [768, 64]
            } else { false }
        }
        MalformedInputs.expect(testCase) { () throws(MiniGeminiError) in
            _ = try MiniGemini(directory: variant.folder, options: .init(visionTower: variant.visionTower, visionTowerAux: variant.visionTowerAux))
        }
    }

    @Test("a checkpoint folder with a broken tokenizer.model fails with the tokenizer's error")
    func brokenTokenizerInCheckpoint() throws {
        let variant = try MalformedCheckpoint(replacing: "tokenizer.model", with: "sentencepiece_truncated.model")
        defer { variant.remove() }
        let testCase = MalformedInputs.Case<MiniGeminiError>("sentencepiece_truncated.model") {
            if case .tokenizer(.invalidModelProto) = $0 { true } else { false }
        }
        MalformedInputs.expect(testCase) { () throws(MiniGeminiError) in
            _ = try MiniGemini(directory: variant.folder, options: .init(visionTower: variant.visionTower, visionTowerAux: variant.visionTowerAux))
        }
    }
}

/// A temporary copy of a fixture checkpoint (files symlinked) with one file replaced by a corpus
/// file.
struct MalformedCheckpoint {
    let folder: URL
    let visionTower: URL
    let visionTowerAux: URL

    init(of name: String = "MGM-7B-tiny", replacing target: String, with corpusFile: String) throws {
        let source = try EndToEndFixtures.checkpoint(name)
        let zoo = try EndToEndFixtures.root.appendingPathComponent("Checkpoints/model_zoo/OpenAI")
        visionTower = zoo.appendingPathComponent("clip-vit-large-patch14-336")
        visionTowerAux = zoo.appendingPathComponent("openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-malformed-\(UUID().uuidString)/\(name)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: source.path) where file != target {
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(file), withDestinationURL: source.appendingPathComponent(file))
        }
        try FileManager.default.copyItem(
            at: try MalformedInputs.folder.appendingPathComponent(corpusFile), to: folder.appendingPathComponent(target))
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder.deletingLastPathComponent())
    }
}
