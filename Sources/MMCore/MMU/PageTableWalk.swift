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
        var table = pgd
        for level in [PageTableLevel.pgd, .pud, .pmd] {
            let idx = level.index(of: va)
            let e = PTE(raw: contents.readWord(table, idx))
            if e.isPresent {
                if e.isHuge { return nil }
                table = e.pfn
            } else {
                guard let alloc = allocTable, let newTable = alloc() else { return nil }
                contents.writeWord(table, idx, PTE(pfn: newTable, flags: PTE.present | PTE.rw | PTE.user | PTE.accessed | PTE.dirty).raw)
                table = newTable
            }
        }
        return PTESlot(table: table, index: PageTableLevel.pte.index(of: va))
    }
}
