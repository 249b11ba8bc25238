/// Strided tensor layout: validating a tensor record against its storage, and reading the
/// elements into a dense row-major tensor (zero-copy when they already are).
enum TorchTensorLayout {
    /// Whether `strides` are the row-major strides of `shape`; dimensions of size 1 may have any
    /// stride (PyTorch gives them arbitrary ones), and empty tensors count as contiguous.
    static func isContiguous(shape: [Int], strides: [Int]) -> Bool {
        if shape.contains(0) { return true }
        var expected = 1
        for axis in shape.indices.reversed() where shape[axis] != 1 {
            guard strides[axis] == expected else { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// Checks that `record` lies inside its storage and locates its first element in the file.
    static func entry(
        name: String, record: TorchTensorRecord, unpickler: TorchUnpickler, storageRanges: [String: Range<Int>], path: String
    ) throws(CheckpointError) -> TorchCheckpoint.Entry {
        let reference = unpickler.storages[record.storage]
        guard let range = storageRanges[reference.key] else { throw .storageNotFound(path: path, storage: reference.key) }
        // A legacy storage view starts part-way into the stored storage.
        let viewStart = (reference.view?.lowerBound ?? 0) * reference.dtype.byteSize
        let available = (reference.view?.count ?? reference.count) * reference.dtype.byteSize
        let elementSize = record.dtype.byteSize
        guard let count = Shape.elementCount(record.shape) else {
            throw .invalidTensorRecord(path: path, tensor: name, reason: "size \(record.shape) overflows")
        }
        var extent = 0
        var firstByte = range.lowerBound + viewStart
        if count > 0 {
            // Index of the last element reached: offset + Σ (size − 1) × stride, overflow-checked.
            var last = record.offset
            var overflow = false
            for (size, stride) in zip(record.shape, record.strides) {
                let (step, stepOverflow) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, sumOverflow) = last.addingReportingOverflow(step)
                overflow = overflow || stepOverflow || sumOverflow
                last = sum
            }
            let (elements, countOverflow) = last.addingReportingOverflow(1)
            let (end, endOverflow) = elements.multipliedReportingOverflow(by: elementSize)
            overflow = overflow || countOverflow || endOverflow
            guard !overflow, end <= available else {
                throw .storageOutOfRange(
                    path: path, tensor: name, storage: reference.key,
                    endByte: overflow ? Int.max : end, storageBytes: available)
            }
            firstByte += record.offset * elementSize
            extent = end - record.offset * elementSize
        }
        return TorchCheckpoint.Entry(
            dtype: record.dtype, shape: record.shape, strides: record.strides, storage: reference.key,
            firstByte: firstByte, extentBytes: extent)
    }

    /// The elements of `entry` as a row-major tensor in the stored dtype.
    static func materialize(_ entry: TorchCheckpoint.Entry, file: MappedFile) -> Tensor {
        // The entry was validated when the checkpoint was opened.
        let count = Shape.elementCount(entry.shape) ?? 0
        let elementSize = entry.dtype.byteSize
        let byteCount = count * elementSize
        let source = file.bytes(entry.firstByte..<(entry.firstByte + entry.extentBytes))
        if entry.isContiguous, let base = source.baseAddress, Int(bitPattern: base) % elementSize == 0 {
            let storage = TensorStorage(borrowing: base, byteCount: byteCount, dtype: entry.dtype, owner: file)
            return Tensor(shape: entry.shape, count: count, storage: storage)
        }
        let storage = TensorStorage(allocating: byteCount, dtype: entry.dtype)
        if let base = source.baseAddress, count > 0 {
            if entry.isContiguous {
                storage.mutableBase.copyMemory(from: base, byteCount: byteCount)
            } else {
                stridedCopy(from: base, shape: entry.shape, strides: entry.strides, elementSize: elementSize, to: storage.mutableBase)
            }
        }
        return Tensor(shape: entry.shape, count: count, storage: storage)
    }

    /// Gathers a strided, non-empty tensor into `destination` in row-major order. `source` need not
    /// be aligned; `strides` are in elements.
    static func stridedCopy(
        from source: UnsafeRawPointer, shape: [Int], strides: [Int], elementSize: Int, to destination: UnsafeMutableRawPointer
    ) {
        let rank = shape.count
        guard rank > 0 else {
            destination.copyMemory(from: source, byteCount: elementSize)
            return
        }
        let inner = shape[rank - 1]
        let innerStride = strides[rank - 1] * elementSize
        let rows = shape.reduce(1, *) / inner
        var index = [Int](repeating: 0, count: rank - 1)
        var offset = 0
        var output = destination
        for _ in 0..<rows {
            copyRow(from: source + offset, stride: innerStride, count: inner, elementSize: elementSize, to: output)
            output += inner * elementSize
            // Advance the outer index like an odometer, adjusting the source offset incrementally.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis] * elementSize
                if index[axis] < shape[axis] { break }
                offset -= shape[axis] * strides[axis] * elementSize
                index[axis] = 0
                axis -= 1
            }
        }
    }

    private static func copyRow(
        from source: UnsafeRawPointer, stride: Int, count: Int, elementSize: Int, to destination: UnsafeMutableRawPointer
    ) {
        if stride == elementSize {
            destination.copyMemory(from: source, byteCount: count * elementSize)
            return
        }
        switch elementSize {
        case 2: gather(UInt16.self, source, stride, count, destination)
        case 4: gather(UInt32.self, source, stride, count, destination)
        case 8: gather(UInt64.self, source, stride, count, destination)
        default:
            for element in 0..<count {
                (destination + element * elementSize).copyMemory(from: source + element * stride, byteCount: elementSize)
            }
        }
    }

    @inline(__always)
    private static func gather<T: FixedWidthInteger>(
        _: T.Type, _ source: UnsafeRawPointer, _ stride: Int, _ count: Int, _ destination: UnsafeMutableRawPointer
    ) {
        for element in 0..<count {
            let value = source.loadUnaligned(fromByteOffset: element * stride, as: T.self)
            destination.storeBytes(of: value, toByteOffset: element * MemoryLayout<T>.stride, as: T.self)
        }
    }
}
