import Foundation
import MGFuzzSupport
import MGTensor

// A GGUF file: header, metadata and tensor-info validation, then every listed tensor must read
// with the byte length its info promised, small quantized tensors must dequantize, and the
// Hugging Face view of a decoder must answer every name it lists.
let scratch = FuzzScratch()
var limits = GGUFFile.Limits()
limits.maximumArrayElements = 1 << 16
limits.maximumStringBytes = 1 << 16
FuzzDriver.run { bytes in
    let path = scratch.write(bytes, to: "input.gguf")
    guard let file = try? GGUFFile(contentsOf: URL(fileURLWithPath: path), limits: limits) else { return }
    for name in file.names {
        guard let info = file.tensorInfos[name], let storage = try? file.storage(named: name).storage else {
            fatalError("a tensor the file lists cannot be read: \(name)")
        }
        precondition(storage.byteCount == info.byteCount, "tensor \(name) has \(storage.byteCount) bytes, info \(info.byteCount)")
        guard info.shape.reduce(1, *) <= 1 << 16 else { continue }
        switch info.type {
        case .plain(let dtype):
            guard let tensor = try? file.tensor(named: name) else { fatalError("plain tensor \(name) does not read") }
            precondition(tensor.shape == info.shape)
            if dtype.isFloatingPointCompute { _ = tensor.floats().reduce(0, +) }
        case .quantized(let format):
            guard case .quantized(let matrix)? = try? file.matrix(named: name) else { fatalError("quantized \(name) is not a matrix") }
            if format.supportsDequantization { _ = try? matrix.dequantized().floats().reduce(0, +) }
        }
    }
    guard let decoder = try? GGUFDecoderWeights(file: file) else { return }
    for name in decoder.names {
        _ = try? decoder.matrix(named: name)
    }
}
