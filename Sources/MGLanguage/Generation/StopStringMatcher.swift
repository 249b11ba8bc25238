/// Finds stop strings in streamed text without ever emitting part of one.
///
/// Text is released as soon as it cannot be the start of a stop string; a suffix that could still
/// grow into one is held back until the next delta decides it (or ``finish()`` flushes it).
struct StopStringMatcher: Sendable {
    let stopStrings: [String]
    private var pending = ""

    init(stopStrings: [String]) { self.stopStrings = stopStrings }

    /// Adds a text delta; returns the text safe to emit and the stop string found, if any (the
    /// emitted text then ends right before it).
    mutating func feed(_ delta: String) -> (text: String, stop: String?) {
        guard !stopStrings.isEmpty else { return (delta, nil) }
        pending += delta
        // The earliest occurrence of any stop string wins.
        var earliest: (range: Range<String.Index>, string: String)?
        for string in stopStrings {
            if let range = pending.range(of: string), earliest.map({ range.lowerBound < $0.range.lowerBound }) ?? true {
                earliest = (range, string)
            }
        }
        if let earliest {
            let text = String(pending[..<earliest.range.lowerBound])
            pending = ""
            return (text, earliest.string)
        }
        // Hold back the longest suffix that is a proper prefix of some stop string.
        var held = 0
        for string in stopStrings {
            let maximum = min(string.count - 1, pending.count)
            if maximum <= held { continue }
            for length in stride(from: maximum, to: held, by: -1) where pending.hasSuffix(string.prefix(length)) {
                held = length
                break
            }
        }
        let cut = pending.index(pending.endIndex, offsetBy: -held)
        let text = String(pending[..<cut])
        pending = String(pending[cut...])
        return (text, nil)
    }

    /// Releases the held-back text at the end of generation.
    mutating func finish() -> String {
        defer { pending = "" }
        return pending
    }
}
