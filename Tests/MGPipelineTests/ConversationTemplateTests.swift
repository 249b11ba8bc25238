import Foundation
import MGPipeline
import Testing

/// Prompts rendered by the official mgm/conversation.py for every registered template
/// (Tools/goldens/templates.py), compared character for character.
@Suite struct ConversationTemplateTests {
    struct Record: Decodable, CustomTestStringConvertible {
        let template: String
        let `case`: String
        let messages: [[String?]]
        let prompt: String?
        let labelled: String?
        let error: String?
        var testDescription: String { "\(template): \(`case`)" }
    }

    static let records: [Record] = {
        guard let url = Bundle.module.url(forResource: "templates", withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url),
              let records = try? JSONDecoder().decode([Record].self, from: data)
        else { return [] }
        return records.filter { $0.error == nil }
    }()

    @Test func fixtureCoversEveryRegisteredTemplate() {
        #expect(Set(Self.records.map(\.template)) == Set(ConversationTemplate.registered.keys))
        #expect(Self.records.count >= 150)
    }

    @Test(arguments: records)
    func rendersLikeTheOfficialCode(_ record: Record) throws {
        let template = try #require(ConversationTemplate.named(record.template))
        var conversation = Conversation(template: template)
        for message in record.messages {
            conversation.append(message[0] == "user" ? .user : .assistant, message[1] ?? nil)
        }
        let prompt = conversation.prompt()
        #expect(prompt == record.prompt)
        #expect(Conversation.labelingImages(in: prompt) == record.labelled)
    }

    @Test func vicunaSingleTurnReadsAsDocumented() {
        var conversation = Conversation(template: .vicunaV1)
        conversation.append(.user, Conversation.userText(question: "What is this?", imageCount: 1))
        conversation.appendPendingAssistant()
        #expect(conversation.prompt().hasSuffix(" USER: <image>\nWhat is this? ASSISTANT:"))
    }

    @Test func officialTemplateChoiceByModelName() {
        #expect(ConversationTemplate.officialChoice(forModelName: "MGM-8x7B-HD").name == "mistral_instruct")
        #expect(ConversationTemplate.officialChoice(forModelName: "MGM-34B").name == "chatml_direct")
        #expect(ConversationTemplate.officialChoice(forModelName: "MGM-2B").name == "gemma")
        #expect(ConversationTemplate.officialChoice(forModelName: "MGM-7B-HD").name == "vicuna_v1")
        #expect(ConversationTemplate.officialChoice(forModelName: "MGM-8B").name == "vicuna_v1")
    }

    @Test func stopStrings() {
        #expect(ConversationTemplate.vicunaV1.stopStrings == ["</s>"])
        #expect(ConversationTemplate.gemma.stopStrings == ["<eos>"])
        #expect(ConversationTemplate.chatMLDirect.stopStrings == ["<|im_end|>"])
        #expect(ConversationTemplate.llama3.stopStrings == ["<|eot_id|>"])
    }
}
