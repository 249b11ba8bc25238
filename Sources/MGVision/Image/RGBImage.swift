/// An 8-bit RGB image: `height` rows of `width` pixels, each pixel three bytes (red, green, blue),
/// rows stored top to bottom without padding.
///
/// This is the pixel type of Pillow's `Image.convert("RGB")`, on which the MGM preprocessing is
/// defined. Decode one with ``ImageDecoder`` or build it from bytes.
public struct RGBImage: Sendable, Equatable {
    /// Pixels per row (positive).
    public let width: Int
    /// Number of rows (positive).
    public let height: Int
    /// `width · height · 3` bytes, row-major, interleaved RGB.
    public let pixels: [UInt8]

    /// Wraps interleaved RGB bytes.
    /// - Throws: ``VisionError/invalidImage(reason:)`` when a side is not positive or
    ///   `pixels.count` is not `width · height · 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) throws(VisionError) {
        guard width > 0, height > 0 else {
            throw .invalidImage(reason: "size \(width)×\(height) is not positive")
        }
        let (area, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, area <= Int.max / 3, pixels.count == area * 3 else {
            throw .invalidImage(reason: "\(pixels.count) bytes do not hold \(width)×\(height) RGB pixels")
        }
        self.init(uncheckedWidth: width, height: height, pixels: pixels)
    }

    /// An image of one colour.
    /// - Throws: ``VisionError/invalidImage(reason:)`` when a side is not positive or too large.
    public init(width: Int, height: Int, color: RGBColor) throws(VisionError) {
        guard width > 0, height > 0 else {
            throw .invalidImage(reason: "size \(width)×\(height) is not positive")
        }
        let (area, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, area <= Int.max / 3 else { throw .invalidImage(reason: "size \(width)×\(height) is too large") }
        let pixels = [UInt8](unsafeUninitializedCapacity: area * 3) { buffer, initialized in
            for index in 0..<area {
                buffer[3 * index] = color.red
                buffer[3 * index + 1] = color.green
                buffer[3 * index + 2] = color.blue
            }
            initialized = area * 3
        }
        self.init(uncheckedWidth: width, height: height, pixels: pixels)
    }

    /// For callers that produced `pixels` with the right count themselves.
    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The pixel in column `x` and row `y` (both must be in range).
    public subscript(x: Int, y: Int) -> RGBColor {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) is outside \(width)×\(height)")
        let offset = (y * width + x) * 3
        return RGBColor(red: pixels[offset], green: pixels[offset + 1], blue: pixels[offset + 2])
    }
}

/// One 8-bit RGB colour.
public struct RGBColor: Sendable, Hashable, CustomStringConvertible {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    public var description: String { "(\(red), \(green), \(blue))" }
}
