import Foundation
import MGTensor
import MGTestSupport
import Testing

@testable import MGVision

/// The shared golden reader (qualified: the image tests of this target have their own `Golden`).
typealias TowerGolden = MGTestSupport.Golden

/// An in-memory ``WeightStore`` for tests: renamed golden weights, converted dtypes, random
/// real-size weights.
struct MemoryWeightStore: WeightStore {
    let tensors: [String: Tensor]
    let names: [String]

    init(_ tensors: [String: Tensor]) {
        self.tensors = tensors
        self.names = tensors.keys.sorted()
    }

    /// The tensors of `store` whose names start with `from`, renamed to start with `to`, plus `extra`.
    init(renaming store: some WeightStore, from: String, to: String, extra: [String: Tensor] = [:]) throws {
        var tensors = extra
        for name in store.names(withPrefix: from) {
            tensors[to + name.dropFirst(from.count)] = try store.tensor(named: name)
        }
        self.init(tensors)
    }

    func contains(_ name: String) -> Bool { tensors[name] != nil }

    func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let tensor = tensors[name] else { throw .tensorNotFound(path: "memory", tensor: name) }
        return tensor
    }
}

/// Whether the tests were compiled with optimisation: the real-size towers take minutes at -Onone.
#if DEBUG
    private let isOptimizedBuild = false
#else
    private let isOptimizedBuild = true
#endif

/// The real Mini-Gemini towers (ViT-L/14-336, ConvNeXt-L at 768) with deterministic random weights
/// generated here, checked for output shapes and against 4096 sampled outputs of the PyTorch
/// reference run on the same weights (Tools/goldens/vision_towers.py `real_size_goldens`; relative
/// error ≤ 1e-4), with timings and peak memory printed.
/// Run with `swift test -c release -Xswiftc -enable-testing --filter ConvNeXtCLIPRealSizeTests`.
@Suite(.serialized) struct ConvNeXtCLIPRealSizeTests {
    /// Uniform weights, mirrored by `real_size_weights` in Tools/goldens/vision_towers.py: tensor
    /// `k` of the list uses seed `seed + k`; rank-1 `*.weight` (norm scales) in [0.5, 1.5), `gamma`
    /// in [1/16, 3/16), other rank-1 tensors in [−1/8, 1/8), matrices and kernels in ±√(3/fan_in).
    static func randomStore(shapes: [(String, [Int])], seed: UInt64) throws -> MemoryWeightStore {
        var tensors = [String: Tensor]()
        for (offset, (name, shape)) in shapes.enumerated() {
            let (low, high): (Float, Float)
            if name.hasSuffix("gamma") {
                (low, high) = (0.0625, 0.1875)
            } else if shape.count == 1 {
                (low, high) = name.hasSuffix(".weight") ? (0.5, 1.5) : (-0.125, 0.125)
            } else {
                let bound = (3 / Float(shape.dropFirst().reduce(1, *))).squareRoot()
                (low, high) = (-bound, bound)
            }
            tensors[name] = try DeterministicData.tensor(seed: seed + UInt64(offset), shape: shape, low: low, high: high)
        }
        return MemoryWeightStore(tensors)
    }

    static func clipShapes(_ c: CLIPVisionConfiguration, layers: Int) -> [(String, [Int])] {
        let p = "vision_model.", h = c.hiddenSize, i = c.intermediateSize
        var shapes: [(String, [Int])] = [
            (p + "embeddings.patch_embedding.weight", [h, 3, c.patchSize, c.patchSize]),
            (p + "embeddings.class_embedding", [h]), (p + "embeddings.position_embedding.weight", [c.patchCount + 1, h]),
            (p + "pre_layrnorm.weight", [h]), (p + "pre_layrnorm.bias", [h]),
        ]
        for l in 0..<layers {
            let q = p + "encoder.layers.\(l)."
            for norm in ["layer_norm1", "layer_norm2"] { shapes += [(q + norm + ".weight", [h]), (q + norm + ".bias", [h])] }
            for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                shapes += [(q + "self_attn.\(proj).weight", [h, h]), (q + "self_attn.\(proj).bias", [h])]
            }
            shapes += [(q + "mlp.fc1.weight", [i, h]), (q + "mlp.fc1.bias", [i]), (q + "mlp.fc2.weight", [h, i]), (q + "mlp.fc2.bias", [h])]
        }
        return shapes
    }

    static func convNeXtShapes(_ c: ConvNeXtConfiguration) -> [(String, [Int])] {
        let p = "visual.trunk."
        var shapes: [(String, [Int])] = [
            (p + "stem.0.weight", [c.widths[0], 3, 4, 4]), (p + "stem.0.bias", [c.widths[0]]),
            (p + "stem.1.weight", [c.widths[0]]), (p + "stem.1.bias", [c.widths[0]]),
        ]
        for (s, width) in c.widths.enumerated() {
            let q = p + "stages.\(s)."
            if s > 0 {
                let previous = c.widths[s - 1]
                shapes += [
                    (q + "downsample.0.weight", [previous]), (q + "downsample.0.bias", [previous]),
                    (q + "downsample.1.weight", [width, previous, 2, 2]), (q + "downsample.1.bias", [width]),
                ]
            }
            for b in 0..<c.depths[s] {
                let r = q + "blocks.\(b)."
                shapes += [
                    (r + "conv_dw.weight", [width, 1, 7, 7]), (r + "conv_dw.bias", [width]),
                    (r + "norm.weight", [width]), (r + "norm.bias", [width]),
                    (r + "mlp.fc1.weight", [4 * width, width]), (r + "mlp.fc1.bias", [4 * width]),
                    (r + "mlp.fc2.weight", [width, 4 * width]), (r + "mlp.fc2.bias", [width]), (r + "gamma", [width]),
                ]
            }
        }
        return shapes
    }

    /// Peak resident set size since the last reset, in MiB (Linux `VmHWM`).
    static func peakResidentMiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return -1 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1) / 1024
    }

    /// Resets `VmHWM` to the current RSS, so the next reading covers only what follows.
    static func resetPeakResident() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    static func timed<T>(_ label: String, repeats: Int = 2, _ body: () throws -> T) rethrows -> T {
        var result: T?
        for run in 1...repeats {
            let start = ContinuousClock.now
            result = try body()
            print("[towers] \(label) run \(run): \(ContinuousClock.now - start), peak RSS \(peakResidentMiB()) MiB")
        }
        return result!
    }

    @Test(.enabled(if: isOptimizedBuild, "real-size towers take minutes at -Onone; run in release"))
    func clipViTLarge336() throws {
        let configuration = CLIPVisionConfiguration.vitLarge14x336
        let store = try Self.randomStore(shapes: Self.clipShapes(configuration, layers: 24), seed: 1000)
        let tower = try CLIPVisionTower(configuration: configuration, weights: store)
        #expect(tower.selectedHiddenState == 23)
        let pixels = try DeterministicData.tensor(seed: 5, shape: [1, 3, 336, 336], low: -2, high: 2)
        Self.resetPeakResident()
        let tokens = try Self.timed("CLIP ViT-L/14-336, 23 layers") { try tower.encode(pixels) }
        #expect(tokens.shape == [1, 576, 1024])
        let golden = try TowerGolden("tw_clip_large", bundle: .module)
        let error = relativeError(try sampled(tokens, at: golden.tensor("indices")), try golden.tensor("values").floats())
        print("[towers] CLIP ViT-L/14-336 relative error \(error)")
        #expect(error <= 1e-4)
    }

    @Test(.enabled(if: isOptimizedBuild, "real-size towers take minutes at -Onone; run in release"))
    func convNeXtLarge768() throws {
        let configuration = ConvNeXtConfiguration.large
        let store = try Self.randomStore(shapes: Self.convNeXtShapes(configuration), seed: 2000)
        let tower = try ConvNeXtTower(configuration: configuration, weights: store)
        let pixels = try DeterministicData.tensor(seed: 6, shape: [1, 3, 768, 768], low: -2, high: 2)
        Self.resetPeakResident()
        let stages = try Self.timed("ConvNeXt-L 768, stages") { try tower.stageOutputs(pixels) }
        #expect(stages.map(\.shape) == [[1, 192, 192, 192], [1, 384, 96, 96], [1, 768, 48, 48], [1, 1536, 24, 24]])
        let golden = try TowerGolden("tw_convnext_large", bundle: .module)
        for (index, stage) in stages.enumerated() {
            let error = relativeError(
                try sampled(stage, at: golden.tensor("stage\(index)_indices")), try golden.tensor("stage\(index)_values").floats())
            print("[towers] ConvNeXt-L stage \(index) relative error \(error)")
            #expect(error <= 1e-4)
        }
        let map = try Self.timed("ConvNeXt-L 768, fusion", repeats: 1) { try ConvNeXtTower.fuse(stages) }
        #expect(map.shape == [1, 2880, 192, 192])
        let error = relativeError(try sampled(map, at: golden.tensor("fused_indices")), try golden.tensor("fused_values").floats())
        print("[towers] ConvNeXt-L fused map relative error \(error)")
        #expect(error <= 1e-4)
    }
}
