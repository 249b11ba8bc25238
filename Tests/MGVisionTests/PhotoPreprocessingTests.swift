import Foundation
import MGTensor
import MGTestSupport
import Testing

@testable import MGVision

/// The official example photos through the whole MGM preprocessing. uint8 stages (the padded image
/// resized to 336, 768 and 1536) must match Pillow exactly (checksum over every byte plus 2048
/// sampled bytes); HR and LR tensors within 1e-6 relative error at 2048 sampled positions.
@Suite("MGM preprocessing of the example photos")
struct PhotoPreprocessingTests {
    private func expectSamples(_ tensor: Tensor, _ key: String, golden: Golden, tolerance: Float = 1e-6) throws {
        let expected = try golden.tensor(key).floats()
        let values = tensor.floats()
        let picked = samplePositions(count: values.count, samples: expected.count).map { values[$0] }
        let error = relativeError(picked, expected)
        #expect(error <= tolerance, "\(key): relative error \(error) at sampled positions")
    }

    @Test("normal (768 / 336) and HD (1536 / 2×2 + global)", arguments: ["extreme_ironing.jpg", "monday.jpg", "waterview.jpg", "woolen.png"])
    func photo(name: String) throws {
        guard let path = FixturePaths.sharedImage(name) else { return }
        let golden = try Golden(vision: "vision_photos")
        let photos: [String: PhotoEntry] = try golden.meta("photos")
        let entry = try #require(photos[name])
        let padded = try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: path))
            .paddedToSquare(background: MGMImagePreprocessor.standard.background)

        let plain = try CLIPImageProcessor(shortestEdge: 336)
        try entry.expectStage("resized336", try plain.resized(padded).pixels, golden: golden, photo: name)

        for preprocessor in [MGMImagePreprocessor.standard, .highDefinition] {
            let side = preprocessor.imageSizeAux
            let resized = try preprocessor.processor.resized(padded)
            try entry.expectStage("resized\(side)", resized.pixels, golden: golden, photo: name)
            let high = try preprocessor.processor.tensor(fromResized: resized)
            #expect(high.shape == [1, 3, side, side])
            try expectSamples(high, "\(name).high\(side)", golden: golden, tolerance: 0)
            let low = try preprocessor.lowResolution(fromHighResolution: high)
            #expect(low.shape == (side == 768 ? [1, 3, 336, 336] : [5, 3, 336, 336]))
            try expectSamples(low, "\(name).\(side == 768 ? "low_normal" : "low_hd")", golden: golden)
        }
    }
}
