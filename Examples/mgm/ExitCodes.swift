import MGPipeline

extension MiniGeminiError {
    /// Process exit codes: 2 for problems with the inputs given on the command line (files,
    /// images, request), 3 for a checkpoint that cannot be loaded, 1 otherwise.
    var exitCode: Int32 {
        switch self {
        case .vision(.unreadableFile), .vision(.unsupportedFormat), .vision(.truncatedImage), .vision(.corruptImage),
             .vision(.imageTooLarge), .invalidRequest, .promptTooLong, .limitExceeded:
            2
        case .invalidConfiguration, .towerNotFound, .missingFile, .incompatibleComponents, .checkpoint, .tokenizer, .mining, .language:
            3
        default:
            1
        }
    }
}
