/// Page-table operations that the VMA code calls (implemented by the kernel core, memory.c side).

extension Kernel {
    /// Unmaps every page in [start, end) of `mm`: clears PTEs, drops page references and mapcounts,
    /// updates RSS counters and flushes the TLB range. VMAs are not touched.
    /// Linux: zap_page_range_single() / unmap_vmas(), mm/memory.c
    public func zapPageRange(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) {}

    /// Frees page-table pages that map nothing in [floor, ceiling) any more.
    /// Linux: free_pgtables(), mm/memory.c
    public func freePgtables(_ mm: MMStruct, floor: VirtAddr, ceiling: VirtAddr) {}

    /// Rewrites the PTEs of [start, end) for the VMA flags `newFlags` and flushes the TLB range.
    /// Linux: change_protection(), mm/mprotect.c
    public func changeProtection(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, newFlags: VMFlags) {}

    /// Moves the PTEs of [oldStart, oldStart+length) to start at newStart, creating tables as
    /// needed. Returns false when a page table could not be allocated.
    /// Linux: move_page_tables(), mm/mremap.c
    public func movePageTables(_ mm: MMStruct, from oldStart: VirtAddr, to newStart: VirtAddr, length: UInt64) -> Bool { true }

    /// Faults in every page of [start, end) (write fault for writable VMAs, read otherwise).
    /// Returns ENOMEM if memory ran out. Linux: populate_vma_page_range() / __mm_populate(), mm/gup.c
    public func populateRange(_ task: Task, _ start: VirtAddr, _ end: VirtAddr) -> Result<Void, Errno> { .success(()) }
}
