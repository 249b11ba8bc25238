import Foundation
import MGLanguage
import MGPipeline
import MGTensor
import MGTestSupport
import MGVision
import Testing

/// The tiny checkpoints and end-to-end goldens written by `Tools/goldens/mgm_checkpoints.py`.
enum EndToEndFixtures {
    static var root: URL {
        get throws { try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures") }
    }

    /// A checkpoint folder under `Fixtures/Checkpoints`.
    static func checkpoint(_ name: String) throws -> URL {
        try root.appendingPathComponent("Checkpoints").appendingPathComponent(name)
    }

    /// The golden case names (`<checkpoint>--<case>`), sorted.
    static let caseNames: [String] = {
        guard let folder = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/EndToEnd"),
              let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        else { return [] }
        return files.filter { $0.hasSuffix(".safetensors") }.map { String($0.dropLast(".safetensors".count)) }.sorted()
    }()

    /// An image a golden names: a committed fixture image, or one of the shared photos (nil, with
    /// a printed reason, when `../shared` is absent).
    static func imagePath(_ name: String) throws -> String? {
        let committed = try root.appendingPathComponent("Images").appendingPathComponent(name).path
        if FileManager.default.fileExists(atPath: committed) { return committed }
        return SharedResources.image(name)
    }
}

/// One end-to-end golden: the request it describes and the tensors and ids it expects.
struct EndToEndCase {
    let name: String
    let golden: SafetensorsFile
    let checkpoint: String
    let question: String
    let imageNames: [String]

    init(_ name: String) throws {
        self.name = name
        golden = try SafetensorsFile(contentsOf: try EndToEndFixtures.root.appendingPathComponent("EndToEnd/\(name).safetensors"))
        checkpoint = try #require(golden.metadata["checkpoint"])
        question = try #require(golden.metadata["question"])
        imageNames = try JSONDecoder().decode([String].self, from: Data(try #require(golden.metadata["images"]).utf8))
    }

    func metaIDs(_ key: String) throws -> [Int] {
        try JSONDecoder().decode([Int].self, from: Data(try #require(golden.metadata[key]).utf8))
    }

    /// Image paths, or nil when one of them is unavailable here.
    func imagePaths() throws -> [String]? {
        var paths: [String] = []
        for name in imageNames {
            guard let path = try EndToEndFixtures.imagePath(name) else { return nil }
            paths.append(path)
        }
        return paths
    }

    /// Greedy decoding of 24 tokens, as the goldens were made.
    static let parameters = GenerationParameters(maximumTokens: 24)

    /// Tolerance (max |a − e| / max |e|) per dumped tensor: the preprocessing is exact arithmetic
    /// on the same floats; everything after a tower accumulates float32 rounding.
    static let tolerances: [String: Float] = [
        "pixels_hr": 1e-6, "pixels_lr": 1e-5, "features_lr": 1e-4, "features_hr": 1e-4, "mined": 1e-4,
        "visual_tokens": 1e-4, "logits_prefill": 1e-4,
    ]

    /// Compares dumped tensors with the golden ones: same names present, same shapes, within
    /// tolerance. The fused HR map is stored as its shape and 4096 sampled elements.
    func expectMatches(_ tensors: [String: Tensor], origin: String) throws {
        if golden.contains("features_hr.samples") {
            let actual = try #require(tensors["features_hr"], "\(name) (\(origin)): features_hr missing")
            let shape = try JSONDecoder().decode([Int].self, from: Data(try #require(golden.metadata["features_hr_shape"]).utf8))
            #expect(actual.shape == shape, "\(name) (\(origin)): features_hr shape \(actual.shape) vs \(shape)")
            if actual.shape == shape {
                let values = sampled(try actual.asFloat32(), at: try golden.tensor(named: "features_hr.indices"))
                let error = relativeError(values, try golden.tensor(named: "features_hr.samples").floats())
                #expect(error <= 1e-4, "\(name) (\(origin)): features_hr relative error \(error) > 1e-4")
            }
        }
        let expectedNames = Set(golden.names).intersection(Self.tolerances.keys)
        let dumped = Set(tensors.keys).subtracting(golden.contains("features_hr.samples") ? ["features_hr"] : [])
        #expect(dumped == expectedNames, "\(name) (\(origin)): dumped tensors \(tensors.keys.sorted()) vs golden \(expectedNames.sorted())")
        for key in expectedNames.sorted() {
            let expected = try golden.tensor(named: key)
            let actual = try #require(tensors[key], "\(name): \(key) missing")
            #expect(actual.shape == expected.shape, "\(name) (\(origin)): \(key) shape \(actual.shape) vs \(expected.shape)")
            guard actual.shape == expected.shape else { continue }
            let error = relativeError(try actual.asFloat32().floats(), try expected.asFloat32().floats())
            let tolerance = try #require(Self.tolerances[key])
            #expect(error <= tolerance, "\(name) (\(origin)): \(key) relative error \(error) > \(tolerance)")
        }
    }
}
