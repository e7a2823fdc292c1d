/// The per-mm set of VMAs, sorted by address and disjoint (Linux keeps them in a maple tree).
public struct VMATree: Sendable {
    /// The VMAs in address order.
    public private(set) var vmas: [VMA] = []
    public init() {}

    public var count: Int { vmas.count }

    /// Index of the first VMA whose end is above `addr`, or nil if there is none.
    /// Linux: find_vma(), mm/mmap.c
    public func findVMAIndex(_ addr: VirtAddr) -> Int? {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].end > addr { hi = mid } else { lo = mid + 1 }
        }
        return lo < vmas.count ? lo : nil
    }

    /// The first VMA whose end is above `addr` (it may start above `addr` too), or nil.
    /// Linux: find_vma(), mm/mmap.c
    public func findVMA(_ addr: VirtAddr) -> VMA? { findVMAIndex(addr).map { vmas[$0] } }

    /// The VMA containing `addr`, or nil. Linux: vma_lookup(), include/linux/mm.h
    public func vmaLookup(_ addr: VirtAddr) -> VMA? {
        guard let i = findVMAIndex(addr), vmas[i].start <= addr else { return nil }
        return vmas[i]
    }

    /// Index of the last VMA starting below `addr`, or nil (find_vma_prev()).
    public func prevIndex(before addr: VirtAddr) -> Int? {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].start < addr { lo = mid + 1 } else { hi = mid }
        }
        return lo > 0 ? lo - 1 : nil
    }

    /// Inserts a VMA that overlaps none present; returns its index.
    @discardableResult
    public mutating func insert(_ vma: VMA) -> Int {
        // Binary search for the first VMA starting at or above vma.end.
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].start < vma.end { lo = mid + 1 } else { hi = mid }
        }
        vmas.insert(vma, at: lo)
        return lo
    }

    /// Removes the VMAs at `indices`.
    public mutating func removeSubrange(_ indices: Range<Int>) { vmas.removeSubrange(indices) }

    /// Index of the VMA containing `addr`, or nil. Linux: vma_lookup(), include/linux/mm.h
    public func lookupIndex(_ addr: VirtAddr) -> Int? {
        guard let i = findVMAIndex(addr), vmas[i].start <= addr else { return nil }
        return i
    }

    /// Mutable access to the VMA at `index` (its range must stay disjoint from the neighbours).
    public subscript(index: Int) -> VMA {
        get { vmas[index] }
        set { vmas[index] = newValue }
    }

    /// Replaces the VMA at `index` (its range must stay disjoint from the neighbours).
    public mutating func replace(at index: Int, with vma: VMA) { vmas[index] = vma }

    /// Removes and returns the VMA at `index`.
    @discardableResult
    public mutating func remove(at index: Int) -> VMA { vmas.remove(at: index) }

    /// Indices of the VMAs that overlap [start, end).
    public func overlapping(_ start: VirtAddr, _ end: VirtAddr) -> Range<Int> {
        guard let first = findVMAIndex(start), start < end else { return vmas.count..<vmas.count }
        var last = first
        while last < vmas.count && vmas[last].start < end { last += 1 }
        return first..<last
    }

    /// Checks that VMAs are sorted, non-empty, page-aligned and disjoint; returns the problems found.
    public func invariantViolations() -> [String] {
        var out: [String] = []
        for (i, v) in vmas.enumerated() {
            if !(v.start < v.end) { out.append("VMA \(i) \(v.start)-\(v.end) is empty or inverted") }
            if !v.start.isPageAligned || !v.end.isPageAligned { out.append("VMA \(i) \(v.start)-\(v.end) not page aligned") }
            if i > 0 && vmas[i - 1].end > v.start { out.append("VMA \(i - 1) and \(i) overlap") }
        }
        return out
    }
}
