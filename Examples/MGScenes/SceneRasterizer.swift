import MGVision

/// Draws a scene layout with the integer rules of the specification (Tools/scenes/scenes.py): a
/// pixel takes a shape's colour when its centre lies inside the shape, tested exactly in doubled
/// coordinates (the centre of pixel (x, y) is (2x + 1, 2y + 1)); no antialiasing.
enum SceneRasterizer {
    static func render(background: RGBColor, shapes: [SceneShape], digit: SceneDigit) -> RGBImage {
        let side = SceneGenerator.side
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        func paint(_ x: Int, _ y: Int, _ color: RGBColor) {
            let offset = (y * side + x) * 3
            pixels[offset] = color.red
            pixels[offset + 1] = color.green
            pixels[offset + 2] = color.blue
        }
        for y in 0..<side {
            for x in 0..<side { paint(x, y, background) }
        }
        for shape in shapes {
            let size = shape.size
            let height = shape.height
            for row in 0..<height {
                for column in 0..<size where inside(shape.kind, column: column, row: row, size: size, height: height) {
                    paint(shape.x + column, shape.y + row, shape.color.rgb)
                }
            }
        }
        for (x, y, width, height) in segmentRectangles(digit) {
            for row in y..<(y + height) {
                for column in x..<(x + width) { paint(column, row, RGBColor(red: 0, green: 0, blue: 0)) }
            }
        }
        return (try? RGBImage(width: side, height: side, pixels: pixels))
            ?? preconditionFailureImage()
    }

    /// Whether the centre of pixel (`column`, `row`) of the bounding box lies inside the shape.
    static func inside(_ kind: SceneShapeKind, column: Int, row: Int, size: Int, height: Int) -> Bool {
        let px = 2 * column + 1
        let py = 2 * row + 1
        switch kind {
        case .square:
            return true
        case .circle:
            let dx = px - size
            let dy = py - size
            return dx * dx + dy * dy <= size * size
        case .triangle:
            // Apex (S, 0), base corners (0, 2H) and (2S, 2H); inside = on the inner side of both
            // slanted edges (cross products ≥ 0) and above the base.
            let base = 2 * height
            let left = size * (py - base) + base * px
            let right = size * py - base * (px - size)
            return left >= 0 && right >= 0 && py <= base
        }
    }

    /// The lit segments as (x, y, width, height) pixel rectangles.
    static func segmentRectangles(_ digit: SceneDigit) -> [(Int, Int, Int, Int)] {
        let (x, y, w, h, t) = (digit.x, digit.y, digit.width, digit.height, digit.stroke)
        let middle = (h - t) / 2
        let rectangles: [Character: (Int, Int, Int, Int)] = [
            "a": (x, y, w, t), "d": (x, y + h - t, w, t), "g": (x, y + middle, w, t),
            "f": (x, y, t, middle + t), "b": (x + w - t, y, t, middle + t),
            "e": (x, y + middle, t, h - middle), "c": (x + w - t, y + middle, t, h - middle),
        ]
        return SceneDigit.segments[digit.value].compactMap { rectangles[$0] }
    }

    private static func preconditionFailureImage() -> RGBImage {
        preconditionFailure("a 256×256 RGB buffer always forms an image")
    }
}
