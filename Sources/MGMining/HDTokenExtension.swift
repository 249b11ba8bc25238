// The HD token extension of the official `encode_images` (mgm/model/mgm_arch.py): the LR image is a
// g×g grid of crops plus one global view; the HR map is split into the same g×g quadrants for the
// crops and downsampled by g (bilinear, scale_factor 1/g) for the global view.
import MGTensor

/// Fuses low-resolution tokens with mined high-resolution detail: `F = L + mine(L, A)`, in the
/// normal layout (one LR image per HR map) or the HD layout (g×g crops + global view).
public struct VisualTokenFuser: Sendable {
    public let miner: any PatchMiner
    /// Crops per side of the LR grid (`image_grid`, 1 or 2).
    public let grid: Int
    /// Whether a global view accompanies the crops (`image_global`).
    public let hasGlobalView: Bool

    public init(miner: any PatchMiner, grid: Int = 1, hasGlobalView: Bool = false) throws(MiningError) {
        guard grid >= 1 else { throw .shapeMismatch("image_grid must be at least 1, got \(grid)") }
        self.miner = miner
        self.grid = grid
        self.hasGlobalView = hasGlobalView
    }

    /// LR images per HR map: g² crops, plus one global view when enabled.
    public var lowResolutionViewsPerImage: Int { grid * grid + (hasGlobalView ? 1 : 0) }

    /// The fused tokens of each image.
    /// - Parameters:
    ///   - tokens: LR tokens `[N·V, T, C]` of V = ``lowResolutionViewsPerImage`` views per image, in
    ///     the official CLIP batch order: all crops of all images (row-major), then all global views.
    ///   - map: the high-resolution feature maps, `[N, C_aux, H, W]`.
    /// - Returns: `[N, V·T, C]`, global view first, then crops row-major (`[global, local]`).
    public func fuse(tokens: Tensor, highResolutionMap map: Tensor) throws(MiningError) -> Tensor {
        guard tokens.rank == 3, map.rank == 4 else {
            throw .shapeMismatch("expected tokens [N·V, T, C] and map [N, C_aux, H, W], got \(tokens.shape) and \(map.shape)")
        }
        let images = map.shape[0]
        let cropCount = grid * grid
        guard tokens.shape[0] == images * lowResolutionViewsPerImage else {
            throw .shapeMismatch("\(tokens.shape[0]) token sets for \(images) images × \(lowResolutionViewsPerImage) views")
        }
        let (t, c) = (tokens.shape[1], tokens.shape[2])
        do {
            if grid == 1 && !hasGlobalView {
                return try add(tokens, miner.mine(tokens: tokens, highResolutionMap: map))
            }
            // Crop tokens first (images × crops), global tokens after them.
            let cropTokens = try slice(tokens, axis: 0, range: 0..<(images * cropCount))
            let (height, width) = (map.shape[2], map.shape[3])
            guard height % grid == 0, width % grid == 0 else {
                throw MiningError.blockMismatch(tokensPerSide: grid, mapHeight: height, mapWidth: width)
            }
            // [N, C_aux, g, H/g, g, W/g] → [N, g, g, C_aux, H/g, W/g] → [N·g², C_aux, H/g, W/g]
            let quadrants = try permute(
                map.reshaped([images, map.shape[1], grid, height / grid, grid, width / grid]), [0, 2, 4, 1, 3, 5]
            ).reshaped([images * cropCount, map.shape[1], height / grid, width / grid])
            let local = try add(cropTokens, miner.mine(tokens: cropTokens, highResolutionMap: quadrants))
                .reshaped([images, cropCount * t, c])
            guard hasGlobalView else { return local }

            let globalTokens = try slice(tokens, axis: 0, range: (images * cropCount)..<tokens.shape[0])
            let globalMap = try interpolateBilinear(map, scaleFactor: 1 / Double(grid))
            let global = try add(globalTokens, miner.mine(tokens: globalTokens, highResolutionMap: globalMap))
            return try concat([global, local], axis: 1)
        } catch let error as MiningError {
            throw error
        } catch let error as TensorError {
            throw .tensor(error)
        } catch {
            throw .shapeMismatch("\(error)")
        }
    }
}
