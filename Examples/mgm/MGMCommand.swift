import ArgumentParser
import Foundation
import Logging

/// `mgm`: the Mini-Gemini command-line tool.
@main
struct MGMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mgm",
        abstract: "Mini-Gemini (MGM) inference in Swift.",
        subcommands: [RunCommand.self, EvalCommand.self, InspectCommand.self, PromptCommand.self, DownloadCommand.self, QuantizeCommand.self, ServeCommand.self]
    )

    /// The library's diagnostics go to standard error at the level `MG_LOG_LEVEL` names
    /// (`trace`, `debug`, `info`, `notice`, `warning` — the default —, `error`, `critical`).
    static func main() async {
        let level = ProcessInfo.processInfo.environment["MG_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        await main(nil)
    }
}
