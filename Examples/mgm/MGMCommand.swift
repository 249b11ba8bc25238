import ArgumentParser

/// `mgm`: the Mini-Gemini command-line tool.
@main
struct MGMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mgm",
        abstract: "Mini-Gemini (MGM) inference in Swift.",
        subcommands: [RunCommand.self, EvalCommand.self, InspectCommand.self, PromptCommand.self, ServeCommand.self]
    )
}
