import Foundation
import MGFuzzSupport
import MGTensor

// A PyTorch `.bin` (zip or legacy pickle stream): the archive, the restricted unpickler and the
// tensor records; every tensor it accepts must then materialise.
let scratch = FuzzScratch()
var limits = TorchCheckpoint.Limits()
// Far below the defaults so that a small input cannot spend the fuzzer's memory budget.
limits.maximumValues = 1 << 16
limits.maximumMemoEntries = 1 << 14
limits.maximumStackDepth = 1 << 14
FuzzDriver.run { bytes in
    let path = scratch.write(bytes, to: "pytorch_model.bin")
    guard let checkpoint = try? TorchCheckpoint(contentsOf: URL(fileURLWithPath: path), limits: limits) else { return }
    for name in checkpoint.names {
        guard let entry = checkpoint.entries[name], let tensor = try? checkpoint.tensor(named: name) else {
            fatalError("a listed tensor cannot be read: \(name)")
        }
        precondition(tensor.shape == entry.shape && tensor.dtype == entry.dtype, "tensor \(name) differs from its entry")
        if tensor.dtype.isFloatingPointCompute { _ = tensor.floats().reduce(0, +) }
    }
}
