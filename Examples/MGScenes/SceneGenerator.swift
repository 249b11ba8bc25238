import MGVision

/// Why a scene cannot be generated.
public enum SceneError: Error, Equatable, CustomStringConvertible {
    /// The ranges cannot produce a scene (e.g. a shape larger than the image).
    case invalidRanges(reason: String)

    public var description: String {
        switch self {
        case .invalidRanges(let reason): "invalid scene ranges: \(reason)"
        }
    }
}

/// Generates the procedural scenes of the bundled demo model: 256×256 images with 1–4 filled
/// shapes and one seven-segment digit, plus questions with one-word answers.
///
/// The same seed gives the same pixels and questions as `Tools/scenes/scenes.py`, which the model
/// was trained with; the layout and rasterisation rules are specified there and use integers
/// only.
///
/// ```swift
/// let scene = try SceneGenerator.scene(seed: 42)
/// for question in scene.questions { print(question.question, "→", question.answer) }
/// ```
public enum SceneGenerator {
    /// Side of every scene image.
    public static let side = 256

    /// The scene of `seed`.
    /// - Throws: ``SceneError/invalidRanges(reason:)`` when `ranges` cannot produce a scene.
    public static func scene(seed: UInt64, ranges: SceneRanges = .evaluation) throws(SceneError) -> Scene {
        try validate(ranges)
        var random = SplitMix64(seed: seed)
        // A layout fails only when no digit position is free; the stream simply continues.
        while true {
            if let (background, shapes, digit) = layout(&random, ranges) {
                let image = SceneRasterizer.render(background: background, shapes: shapes, digit: digit)
                return Scene(
                    seed: seed, background: background, shapes: shapes, digit: digit, image: image,
                    questions: questions(shapes: shapes, digit: digit))
            }
        }
    }

    /// Every question the scene supports, in the fixed order of the specification.
    public static func questions(shapes: [SceneShape], digit: SceneDigit) -> [SceneQuestion] {
        var result: [SceneQuestion] = []
        for kind in SceneShapeKind.allCases {
            let matching = shapes.filter { $0.kind == kind }
            if matching.count == 1 {
                result.append(.init(type: .color, question: "What color is the \(kind.rawValue)?", answer: matching[0].color.rawValue))
            }
        }
        for color in SceneColor.allCases {
            let matching = shapes.filter { $0.color == color }
            if matching.count == 1 {
                result.append(.init(type: .shape, question: "What shape is \(color.rawValue)?", answer: matching[0].kind.rawValue))
            }
        }
        result.append(.init(type: .count, question: "How many shapes are there?", answer: String(shapes.count)))
        for kind in SceneShapeKind.allCases {
            let present = shapes.contains { $0.kind == kind }
            result.append(.init(type: .yesNo, question: "Is there a \(kind.rawValue)?", answer: present ? "yes" : "no"))
        }
        result.append(.init(type: .digit, question: "What digit is shown?", answer: String(digit.value)))
        return result
    }

    private static func validate(_ ranges: SceneRanges) throws(SceneError) {
        guard ranges.shapeCount.lowerBound >= 0 else { throw .invalidRanges(reason: "negative shape count") }
        guard ranges.shapeSize.lowerBound >= 1, ranges.shapeSize.upperBound <= side else {
            throw .invalidRanges(reason: "shape sizes \(ranges.shapeSize) must lie in 1...\(side)")
        }
        guard (0...255).contains(ranges.backgroundMinimum) else {
            throw .invalidRanges(reason: "background minimum \(ranges.backgroundMinimum) is not a channel value")
        }
        guard ranges.stroke.lowerBound >= 1, ranges.digitHeight.lowerBound >= 3 * ranges.stroke.upperBound,
            ranges.digitHeight.upperBound <= side - 4
        else {
            throw .invalidRanges(reason: "digit heights \(ranges.digitHeight) need at least 3 strokes of \(ranges.stroke) and must fit the image")
        }
        guard ranges.gap >= 0, ranges.digitGap >= 0 else { throw .invalidRanges(reason: "gaps must not be negative") }
    }

    /// Boxes (x, y, w, h) that keep at least `gap` free pixels between them along one axis.
    private static func apart(_ a: (Int, Int, Int, Int), _ b: (Int, Int, Int, Int), gap: Int) -> Bool {
        a.0 + a.2 + gap <= b.0 || b.0 + b.2 + gap <= a.0 || a.1 + a.3 + gap <= b.1 || b.1 + b.3 + gap <= a.1
    }

    private static func layout(
        _ random: inout SplitMix64, _ ranges: SceneRanges
    ) -> (RGBColor, [SceneShape], SceneDigit)? {
        let channels = (0..<3).map { _ in UInt8(random.int(in: ranges.backgroundMinimum...255)) }
        let background = RGBColor(red: channels[0], green: channels[1], blue: channels[2])
        var shapes: [SceneShape] = []
        for _ in 0..<random.int(in: ranges.shapeCount) {
            let kind = SceneShapeKind.allCases[random.int(in: 0...2)]
            let color = SceneColor.allCases[random.int(in: 0...4)]
            let size = random.int(in: ranges.shapeSize)
            var shape = SceneShape(kind: kind, color: color, x: 0, y: 0, size: size)
            let height = shape.height
            for _ in 0..<100 {
                shape.x = random.int(in: 0...(side - size))
                shape.y = random.int(in: 0...(side - height))
                let box = (shape.x, shape.y, size, height)
                if shapes.allSatisfy({ apart(box, ($0.x, $0.y, $0.size, $0.height), gap: ranges.gap) }) {
                    shapes.append(shape)
                    break
                }
            }
        }
        let value = random.int(in: 0...9)
        let height = random.int(in: ranges.digitHeight)
        let width = (6 * height + 5) / 10
        let stroke = random.int(in: ranges.stroke)
        for _ in 0..<1000 {
            let x = random.int(in: 2...(side - 2 - width))
            let y = random.int(in: 2...(side - 2 - height))
            let box = (x, y, width, height)
            if shapes.allSatisfy({ apart(box, ($0.x, $0.y, $0.size, $0.height), gap: ranges.digitGap) }) {
                return (background, shapes, SceneDigit(value: value, x: x, y: y, height: height, width: width, stroke: stroke))
            }
        }
        return nil
    }
}
