/// The software page-table walk the kernel uses to find, create and clear entries.

/// Where a leaf PTE lives: the page-table frame and the entry index inside it.
public struct PTESlot: Hashable, Sendable {
    public var table: PFN
    public var index: Int
    @inlinable public init(table: PFN, index: Int) { self.table = table; self.index = index }
}

extension PhysicalMemory {
    /// Reads the entry at `slot`.
    @inlinable public func readPTE(_ slot: PTESlot) -> PTE { PTE(raw: contents.readWord(slot.table, slot.index)) }
    /// Writes the entry at `slot`.
    @inlinable public func writePTE(_ slot: PTESlot, _ pte: PTE) { contents.writeWord(slot.table, slot.index, pte.raw) }

    /// Finds the leaf (PTE-level) slot for `va` under the PGD `pgd`.
    ///
    /// Returns nil when an upper level is not present and `allocTable` is nil, or when
    /// `allocTable` returns nil (out of memory) — in that case any tables already created stay.
    /// New upper-level entries are P|RW|US, as Linux creates them (permissions live in the leaf).
    /// Linux: walk() in xv6 kernel/vm.c; pgd_offset/p4d_alloc/pud_alloc/pmd_alloc/pte_alloc in Linux.
    public func walk(_ pgd: PFN, _ va: VirtAddr, allocTable: (() -> PFN?)? = nil) -> PTESlot? {
        guard let pud = descend(pgd, PageTableLevel.pgd.index(of: va), allocTable),
              let pmd = descend(pud, PageTableLevel.pud.index(of: va), allocTable),
              let pte = descend(pmd, PageTableLevel.pmd.index(of: va), allocTable) else { return nil }
        return PTESlot(table: pte, index: PageTableLevel.pte.index(of: va))
    }

    /// The next-level table that entry `index` of upper-level table `table` points to, creating it
    /// with `allocTable` when not present; nil for a huge (PS) entry, or when absent and
    /// `allocTable` is nil or returns nil.
    @inline(__always)
    func descend(_ table: PFN, _ index: Int, _ allocTable: (() -> PFN?)?) -> PFN? {
        let e = PTE(raw: contents.readWord(table, index))
        if e.isPresent { return e.isHuge ? nil : e.pfn }
        guard let alloc = allocTable, let newTable = alloc() else { return nil }
        contents.writeWord(table, index, PTE(pfn: newTable, flags: PTE.present | PTE.rw | PTE.user | PTE.accessed | PTE.dirty).raw)
        return newTable
    }
}
