import Foundation

/// A SentencePiece `tokenizer.model` (`ModelProto`), parsed without the protobuf library.
///
/// Holds the pieces with their scores and types, the parts of `trainer_spec` and
/// `normalizer_spec` that encoding and decoding depend on, and the lookup tables sentencepiece
/// builds in `ModelInterface::InitializePieces`. Encoding and decoding are in
/// `SentencePieceModel+Encoding.swift`; HF's `LlamaTokenizer` behaviour on top of it is
/// ``SentencePieceTokenizer``.
public struct SentencePieceModel: Sendable {
    /// `ModelProto.SentencePiece.Type`.
    public enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// `TrainerSpec.ModelType`.
    public enum ModelType: Int, Sendable {
        case unigram = 1, bpe = 2, word = 3, char = 4
    }

    /// The `trainer_spec` fields that affect encoding and decoding (proto defaults when absent).
    public struct TrainerSpec: Sendable {
        public var modelType: ModelType = .unigram
        public var vocabularySize = 8000
        public var byteFallback = false
        public var treatWhitespaceAsSuffix = false
        public var unknownID = 0
        public var bosID = 1
        public var eosID = 2
        public var padID = -1
        /// Text that raw SentencePiece decoding writes for `<unk>` (U+2047 between spaces).
        public var unknownSurface = " \u{2047} "
    }

    /// The `normalizer_spec` fields (proto defaults when absent).
    public struct NormalizerSpec: Sendable {
        public var name = ""
        /// Size of `precompiled_charsmap`; only the empty map ("identity") is supported.
        public var precompiledCharsmapSize = 0
        public var addDummyPrefix = true
        public var removeExtraWhitespaces = true
        public var escapeWhitespaces = true
    }

    /// Piece strings, indexed by id.
    public let pieces: [String]
    /// Piece scores; BPE merges the adjacent pair whose merged piece scores highest.
    public let scores: [Float]
    public let types: [PieceType]
    public let trainerSpec: TrainerSpec
    /// Normalizer settings; `var` because HF's non-legacy Llama path turns the dummy prefix off.
    public var normalizerSpec: NormalizerSpec

    /// NORMAL, USER_DEFINED and UNUSED pieces: the only ones BPE merges may produce.
    let mergeablePieces: [ExactKey: Int]
    /// CONTROL, UNKNOWN and BYTE pieces, looked up first by `pieceToID` as sentencepiece does.
    let reservedPieces: [ExactKey: Int]
    let unknownID: Int
    /// Id of `<0xXX>` for every byte when byte fallback is on, else empty.
    let byteIDs: [Int]
    /// Byte value of each BYTE piece (-1 for other pieces).
    let byteValues: [Int16]
    /// USER_DEFINED pieces as UTF-8, matched greedily (longest first) before normalisation.
    let userDefinedSymbols: [[UInt8]]
    let longestMergeablePiece: Int
    let hasUnusedPieces: Bool

    /// Loads `tokenizer.model` from disk.
    public init(contentsOf url: URL) throws(TokenizerError) {
        guard let data = try? Data(contentsOf: url) else { throw .fileNotReadable(path: url.path) }
        try self.init(bytes: [UInt8](data))
    }

    /// Parses a serialized `ModelProto`.
    /// - Throws: ``TokenizerError/invalidModelProto(reason:)`` for malformed data and
    ///   ``TokenizerError/unsupported(feature:)`` for models other than BPE with identity normalisation.
    public init(bytes: [UInt8]) throws(TokenizerError) {
        var pieces: [String] = []
        var scores: [Float] = []
        var types: [PieceType] = []
        var trainer = TrainerSpec()
        var normalizer = NormalizerSpec()
        var reader = ProtobufReader(bytes: bytes)
        while let field = try reader.nextField() {
            switch (field.number, field.wireType) {
            case (1, .lengthDelimited):
                var message = try reader.readMessage()
                var piece = "", score: Float = 0, type = PieceType.normal
                while let inner = try message.nextField() {
                    switch (inner.number, inner.wireType) {
                    case (1, .lengthDelimited): piece = try message.readString()
                    case (2, .fixed32): score = try message.readFloat()
                    case (3, .varint):
                        let raw = try message.readInt32()
                        guard let parsed = PieceType(rawValue: raw) else {
                            throw .invalidModelProto(reason: "unknown piece type \(raw)")
                        }
                        type = parsed
                    default: try message.skip(inner.wireType)
                    }
                }
                pieces.append(piece)
                scores.append(score)
                types.append(type)
            case (2, .lengthDelimited):
                var message = try reader.readMessage()
                trainer = try Self.parseTrainerSpec(&message)
            case (3, .lengthDelimited):
                var message = try reader.readMessage()
                normalizer = try Self.parseNormalizerSpec(&message)
            default:
                try reader.skip(field.wireType)
            }
        }
        try self.init(pieces: pieces, scores: scores, types: types, trainer: trainer, normalizer: normalizer)
    }

    private init(
        pieces: [String], scores: [Float], types: [PieceType], trainer: TrainerSpec, normalizer: NormalizerSpec
    ) throws(TokenizerError) {
        guard trainer.modelType == .bpe else { throw .unsupported(feature: "SentencePiece model type \(trainer.modelType)") }
        guard normalizer.precompiledCharsmapSize == 0 else {
            throw .unsupported(feature: "SentencePiece normalizer '\(normalizer.name)' with a precompiled charsmap")
        }
        guard !trainer.treatWhitespaceAsSuffix else { throw .unsupported(feature: "treat_whitespace_as_suffix") }
        var mergeable: [ExactKey: Int] = [:]
        var reserved: [ExactKey: Int] = [:]
        mergeable.reserveCapacity(pieces.count)
        var unknownID = -1
        var byteIDs = [Int](repeating: -1, count: 256)
        var byteValues = [Int16](repeating: -1, count: pieces.count)
        var userDefined: [[UInt8]] = []
        var longest = 0
        for (id, piece) in pieces.enumerated() {
            guard !piece.isEmpty else { throw .invalidModelProto(reason: "piece \(id) is empty") }
            let type = types[id]
            let isMergeable = type == .normal || type == .userDefined || type == .unused
            if isMergeable {
                guard mergeable.updateValue(id, forKey: ExactKey(piece)) == nil else {
                    throw .invalidModelProto(reason: "piece \(piece) is defined twice")
                }
                longest = max(longest, piece.utf8.count)
            } else {
                guard reserved.updateValue(id, forKey: ExactKey(piece)) == nil else {
                    throw .invalidModelProto(reason: "piece \(piece) is defined twice")
                }
            }
            switch type {
            case .userDefined: userDefined.append(Array(piece.utf8))
            case .unknown:
                guard unknownID < 0 else { throw .invalidModelProto(reason: "more than one unknown piece") }
                unknownID = id
            case .byte:
                guard trainer.byteFallback else {
                    throw .invalidModelProto(reason: "byte piece \(piece) without byte_fallback")
                }
                guard let value = Self.byteValue(ofPiece: piece) else {
                    throw .invalidModelProto(reason: "invalid byte piece \(piece)")
                }
                byteIDs[Int(value)] = id
                byteValues[id] = Int16(value)
            default: break
            }
        }
        guard unknownID >= 0 else { throw .invalidModelProto(reason: "no unknown piece") }
        if trainer.byteFallback {
            guard !byteIDs.contains(-1) else { throw .invalidModelProto(reason: "byte_fallback without 256 byte pieces") }
        } else {
            byteIDs = []
        }
        self.pieces = pieces
        self.scores = scores
        self.types = types
        self.trainerSpec = trainer
        self.normalizerSpec = normalizer
        self.mergeablePieces = mergeable
        self.reservedPieces = reserved
        self.unknownID = unknownID
        self.byteIDs = byteIDs
        self.byteValues = byteValues
        self.userDefinedSymbols = userDefined.sorted { $0.count > $1.count }
        self.longestMergeablePiece = longest
        self.hasUnusedPieces = types.contains(.unused)
    }

    /// Number of pieces.
    public var count: Int { pieces.count }

    /// The id of a piece, or the unknown id for strings that are not pieces (sentencepiece's `PieceToId`).
    public func pieceToID(_ piece: String) -> Int {
        reservedPieces[exact: piece] ?? mergeablePieces[exact: piece] ?? unknownID
    }

    /// The id of a piece, or `nil` when it is not in the vocabulary.
    public func exactID(of piece: String) -> Int? {
        reservedPieces[exact: piece] ?? mergeablePieces[exact: piece]
    }

    func isControl(_ id: Int) -> Bool { types[id] == .control }

    /// The byte of a `<0xXX>` piece (two upper-case hex digits, as sentencepiece writes them).
    static func byteValue(ofPiece piece: String) -> UInt8? {
        let utf8 = Array(piece.utf8)
        guard utf8.count == 6, utf8[0] == 0x3C, utf8[1] == 0x30, utf8[2] == 0x78, utf8[5] == 0x3E else { return nil }
        func digit(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        guard let high = digit(utf8[3]), let low = digit(utf8[4]) else { return nil }
        return high << 4 | low
    }

    private static func parseTrainerSpec(_ message: inout ProtobufReader) throws(TokenizerError) -> TrainerSpec {
        var spec = TrainerSpec()
        while let field = try message.nextField() {
            switch (field.number, field.wireType) {
            case (3, .varint):
                let raw = try message.readInt32()
                guard let type = ModelType(rawValue: raw) else { throw .invalidModelProto(reason: "model type \(raw)") }
                spec.modelType = type
            case (4, .varint): spec.vocabularySize = try message.readInt32()
            case (24, .varint): spec.treatWhitespaceAsSuffix = try message.readBool()
            case (35, .varint): spec.byteFallback = try message.readBool()
            case (40, .varint): spec.unknownID = try message.readInt32()
            case (41, .varint): spec.bosID = try message.readInt32()
            case (42, .varint): spec.eosID = try message.readInt32()
            case (43, .varint): spec.padID = try message.readInt32()
            case (44, .lengthDelimited): spec.unknownSurface = try message.readString()
            default: try message.skip(field.wireType)
            }
        }
        return spec
    }

    private static func parseNormalizerSpec(_ message: inout ProtobufReader) throws(TokenizerError) -> NormalizerSpec {
        var spec = NormalizerSpec()
        while let field = try message.nextField() {
            switch (field.number, field.wireType) {
            case (1, .lengthDelimited): spec.name = try message.readString()
            case (2, .lengthDelimited): spec.precompiledCharsmapSize = try message.readBytes().count
            case (3, .varint): spec.addDummyPrefix = try message.readBool()
            case (4, .varint): spec.removeExtraWhitespaces = try message.readBool()
            case (5, .varint): spec.escapeWhitespaces = try message.readBool()
            default: try message.skip(field.wireType)
            }
        }
        return spec
    }
}
