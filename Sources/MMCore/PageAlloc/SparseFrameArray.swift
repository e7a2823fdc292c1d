/// Per-frame values that most frames never set, stored in chunks of 65536 entries allocated on the
/// first write of a non-default value: a machine whose frames never take such a value (page-cache
/// inodes on an anonymous workload, swap entries without swap) pays one empty array per chunk
/// instead of one value per frame — what keeps a 64 GiB machine's metadata small.
/// Linux keeps these fields in struct page / struct folio (mapping, swap); the model's mem_map is
/// flat per-PFN arrays (PhysicalMemory.swift), with these two kept sparse.
public struct SparseFrameArray<Element> {
    @usableFromInline static var chunkShift: Int { 16 }
    @usableFromInline let defaultValue: Element
    @usableFromInline let isDefault: (Element) -> Bool
    @usableFromInline var chunks: [[Element]]
    /// Number of frames.
    public let count: Int

    /// `count` entries reading as `defaultValue`; `isDefault` tells a value that need not be stored.
    public init(count: Int, defaultValue: Element, isDefault: @escaping (Element) -> Bool) {
        self.count = count
        self.defaultValue = defaultValue
        self.isDefault = isDefault
        chunks = [[Element]](repeating: [], count: (count + (1 << 16) - 1) >> 16)
    }

    /// The value of entry `i` (0..<count; traps outside).
    @inlinable public subscript(i: Int) -> Element {
        get {
            let c = i >> SparseFrameArray.chunkShift
            if chunks[c].isEmpty { precondition(i >= 0 && i < count, "frame index out of range"); return defaultValue }
            return chunks[c][i & ((1 << SparseFrameArray.chunkShift) - 1)]
        }
        set {
            precondition(i >= 0 && i < count, "frame index out of range")
            let c = i >> SparseFrameArray.chunkShift
            if chunks[c].isEmpty {
                if isDefault(newValue) { return }
                chunks[c] = [Element](repeating: defaultValue, count: 1 << SparseFrameArray.chunkShift)
            }
            chunks[c][i & ((1 << SparseFrameArray.chunkShift) - 1)] = newValue
        }
    }

    /// Sets entry `i` (0..<count; traps outside) to nil in an array whose default value is nil,
    /// as assigning nil does, without calling `isDefault`: a chunk with no storage already reads
    /// nil, and an entry that is nil is left unwritten (no uniqueness check of the chunk arrays).
    @inlinable @inline(__always) public mutating func setNil<T>(_ i: Int) where Element == T? {
        assert(isDefault(nil), "setNil on an array whose default is not nil")
        precondition(i >= 0 && i < count, "frame index out of range")
        let c = i >> SparseFrameArray.chunkShift
        if chunks[c].isEmpty { return }
        let j = i & ((1 << SparseFrameArray.chunkShift) - 1)
        if chunks[c][j] == nil { return }
        chunks[c][j] = nil
    }

    /// Chunks holding storage (host memory in use / one chunk's size).
    public var allocatedChunks: Int { chunks.reduce(0) { $0 + ($1.isEmpty ? 0 : 1) } }
}
