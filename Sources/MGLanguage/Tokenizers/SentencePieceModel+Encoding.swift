/// SentencePiece's own encode and decode (`SentencePieceProcessor::Encode` / `Decode` of a BPE
/// model with identity normalisation), reproduced step by step so ids and text match exactly.
extension SentencePieceModel {
    private static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]  // U+2581 "▁"

    /// The ids sentencepiece's `EncodeAsIds` returns for `text` (no BOS/EOS).
    public func encode(_ text: String) -> [Int] {
        let normalized = normalize(Array(text.utf8))
        var ids: [Int] = []
        var previousWasUnknown = false
        for (piece, id) in bpe(normalized) {
            let isUnknown = id == unknownID
            if isUnknown && trainerSpec.byteFallback {
                ids.append(contentsOf: piece.map { byteIDs[Int($0)] })
            } else if !(isUnknown && previousWasUnknown) {
                // A run of unknown pieces is fused into one `<unk>` when there is no byte fallback.
                ids.append(id)
            }
            previousWasUnknown = isUnknown
        }
        return ids
    }

    /// The pieces of `encode(_:)`, as `EncodeAsPieces` returns them.
    public func encodeAsPieces(_ text: String) -> [String] {
        encode(text).map { pieces[$0] }
    }

    /// Text of `ids` as sentencepiece's `DecodeIds` produces it; out-of-range ids are skipped.
    public func decode(_ ids: [Int]) -> String {
        decodePieces(ids.filter { $0 >= 0 && $0 < pieces.count }.map { pieces[$0] })
    }

    /// sentencepiece's `DecodePieces`: strings that are not pieces are copied through unchanged.
    public func decodePieces(_ input: [String]) -> String {
        var text: [UInt8] = []
        var pendingBytes: [UInt8] = []
        var expectingLeadingSpace = true
        var leadingSpaceSeen = false
        for piece in input {
            let id = pieceToID(piece)
            if byteValues[id] >= 0 {
                pendingBytes.append(UInt8(byteValues[id]))
                continue
            }
            if !pendingBytes.isEmpty {
                text.append(contentsOf: UTF8Repair.replacingEachInvalidByte(pendingBytes).utf8)
                pendingBytes.removeAll()
            }
            // sentencepiece ≥ 0.2 removes the dummy-prefix "▁" only until some text or one
            // stripped "▁" has been produced; control pieces before it do not count.
            if leadingSpaceSeen || !text.isEmpty { expectingLeadingSpace = false }
            let (surface, stripped) = decodeSurface(piece, id: id, atStart: expectingLeadingSpace)
            leadingSpaceSeen = stripped
            text.append(contentsOf: surface)
        }
        if !pendingBytes.isEmpty { text.append(contentsOf: UTF8Repair.replacingEachInvalidByte(pendingBytes).utf8) }
        return String(decoding: text, as: UTF8.self)
    }

    private func decodeSurface(_ piece: String, id: Int, atStart: Bool) -> ([UInt8], Bool) {
        if types[id] == .control { return ([], false) }
        if id == unknownID {
            return (Array((piece == pieces[unknownID] ? trainerSpec.unknownSurface : piece).utf8), false)
        }
        var bytes = Array(piece.utf8)
        var stripped = false
        if atStart && (normalizerSpec.addDummyPrefix || normalizerSpec.removeExtraWhitespaces),
            bytes.starts(with: Self.spaceSymbol)
        {
            bytes.removeFirst(3)
            stripped = !normalizerSpec.removeExtraWhitespaces
        }
        return (Self.replacingSpaceSymbols(bytes), stripped)
    }

    private static func replacingSpaceSymbols(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0xE2, index + 2 < bytes.count, bytes[index + 1] == 0x96, bytes[index + 2] == 0x81 {
                output.append(0x20)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output
    }

    // MARK: - Normalizer (identity rules)

    /// Length of the user-defined symbol or the single character at `index`, and whether it is a symbol.
    private func prefixMatch(_ bytes: [UInt8], at index: Int) -> (length: Int, isUserSymbol: Bool) {
        for symbol in userDefinedSymbols where index + symbol.count <= bytes.count {
            if bytes[index..<(index + symbol.count)].elementsEqual(symbol) { return (symbol.count, true) }
        }
        // Swift strings are valid UTF-8, so the lead byte gives the character length.
        let lead = bytes[index]
        let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        return (min(length, bytes.count - index), false)
    }

    /// `Normalizer::Normalize` with an empty charsmap: dummy prefix, optional whitespace
    /// cleanup, and " " → "▁".
    func normalize(_ input: [UInt8]) -> [UInt8] {
        guard !input.isEmpty else { return [] }
        let spec = normalizerSpec
        var index = 0
        if spec.removeExtraWhitespaces {
            while index < input.count, input[index] == 0x20, !prefixMatch(input, at: index).isUserSymbol { index += 1 }
        }
        guard index < input.count else { return [] }
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3)
        let space: [UInt8] = spec.escapeWhitespaces ? Self.spaceSymbol : [0x20]
        if spec.addDummyPrefix { output.append(contentsOf: space) }
        var previousIsSpace = spec.removeExtraWhitespaces
        while index < input.count {
            let length = prefixMatch(input, at: index).length
            var chunk = input[index..<(index + length)]
            if previousIsSpace { while chunk.first == 0x20 { chunk = chunk.dropFirst() } }
            if !chunk.isEmpty {
                for byte in chunk {
                    if byte == 0x20 { output.append(contentsOf: space) } else { output.append(byte) }
                }
                previousIsSpace = chunk.last == 0x20
            }
            index += length
            if !spec.removeExtraWhitespaces { previousIsSpace = false }
        }
        if spec.removeExtraWhitespaces {
            while output.count >= space.count, output.suffix(space.count).elementsEqual(space) {
                output.removeLast(space.count)
            }
        }
        return output
    }

    // MARK: - BPE (bpe_model.cc, Model::SampleEncode without dropout)

    private struct Symbol {
        var start: Int
        var length: Int
        var previous: Int
        var next: Int
        var frozen: Bool
    }

    private struct Candidate: HeapElement {
        let left: Int
        let right: Int
        let score: Float
        let length: Int
        // Highest score first; on ties the leftmost pair, as sentencepiece's comparator.
        func hasPriority(over other: Candidate) -> Bool {
            score != other.score ? score > other.score : left < other.left
        }
    }

    /// Final pieces (as UTF-8) with their ids (unknown id when a piece is not in the vocabulary).
    func bpe(_ normalized: [UInt8]) -> [([UInt8], Int)] {
        guard !normalized.isEmpty else { return [] }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(normalized.count)
        var index = 0
        while index < normalized.count {
            let match = prefixMatch(normalized, at: index)
            let position = symbols.count
            symbols.append(
                Symbol(start: index, length: match.length, previous: position - 1,
                       next: index + match.length < normalized.count ? position + 1 : -1, frozen: match.isUserSymbol))
            index += match.length
        }
        var agenda = BinaryHeap<Candidate>(capacity: symbols.count * 2)
        // Merged piece → the two pieces it came from, only needed to split UNUSED pieces again.
        var reverseMerges: [String: (String, String)] = [:]

        func text(_ start: Int, _ length: Int) -> String {
            String(decoding: normalized[start..<(start + length)], as: UTF8.self)
        }
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0, !symbols[left].frozen, !symbols[right].frozen else { return }
            let length = symbols[left].length + symbols[right].length
            guard length <= longestMergeablePiece else { return }
            let piece = text(symbols[left].start, length)
            guard let id = mergeablePieces[exact: piece] else { return }
            agenda.push(Candidate(left: left, right: right, score: scores[id], length: length))
            if types[id] == .unused {
                reverseMerges[piece] = (text(symbols[left].start, symbols[left].length),
                                        text(symbols[right].start, symbols[right].length))
            }
        }

        for position in 1..<symbols.count { consider(position - 1, position) }
        while let top = agenda.pop() {
            let left = top.left, right = top.right
            // Stale entries: a side was consumed, or grew since the pair was queued.
            guard symbols[left].length > 0, symbols[right].length > 0,
                symbols[left].length + symbols[right].length == top.length
            else { continue }
            symbols[left].length = top.length
            symbols[left].next = symbols[right].next
            if symbols[right].next >= 0 { symbols[symbols[right].next].previous = left }
            symbols[right].length = 0
            consider(symbols[left].previous, left)
            consider(left, symbols[left].next)
        }

        var output: [([UInt8], Int)] = []
        func resegment(_ piece: String) {
            let id = exactID(of: piece) ?? unknownID
            if hasUnusedPieces, types[id] == .unused, exactID(of: piece) != nil, let parts = reverseMerges[piece] {
                resegment(parts.0)
                resegment(parts.1)
            } else {
                output.append((Array(piece.utf8), id))
            }
        }
        var position = 0
        while position != -1 {
            resegment(text(symbols[position].start, symbols[position].length))
            position = symbols[position].next
        }
        return output
    }
}
