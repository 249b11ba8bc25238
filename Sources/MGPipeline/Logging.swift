import Logging

/// Diagnostics of MGPipeline (what was loaded from where, which template was chosen and why),
/// routed through swift-log so an application can send them to its own handler: bootstrap
/// `LoggingSystem` and raise the level of the `MiniGemini.MGPipeline` label to see them.
let logger = Logger(label: "MiniGemini.MGPipeline")
