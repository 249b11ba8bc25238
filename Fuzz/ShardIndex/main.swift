import Foundation
import MGFuzzSupport
import MGTensor

// `model.safetensors.index.json` beside two valid shards: the index is the fuzzed input.
let scratch = FuzzScratch()
/// A one-tensor F32 shard holding `name` = [1, 2].
func shard(_ name: String) -> [UInt8] {
    let header = Array("{\"\(name)\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}".utf8)
    var bytes = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header
    for value in [Float(1), 2] { bytes += (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt32($0))) } }
    return bytes
}
scratch.write(shard("a.weight"), to: "model-00001-of-00002.safetensors")
scratch.write(shard("b.weight"), to: "model-00002-of-00002.safetensors")

FuzzDriver.run { bytes in
    let path = scratch.write(bytes, to: ShardedSafetensors.indexFileName)
    guard let weights = try? ShardedSafetensors(contentsOf: URL(fileURLWithPath: path)) else { return }
    for name in weights.names {
        guard weights.shard(containing: name) != nil, let tensor = try? weights.tensor(named: name) else {
            fatalError("a listed tensor cannot be read: \(name)")
        }
        precondition(tensor.floats() == [1, 2])
    }
}
