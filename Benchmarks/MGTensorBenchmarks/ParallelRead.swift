import CMGKernels
import Dispatch
import MGTensor

/// Seconds to read every byte of `spans` once on the worker threads, in pieces of `chunk` bytes
/// (`mg_qd_read_bytes`, whole 64-byte lines of each piece), and the sum of the words read (compare
/// builds; it also keeps the reads). The plain read a memory-bound decode step is measured against,
/// taken in the same process as the step because the memory's rate moves between runs.
func parallelReadSeconds(_ spans: [(base: UnsafeRawPointer, count: Int)], chunk: Int) -> (seconds: Double, checksum: UInt64) {
    let starts = spans.reduce(into: [0]) { $0.append($0[$0.count - 1] + ($1.count + chunk - 1) / chunk) }
    let pieces = starts[starts.count - 1]
    guard pieces > 0 else { return (0, 0) }
    let sums = UnsafeMutablePointer<UInt64>.allocate(capacity: pieces)
    defer { sums.deallocate() }
    // Addresses as integers: the worker closure is @Sendable.
    let addresses = spans.map { (base: UInt(bitPattern: $0.base), count: $0.count) }, out = UInt(bitPattern: sums)
    let start = DispatchTime.now().uptimeNanoseconds
    Parallel.forEachChunk(count: pieces, minimumChunk: 1) { range in
        var span = 0
        for piece in range {
            while starts[span + 1] <= piece { span += 1 }
            let begin = (piece - starts[span]) * chunk, length = min(chunk, addresses[span].count - begin) & ~63
            let bytes = UnsafePointer<UInt8>(bitPattern: addresses[span].base)! + begin
            UnsafeMutablePointer<UInt64>(bitPattern: out)![piece] = mg_qd_read_bytes(bytes, length)
        }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return (seconds, (0..<pieces).reduce(0) { $0 &+ sums[$1] })
}
