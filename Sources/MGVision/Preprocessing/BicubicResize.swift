import CMGImageCodecs
import MGTensor

extension RGBImage {
    /// Pillow's `image.resize((width, height), Image.BICUBIC)`, bit for bit.
    ///
    /// Pillow resizes separably: a horizontal pass into a uint8 intermediate image, then a vertical
    /// pass, each with Keys' cubic (a = −0.5) widened by the scale factor when downscaling
    /// (anti-aliasing), weights normalised in double precision and applied in 22-bit fixed point
    /// with rounding and clipping. A pass whose axis keeps its size is skipped, as in Pillow, and the
    /// same size returns the image unchanged. The passes run in C on both cores.
    ///
    /// - Throws: ``VisionError/invalidImage(reason:)`` when a target side is not positive or larger
    ///   than `Int32.max`, or the result would not fit in memory.
    public func resizedBicubic(width newWidth: Int, height newHeight: Int) throws(VisionError) -> RGBImage {
        guard newWidth > 0, newHeight > 0, newWidth <= Int(Int32.max), newHeight <= Int(Int32.max) else {
            throw .invalidImage(reason: "resize target \(newWidth)×\(newHeight) is not a valid size")
        }
        let (area, overflow) = newWidth.multipliedReportingOverflow(by: max(newHeight, height))
        guard !overflow, area <= Int.max / 3, width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw .invalidImage(reason: "resize from \(width)×\(height) to \(newWidth)×\(newHeight) is too large")
        }
        var result = self
        if newWidth != width { result = result.bicubicHorizontal(to: newWidth) }
        if newHeight != height { result = result.bicubicVertical(to: newHeight) }
        return result
    }

    private func bicubicHorizontal(to newWidth: Int) -> RGBImage {
        let table = BicubicTable(inSize: width, outSize: newWidth)
        let output = [UInt8](unsafeUninitializedCapacity: newWidth * height * 3) { buffer, initialized in
            let destination = buffer.baseAddress
            pixels.withUnsafeBufferPointer { source in
                // Each row costs about newWidth · taps multiply-adds per channel.
                Parallel.forEachChunk(count: height, minimumChunk: max(1, 65_536 / (newWidth * Int(table.taps)))) { rows in
                    mg_bicubic_horizontal_rgb8(
                        source.baseAddress, Int32(width), destination, Int32(newWidth),
                        Int32(rows.lowerBound), Int32(rows.upperBound), table.taps, table.bounds, table.weights)
                }
            }
            initialized = buffer.count
        }
        return RGBImage(uncheckedWidth: newWidth, height: height, pixels: output)
    }

    private func bicubicVertical(to newHeight: Int) -> RGBImage {
        let table = BicubicTable(inSize: height, outSize: newHeight)
        let output = [UInt8](unsafeUninitializedCapacity: width * newHeight * 3) { buffer, initialized in
            let destination = buffer.baseAddress
            pixels.withUnsafeBufferPointer { source in
                Parallel.forEachChunk(count: newHeight, minimumChunk: max(1, 65_536 / (width * Int(table.taps)))) { rows in
                    mg_bicubic_vertical_rgb8(
                        source.baseAddress, Int32(width), destination,
                        Int32(rows.lowerBound), Int32(rows.upperBound), table.taps, table.bounds, table.weights)
                }
            }
            initialized = buffer.count
        }
        return RGBImage(uncheckedWidth: width, height: newHeight, pixels: output)
    }
}

/// Pillow's per-axis bicubic taps: for each output index its first input index and tap count, and
/// its fixed-point weights (zero-padded to `taps`).
private final class BicubicTable {
    let taps: Int32
    let bounds: UnsafeMutablePointer<Int32>
    let weights: UnsafeMutablePointer<Int32>
    private let outSize: Int

    init(inSize: Int, outSize: Int) {
        self.outSize = outSize
        taps = mg_bicubic_taps(Int32(inSize), Int32(outSize))
        bounds = .allocate(capacity: 2 * outSize)
        weights = .allocate(capacity: outSize * Int(taps))
        mg_bicubic_coefficients(Int32(inSize), Int32(outSize), taps, bounds, weights)
    }

    deinit {
        bounds.deallocate()
        weights.deallocate()
    }
}
