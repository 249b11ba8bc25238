import Foundation
import Testing

@testable import MGTensor

/// The pool that keeps large tensor allocations mapped between uses (each test has its own pool;
/// the shared one serves every other test running at the same time).
@Suite struct StoragePoolTests {
    let megabyte = 1 << 20

    @Test func aFreedBufferServesTheNextRequestOfItsSize() {
        let pool = StoragePool(enabled: true)
        let first = pool.allocate(byteCount: 3 * megabyte)
        pool.recycle(first.pointer, byteCount: first.byteCount)
        #expect(pool.keptBytes == 3 * megabyte)
        let second = pool.allocate(byteCount: 3 * megabyte - 100)
        #expect(second.pointer == first.pointer)
        #expect(second.byteCount == 3 * megabyte)
        #expect(pool.keptBytes == 0)
        pool.recycle(second.pointer, byteCount: second.byteCount)
    }

    @Test func aMissFreesEveryKeptBufferFirstSoPeakMemoryDoesNotGrow() {
        let pool = StoragePool(enabled: true)
        let a = pool.allocate(byteCount: 2 * megabyte), b = pool.allocate(byteCount: 4 * megabyte)
        pool.recycle(a.pointer, byteCount: a.byteCount)
        pool.recycle(b.pointer, byteCount: b.byteCount)
        #expect(pool.keptBytes == 6 * megabyte)
        let larger = pool.allocate(byteCount: 9 * megabyte)
        #expect(pool.keptBytes == 0)
        #expect(larger.byteCount == 9 * megabyte)
        pool.recycle(larger.pointer, byteCount: larger.byteCount)
    }

    @Test func aSmallRequestDoesNotTakeAMuchLargerBuffer() {
        let pool = StoragePool(enabled: true)
        let large = pool.allocate(byteCount: 8 * megabyte)
        pool.recycle(large.pointer, byteCount: large.byteCount)
        let small = pool.allocate(byteCount: 2 * megabyte)
        #expect(small.byteCount == 2 * megabyte)
        #expect(pool.keptBytes == 0)
        pool.recycle(small.pointer, byteCount: small.byteCount)
    }

    @Test func limitsSmallSizesAndTheOffSwitch() {
        let pool = StoragePool(enabled: true, byteLimit: 10 * megabyte, capacity: 2)
        let tiny = pool.allocate(byteCount: 1000)
        pool.recycle(tiny.pointer, byteCount: tiny.byteCount)
        #expect(pool.keptBytes == 0)
        let buffers = (0..<3).map { _ in pool.allocate(byteCount: 4 * megabyte) }
        for buffer in buffers { pool.recycle(buffer.pointer, byteCount: buffer.byteCount) }
        #expect(pool.keptBytes == 8 * megabyte)
        let off = StoragePool(enabled: false)
        let unpooled = off.allocate(byteCount: 4 * megabyte)
        off.recycle(unpooled.pointer, byteCount: unpooled.byteCount)
        #expect(off.keptBytes == 0)
    }

    @Test func tensorsReadTheirOwnValuesFromReusedStorage() throws {
        let count = (2 * megabyte) / 4
        for round in 0..<3 {
            let values = (0..<count).map { Float($0 % 977 + round) }
            let tensor = try Tensor(shape: [count], values: values)
            #expect(try tensor.floats() == values)
        }
    }
}

/// Large buffers as their own huge-page mappings (``HugePageBuffers``).
@Suite struct HugePageBuffersTests {
    let megabyte = 1 << 20
    let buffers = HugePageBuffers(pageBytes: 2 << 20, minimumBytes: 4 << 20)

    /// The VmFlags line of the /proc/self/smaps entry that contains `address`, or nil.
    func mappingFlags(of address: UnsafeMutableRawPointer) -> String? {
        // Read to the end: /proc files report a size of 0, so a sized read would get nothing.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/smaps") else { return nil }
        defer { try? handle.close() }
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        let target = UInt(bitPattern: address)
        var inside = false
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 1)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= target && target < bounds[1]
            } else if inside, line.hasPrefix("VmFlags:") {
                return String(line)
            }
        }
        return nil
    }

    @Test func largeRequestsAreAlignedWholeHugePagesMarkedForTHP() throws {
        let (pointer, byteCount) = buffers.allocate(byteCount: 5 * megabyte + 3)
        defer { buffers.deallocate(pointer, byteCount: byteCount) }
        #expect(byteCount == 6 * megabyte)
        #expect(UInt(bitPattern: pointer) % UInt(2 * megabyte) == 0)
        #expect(buffers.isMapping(byteCount: byteCount))
        // Every byte is usable.
        pointer.initializeMemory(as: UInt8.self, repeating: 7, count: byteCount)
        #expect(pointer.load(fromByteOffset: byteCount - 1, as: UInt8.self) == 7)
        let flags = try #require(mappingFlags(of: pointer))
        #expect(flags.split(separator: " ").contains("hg"), "\(flags)")
    }

    @Test func smallRequestsAndTheOffSwitchStayWithMalloc() {
        let small = buffers.allocate(byteCount: 3 * megabyte)
        #expect(small.byteCount == 3 * megabyte)
        #expect(!buffers.isMapping(byteCount: small.byteCount))
        buffers.deallocate(small.pointer, byteCount: small.byteCount)
        let plain = HugePageBuffers.plain.allocate(byteCount: 8 * megabyte)
        #expect(plain.byteCount == 8 * megabyte)
        #expect(!HugePageBuffers.plain.isMapping(byteCount: plain.byteCount))
        HugePageBuffers.plain.deallocate(plain.pointer, byteCount: plain.byteCount)
    }

    @Test func thePoolKeepsAndReusesHugePageBuffers() {
        let pool = StoragePool(enabled: true, buffers: buffers)
        let first = pool.allocate(byteCount: 7 * megabyte)
        #expect(first.byteCount == 8 * megabyte)
        pool.recycle(first.pointer, byteCount: first.byteCount)
        #expect(pool.keptBytes == 8 * megabyte)
        let second = pool.allocate(byteCount: 7 * megabyte + 5)
        #expect(second.pointer == first.pointer)
        // A miss still frees every kept buffer first.
        pool.recycle(second.pointer, byteCount: second.byteCount)
        let larger = pool.allocate(byteCount: 20 * megabyte)
        #expect(pool.keptBytes == 0)
        #expect(larger.byteCount == 20 * megabyte)
        pool.recycle(larger.pointer, byteCount: larger.byteCount)
    }
}
