/// The three ways the reference libraries turn byte runs that may be malformed UTF-8 into text.
///
/// They differ, and the difference is visible in decoded text (and so in goldens):
/// sentencepiece replaces each byte that does not start a well-formed character by U+FFFD;
/// HF's `ByteFallback` decoder keeps a run only if all of it is valid, otherwise every byte of
/// the run becomes U+FFFD; HF's `ByteLevel` decoder uses Rust's `from_utf8_lossy`, which
/// replaces each maximal invalid subpart by one U+FFFD — the same rule as Swift's
/// `String(decoding:as:)`.
enum UTF8Repair {
    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Length of the well-formed character starting at `index`, or `nil` if it is malformed.
    static func characterLength(in bytes: [UInt8], at index: Int) -> Int? {
        let lead = bytes[index]
        if lead < 0x80 { return 1 }
        let length: Int
        var scalar: UInt32
        switch lead {
        case _ where lead & 0xE0 == 0xC0: length = 2; scalar = UInt32(lead & 0x1F)
        case _ where lead & 0xF0 == 0xE0: length = 3; scalar = UInt32(lead & 0x0F)
        case _ where lead & 0xF8 == 0xF0: length = 4; scalar = UInt32(lead & 0x07)
        default: return nil
        }
        guard index + length <= bytes.count else { return nil }
        for offset in 1..<length {
            let trail = bytes[index + offset]
            guard trail & 0xC0 == 0x80 else { return nil }
            scalar = scalar << 6 | UInt32(trail & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return nil }
        return length
    }

    /// sentencepiece: every byte that does not start a well-formed character becomes U+FFFD.
    static func replacingEachInvalidByte(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if let length = characterLength(in: bytes, at: index) {
                output.append(contentsOf: bytes[index..<(index + length)])
                index += length
            } else {
                output.append(contentsOf: replacement)
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// HF `ByteFallback`: the run as text if it is entirely valid, else one U+FFFD per byte.
    static func allOrEachByteReplaced(_ bytes: [UInt8]) -> String {
        var index = 0
        while index < bytes.count {
            guard let length = characterLength(in: bytes, at: index) else {
                return String(repeating: "\u{FFFD}", count: bytes.count)
            }
            index += length
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Rust's `String::from_utf8_lossy` (maximal invalid subparts become one U+FFFD each).
    static func lossy(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
