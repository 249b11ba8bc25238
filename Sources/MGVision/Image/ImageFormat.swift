/// The encoded image formats MGVision decodes, recognised by their leading bytes.
public enum ImageFormat: String, Sendable, Equatable, CustomStringConvertible {
    case png = "PNG"
    case jpeg = "JPEG"

    public var description: String { rawValue }

    /// The format whose signature starts `bytes`, or `nil`.
    ///
    /// The file name extension is never consulted: a `.jpg` that holds PNG data decodes as PNG,
    /// as Pillow does.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    /// Names a common format that MGVision recognises but does not decode, for error messages.
    static func unsupportedName(_ bytes: UnsafeRawBufferPointer) -> String? {
        func ascii(_ text: String, at offset: Int = 0) -> Bool {
            let pattern = Array(text.utf8)
            guard bytes.count >= offset + pattern.count else { return false }
            return bytes[offset..<(offset + pattern.count)].elementsEqual(pattern)
        }
        if ascii("GIF87a") || ascii("GIF89a") { return "GIF" }
        if ascii("RIFF") && ascii("WEBP", at: 8) { return "WebP" }
        if ascii("BM") { return "BMP" }
        if ascii("II*\u{0}") || ascii("MM\u{0}*") { return "TIFF" }
        if ascii("ftypavif", at: 4) || ascii("ftypavis", at: 4) { return "AVIF" }
        if ascii("ftypheic", at: 4) || ascii("ftypheix", at: 4) || ascii("ftypmif1", at: 4) { return "HEIF" }
        return nil
    }
}
