import Foundation
import MGTensor
import MGTestSupport
import Testing

extension Golden {
    /// A fixture of this test target, written by `Tools/goldens/vision_preprocessing.py`.
    init(vision name: String) throws {
        try self.init(name, bundle: .module)
    }

    /// The bytes of a U8 fixture tensor.
    func bytes(_ name: String) throws -> [UInt8] {
        let tensor = try tensor(name)
        #expect(tensor.dtype == .u8, "\(name) is \(tensor.dtype), expected U8")
        return tensor.withUnsafeBytes { [UInt8]($0) }
    }
}

enum FixturePaths {
    /// A file under the test bundle's `Fixtures` folder, e.g. `images/rgb8_17x9.png`.
    static func fixture(_ relative: String) throws -> String {
        try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures").appendingPathComponent(relative).path
    }

    /// `../shared/images/<name>` relative to the package root, or `nil` (with a printed reason) when absent.
    static func sharedImage(_ name: String) -> String? {
        SharedResources.image(name)
    }
}

/// The checksum the golden script stores for large uint8 stages: Σ word[i]·(2i+1) mod 2^64 over
/// the bytes read as little-endian 64-bit words, zero-padded. Any single changed byte changes it
/// (the word changes by d·2^(8j), 0 < |d| < 256, j < 8, and an odd weight keeps that nonzero).
func checksum(_ bytes: [UInt8]) -> UInt64 {
    var words = [UInt64](repeating: 0, count: (bytes.count + 7) / 8)
    words.withUnsafeMutableBytes { raw in raw.copyBytes(from: bytes) }
    var sum: UInt64 = 0
    var weight: UInt64 = 1
    for word in words {
        sum = sum &+ UInt64(littleEndian: word) &* weight
        weight = weight &+ 2
    }
    return sum
}

/// The flat positions the golden script samples: (k · 2654435761) mod count.
func samplePositions(count: Int, samples: Int) -> [Int] {
    (0..<min(samples, count)).map { ($0 * 2_654_435_761) % count }
}
