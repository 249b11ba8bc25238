import CMGImageCodecs
import Foundation

/// Decodes PNG and JPEG data into ``RGBImage`` with the pixels of Pillow's
/// `Image.open(file).convert("RGB")`, the way the official MGM code loads images.
///
/// - PNG (libpng): every colour type and bit depth, interlaced or not. 16-bit samples keep their
///   high byte, except 16-bit grayscale, which Pillow opens as mode `I;16` and clamps to 255 when
///   converting to RGB (so a 16-bit gray value of 1000 becomes 255, not 3). Palettes (with or
///   without tRNS) and gray expand to RGB; alpha is dropped without compositing; no gamma or ICC.
/// - JPEG (libjpeg-turbo): baseline, progressive and arithmetic-coded 8-bit files with the library
///   defaults Pillow uses (accurate integer IDCT, fancy upsampling). Grayscale replicates to RGB;
///   CMYK and YCCK are read as Adobe-inverted CMYK and converted with Pillow's formula. EXIF
///   orientation is ignored, as in MGM.
///
/// The format comes from the leading bytes, never from a file name. Damaged data throws a
/// ``VisionError``; a file whose header announces more than ``maximumPixels`` pixels is rejected
/// before its pixels are allocated.
///
/// ```swift
/// let image = try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: "photo.jpg"))
/// ```
public struct ImageDecoder: Sendable {
    /// Pillow's decompression-bomb error threshold, `2 · Image.MAX_IMAGE_PIXELS` = 178,956,970
    /// pixels (about 537 MB of RGB): files Pillow refuses to open are refused here too.
    public static let defaultMaximumPixels = 178_956_970

    /// The largest `width · height` accepted; larger images throw
    /// ``VisionError/imageTooLarge(width:height:maximumPixels:)``.
    public var maximumPixels: Int

    /// - Parameter maximumPixels: the pixel limit; values below 1 reject every image.
    public init(maximumPixels: Int = ImageDecoder.defaultMaximumPixels) {
        self.maximumPixels = maximumPixels
    }

    /// Decodes an encoded PNG or JPEG held in memory (`Data`, `[UInt8]`, ...).
    /// - Throws: ``VisionError/unsupportedFormat(detected:)``, ``VisionError/truncatedImage(format:reason:)``,
    ///   ``VisionError/corruptImage(format:reason:)``, ``VisionError/unsupportedImage(format:reason:)``,
    ///   ``VisionError/imageTooLarge(width:height:maximumPixels:)`` or ``VisionError/outOfMemory(format:)``.
    public func decode(_ bytes: some ContiguousBytes) throws(VisionError) -> RGBImage {
        // `withUnsafeBytes` only rethrows untyped errors, so the outcome travels as a Result.
        let outcome: Result<RGBImage, VisionError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(VisionError) -> RGBImage in try decode(buffer: buffer) }
        }
        return try outcome.get()
    }

    /// Reads and decodes the file at `url` (a file URL).
    /// - Throws: ``VisionError/unreadableFile(path:reason:)`` when the file cannot be read, or any
    ///   error of ``decode(_:)``.
    public func decode(contentsOf url: URL) throws(VisionError) -> RGBImage {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw .unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        return try decode(data)
    }

    private func decode(buffer: UnsafeRawBufferPointer) throws(VisionError) -> RGBImage {
        guard let format = ImageFormat.detect(buffer), let base = buffer.baseAddress else {
            throw .unsupportedFormat(detected: ImageFormat.unsupportedName(buffer))
        }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let limit = UInt64(max(0, maximumPixels))
        var result = mg_image_result()
        switch format {
        case .png: mg_decode_png(bytes, buffer.count, limit, &result)
        case .jpeg: mg_decode_jpeg(bytes, buffer.count, limit, &result)
        }
        defer { mg_image_free(result.pixels) }
        let message = withUnsafeBytes(of: result.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let width = Int(result.width), height = Int(result.height)
        switch mg_image_status(UInt32(bitPattern: result.status)) {
        case MG_IMAGE_OK:
            guard let pixels = result.pixels, width > 0, height > 0 else {
                throw .corruptImage(format: format, reason: "decoder returned no pixels")
            }
            let copy = [UInt8](UnsafeBufferPointer(start: pixels, count: width * height * 3))
            return RGBImage(uncheckedWidth: width, height: height, pixels: copy)
        case MG_IMAGE_TRUNCATED: throw .truncatedImage(format: format, reason: message)
        case MG_IMAGE_TOO_LARGE: throw .imageTooLarge(width: width, height: height, maximumPixels: maximumPixels)
        case MG_IMAGE_UNSUPPORTED: throw .unsupportedImage(format: format, reason: message)
        case MG_IMAGE_OUT_OF_MEMORY: throw .outOfMemory(format: format)
        default: throw .corruptImage(format: format, reason: message)
        }
    }
}

extension RGBImage {
    /// Decodes a PNG or JPEG file with the default ``ImageDecoder``.
    /// - Throws: as ``ImageDecoder/decode(contentsOf:)``.
    public init(contentsOf url: URL) throws(VisionError) {
        self = try ImageDecoder().decode(contentsOf: url)
    }

    /// Decodes PNG or JPEG bytes with the default ``ImageDecoder``.
    /// - Throws: as ``ImageDecoder/decode(_:)``.
    public init(encoded bytes: some ContiguousBytes) throws(VisionError) {
        self = try ImageDecoder().decode(bytes)
    }
}
