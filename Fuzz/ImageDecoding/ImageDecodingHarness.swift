import MGFuzzSupport
import MGVision

/// The PNG and JPEG harnesses' shared body: bytes through the C decoder shims (the decoder picks
/// the format from the signature, so the two differ only in their seed corpora); an image that
/// decodes must also preprocess, where padding to a square and resizing stress extreme aspect ratios.
public enum ImageDecodingHarness {
    public static func run() throws -> Never {
        let decoder = ImageDecoder(maximumPixels: 1 << 22)
        let preprocessor = try MGMImagePreprocessor(imageSizeAux: 32, lowResolutionSize: 16, grid: 2, global: true)
        FuzzDriver.run { bytes in
            guard let image = try? decoder.decode(bytes) else { return }
            precondition(image.width > 0 && image.height > 0 && image.width * image.height <= decoder.maximumPixels)
            precondition(image.pixels.count == image.width * image.height * 3)
            // The padded square is what costs: bound it so that one input stays far below the timeout.
            if max(image.width, image.height) <= 1024 { _ = try? preprocessor(image) }
        }
    }
}
