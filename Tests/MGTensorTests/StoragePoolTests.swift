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
