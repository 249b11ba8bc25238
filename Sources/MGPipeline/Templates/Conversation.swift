import Foundation

/// A conversation being built for a template: alternating user and assistant messages, the last of
/// which is usually a pending assistant turn (`nil` text) that the model completes.
public struct Conversation: Sendable {
    public let template: ConversationTemplate
    /// Messages after the template's pre-filled ones; `nil` text is a turn the model will write.
    public private(set) var messages: [(role: Role, text: String?)] = []

    public init(template: ConversationTemplate) {
        self.template = template
    }

    /// Appends a message. An empty string renders like a pending turn, as in the official code.
    public mutating func append(_ role: Role, _ text: String?) {
        messages.append((role, text))
    }

    /// Appends the assistant turn the model is asked to write.
    public mutating func appendPendingAssistant() {
        messages.append((.assistant, nil))
    }

    /// The prompt text, rendered exactly as MGM's `Conversation.get_prompt()` does for text messages.
    public func prompt() -> String {
        var all: [(role: String, text: String?)] = template.prefilledMessages.map { (roleName($0.role), $0.text) }
        all += messages.map { (roleName($0.role), $0.text) }
        // The official code tests `if message:`, so an empty string counts as "no message".
        let turns = all.map { (role: $0.role, text: ($0.text?.isEmpty ?? true) ? nil : $0.text) }
        let separators = [template.separator, template.secondSeparator ?? template.separator]
        var text = ""
        switch template.style {
        case .single:
            text = template.system + template.separator
            for turn in turns {
                if let message = turn.text { text += turn.role + ": " + message + template.separator }
                else { text += turn.role + ":" }
            }
        case .two:
            text = template.system + separators[0]
            for (index, turn) in turns.enumerated() {
                if let message = turn.text { text += turn.role + ": " + message + separators[index % 2] }
                else { text += turn.role + ":" }
            }
        case .mpt, .llama3:
            text = template.system + template.separator
            for turn in turns {
                if let message = turn.text { text += turn.role + message + template.separator }
                else { text += turn.role }
            }
        case .llama2:
            for (index, turn) in turns.enumerated() {
                guard var message = turn.text else { continue }
                if index == 0, !template.system.isEmpty {
                    message = "<<SYS>>\n" + template.system + "\n<</SYS>>\n\n" + message
                }
                if index % 2 == 0 {
                    text += template.separator + "[INST] " + message + " [/INST]"
                } else {
                    text += " " + message + " " + (template.secondSeparator ?? "")
                }
            }
            // Python's `str.lstrip(sep)` strips any leading characters in the set, not the prefix.
            let stripped = Set(template.separator)
            text = String(text.drop(while: { stripped.contains($0) }))
        case .gemma:
            text = template.system + separators[0]
            for (index, turn) in turns.enumerated() {
                if let message = turn.text {
                    text += "<start_of_turn>" + turn.role + "\n" + message + "<end_of_turn>\n" + separators[index % 2]
                } else {
                    text += "<start_of_turn>" + turn.role + "\n"
                }
            }
        case .plain:
            text = template.system
            for (index, turn) in turns.enumerated() {
                if let message = turn.text { text += message + separators[index % 2] }
            }
        }
        return text
    }

    private func roleName(_ role: Role) -> String {
        role == .user ? template.roles.user : template.roles.assistant
    }
}

extension Conversation {
    /// The first user text with images, as the official CLI builds it: one `"<image>\n"` per image,
    /// then the question.
    public static func userText(question: String, imageCount: Int, imageToken: String = "<image>") -> String {
        String(repeating: imageToken + "\n", count: max(0, imageCount)) + question
    }

    /// With two or more image placeholders in a rendered prompt, the official CLI labels each one:
    /// `"Image 1:<image>"`, `"Image 2:<image>"`, … (a single image is left unlabelled).
    public static func labelingImages(in prompt: String, imageToken: String = "<image>") -> String {
        let pieces = prompt.components(separatedBy: imageToken)
        guard pieces.count >= 3 else { return prompt }
        var labelled = ""
        for (index, piece) in pieces.enumerated() {
            labelled += piece
            if index < pieces.count - 1 { labelled += "Image \(index + 1):" + imageToken }
        }
        return labelled
    }
}
