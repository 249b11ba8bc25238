import ArgumentParser
import Foundation
import MGTensor

/// `mgm inspect`: the tensor table of a safetensors checkpoint, validated as the loaders see it.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a .safetensors file (name, dtype, shape, bytes).")

    @Argument(help: "A .safetensors file.")
    var path: String

    @Flag(help: "Print only the totals.")
    var summary = false

    func run() throws {
        let file = try SafetensorsFile(path: path)
        var bytesByType: [DType: Int] = [:]
        var elements = 0
        for name in file.names {
            guard let entry = file.entries[name] else { continue }
            let bytes = entry.dataRange.count
            bytesByType[entry.dtype, default: 0] += bytes
            elements += Shape.elementCount(entry.shape) ?? 0
            if !summary {
                print("\(name)\t\(entry.dtype.rawValue)\t\(entry.shape)\t\(bytes)")
            }
        }
        let types = bytesByType.keys.sorted { $0.rawValue < $1.rawValue }
            .map { "\($0.rawValue) \(bytesByType[$0] ?? 0) bytes" }.joined(separator: ", ")
        print("\(file.entries.count) tensors, \(elements) elements; \(types)")
        for (key, value) in file.metadata.sorted(by: { $0.key < $1.key }) {
            print("metadata \(key) = \(value.prefix(120))")
        }
    }
}
