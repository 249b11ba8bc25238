import CMGKernels

/// How one attention call is cut into blocks of query rows and run on the cores.
///
/// The queries of a group (the query heads sharing one key/value head) are contiguous in memory:
/// row `j·Tq + t` of the group is position `t` of its `j`-th head. A block is a run of those rows;
/// it needs one GEMM for its scores, a row softmax, and one GEMM with the values.
struct AttentionPlan {
    let groups: Int
    let groupSize: Int
    let queryLength: Int
    let keyLength: Int
    let depth: Int
    let valueDepth: Int
    let causal: Bool
    let scale: Float

    /// A run of query rows of one group and the number of leading keys any of them can see.
    struct Block {
        let group: Int
        let row: Int
        let rows: Int
        let keys: Int
    }

    /// Scores per block: about 1 MB, so a block's scores stay in L2 between the softmax and the
    /// second GEMM.
    static let scoreBudget = 1 << 18
    /// Causal blocks are shorter: a block computes scores up to its last row's position, so smaller
    /// blocks waste less work on masked keys.
    static let causalRows = 128

    var rowsPerGroup: Int { groupSize * queryLength }

    /// Rows per block, bounded by the score budget.
    var blockRows: Int {
        let rows = max(1, Self.scoreBudget / keyLength)
        return causal && queryLength > 1 ? min(rows, Self.causalRows) : rows
    }

    func blocks() -> [Block] {
        let size = blockRows
        let offset = keyLength - queryLength
        var blocks: [Block] = []
        // Causal blocks stay inside one head once a head has enough rows for a block, so each
        // block's key range is set by its own last position; short heads are stacked instead.
        let splitByHead = causal && queryLength >= size
        for group in 0..<groups {
            if splitByHead {
                for head in 0..<groupSize {
                    var t = 0
                    while t < queryLength {
                        let rows = min(size, queryLength - t)
                        let keys = min(keyLength, t + rows + offset)
                        blocks.append(Block(group: group, row: head * queryLength + t, rows: rows, keys: keys))
                        t += rows
                    }
                }
            } else {
                var row = 0
                while row < rowsPerGroup {
                    let rows = min(size, rowsPerGroup - row)
                    var keys = keyLength
                    if causal, row / queryLength == (row + rows - 1) / queryLength {
                        keys = min(keyLength, (row + rows - 1) % queryLength + 1 + offset)
                    }
                    blocks.append(Block(group: group, row: row, rows: rows, keys: keys))
                    row += rows
                }
            }
        }
        return blocks
    }

    /// Computes every block into `output` (`[groups · rowsPerGroup, valueDepth]`).
    func run(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let blocks = blocks()
        // Scores, then one inverse row sum per row.
        let scratchCount = (blocks.map { $0.rows * $0.keys }.max() ?? 0) + (blocks.map(\.rows).max() ?? 0)
        let pointers = UncheckedSendable((query, key, value, output))
        // Enough blocks to share out: one block per thread at a time on single-threaded BLAS.
        // Otherwise (e.g. decode, a single group of a few rows) BLAS spreads each GEMM over the cores.
        if Parallel.threadCount > 1, blocks.count >= 2 * Parallel.threadCount {
            BLASThreads.singleThreaded {
                Parallel.forEachChunk(count: blocks.count, minimumChunk: 1) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
                    defer { scratch.deallocate() }
                    let (q, k, v, o) = pointers.value
                    for index in range {
                        compute(blocks[index], query: q, key: k, value: v, output: o, scores: scratch, parallelSoftmax: false)
                    }
                }
            }
        } else {
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { scratch.deallocate() }
            for block in blocks {
                compute(block, query: query, key: key, value: value, output: output, scores: scratch, parallelSoftmax: true)
            }
        }
    }

    private func compute(
        _ block: Block, query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, parallelSoftmax: Bool
    ) {
        let firstRow = block.group * rowsPerGroup + block.row
        let keys = block.keys, row = block.row
        let inverseSums = scores + block.rows * keys
        // Scores in log2 units, so the softmax kernel exponentiates with exp2.
        sgemmRowMajor(
            m: block.rows, n: keys, k: depth, alpha: scale * 1.442_695_04, a: query + firstRow * depth,
            b: key + block.group * keyLength * depth, ldb: depth, transposeB: true, c: scores)
        let offset = keyLength - queryLength
        let causalFlag: Int32 = causal ? 1 : 0
        if parallelSoftmax {
            let box = UncheckedSendable((scores, inverseSums))
            Parallel.forEachChunk(count: block.rows, minimumChunk: max(1, (1 << 14) / keys)) { range in
                let (scores, inverseSums) = box.value
                mg_attention_softmax(
                    scores + range.lowerBound * keys, range.count, keys, keys, causalFlag,
                    row + range.lowerBound, queryLength, offset, inverseSums + range.lowerBound)
            }
        } else {
            mg_attention_softmax(scores, block.rows, keys, keys, causalFlag, row, queryLength, offset, inverseSums)
        }
        let out = output + firstRow * valueDepth
        sgemmRowMajor(
            m: block.rows, n: valueDepth, k: keys, a: scores, lda: keys,
            b: value + block.group * keyLength * valueDepth, ldb: valueDepth, transposeB: false, c: out)
        mg_scale_rows(out, block.rows, valueDepth, valueDepth, inverseSums)
    }
}
