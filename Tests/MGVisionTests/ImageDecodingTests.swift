import Foundation
import MGTensor
import MGTestSupport
import Testing

@testable import MGVision

/// Decoded pixels must equal Pillow's `Image.open(f).convert("RGB")` exactly (tolerance 0).
@Suite("Image decoding")
struct ImageDecodingTests {
    struct Case: Decodable, CustomTestStringConvertible {
        let file: String
        let pillow_mode: String
        let width: Int
        let height: Int
        var testDescription: String { "\(file) (Pillow mode \(pillow_mode))" }
    }

    struct ErrorCase: Decodable {
        let file: String
        let error: String
        let pillow: String
    }

    @Test("synthetic PNG and JPEG files decode to Pillow's pixels")
    func syntheticFiles() throws {
        let golden = try Golden(vision: "vision_decoding")
        let cases: [Case] = try golden.meta("cases")
        #expect(cases.count >= 25)
        for item in cases {
            let image = try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: FixturePaths.fixture(item.file)))
            #expect(image.width == item.width && image.height == item.height, "\(item.file)")
            let expected = try golden.bytes(String(item.file.dropFirst("images/".count)))
            let mismatches = zip(image.pixels, expected).filter { $0 != $1 }.count
            #expect(image.pixels.count == expected.count && mismatches == 0,
                    "\(item.testDescription): \(mismatches) of \(expected.count) bytes differ")
        }
    }

    @Test("16-bit grayscale clamps to 255 like Pillow's I;16 → RGB, other 16-bit data keeps the high byte")
    func sixteenBitSemantics() throws {
        let gray = try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: FixturePaths.fixture("images/gray16_9x5.png")))
        // First row holds 0, 1, 100, 254, 255, 256, 1000, 40000, 65535.
        #expect((0..<9).map { gray[$0, 0].red } == [0, 1, 100, 254, 255, 255, 255, 255, 255])
        #expect(gray[3, 0] == RGBColor(red: 254, green: 254, blue: 254))
    }

    @Test("damaged files throw the expected typed errors")
    func damagedFiles() throws {
        let cases: [ErrorCase] = try Golden(vision: "vision_decoding").meta("errors")
        #expect(cases.count == 6)
        for item in cases {
            let path = try FixturePaths.fixture(item.file)
            let format: ImageFormat = item.file.hasSuffix(".png") ? .png : .jpeg
            do {
                let image = try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: path))
                Issue.record("\(item.file) decoded to \(image.width)×\(image.height); Pillow: \(item.pillow)")
            } catch {
                switch (item.error, error) {
                case ("truncated", .truncatedImage(let f, _)), ("corrupt", .corruptImage(let f, _)):
                    #expect(f == format, "\(item.file)")
                default:
                    Issue.record("\(item.file): expected \(item.error), got \(error)")
                }
            }
        }
    }

    @Test("the pixel limit is checked from the header, inclusive")
    func pixelLimit() throws {
        let path = try FixturePaths.fixture("images/baseline420_33x17.jpg")
        #expect(throws: VisionError.imageTooLarge(width: 33, height: 17, maximumPixels: 560)) {
            try ImageDecoder(maximumPixels: 560).decode(contentsOf: URL(fileURLWithPath: path))
        }
        #expect(try ImageDecoder(maximumPixels: 561).decode(contentsOf: URL(fileURLWithPath: path)).width == 33)
        let png = try FixturePaths.fixture("images/rgb8_interlaced_19x13.png")
        #expect(throws: VisionError.imageTooLarge(width: 19, height: 13, maximumPixels: 100)) {
            try ImageDecoder(maximumPixels: 100).decode(contentsOf: URL(fileURLWithPath: png))
        }
        #expect(ImageDecoder().maximumPixels == 178_956_970)
    }

    /// A PNG signature and an RGB8 IHDR chunk (valid CRC) with no image data after it.
    private func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        func bigEndian(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
        let chunk: [UInt8] = Array("IHDR".utf8) + bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0]
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in chunk {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + bigEndian(13) + chunk + bigEndian(~crc)
    }

    @Test("a PNG header announcing a huge image fails before allocating; missing data is truncation")
    func hostileDimensions() throws {
        #expect(throws: VisionError.imageTooLarge(width: 100_000, height: 100_000, maximumPixels: 178_956_970)) {
            try ImageDecoder().decode(pngHeader(width: 100_000, height: 100_000))
        }
        #expect {
            try ImageDecoder().decode(pngHeader(width: 4, height: 4))
        } throws: { error in
            if case VisionError.truncatedImage(.png, _) = error { return true }
            return false
        }
    }

    @Test("formats are detected from magic bytes, not names")
    func formatDetection() throws {
        #expect(throws: VisionError.unsupportedFormat(detected: "GIF")) {
            try ImageDecoder().decode(Array("GIF89a\u{1}\u{0}\u{1}\u{0}".utf8))
        }
        #expect(throws: VisionError.unsupportedFormat(detected: "WebP")) {
            try ImageDecoder().decode(Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8))
        }
        #expect(throws: VisionError.unsupportedFormat(detected: nil)) { try ImageDecoder().decode([UInt8]()) }
        #expect(throws: VisionError.unsupportedFormat(detected: nil)) { try ImageDecoder().decode(Data("hello".utf8)) }
        // A bare JPEG signature, then nothing.
        #expect(throws: VisionError.self) { try ImageDecoder().decode([0xFF, 0xD8, 0xFF] as [UInt8]) }
        let png = try Data(contentsOf: URL(fileURLWithPath: FixturePaths.fixture("images/rgb8_17x9.png")))
        #expect(try RGBImage(encoded: png).width == 17)
    }

    @Test("a missing file is an unreadableFile error")
    func missingFile() {
        #expect {
            try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: "/nonexistent/image.png"))
        } throws: { error in
            if case VisionError.unreadableFile(let path, _) = error { return path == "/nonexistent/image.png" }
            return false
        }
    }

    @Test("RGBImage validates its buffer")
    func imageValidation() throws {
        #expect(throws: VisionError.self) { try RGBImage(width: 2, height: 2, pixels: [0, 0, 0]) }
        #expect(throws: VisionError.self) { try RGBImage(width: 0, height: 2, pixels: []) }
        let image = try RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        #expect(image[1, 0] == RGBColor(red: 4, green: 5, blue: 6))
        #expect(try RGBImage(width: 3, height: 2, color: RGBColor(red: 9, green: 8, blue: 7)).pixels.suffix(3) == [9, 8, 7])
    }

    @Test("the example photos decode to Pillow's pixels", arguments: ["extreme_ironing.jpg", "monday.jpg", "waterview.jpg", "woolen.png"])
    func photos(name: String) throws {
        guard let path = FixturePaths.sharedImage(name) else { return }
        let golden = try Golden(vision: "vision_photos")
        let photos: [String: PhotoEntry] = try golden.meta("photos")
        let entry = try #require(photos[name])
        let image = try ImageDecoder().decode(contentsOf: URL(fileURLWithPath: path))
        #expect(image.width == entry.width && image.height == entry.height)
        try entry.expectStage("decoded", image.pixels, golden: golden, photo: name)
    }
}

/// One photo of `vision_photos.safetensors`.
struct PhotoEntry: Decodable {
    let width: Int
    let height: Int
    let checksums: [String: String]

    /// Expects `pixels` to match the stage's checksum and sampled bytes.
    func expectStage(_ stage: String, _ pixels: [UInt8], golden: Golden, photo: String) throws {
        let expectedChecksum = try #require(checksums[stage].flatMap { UInt64($0) })
        let samples = try golden.bytes("\(photo).\(stage)")
        let picked = samplePositions(count: pixels.count, samples: samples.count).map { pixels[$0] }
        let mismatches = zip(picked, samples).filter { $0 != $1 }.count
        #expect(mismatches == 0, "\(photo) \(stage): \(mismatches) of \(samples.count) sampled bytes differ")
        #expect(checksum(pixels) == expectedChecksum, "\(photo) \(stage): checksum differs")
    }
}
