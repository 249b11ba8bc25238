// The templates registered in the official mgm/conversation.py (`conv_templates`), with their exact
// texts, and the CLI's choice of template from a model name.

extension ConversationTemplate {
    private static let vicunaSystem =
        "A chat between a curious user and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the user's questions."
    private static let humanSystem =
        "A chat between a curious human and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the human's questions."
    // No space before "The visual": the official strings are concatenated without one.
    private static let mmtagSystem =
        "A chat between a curious user and an artificial intelligence assistant. "
        + "The assistant is able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language."
        + "The visual content will be provided with the following format: <Image>visual content</Image>."
    private static let visionAssistantSystem =
        "You are a helpful language and vision assistant. "
        + "You are able to understand the visual content that the user provides, "
        + "and assist the user with a variety of tasks using natural language."
    private static let renewableQuestion =
        "What are the key differences between renewable and non-renewable energy sources?"
    private static let renewableAnswer =
        "Renewable energy sources are those that can be replenished naturally in a relatively "
        + "short amount of time, such as solar, wind, hydro, geothermal, and biomass. "
        + "Non-renewable energy sources, on the other hand, are finite and will eventually be "
        + "depleted, such as coal, oil, and natural gas. Here are some key differences between "
        + "renewable and non-renewable energy sources:\n"
        + "1. Availability: Renewable energy sources are virtually inexhaustible, while non-renewable "
        + "energy sources are finite and will eventually run out.\n"
        + "2. Environmental impact: Renewable energy sources have a much lower environmental impact "
        + "than non-renewable sources, which can lead to air and water pollution, greenhouse gas emissions, "
        + "and other negative effects.\n"
        + "3. Cost: Renewable energy sources can be more expensive to initially set up, but they typically "
        + "have lower operational costs than non-renewable sources.\n"
        + "4. Reliability: Renewable energy sources are often more reliable and can be used in more remote "
        + "locations than non-renewable sources.\n"
        + "5. Flexibility: Renewable energy sources are often more flexible and can be adapted to different "
        + "situations and needs, while non-renewable sources are more rigid and inflexible.\n"
        + "6. Sustainability: Renewable energy sources are more sustainable over the long term, while "
        + "non-renewable sources are not, and their depletion can lead to economic and social instability.\n"

    /// `v0` / `default`: Human/Assistant with a pre-filled example exchange.
    public static let vicunaV0 = ConversationTemplate(
        name: "v0", system: humanSystem, roles: ("Human", "Assistant"),
        prefilledMessages: [(.user, renewableQuestion), (.assistant, renewableAnswer)],
        style: .single, separator: "###", version: "Unknown")
    /// `vicuna_v1` / `v1`: MGM-7B and MGM-13B.
    public static let vicunaV1 = ConversationTemplate(
        name: "vicuna_v1", system: vicunaSystem, roles: ("USER", "ASSISTANT"),
        style: .two, separator: " ", secondSeparator: "</s>", version: "v1")
    public static let imgspV1 = ConversationTemplate(
        name: "imgsp_v1", system: vicunaSystem, roles: ("USER", "ASSISTANT"),
        style: .two, separator: " ", secondSeparator: "</s>", version: "imgsp_v1")
    public static let phi2 = ConversationTemplate(
        name: "phi_2", system: vicunaSystem, roles: ("USER", "ASSISTANT"),
        style: .two, separator: " ", secondSeparator: "<|endoftext|>", version: "phi2")
    public static let llavaV0 = ConversationTemplate(
        name: "llava_v0", system: humanSystem, roles: ("Human", "Assistant"),
        style: .single, separator: "###", version: "Unknown")
    public static let llavaV1 = ConversationTemplate(
        name: "llava_v1", system: humanSystem, roles: ("USER", "ASSISTANT"),
        style: .two, separator: " ", secondSeparator: "</s>", version: "v1")
    public static let v0MMTag = ConversationTemplate(
        name: "v0_mmtag", system: mmtagSystem, roles: ("Human", "Assistant"),
        style: .single, separator: "###", version: "v0_mmtag")
    public static let v1MMTag = ConversationTemplate(
        name: "v1_mmtag", system: mmtagSystem, roles: ("USER", "ASSISTANT"),
        style: .two, separator: " ", secondSeparator: "</s>", version: "v1_mmtag")
    public static let plain = ConversationTemplate(
        name: "plain", system: "", roles: ("", ""), style: .plain, separator: "\n", version: "Unknown")
    public static let llama2 = ConversationTemplate(
        name: "llama_2",
        system: "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being safe.  "
            + "Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. "
            + "Please ensure that your responses are socially unbiased and positive in nature.\n\n"
            + "If a question does not make any sense, or is not factually coherent, explain why instead of answering something not correct. "
            + "If you don't know the answer to a question, please don't share false information.",
        roles: ("USER", "ASSISTANT"), style: .llama2, separator: "<s>", secondSeparator: "</s>", version: "llama_v2")
    public static let llavaLlama2 = ConversationTemplate(
        name: "llava_llama_2", system: visionAssistantSystem, roles: ("USER", "ASSISTANT"),
        style: .llama2, separator: "<s>", secondSeparator: "</s>", version: "llama_v2")
    /// `mistral_instruct`: MGM-8x7B.
    public static let mistralInstruct = ConversationTemplate(
        name: "mistral_instruct", system: "", roles: ("USER", "ASSISTANT"),
        style: .llama2, separator: "<s>", secondSeparator: "</s>", version: "llama_v2")
    /// `gemma`: MGM-2B.
    public static let gemma = ConversationTemplate(
        name: "gemma", system: "", roles: ("user", "model"),
        style: .gemma, separator: "", secondSeparator: "<eos>", version: "gemma")
    /// `llama_3`: MGM-8B. The assistant role is rendered as "system", as the model was trained.
    public static let llama3 = ConversationTemplate(
        name: "llama_3",
        system: "<|start_header_id|>system<|end_header_id|>\n\n" + visionAssistantSystem,
        roles: ("<|start_header_id|>user<|end_header_id|>\n\n", "<|start_header_id|>system<|end_header_id|>\n\n"),
        style: .llama3, separator: "<|eot_id|>", version: "llama_v3")
    public static let mpt = ConversationTemplate(
        name: "mpt",
        system: "<|im_start|>system\nA conversation between a user and an LLM-based AI assistant. The assistant gives helpful and honest answers.",
        roles: ("<|im_start|>user\n", "<|im_start|>assistant\n"), style: .mpt, separator: "<|im_end|>", version: "mpt")
    /// `chatml_direct`: MGM-34B.
    public static let chatMLDirect = ConversationTemplate(
        name: "chatml_direct", system: "<|im_start|>system\nAnswer the questions.",
        roles: ("<|im_start|>user\n", "<|im_start|>assistant\n"), style: .mpt, separator: "<|im_end|>", version: "mpt")

    /// Every key of the official `conv_templates` table and its template.
    public static let registered: [String: ConversationTemplate] = [
        "default": vicunaV0, "v0": vicunaV0, "v1": vicunaV1, "vicuna_v1": vicunaV1, "phi_2": phi2,
        "gemma": gemma, "llama_2": llama2, "llama_3": llama3, "imgsp_v1": imgspV1,
        "mistral_instruct": mistralInstruct, "chatml_direct": chatMLDirect, "mistral_direct": chatMLDirect,
        "plain": plain, "v0_plain": plain, "llava_v0": llavaV0, "v0_mmtag": v0MMTag, "llava_v1": llavaV1,
        "v1_mmtag": v1MMTag, "llava_llama_2": llavaLlama2, "mpt": mpt,
    ]

    /// The template registered under `name`, or `nil`.
    public static func named(_ name: String) -> ConversationTemplate? { registered[name] }

    /// The template the official CLI picks from a model's name: "8x7b" → `mistral_instruct`,
    /// "34b" → `chatml_direct`, "2b" → `gemma`, otherwise `vicuna_v1` (case-insensitive).
    /// Note this sends MGM-8B to `vicuna_v1`; its evaluation scripts pass `llama_3` explicitly.
    public static func officialChoice(forModelName modelName: String) -> ConversationTemplate {
        let name = modelName.lowercased()
        if name.contains("8x7b") { return mistralInstruct }
        if name.contains("34b") { return chatMLDirect }
        if name.contains("2b") { return gemma }
        return vicunaV1
    }
}
