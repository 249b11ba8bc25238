#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Chooses which files of a repository listing to download.
public struct HubFileFilter: Sendable {
    /// Takes the whole listing, returns the files to fetch.
    public let select: @Sendable ([HubRemoteFile]) -> [HubRemoteFile]

    public init(_ select: @escaping @Sendable ([HubRemoteFile]) -> [HubRemoteFile]) {
        self.select = select
    }

    /// Every file (as `snapshot_download` without patterns).
    public static let all = HubFileFilter { $0 }

    /// Files whose path matches one of the shell patterns (`fnmatch`, as `allow_patterns`); a
    /// pattern ending in `/` matches everything under that folder.
    public static func patterns(_ patterns: [String]) -> HubFileFilter {
        HubFileFilter { files in
            files.filter { file in
                patterns.contains { pattern in
                    let full = pattern.hasSuffix("/") ? pattern + "*" : pattern
                    return fnmatch(full, file.path, 0) == 0
                }
            }
        }
    }

    /// What a vision tower folder needs and no more: the JSON configurations and one format of the
    /// weights — safetensors when the repository has them, else PyTorch `.bin` (tower repositories
    /// also carry TensorFlow, Flax and ONNX copies, several GB that nothing here reads).
    public static let visionTower = HubFileFilter { files in
        let top = files.filter { !$0.path.contains("/") }
        let configurations = top.filter { $0.path.hasSuffix(".json") && !$0.path.hasSuffix(".index.json") }
        let safetensors = top.filter { $0.path.hasSuffix(".safetensors") || $0.path.hasSuffix(".safetensors.index.json") }
        let torch = top.filter { ($0.path.hasSuffix(".bin") && $0.path != "training_args.bin") || $0.path.hasSuffix(".bin.index.json") }
        return configurations + (safetensors.isEmpty ? torch : safetensors)
    }
}
