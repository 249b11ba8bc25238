import Foundation

/// A token matched in the raw text before the model sees it (HF "added token"), such as `</s>`
/// or `<|eot_id|>`.
public struct AddedToken: Sendable, Hashable {
    /// The text of the token.
    public var content: String
    public var id: Int
    /// Special tokens are removed by `skipSpecialTokens` when decoding.
    public var special: Bool
    /// Eat whitespace on the left of a match.
    public var lstrip: Bool
    /// Eat whitespace on the right of a match.
    public var rstrip: Bool
    /// Match only when not inside a word.
    public var singleWord: Bool
    /// Match in the normalised text (`tokenizer.json` only) instead of the raw text.
    public var normalized: Bool

    public init(
        content: String, id: Int, special: Bool, lstrip: Bool = false, rstrip: Bool = false,
        singleWord: Bool = false, normalized: Bool = false
    ) {
        self.content = content
        self.id = id
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
        self.normalized = normalized
    }
}

/// Finds added tokens in text: leftmost match first and, among matches starting there, the
/// longest. This is the rule of both the `tokenizers` library (Aho-Corasick, LeftmostLongest)
/// and transformers' slow `Trie.split`.
struct AddedTokenMatcher: Sendable {
    /// Trie over Unicode scalars: children per node and the token index ending at a node.
    private var children: [[UInt32: Int32]] = [[:]]
    private var terminal: [Int32] = [-1]

    init(_ contents: [String]) {
        for (index, content) in contents.enumerated() where !content.isEmpty {
            var node = 0
            for scalar in content.unicodeScalars {
                if let next = children[node][scalar.value] {
                    node = Int(next)
                } else {
                    children.append([:])
                    terminal.append(-1)
                    children[node][scalar.value] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            // The first token with a given content wins, like a dictionary insert that keeps the old value.
            if terminal[node] < 0 { terminal[node] = Int32(index) }
        }
    }

    var isEmpty: Bool { children[0].isEmpty }

    /// Non-overlapping matches as (scalar range, index into the contents given at init).
    func matches(in scalars: [Unicode.Scalar]) -> [(range: Range<Int>, token: Int)] {
        guard !isEmpty else { return [] }
        var result: [(range: Range<Int>, token: Int)] = []
        var start = 0
        while start < scalars.count {
            var node = 0
            var best: (end: Int, token: Int)?
            var position = start
            while position < scalars.count, let next = children[node][scalars[position].value] {
                node = Int(next)
                position += 1
                if terminal[node] >= 0 { best = (position, Int(terminal[node])) }
            }
            if let best {
                result.append((start..<best.end, best.token))
                start = best.end
            } else {
                start += 1
            }
        }
        return result
    }
}

extension Unicode.Scalar {
    /// Rust's `char::is_whitespace` (the Unicode White_Space property).
    var isRustWhitespace: Bool { properties.isWhitespace }

    /// Python's `str.isspace`: White_Space plus the information separators U+001C–U+001F.
    var isPythonWhitespace: Bool { properties.isWhitespace || (0x1C...0x1F).contains(value) }
}

extension String {
    init(scalars: some Sequence<Unicode.Scalar>) {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        self = String(view)
    }
}

/// A dictionary key that compares strings by their exact UTF-8 bytes.
///
/// Swift's `String` equality and hashing follow canonical equivalence, so `"café"` (U+00E9) and
/// `"cafe\u{301}"` are the same key; vocabularies distinguish them, so every piece lookup uses this.
struct ExactKey: Hashable, Sendable {
    let string: String

    init(_ string: String) { self.string = string }

    static func == (lhs: ExactKey, rhs: ExactKey) -> Bool {
        var left = lhs.string, right = rhs.string
        return left.withUTF8 { a in
            right.withUTF8 { b in a.count == b.count && (a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0) }
        }
    }

    /// String's own hash (canonically equivalent strings share a bucket, `==` tells them apart):
    /// it runs in the optimised standard library, which keeps debug-build loading fast.
    func hash(into hasher: inout Hasher) { hasher.combine(string) }
}

extension Dictionary where Key == ExactKey {
    /// Lookup by exact UTF-8 bytes.
    subscript(exact key: String) -> Value? {
        get { self[ExactKey(key)] }
        set { self[ExactKey(key)] = newValue }
    }
}
