import Foundation
@testable import MGScenes
import MGVision
import Testing

/// One scene of `Fixtures/scenes.json`, written by `Tools/scenes/make_fixtures.py` from the Python
/// generator the bundled model was trained with.
private struct FixtureScene: Decodable {
    var ranges: String
    var seed: String
    var fnv1a64: String
    var background: [Int]
    var shapes: [[Scalar]]
    var digit: [Int]
    var questions: [[String]]

    enum Scalar: Decodable, Equatable {
        case int(Int), text(String)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Int.self) { self = .int(value) } else { self = .text(try container.decode(String.self)) }
        }
    }
}

private func fixtureScenes() throws -> [FixtureScene] {
    let url = try #require(Bundle.module.url(forResource: "scenes", withExtension: "json", subdirectory: "Fixtures"))
    return try JSONDecoder().decode([FixtureScene].self, from: Data(contentsOf: url))
}

/// FNV-1a, 64 bit, as `fnv1a64` in Tools/scenes/scenes.py.
private func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return value
}

@Suite("Scene generator")
struct SceneGeneratorTests {
    @Test("SplitMix64 gives the reference stream (Steele et al., seed 0)")
    func splitMix() {
        var random = SplitMix64(seed: 0)
        // First outputs of SplitMix64 from state 0, as published with the algorithm.
        #expect(random.next() == 0xE220_A839_7B1D_CDAF)
        #expect(random.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(random.next() == 0x06C4_5D18_8009_454F)
    }

    @Test("Pixels, layout and questions equal the Python generator's for every fixture seed")
    func matchesPython() throws {
        let fixtures = try fixtureScenes()
        #expect(fixtures.count >= 10)
        for fixture in fixtures {
            let seed = try #require(UInt64(fixture.seed))
            let ranges: SceneRanges = fixture.ranges == "training" ? .training : .evaluation
            let scene = try SceneGenerator.scene(seed: seed, ranges: ranges)
            #expect(String(fnv1a64(scene.image.pixels), radix: 16).leftPadded(to: 16) == fixture.fnv1a64, "seed \(seed)")
            #expect([Int(scene.background.red), Int(scene.background.green), Int(scene.background.blue)] == fixture.background)
            let shapes: [[FixtureScene.Scalar]] = scene.shapes.map {
                [.text($0.kind.rawValue), .text($0.color.rawValue), .int($0.x), .int($0.y), .int($0.size)]
            }
            #expect(shapes == fixture.shapes, "seed \(seed)")
            let digit = scene.digit
            #expect([digit.value, digit.x, digit.y, digit.height, digit.width, digit.stroke] == fixture.digit, "seed \(seed)")
            #expect(scene.questions.map { [$0.type.rawValue, $0.question, $0.answer] } == fixture.questions, "seed \(seed)")
        }
    }

    @Test("Scenes stay inside the evaluation domain")
    func domain() throws {
        for seed in UInt64(500)..<UInt64(540) {
            let scene = try SceneGenerator.scene(seed: seed)
            #expect((1...4).contains(scene.shapes.count))
            #expect(scene.shapes.allSatisfy { (36...72).contains($0.size) })
            #expect((9...12).contains(scene.digit.height))
            #expect([scene.background.red, scene.background.green, scene.background.blue].allSatisfy { $0 >= 200 })
            // The only black pixels are the digit's segments.
            var lit = Set<Int>()
            for (x, y, width, height) in SceneRasterizer.segmentRectangles(scene.digit) {
                for row in y..<(y + height) { for column in x..<(x + width) { lit.insert(row * 256 + column) } }
            }
            var black = Set<Int>()
            for index in 0..<(256 * 256) where scene.image.pixels[3 * index..<3 * index + 3].allSatisfy({ $0 == 0 }) { black.insert(index) }
            #expect(black == lit, "seed \(seed)")
            #expect(lit.count >= 2 * scene.digit.height)
            let types = Set(scene.questions.map(\.type))
            #expect(types.isSuperset(of: [.count, .yesNo, .digit]))
        }
    }

    @Test("A circle covers exactly the pixels whose centres lie within its radius")
    func circleCoverage() {
        // Diameter 9: the doubled-coordinate test gives 69 pixels (rows of 5, 7, 9×5, 7, 5).
        var count = 0
        for row in 0..<9 {
            for column in 0..<9 where SceneRasterizer.inside(.circle, column: column, row: row, size: 9, height: 9) { count += 1 }
        }
        #expect(count == 69)
    }

    @Test("Ranges that cannot produce a scene are rejected")
    func invalidRanges() {
        #expect(throws: SceneError.self) { try SceneGenerator.scene(seed: 1, ranges: SceneRanges(shapeSize: 10...300)) }
        #expect(throws: SceneError.self) { try SceneGenerator.scene(seed: 1, ranges: SceneRanges(digitHeight: 2...4)) }
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}

@Suite("Scene accuracy")
struct SceneAccuracyTests {
    @Test("Replies count per type; whitespace around a reply is ignored, case is not")
    func tally() {
        var accuracy = SceneAccuracy()
        let digit = SceneQuestion(type: .digit, question: "What digit is shown?", answer: "7")
        let color = SceneQuestion(type: .color, question: "What color is the circle?", answer: "red")
        let results = [
            accuracy.record(digit, reply: " 7\n"), accuracy.record(digit, reply: "1"), accuracy.record(color, reply: "Red"),
        ]
        #expect(results == [true, false, false])
        #expect(accuracy.accuracy(.digit) == 0.5)
        #expect(accuracy.accuracy(.color) == 0)
        #expect(accuracy.accuracy(.count) == nil)
        #expect(accuracy.table == "color   0/1        0.0 %\ndigit   1/2        50.0 %")
    }
}
