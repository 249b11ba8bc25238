/// Elements of a ``BinaryHeap``: `hasPriority(over:)` decides which is popped first.
protocol HeapElement {
    func hasPriority(over other: Self) -> Bool
}

/// A binary max-heap; both BPE implementations use it as their merge agenda.
///
/// The order of pops among elements of equal priority never matters to callers: the element
/// types break every tie that could change a result (by position).
struct BinaryHeap<Element: HeapElement> {
    private var storage: [Element] = []

    init(capacity: Int) { storage.reserveCapacity(capacity) }

    var isEmpty: Bool { storage.isEmpty }

    mutating func push(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child].hasPriority(over: storage[parent]) else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !storage.isEmpty else { return nil }
        let top = storage[0]
        let last = storage.removeLast()
        if !storage.isEmpty {
            storage[0] = last
            var parent = 0
            let count = storage.count
            while true {
                let left = 2 * parent + 1
                guard left < count else { break }
                var best = left
                let right = left + 1
                if right < count && storage[right].hasPriority(over: storage[left]) { best = right }
                guard storage[best].hasPriority(over: storage[parent]) else { break }
                storage.swapAt(best, parent)
                parent = best
            }
        }
        return top
    }
}
