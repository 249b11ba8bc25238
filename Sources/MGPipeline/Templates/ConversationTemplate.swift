// Mirrors the conversation templates of the official MGM code (mgm/conversation.py): the same system
// prompts, roles, separators and rendering rules, so a prompt rendered here tokenises to the ids the
// released checkpoints were trained and evaluated with.

/// How a template joins system prompt, roles and messages (MGM's `SeparatorStyle`).
public enum SeparatorStyle: String, Sendable, Codable, CaseIterable {
    /// `system###Role: text###…Role:`
    case single
    /// Alternating separators: `system␠USER: q␠ASSISTANT: a</s>USER: …`
    case two
    /// ChatML: role strings carry the markup, `<|im_end|>` after each message.
    case mpt
    /// Messages concatenated with separators only (pre-training).
    case plain
    /// `[INST] … [/INST]` with an optional `<<SYS>>` block in the first user turn.
    case llama2
    /// Llama-3 header markup; same mechanics as ``mpt``.
    case llama3
    /// Gemma's `<start_of_turn>role\n…<end_of_turn>\n` turns.
    case gemma
}

/// One conversation format: system prompt, the two role names, separators and rendering style.
///
/// ```swift
/// var conversation = Conversation(template: .vicunaV1)
/// conversation.append(.user, "<image>\nWhat is unusual about this image?")
/// conversation.appendPendingAssistant()
/// let prompt = conversation.prompt()
/// // "A chat between … questions. USER: <image>\nWhat is unusual about this image? ASSISTANT:"
/// ```
public struct ConversationTemplate: Sendable, Equatable {
    /// The name MGM registers the template under (e.g. `vicuna_v1`).
    public let name: String
    /// The system text rendered first (may contain markup such as `<|im_start|>system\n`).
    public let system: String
    /// The user role and the assistant role, as rendered.
    public let roles: (user: String, assistant: String)
    /// Messages rendered before the conversation (only `default`/`v0` has a pre-filled example).
    public let prefilledMessages: [(role: Role, text: String)]
    public let style: SeparatorStyle
    public let separator: String
    public let secondSeparator: String?
    /// MGM's `version` field; `mmtag` versions move the image into an `<Image>` turn.
    public let version: String

    public init(
        name: String, system: String, roles: (user: String, assistant: String),
        prefilledMessages: [(role: Role, text: String)] = [], style: SeparatorStyle,
        separator: String, secondSeparator: String? = nil, version: String
    ) {
        self.name = name
        self.system = system
        self.roles = roles
        self.prefilledMessages = prefilledMessages
        self.style = style
        self.separator = separator
        self.secondSeparator = secondSeparator
        self.version = version
    }

    public static func == (lhs: ConversationTemplate, rhs: ConversationTemplate) -> Bool {
        lhs.name == rhs.name && lhs.system == rhs.system && lhs.roles == rhs.roles
            && lhs.style == rhs.style && lhs.separator == rhs.separator
            && lhs.secondSeparator == rhs.secondSeparator && lhs.version == rhs.version
            && lhs.prefilledMessages.map(\.role) == rhs.prefilledMessages.map(\.role)
            && lhs.prefilledMessages.map(\.text) == rhs.prefilledMessages.map(\.text)
    }

    /// The strings that end an assistant answer in this template, most specific first: what the
    /// official web worker trims from streamed text (`sep` for single/MPT styles, else `sep2`).
    public var stopStrings: [String] {
        switch style {
        case .single, .mpt, .llama3: [separator]
        case .two, .llama2, .gemma, .plain: [secondSeparator ?? separator].filter { !$0.isEmpty }
        }
    }
}

/// The speaker of a message.
public enum Role: Sendable, Equatable {
    case user
    case assistant
}
