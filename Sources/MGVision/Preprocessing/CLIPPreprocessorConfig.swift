import Foundation

/// The fields of a HF `preprocessor_config.json` for `CLIPImageProcessor` that preprocessing uses.
///
/// Both spellings in circulation decode: the original OpenAI files give `size` and `crop_size`
/// as plain integers (`"size": 336`), newer ones as objects (`{"shortest_edge": 336}`,
/// `{"height": 336, "width": 336}`). Absent fields take `CLIPImageProcessor`'s defaults.
public struct CLIPPreprocessorConfig: Codable, Sendable, Equatable {
    /// A `size` or `crop_size` entry.
    public enum Size: Codable, Sendable, Equatable {
        /// Resize so that the shorter side has this length (also how a bare integer `size` reads).
        case shortestEdge(Int)
        /// An exact `height × width`.
        case exact(height: Int, width: Int)

        private enum CodingKeys: String, CodingKey {
            case shortestEdge = "shortest_edge", height, width
        }

        public init(from decoder: any Decoder) throws {
            if let single = try? decoder.singleValueContainer(), let value = try? single.decode(Int.self) {
                self = .shortestEdge(value)
                return
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let edge = try container.decodeIfPresent(Int.self, forKey: .shortestEdge) {
                self = .shortestEdge(edge)
            } else {
                self = .exact(
                    height: try container.decode(Int.self, forKey: .height),
                    width: try container.decode(Int.self, forKey: .width))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .shortestEdge(let edge): try container.encode(edge, forKey: .shortestEdge)
            case .exact(let height, let width):
                try container.encode(height, forKey: .height)
                try container.encode(width, forKey: .width)
            }
        }

        /// The `(height, width)` of a crop; a bare integer means a square.
        var cropDimensions: (height: Int, width: Int) {
            switch self {
            case .shortestEdge(let side): (side, side)
            case .exact(let height, let width): (height, width)
            }
        }
    }

    public var size: Size?
    public var cropSize: Size?
    public var doResize: Bool?
    public var doCenterCrop: Bool?
    public var doRescale: Bool?
    public var doNormalize: Bool?
    public var doConvertRGB: Bool?
    public var rescaleFactor: Double?
    public var imageMean: [Double]?
    public var imageStd: [Double]?
    /// Pillow filter id; only 3 (bicubic) is implemented.
    public var resample: Int?

    private enum CodingKeys: String, CodingKey {
        case size, cropSize = "crop_size", doResize = "do_resize", doCenterCrop = "do_center_crop"
        case doRescale = "do_rescale", doNormalize = "do_normalize", doConvertRGB = "do_convert_rgb"
        case rescaleFactor = "rescale_factor", imageMean = "image_mean", imageStd = "image_std"
        case resample
    }

    /// A configuration with every field absent (all defaults).
    public init() {}

    /// The preprocessor of `openai/clip-vit-large-patch14-336`, the LR tower of every MGM release.
    public static let clipViTLarge336: CLIPPreprocessorConfig = {
        var config = CLIPPreprocessorConfig()
        config.size = .shortestEdge(336)
        config.cropSize = .exact(height: 336, width: 336)
        config.doResize = true
        config.doCenterCrop = true
        config.doNormalize = true
        config.imageMean = CLIPImageProcessor.openAIMean
        config.imageStd = CLIPImageProcessor.openAIStd
        config.resample = 3
        return config
    }()

    /// Decodes `preprocessor_config.json` from `data`.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` when the JSON does not decode.
    public init(json data: Data) throws(VisionError) {
        do {
            self = try JSONDecoder().decode(CLIPPreprocessorConfig.self, from: data)
        } catch {
            throw .invalidConfiguration(reason: "preprocessor_config.json does not decode: \(error)")
        }
    }

    /// Reads and decodes the `preprocessor_config.json` at `url`.
    /// - Throws: ``VisionError/unreadableFile(path:reason:)`` or ``VisionError/invalidConfiguration(reason:)``.
    public init(contentsOf url: URL) throws(VisionError) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        try self.init(json: data)
    }
}
