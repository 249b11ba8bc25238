/// A restricted pickle interpreter for PyTorch state dicts.
///
/// It implements the opcodes `torch.save` emits (protocol 2, plus the protocol 3–4 forms other
/// pickler settings produce) and knows only the globals in ``TorchGlobal``: any other `GLOBAL` or
/// `STACK_GLOBAL` is refused with ``CheckpointError/disallowedGlobal(path:module:name:)`` as soon
/// as it is read. Nothing is ever executed: "calling" an allowed global builds a dict or a tensor
/// record. Stack depth, memo size and the number of values are capped, so a hostile pickle cannot
/// exhaust memory, and containers live in flat arrays so nesting cannot exhaust the call stack.
struct TorchUnpickler {
    typealias Limits = TorchCheckpoint.Limits

    let path: String
    let limits: Limits
    // The arena: containers and torch objects, referred to by index from `PickleValue`.
    var tuples: [[PickleValue]] = []
    var lists: [[PickleValue]] = []
    var dicts: [PickleDict] = []
    var storages: [TorchStorageReference] = []
    var tensors: [TorchTensorRecord] = []
    /// The first reference to each storage key, to check later ones agree with it.
    var storageByKey: [String: Int] = [:]
    private var valueCount = 0

    init(path: String, limits: Limits) {
        self.path = path
        self.limits = limits
    }

    /// Interprets one pickle starting at `start` of `bytes` and returns its value and the offset
    /// just past its STOP opcode. `fileOffset` is added to offsets in errors.
    /// - Parameter persistentIDs: whether storage references (BINPERSID) are allowed.
    mutating func load(
        _ bytes: UnsafeRawBufferPointer, from start: Int = 0, fileOffset: Int = 0, persistentIDs: Bool
    ) throws(CheckpointError) -> (value: PickleValue, end: Int) {
        var machine = Machine(bytes: bytes, position: start, fileOffset: fileOffset, path: path, limits: limits)
        machine.valueCount = valueCount
        defer { valueCount = machine.valueCount }
        while true {
            let opcodeOffset = machine.position
            let opcode = try machine.byte()
            switch opcode {
            case 0x80:  // PROTO
                let version = try machine.byte()
                guard version <= 5 else { throw machine.error("unknown protocol \(version)") }
            case 0x95: _ = try machine.skip(8)  // FRAME: framing is irrelevant when all bytes are mapped
            case 0x2E:  // STOP
                guard machine.marks.isEmpty, machine.stack.count == 1 else {
                    throw machine.error("STOP with \(machine.stack.count) values and \(machine.marks.count) marks")
                }
                return (machine.stack[0], machine.position)
            case 0x28:  // MARK
                try machine.checkDepth()
                machine.marks.append(machine.stack.count)
            case 0x30:  // POP (an empty frame pops its mark, as CPython does)
                if let mark = machine.marks.last, mark == machine.stack.count {
                    machine.marks.removeLast()
                } else {
                    _ = try machine.pop()
                }
            case 0x31: _ = try machine.popMark()  // POP_MARK
            case 0x32: try machine.push(try machine.top())  // DUP
            case 0x4E: try machine.push(.none)
            case 0x88: try machine.push(.bool(true))
            case 0x89: try machine.push(.bool(false))
            case 0x4A: try machine.push(.int(Int64(Int32(bitPattern: UInt32(try machine.littleEndian(4))))))
            case 0x4B: try machine.push(.int(Int64(try machine.byte())))
            case 0x4D: try machine.push(.int(Int64(try machine.littleEndian(2))))
            case 0x8A: try machine.push(Self.integer(try machine.fixed(Int(try machine.byte()))))
            case 0x8B: try machine.push(Self.integer(try machine.fixed(try machine.length(4))))
            case 0x47:  // BINFLOAT, big-endian
                let raw = try machine.fixed(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                try machine.push(.float(Double(bitPattern: raw)))
            case 0x58: try machine.push(.string(try text(&machine, length: try machine.length(4))))
            case 0x8C: try machine.push(.string(try text(&machine, length: Int(try machine.byte()))))
            case 0x8D: try machine.push(.string(try text(&machine, length: try machine.length(8))))
            case 0x54: try machine.push(.string(try text(&machine, length: try machine.length(4))))
            case 0x55: try machine.push(.string(try text(&machine, length: Int(try machine.byte()))))
            case 0x42: try machine.push(.bytes(try machine.fixed(try machine.length(4))))
            case 0x43: try machine.push(.bytes(try machine.fixed(Int(try machine.byte()))))
            case 0x8E: try machine.push(.bytes(try machine.fixed(try machine.length(8))))
            case 0x29: try machine.push(newTuple([]))
            case 0x74: try machine.push(newTuple(try machine.popMark()))
            case 0x85, 0x86, 0x87:
                let items = try machine.popLast(Int(opcode - 0x84))
                try machine.push(newTuple(items))
            case 0x5D: try machine.push(newList([]))
            case 0x6C: try machine.push(newList(try machine.popMark()))
            case 0x61:  // APPEND
                let item = try machine.pop()
                try append(to: try machine.top(), [item], machine)
            case 0x65:  // APPENDS
                let items = try machine.popMark()
                try append(to: try machine.top(), items, machine)
            case 0x7D: try machine.push(newDict())
            case 0x64:  // DICT
                let items = try machine.popMark()
                let dict = newDict()
                try setItems(of: dict, items, machine)
                try machine.push(dict)
            case 0x73: try setItems(of: try machine.top(below: 2), try machine.popLast(2), machine)  // SETITEM
            case 0x75:  // SETITEMS
                let items = try machine.popMark()
                try setItems(of: try machine.top(), items, machine)
            case 0x71: try machine.memoize(key: Int(try machine.byte()))
            case 0x72: try machine.memoize(key: Int(try machine.littleEndian(4)))
            case 0x94: try machine.memoize(key: machine.memo.count)
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let key = opcode == 0x68 ? Int(try machine.byte()) : Int(try machine.littleEndian(4))
                guard let value = machine.memo[key] else { throw machine.error("memo key \(key) was never stored") }
                try machine.push(value)
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line(&machine)
                let name = try line(&machine)
                try machine.push(.global(try resolveGlobal(module: module, name: name)))
            case 0x93:  // STACK_GLOBAL
                let pair = try machine.popLast(2)
                guard case .string(let module) = pair[0], case .string(let name) = pair[1] else {
                    throw machine.error("STACK_GLOBAL needs two strings")
                }
                try machine.push(.global(try resolveGlobal(module: module, name: name)))
            case 0x52:  // REDUCE
                let pair = try machine.popLast(2)
                guard case .global(let callable) = pair[0], case .tuple(let arguments) = pair[1] else {
                    throw machine.error("REDUCE of \(pair[0].kind) with \(pair[1].kind)")
                }
                try machine.push(try call(callable, tuples[arguments], machine))
            case 0x62:  // BUILD: sets attributes (an OrderedDict's _metadata), which a state dict does not need
                _ = try machine.pop()
                switch try machine.top() {
                case .dict, .tensor: break
                case let other: throw machine.error("BUILD on \(other.kind)")
                }
            case 0x51:  // BINPERSID
                guard persistentIDs else { throw machine.error("persistent id outside the object pickle") }
                try machine.push(try persistentLoad(try machine.pop(), machine))
            default:
                throw .unsupportedPickleOpcode(path: path, opcode: opcode, offset: fileOffset + opcodeOffset)
            }
        }
    }

    // MARK: Values

    mutating func newTuple(_ items: [PickleValue]) -> PickleValue {
        tuples.append(items)
        return .tuple(tuples.count - 1)
    }

    private mutating func newList(_ items: [PickleValue]) -> PickleValue {
        lists.append(items)
        return .list(lists.count - 1)
    }

    mutating func newDict() -> PickleValue {
        dicts.append(PickleDict())
        return .dict(dicts.count - 1)
    }

    private mutating func append(to target: PickleValue, _ items: [PickleValue], _ machine: Machine) throws(CheckpointError) {
        guard case .list(let index) = target else { throw machine.error("APPEND to \(target.kind)") }
        lists[index].append(contentsOf: items)
    }

    private mutating func setItems(of target: PickleValue, _ items: [PickleValue], _ machine: Machine) throws(CheckpointError) {
        guard case .dict(let index) = target else { throw machine.error("SETITEM on \(target.kind)") }
        guard items.count % 2 == 0 else { throw machine.error("odd number of dict items") }
        for pair in stride(from: 0, to: items.count, by: 2) {
            dicts[index].set(try dictKey(items[pair], machine), items[pair + 1])
        }
    }

    func dictKey(_ value: PickleValue, _ machine: Machine) throws(CheckpointError) -> PickleDictKey {
        switch value {
        case .string(let string): return .string(string)
        case .int(let value): return .int(value)
        default: throw machine.error("dict key of type \(value.kind)")
        }
    }

    /// LONG1/LONG4 payload: little-endian two's complement, kept as bytes when wider than 64 bits.
    private static func integer(_ bytes: [UInt8]) -> PickleValue {
        guard bytes.count <= 8 else { return .bigInt(bytes) }
        guard let last = bytes.last else { return .int(0) }
        var value: UInt64 = last & 0x80 != 0 ? ~0 : 0
        for byte in bytes.reversed() { value = value << 8 | UInt64(byte) }
        return .int(Int64(bitPattern: value))
    }

    private func text(_ machine: inout Machine, length: Int) throws(CheckpointError) -> String {
        let start = machine.position
        _ = try machine.skip(length)
        let slice = UnsafeRawBufferPointer(rebasing: machine.bytes[start..<(start + length)])
        guard let string = String(validating: slice, as: UTF8.self) else { throw machine.error("string is not UTF-8") }
        return string
    }

    private func line(_ machine: inout Machine) throws(CheckpointError) -> String {
        let start = machine.position
        guard let newline = machine.bytes[start...].firstIndex(of: 0x0A) else { throw machine.error("unterminated GLOBAL") }
        let slice = UnsafeRawBufferPointer(rebasing: machine.bytes[start..<newline])
        machine.position = newline + 1
        guard let string = String(validating: slice, as: UTF8.self) else { throw machine.error("GLOBAL name is not UTF-8") }
        return string
    }

    private func resolveGlobal(module: String, name: String) throws(CheckpointError) -> TorchGlobal {
        guard let global = TorchGlobal.resolve(module: module, name: name) else {
            throw .disallowedGlobal(path: path, module: module, name: name)
        }
        return global
    }

    func tupleItems(_ value: PickleValue) -> [PickleValue]? {
        guard case .tuple(let index) = value else { return nil }
        return tuples[index]
    }

    // MARK: Reading

    /// The per-pickle state: input, position, stack, marks and memo.
    struct Machine {
        let bytes: UnsafeRawBufferPointer
        var position: Int
        let fileOffset: Int
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]

        let path: String
        let limits: Limits
        var valueCount = 0

        init(bytes: UnsafeRawBufferPointer, position: Int, fileOffset: Int, path: String, limits: Limits) {
            self.bytes = bytes
            self.position = position
            self.fileOffset = fileOffset
            self.path = path
            self.limits = limits
        }

        func error(_ reason: String) -> CheckpointError {
            .invalidPickle(path: path, offset: fileOffset + position, reason: reason)
        }

        mutating func push(_ value: PickleValue) throws(CheckpointError) {
            try checkDepth()
            valueCount += 1
            guard valueCount <= limits.maximumValues else {
                throw .pickleLimitExceeded(path: path, limit: "value count", value: valueCount)
            }
            stack.append(value)
        }

        func checkDepth() throws(CheckpointError) {
            let depth = stack.count + marks.count
            guard depth < limits.maximumStackDepth else {
                throw .pickleLimitExceeded(path: path, limit: "stack depth", value: depth + 1)
            }
        }

        mutating func memoize(key: Int) throws(CheckpointError) {
            let value = try top()
            if memo.updateValue(value, forKey: key) == nil, memo.count > limits.maximumMemoEntries {
                throw .pickleLimitExceeded(path: path, limit: "memo size", value: memo.count)
            }
        }

        mutating func skip(_ count: Int) throws(CheckpointError) -> Int {
            guard count >= 0, count <= bytes.count - position else {
                throw error("truncated (needs \(count) more bytes)")
            }
            defer { position += count }
            return position
        }

        mutating func byte() throws(CheckpointError) -> UInt8 {
            bytes[try skip(1)]
        }

        mutating func fixed(_ count: Int) throws(CheckpointError) -> [UInt8] {
            let start = try skip(count)
            return Array(bytes[start..<(start + count)])
        }

        mutating func littleEndian(_ count: Int) throws(CheckpointError) -> UInt64 {
            let start = try skip(count)
            var value: UInt64 = 0
            for index in (start..<(start + count)).reversed() { value = value << 8 | UInt64(bytes[index]) }
            return value
        }

        /// A length field; lengths beyond the remaining input are reported as truncation.
        mutating func length(_ count: Int) throws(CheckpointError) -> Int {
            let value = try littleEndian(count)
            guard value <= UInt64(bytes.count - position) else {
                throw error("truncated (length \(value) exceeds the remaining input)")
            }
            return Int(value)
        }

        mutating func pop() throws(CheckpointError) -> PickleValue {
            guard stack.count > (marks.last ?? 0) else { throw error("stack underflow") }
            return stack.removeLast()
        }

        mutating func popLast(_ count: Int) throws(CheckpointError) -> [PickleValue] {
            guard stack.count - count >= (marks.last ?? 0) else { throw error("stack underflow") }
            defer { stack.removeLast(count) }
            return Array(stack[(stack.count - count)...])
        }

        mutating func popMark() throws(CheckpointError) -> [PickleValue] {
            guard let mark = marks.popLast() else { throw error("no MARK") }
            defer { stack.removeSubrange(mark...) }
            return Array(stack[mark...])
        }

        func top(below count: Int = 0) throws(CheckpointError) -> PickleValue {
            guard stack.count - count > (marks.last ?? 0) else { throw error("stack underflow") }
            return stack[stack.count - 1 - count]
        }
    }
}
