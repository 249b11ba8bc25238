import Foundation
import MGTensor

/// The `BPE` model of `tokenizer.json` (tokenizers' `models::bpe`), with merges ranked by their
/// position in the file.
///
/// Loading builds integer-keyed tables once: single-character ids by scalar value, and merges
/// keyed by the pair of ids (`left << 32 | right`) holding `rank << 32 | merged id`.
struct BPEModel: Sendable {
    /// How far ids may run past the entry count: real vocabularies are dense (ids `0..<count`).
    static let maximumIDGap = 1 << 16

    let vocabulary: [ExactKey: Int]
    let tokens: [String?]
    private let singleScalarIDs: [UInt32: Int]
    private let merges: [UInt64: UInt64]
    let unknownID: Int?
    let fuseUnknown: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    /// `<0xXX>` ids when all 256 exist (byte fallback only applies to characters whose bytes all have a piece).
    private let byteIDs: [Int?]

    init(json: JSONValue) throws(TokenizerError) {
        guard json["type"]?.string == "BPE" || json["type"] == nil else {
            throw .unsupported(feature: "model \(json["type"]?.string ?? "?")")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = json[key]?.string, !value.isEmpty { throw .unsupported(feature: "BPE \(key)") }
        }
        if let dropout = json["dropout"]?.double, dropout > 0 { throw .unsupported(feature: "BPE dropout") }
        guard let vocabObject = json["vocab"]?.object else { throw .invalidJSON(reason: "BPE model without vocab") }
        var vocabulary: [ExactKey: Int] = [:]
        vocabulary.reserveCapacity(vocabObject.count)
        var largest = -1
        for member in vocabObject {
            let token = member.key
            guard let id = member.value.integer, id >= 0 else {
                throw .invalidJSON(reason: "vocab entry \(token) without an id")
            }
            // Tokens are stored by id in a dense array: a huge id in a small file must not allocate it.
            guard id < vocabObject.count + Self.maximumIDGap else {
                throw .invalidJSON(reason: "vocab id \(id) of \(token) is far beyond the \(vocabObject.count) entries")
            }
            vocabulary[exact: token] = id
            largest = max(largest, id)
        }
        var tokens = [String?](repeating: nil, count: largest + 1)
        var singles: [UInt32: Int] = [:]
        for (token, id) in vocabulary {
            tokens[id] = token.string
            var scalars = token.string.unicodeScalars.makeIterator()
            if let first = scalars.next(), scalars.next() == nil { singles[first.value] = id }
        }

        let mergeList = json["merges"]?.array ?? []
        // Resolving a merge is three string lookups; 280k of them (Llama-3) are split over the cores.
        let resolved = Self.resolveMerges(mergeList, vocabulary: vocabulary)
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, entry) in resolved.enumerated() {
            guard let entry else { throw .invalidJSON(reason: "merge \(rank) is not a pair of vocabulary tokens") }
            // A repeated pair keeps its last rank, as a map insert in tokenizers does.
            merges[entry.key] = UInt64(rank) << 32 | entry.merged
        }
        self.vocabulary = vocabulary
        self.tokens = tokens
        self.singleScalarIDs = singles
        self.merges = merges
        self.fuseUnknown = json["fuse_unk"]?.bool ?? false
        self.byteFallback = json["byte_fallback"]?.bool ?? false
        self.ignoreMerges = json["ignore_merges"]?.bool ?? false
        if let unknown = json["unk_token"]?.string {
            guard let id = vocabulary[exact: unknown] else { throw .unknownToken(unknown) }
            self.unknownID = id
        } else {
            self.unknownID = nil
        }
        self.byteIDs = (0..<256).map { vocabulary[exact: String(format2Hex: UInt8($0))] }
    }

    /// Per merge: the pair key (`left << 32 | right`) and the merged id, or `nil` if it is invalid.
    private static func resolveMerges(
        _ entries: [JSONValue], vocabulary: [ExactKey: Int]
    ) -> [(key: UInt64, merged: UInt64)?] {
        @Sendable func resolve(_ entry: JSONValue) -> (key: UInt64, merged: UInt64)? {
            let left: String, right: String
            if let pair = entry.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string {
                (left, right) = (a, b)
            } else if var line = entry.string {
                // Split at the byte with memchr: Character-based splitting of 280k lines costs seconds.
                guard let parts = line.withUTF8({ bytes -> (String, String)? in
                    guard let base = bytes.baseAddress, let found = memchr(base, 0x20, bytes.count) else { return nil }
                    let space = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    let rest = UnsafeBufferPointer(rebasing: bytes[(space + 1)...])
                    guard rest.isEmpty || memchr(rest.baseAddress!, 0x20, rest.count) == nil else { return nil }
                    return (String(decoding: UnsafeBufferPointer(rebasing: bytes[..<space]), as: UTF8.self),
                            String(decoding: rest, as: UTF8.self))
                }) else { return nil }
                (left, right) = parts
            } else {
                return nil
            }
            guard let leftID = vocabulary[exact: left], let rightID = vocabulary[exact: right],
                let merged = vocabulary[exact: left + right]
            else { return nil }
            return (UInt64(leftID) << 32 | UInt64(rightID), UInt64(merged))
        }
        var results = [(key: UInt64, merged: UInt64)?](repeating: nil, count: entries.count)
        let chunks = entries.count < 4096 ? 1 : 2
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let output = buffer
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let range = (entries.count * chunk / chunks)..<(entries.count * (chunk + 1) / chunks)
                for index in range { output[index] = resolve(entries[index]) }
            }
        }
        return results
    }

    func token(for id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }

    private struct Symbol {
        var id: Int
        var previous: Int
        var next: Int
        var alive = true
    }

    private struct Merge: HeapElement {
        let position: Int
        let rank: UInt32
        let newID: Int
        // Lowest rank first; on ties the leftmost pair.
        func hasPriority(over other: Merge) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    /// Appends the ids of one pre-token (`BPE::tokenize`).
    func tokenize(_ word: String, into output: inout [Int]) {
        guard !word.isEmpty else { return }
        if ignoreMerges, let id = vocabulary[exact: word] {
            output.append(id)
            return
        }
        var symbols: [Symbol] = []
        var pendingUnknown = false
        func add(_ id: Int) {
            symbols.append(Symbol(id: id, previous: symbols.count - 1, next: -1))
        }
        for scalar in word.unicodeScalars {
            if let id = singleScalarIDs[scalar.value] {
                if pendingUnknown, let unknownID { add(unknownID) }
                pendingUnknown = false
                add(id)
                continue
            }
            if byteFallback {
                let ids = String(scalar).utf8.map { byteIDs[Int($0)] }
                if ids.allSatisfy({ $0 != nil }) {
                    // As in tokenizers, a pending unknown is not flushed before byte pieces.
                    for id in ids { add(id!) }
                    continue
                }
            }
            guard let unknownID else { continue }
            if pendingUnknown && !fuseUnknown { add(unknownID) }
            pendingUnknown = true
        }
        if pendingUnknown, let unknownID { add(unknownID) }
        for index in symbols.indices { symbols[index].next = index + 1 < symbols.count ? index + 1 : -1 }

        var queue = BinaryHeap<Merge>(capacity: symbols.count)
        func lookup(_ left: Int, _ right: Int) -> (rank: UInt32, newID: Int)? {
            guard let value = merges[UInt64(left) << 32 | UInt64(right)] else { return nil }
            return (UInt32(value >> 32), Int(value & 0xFFFF_FFFF))
        }
        for index in symbols.indices.dropLast() {
            if let merge = lookup(symbols[index].id, symbols[index + 1].id) {
                queue.push(Merge(position: index, rank: merge.rank, newID: merge.newID))
            }
        }
        while let top = queue.pop() {
            let position = top.position
            guard symbols[position].alive, symbols[position].next >= 0 else { continue }
            let next = symbols[position].next
            // Expired entries: the pair at this position no longer produces the queued token.
            guard let current = lookup(symbols[position].id, symbols[next].id), current.newID == top.newID else { continue }
            symbols[position].id = top.newID
            symbols[position].next = symbols[next].next
            symbols[next].alive = false
            if symbols[next].next >= 0 { symbols[symbols[next].next].previous = position }
            let previous = symbols[position].previous
            if previous >= 0, let merge = lookup(symbols[previous].id, top.newID) {
                queue.push(Merge(position: previous, rank: merge.rank, newID: merge.newID))
            }
            let following = symbols[position].next
            if following >= 0, let merge = lookup(top.newID, symbols[following].id) {
                queue.push(Merge(position: position, rank: merge.rank, newID: merge.newID))
            }
        }
        for symbol in symbols where symbol.alive { output.append(symbol.id) }
    }
}

extension String {
    /// `<0xXX>` with upper-case hex digits, the byte-fallback piece of a byte.
    init(format2Hex byte: UInt8) {
        let digits = Array("0123456789ABCDEF")
        self = "<0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)]) + ">"
    }
}
