import Foundation
import MGFuzzSupport
import MGTensor

// A `.safetensors` file: header validation, then every tensor the header lists must be readable
// with the shape and byte length the header promised.
let scratch = FuzzScratch()
FuzzDriver.run { bytes in
    let path = scratch.write(bytes, to: "input.safetensors")
    guard let file = try? SafetensorsFile(contentsOf: URL(fileURLWithPath: path), maximumHeaderBytes: 1 << 20) else { return }
    for name in file.names {
        guard let entry = file.entries[name], let tensor = try? file.tensor(named: name) else {
            fatalError("a tensor the header lists cannot be read: \(name)")
        }
        precondition(tensor.shape == entry.shape && tensor.dtype == entry.dtype, "tensor \(name) differs from its entry")
        tensor.withUnsafeBytes { raw in
            precondition(raw.count == entry.dataRange.count, "tensor \(name) has \(raw.count) bytes, entry \(entry.dataRange.count)")
        }
        if tensor.dtype.isFloatingPointCompute { _ = tensor.floats().reduce(0, +) }
    }
}
