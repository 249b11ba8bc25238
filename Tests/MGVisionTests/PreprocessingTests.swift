import Foundation
import MGTensor
import MGTestSupport
import Testing

@testable import MGVision

/// Resized and padded uint8 images must equal Pillow's exactly; float tensors must be within
/// 1e-6 relative error of transformers' `CLIPImageProcessorPil` (4.36 semantics) and torch.
@Suite("MGM preprocessing")
struct PreprocessingTests {
    struct ResizeCase: Decodable {
        let key: String
        let file: String
        let width: Int
        let height: Int
    }

    struct ClipCase: Decodable {
        let size: Int
        let crop: Int
        let file: String
    }

    private func decode(_ file: String) throws -> RGBImage {
        try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: FixturePaths.fixture(file)))
    }

    private func expectBytes(_ image: RGBImage, _ expected: Tensor, _ label: String) {
        #expect([image.height, image.width, 3] == expected.shape, "\(label): shape")
        let bytes = expected.withUnsafeBytes { [UInt8]($0) }
        let mismatches = zip(image.pixels, bytes).filter { $0 != $1 }.count
        #expect(image.pixels.count == bytes.count && mismatches == 0, "\(label): \(mismatches) bytes differ from Pillow")
    }

    private func expectTensor(_ actual: Tensor, _ expected: Tensor, _ label: String, tolerance: Float = 1e-6) {
        #expect(actual.shape == expected.shape, "\(label): shape \(actual.shape) vs \(expected.shape)")
        guard actual.shape == expected.shape else { return }
        let error = relativeError(actual.floats(), expected.floats())
        #expect(error <= tolerance, "\(label): relative error \(error)")
    }

    @Test("Pillow BICUBIC resize is bit-exact (up, down, one axis, mixed)")
    func bicubicResize() throws {
        let golden = try Golden(vision: "vision_resize")
        let cases: [ResizeCase] = try golden.meta("resizes")
        for item in cases {
            let resized = try decode(item.file).resizedBicubic(width: item.width, height: item.height)
            expectBytes(resized, try golden.tensor(item.key), "\(item.file) → \(item.width)×\(item.height)")
        }
        let wideSource = try golden.tensor("wide_source")
        let wide = try RGBImage(width: 200, height: 3, pixels: wideSource.withUnsafeBytes { [UInt8]($0) })
        expectBytes(try wide.resizedBicubic(width: 7, height: 3), try golden.tensor("wide_to_7x3"), "200×3 → 7×3")
        expectBytes(try wide.resizedBicubic(width: 7, height: 2), try golden.tensor("wide_to_7x2"), "200×3 → 7×2")
        #expect(try wide.resizedBicubic(width: 200, height: 3) == wide)
        #expect(throws: VisionError.self) { try wide.resizedBicubic(width: 0, height: 3) }
    }

    @Test("expand2square pads with int(255·mean) and floor offsets")
    func squarePadding() throws {
        let golden = try Golden(vision: "vision_resize")
        let background = try RGBColor(paddingForMean: CLIPImageProcessor.openAIMean)
        #expect(background == RGBColor(red: 122, green: 116, blue: 104))
        #expect(try golden.meta("background", as: [UInt8].self) == [122, 116, 104])
        expectBytes(try decode("images/rgb8_17x9.png").paddedToSquare(background: background), try golden.tensor("pad_wide"), "17×9")
        expectBytes(try decode("images/rgb8_9x17.png").paddedToSquare(background: background), try golden.tensor("pad_tall"), "9×17")
        let square = try RGBImage(width: 2, height: 2, color: background)
        #expect(square.paddedToSquare(background: RGBColor(red: 0, green: 0, blue: 0)) == square)
    }

    @Test("CLIP image processor: shortest-edge resize, centre crop, rescale, normalise")
    func clipProcessor() throws {
        let golden = try Golden(vision: "vision_resize")
        let cases: [ClipCase] = try golden.meta("clips")
        for item in cases {
            let image = try decode(item.file)
            let processor = try CLIPImageProcessor(shortestEdge: item.size, cropSize: item.crop)
            let label = "CLIP \(item.size)/\(item.crop)"
            expectBytes(try processor.resized(image), try golden.tensor("clip\(item.size)_\(item.crop).resized"), label)
            // Same float32 operations as NumPy, so the values are identical.
            expectTensor(try processor(image), try golden.tensor("clip\(item.size)_\(item.crop).tensor"), label, tolerance: 0)
        }
    }

    @Test("MGM pipeline at toy sizes: HR tensor and LR views (normal and grid 2 + global)")
    func tinyPipeline() throws {
        let golden = try Golden(vision: "vision_resize")
        let image = try decode("images/rgb8_17x9.png")
        let normal = try MGMImagePreprocessor(imageSizeAux: 40, lowResolutionSize: 12)
        let hd = try MGMImagePreprocessor(imageSizeAux: 48, lowResolutionSize: 12, grid: 2, global: true)
        for (label, preprocessor) in [("tiny_normal", normal), ("tiny_hd", hd)] {
            let output = try preprocessor(image)
            expectTensor(output.highResolution, try golden.tensor("\(label).high"), "\(label) HR", tolerance: 0)
            // Tiny bilinear outputs may differ from torch's kernel by an ulp.
            expectTensor(output.lowResolution, try golden.tensor("\(label).low"), "\(label) LR")
        }
        #expect(try hd(image).lowResolutionViews == 5)
        let cropsOnly = try MGMImagePreprocessor(imageSizeAux: 48, lowResolutionSize: 12, grid: 2)
        let crops = try cropsOnly(image).lowResolution
        #expect(crops.shape == [4, 3, 12, 12])
        let hdViews = try golden.tensor("tiny_hd.low").floats()
        #expect(relativeError(crops.floats(), Array(hdViews[0..<(4 * 3 * 144)])) <= 1e-6)
    }

    @Test("preprocessor_config.json decodes in both spellings and drives the preprocessor")
    func configDecoding() throws {
        let openAI = Data("""
            {"crop_size": 336, "do_center_crop": true, "do_normalize": true, "do_resize": true,
             "feature_extractor_type": "CLIPFeatureExtractor",
             "image_mean": [0.48145466, 0.4578275, 0.40821073],
             "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 336}
            """.utf8)
        let config = try CLIPPreprocessorConfig(json: openAI)
        #expect(config.size == .shortestEdge(336))
        #expect(config.cropSize == .shortestEdge(336))
        let modern = Data("""
            {"crop_size": {"height": 336, "width": 336}, "size": {"shortest_edge": 336},
             "do_rescale": true, "rescale_factor": 0.00392156862745098, "do_convert_rgb": true,
             "image_processor_type": "CLIPImageProcessor"}
            """.utf8)
        let modernConfig = try CLIPPreprocessorConfig(json: modern)
        #expect(modernConfig.cropSize == .exact(height: 336, width: 336))
        let fromFile = try MGMImagePreprocessor(config: config, imageSizeAux: 768)
        #expect(fromFile.lowResolutionSize == 336 && fromFile.background == RGBColor(red: 122, green: 116, blue: 104))
        #expect(fromFile.processor == MGMImagePreprocessor.standard.processor)
        #expect(try MGMImagePreprocessor(config: modernConfig, imageSizeAux: 1536, grid: 2, global: true).processor
            == MGMImagePreprocessor.highDefinition.processor)
        #expect(try CLIPImageProcessor(config: .clipViTLarge336) == CLIPImageProcessor(shortestEdge: 336))
    }

    @Test("invalid configurations throw invalidConfiguration")
    func invalidConfigurations() throws {
        func isConfigurationError(_ error: any Error) -> Bool {
            if case VisionError.invalidConfiguration = error { return true }
            return false
        }
        #expect { try MGMImagePreprocessor(imageSizeAux: 0) } throws: { isConfigurationError($0) }
        #expect { try MGMImagePreprocessor(grid: 0) } throws: { isConfigurationError($0) }
        #expect { try MGMImagePreprocessor(mean: [0.5, 0.5]) } throws: { isConfigurationError($0) }
        #expect { try CLIPImageProcessor(shortestEdge: 8, std: [1, 0, 1]) } throws: { isConfigurationError($0) }
        #expect { try CLIPPreprocessorConfig(json: Data("{\"size\": \"big\"}".utf8)) } throws: { isConfigurationError($0) }
        var bilinear = CLIPPreprocessorConfig.clipViTLarge336
        bilinear.resample = 2
        #expect { try CLIPImageProcessor(config: bilinear) } throws: { isConfigurationError($0) }
        var oblong = CLIPPreprocessorConfig.clipViTLarge336
        oblong.cropSize = .exact(height: 336, width: 224)
        #expect { try MGMImagePreprocessor(config: oblong, imageSizeAux: 768) } throws: { isConfigurationError($0) }
        // A crop larger than the resized image.
        let processor = try CLIPImageProcessor(shortestEdge: 8, cropSize: 9)
        #expect { try processor(try RGBImage(width: 8, height: 8, color: RGBColor(red: 0, green: 0, blue: 0))) } throws: {
            isConfigurationError($0)
        }
        #expect(throws: TensorError.self) {
            try MGMImagePreprocessor.standard.lowResolution(fromHighResolution: Tensor.zeros([3, 8, 8]))
        }
    }
}
