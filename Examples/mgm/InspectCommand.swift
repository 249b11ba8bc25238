import ArgumentParser
import Foundation
import MGTensor

/// `mgm inspect`: the tensor table of a checkpoint, validated as the loaders see it.
///
/// Reads a `.safetensors` file, a sharded checkpoint (its index or its folder) or a PyTorch `.bin`.
/// A file that fails validation prints one `mgm: error:` line and exits with status 3, as
/// `mgm run` does for checkpoints.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a checkpoint (name, dtype, shape, bytes).",
        discussion: "Accepts a .safetensors file, a model.safetensors.index.json or a folder holding either, or a PyTorch .bin file.")

    @Argument(help: "A .safetensors file, a shard index, a checkpoint folder or a .bin file.")
    var path: String

    @Flag(help: "Print only the totals.")
    var summary = false

    func run() throws {
        let table: Table
        do {
            table = try Self.read(path)
        } catch {
            FileHandle.standardError.write(Data("mgm: error: \(Self.oneLine(error.description))\n".utf8))
            throw ExitCode(3)
        }
        var bytesByType: [DType: Int] = [:]
        var elements = 0
        for row in table.rows {
            let count = Shape.elementCount(row.shape) ?? 0
            bytesByType[row.dtype, default: 0] += count * row.dtype.byteSize
            elements += count
            if !summary {
                print("\(Self.oneLine(row.name))\t\(row.dtype.rawValue)\t\(row.shape)\t\(count * row.dtype.byteSize)")
            }
        }
        let types = bytesByType.keys.sorted { $0.rawValue < $1.rawValue }
            .map { "\($0.rawValue) \(bytesByType[$0] ?? 0) bytes" }.joined(separator: ", ")
        print("\(table.rows.count) tensors, \(elements) elements; \(types)")
        for (key, value) in table.metadata.sorted(by: { $0.key < $1.key }) {
            print("metadata \(Self.oneLine(key)) = \(Self.oneLine(String(value.prefix(120))))")
        }
    }

    private struct Table {
        var rows: [(name: String, dtype: DType, shape: [Int])] = []
        var metadata: [String: String] = [:]
    }

    /// Opens `path` with the reader its kind calls for.
    private static func read(_ path: String) throws(CheckpointError) -> Table {
        var table = Table()
        switch try kind(of: path) {
        case .safetensors:
            let weights = try ShardedSafetensors(contentsOf: URL(fileURLWithPath: path))
            for name in weights.names {
                guard let entry = weights.entry(named: name) else { continue }
                table.rows.append((name, entry.dtype, entry.shape))
            }
            for shard in weights.shards { table.metadata.merge(shard.metadata) { first, _ in first } }
        case .torch:
            let checkpoint = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: path))
            for name in checkpoint.names {
                guard let entry = checkpoint.entries[name] else { continue }
                table.rows.append((name, entry.dtype, entry.shape))
            }
        }
        return table
    }

    private enum Kind { case safetensors, torch }

    /// Folders holding safetensors or an index, `.json` indexes and other files that do not start
    /// like a PyTorch file are safetensors; zip archives, legacy pickles and `.bin` folders are PyTorch.
    private static func kind(of path: String) throws(CheckpointError) -> Kind {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .fileNotFound(path: path) }
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.contains { $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json") } ? .safetensors : .torch
        }
        guard !path.hasSuffix(".json") else { return .safetensors }
        let prefix = FileHandle(forReadingAtPath: path).flatMap { try? $0.read(upToCount: 2) } ?? Data()
        let isZip = prefix.starts(with: [0x50, 0x4B]), isPickle = prefix.first == 0x80
        return isZip || isPickle || path.hasSuffix(".bin") ? .torch : .safetensors
    }

    /// `message` on one line: control characters (a newline in a tensor name) are escaped.
    static func oneLine(_ message: String) -> String {
        var result = ""
        for scalar in message.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
