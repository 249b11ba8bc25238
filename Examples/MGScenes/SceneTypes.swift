import MGVision

/// A shape kind of the scene domain; raw values are the words used in questions and answers.
public enum SceneShapeKind: String, CaseIterable, Sendable {
    case circle, square, triangle
}

/// A shape colour of the scene domain; raw values are the words used in questions and answers.
public enum SceneColor: String, CaseIterable, Sendable {
    case red, green, blue, yellow, purple

    /// The fill colour.
    public var rgb: RGBColor {
        switch self {
        case .red: RGBColor(red: 220, green: 30, blue: 30)
        case .green: RGBColor(red: 30, green: 160, blue: 60)
        case .blue: RGBColor(red: 30, green: 70, blue: 220)
        case .yellow: RGBColor(red: 230, green: 200, blue: 20)
        case .purple: RGBColor(red: 140, green: 50, blue: 170)
        }
    }
}

/// One filled shape: its bounding box starts at (`x`, `y`); `size` is the box width (and height,
/// except for triangles, whose height is ``SceneShape/triangleHeight(size:)``).
public struct SceneShape: Sendable, Equatable {
    public var kind: SceneShapeKind
    public var color: SceneColor
    public var x: Int
    public var y: Int
    public var size: Int

    /// Height of the bounding box.
    public var height: Int { kind == .triangle ? Self.triangleHeight(size: size) : size }

    /// The height of an upright equilateral triangle of width `size`: size·√3/2 rounded, in
    /// integers (`(866·size + 500) / 1000`) so both generators agree.
    public static func triangleHeight(size: Int) -> Int { (866 * size + 500) / 1000 }
}

/// The seven-segment digit: bounding box at (`x`, `y`), `width` × `height`, strokes `stroke` wide.
public struct SceneDigit: Sendable, Equatable {
    public var value: Int
    public var x: Int
    public var y: Int
    public var height: Int
    public var width: Int
    public var stroke: Int

    /// Lit segments per digit, `a`–`g` as on a calculator display.
    static let segments: [String] = ["abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg"]
}

/// The five question types of the scene domain.
public enum SceneQuestionType: String, CaseIterable, Sendable {
    case color, shape, count
    case yesNo = "yesno"
    case digit
}

/// A question about a scene and its one-word answer.
public struct SceneQuestion: Sendable, Equatable {
    public var type: SceneQuestionType
    public var question: String
    public var answer: String

    public init(type: SceneQuestionType, question: String, answer: String) {
        self.type = type
        self.question = question
        self.answer = answer
    }
}

/// Inclusive ranges of the random scene parameters.
///
/// ``evaluation`` is the fixed domain of the bundled model's evaluation; ``training`` is the
/// wider one the model was trained on (`Tools/scenes/scenes.py` defines both identically).
public struct SceneRanges: Sendable, Equatable {
    public var shapeCount: ClosedRange<Int>
    public var shapeSize: ClosedRange<Int>
    /// Lower bound of each background channel (the upper bound is 255).
    public var backgroundMinimum: Int
    public var digitHeight: ClosedRange<Int>
    public var stroke: ClosedRange<Int>
    /// Free pixels kept between shape boxes.
    public var gap: Int
    /// Free pixels kept between the digit box and every shape box.
    public var digitGap: Int

    public init(
        shapeCount: ClosedRange<Int> = 1...4, shapeSize: ClosedRange<Int> = 36...72, backgroundMinimum: Int = 200,
        digitHeight: ClosedRange<Int> = 9...12, stroke: ClosedRange<Int> = 1...2, gap: Int = 4, digitGap: Int = 3
    ) {
        self.shapeCount = shapeCount
        self.shapeSize = shapeSize
        self.backgroundMinimum = backgroundMinimum
        self.digitHeight = digitHeight
        self.stroke = stroke
        self.gap = gap
        self.digitGap = digitGap
    }

    /// The evaluation domain: 1–4 shapes of 36–72 px, backgrounds 200–255, digits 9–12 px tall.
    public static let evaluation = SceneRanges()
    /// The training domain: shapes 28–84 px, backgrounds 160–255, digits 8–16 px tall.
    public static let training = SceneRanges(shapeSize: 28...84, backgroundMinimum: 160, digitHeight: 8...16)
}

/// A generated scene: its layout, the rendered 256×256 image and every question it supports.
public struct Scene: Sendable {
    public var seed: UInt64
    public var background: RGBColor
    public var shapes: [SceneShape]
    public var digit: SceneDigit
    public var image: RGBImage
    public var questions: [SceneQuestion]
}
