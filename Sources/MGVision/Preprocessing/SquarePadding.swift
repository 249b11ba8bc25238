extension RGBImage {
    /// MGM's `expand2square` (`image_aspect_ratio = "pad"`): the image centred on a square canvas of
    /// side `max(width, height)` filled with `background`.
    ///
    /// A landscape image is pasted at `(0, ⌊(W − H)/2⌋)`, a portrait one at `(⌊(H − W)/2⌋, 0)`; a
    /// square image is returned unchanged.
    public func paddedToSquare(background: RGBColor) -> RGBImage {
        if width == height { return self }
        let side = max(width, height)
        let left = (side - width) / 2
        let top = (side - height) / 2
        let rowBytes = width * 3
        let sideBytes = side * 3
        let canvas = [UInt8](unsafeUninitializedCapacity: side * sideBytes) { canvas, initialized in
            guard let base = canvas.baseAddress else { return }
            // One background row, then doubling copies: fast even in a debug build.
            let fill = [background.red, background.green, background.blue]
            for index in 0..<side { (base + 3 * index).initialize(from: fill, count: 3) }
            var filled = sideBytes
            while filled < canvas.count {
                let chunk = min(filled, canvas.count - filled)
                (base + filled).initialize(from: base, count: chunk)
                filled += chunk
            }
            pixels.withUnsafeBufferPointer { source in
                guard let from = source.baseAddress else { return }
                for row in 0..<height {
                    (base + (top + row) * sideBytes + left * 3).update(from: from + row * rowBytes, count: rowBytes)
                }
            }
            initialized = canvas.count
        }
        return RGBImage(uncheckedWidth: side, height: side, pixels: canvas)
    }
}

extension RGBColor {
    /// MGM's padding colour for a normalisation mean: `int(255 · m)` per channel (truncation), i.e.
    /// (122, 116, 104) for the CLIP mean.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` unless `mean` has three values in [0, 1].
    public init(paddingForMean mean: [Double]) throws(VisionError) {
        guard mean.count == 3, mean.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
            throw .invalidConfiguration(reason: "image mean must be three values in [0, 1], got \(mean)")
        }
        let channels = mean.map { UInt8((255 * $0).rounded(.towardZero)) }
        self.init(red: channels[0], green: channels[1], blue: channels[2])
    }
}
