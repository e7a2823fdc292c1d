/// Page-table operations that the VMA code calls (Linux mm/memory.c, mm/mprotect.c, mm/mremap.c).

extension Kernel {
    /// Flushes `mm`'s TLB entries for [start, end) wherever they may be cached: on this CPU when
    /// it has the mm loaded, by IPI on the other CPUs running it (TLB shootdown); CPUs that ran it
    /// earlier flush at their next switch (tlb_gen). Linux: flush_tlb_mm_range(), arch/x86/mm/tlb.c
    func flushTLBRange(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) {
        flushTLBMMRange(mm, start, end)
    }

    /// Calls `body` for every present leaf PTE in [start, end) of `mm`, skipping absent upper
    /// levels a whole table at a time. Allocates nothing.
    func forEachPresentPTE(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, _ body: (VirtAddr, PTESlot, PTE) -> Void) {
        var va = start.raw & PAGE_MASK
        let stop = end.raw
        while va < stop {
            // Find the deepest present level for va; skip a whole unmapped span when one is absent.
            var table = mm.pgd
            var skip: UInt64 = 0
            var level = 0
            let f = phys.paging
            while level < f.pteLevel {
                let e = phys.readEntry(table, f.index(VirtAddr(va), level: level), level: level)
                if !e.isPresent || e.isHuge { skip = UInt64(1) << f.shift(level); break }
                table = e.pfn
                level += 1
            }
            if skip != 0 {
                let next = (va & ~(skip - 1)) &+ skip
                if next <= va { return }
                va = next
                continue
            }
            let slot = PTESlot(table: table, index: f.index(VirtAddr(va), level: f.pteLevel))
            let pte = phys.readPTE(slot)
            if !pte.isNone { body(VirtAddr(va), slot, pte) }
            va += PAGE_SIZE
        }
    }

    /// Unmaps every page in [start, end) of `mm`: clears PTEs, drops page references and mapcounts,
    /// updates RSS counters and flushes the TLB range (unless `flush` is false: exit_mmap gathers
    /// one flush of the whole mm at its end). VMAs are not touched.
    /// Linux: zap_page_range_single() / unmap_vmas(), mm/memory.c
    public func zapPageRange(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, flush: Bool = true) {
        var zapped = unmapHugepageRange(mm, start, end)
        splitHugePMDsForUnmap(mm, start, end)
        var huge: [(UInt64, PTESlot)] = []
        forEachHugePMD(mm, start, end) { a, s, _ in huge.append((a, s)) }
        for (a, s) in huge { zapHugePMD(mm, VirtAddr(a), s); zapped += 1 }
        forEachPresentPTE(mm, start, end) { _, slot, pte in
            phys.writePTE(slot, PTE(raw: 0))
            if pte.isPresent && pte.pfn != zeroPFN { removeMappedPage(mm, pte.pfn) }
            else if pte.isSwap { mm.rss.swapents -= 1; freeSwapAndCache(pte.swapEntry) }
            zapped += 1
        }
        if zapped > 0 && flush { flushTLBRange(mm, start, end) }
    }

    /// Frees the page-table pages whose whole span lies in [floor, ceiling) and maps nothing.
    /// Linux: free_pgtables() / free_pgd_range(), mm/memory.c
    public func freePgtables(_ mm: MMStruct, floor: VirtAddr, ceiling: VirtAddr) {
        guard floor < ceiling else { return }
        let before = mm.pgtablesBytes
        _ = freeTables(mm, mm.pgd, level: 0, base: 0, floor: floor.raw, ceiling: ceiling.raw)
        if mm.pgtablesBytes != before { flushTLBFreedTables(mm, floor, ceiling) }
    }

    /// Frees empty child tables of `table` (covering `base`...) inside [floor, ceiling).
    /// Returns true when `table` maps nothing afterwards.
    private func freeTables(_ mm: MMStruct, _ table: PFN, level: Int, base: UInt64, floor: UInt64, ceiling: UInt64) -> Bool {
        let f = phys.paging
        let span = UInt64(1) << f.shift(level)
        var empty = true
        // Only the user part of the PGD (the lower half; all of TTBR0's table on ARM64) holds user tables.
        let limit = level == 0 ? f.userRootEntries : f.entries(level)
        for i in 0..<limit {
            let raw = phys.readRawEntry(table, i, level: level)
            if raw == 0 { continue }
            let cbase = base &+ UInt64(i) &* span
            let cend = cbase &+ span
            let e = phys.readEntry(table, i, level: level)
            if level == f.pteLevel || cend <= floor || cbase >= ceiling || !e.isPresent || e.isHuge { empty = false; continue }
            let child = e.pfn
            let childEmpty = freeTables(mm, child, level: level + 1, base: cbase, floor: floor, ceiling: ceiling)
            if childEmpty && cbase >= floor && cend <= ceiling {
                phys.writeEntry(table, i, level: level, PTE(raw: 0))
                freePageTable(mm, child)
            } else {
                empty = false
            }
        }
        return empty
    }

    /// Rewrites the PTEs of [start, end) for the VMA flags `newFlags` and flushes the TLB range.
    /// A private page becomes writable only if it is anonymous and exclusively ours; the zero
    /// page never does. Linux: change_protection() / change_pte_range(), mm/mprotect.c
    public func changeProtection(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, newFlags: VMFlags) {
        let shared = newFlags.contains(.shared)
        hugetlbChangeProtection(mm, start, end, newFlags: newFlags)
        splitHugePMDBoundaries(mm, start, end)
        changeHugePMDs(mm, start, end, newFlags: newFlags)
        forEachPresentPTE(mm, start, end) { _, slot, pte in
            guard pte.isPresent else { return }
            let pfn = pte.pfn
            var writable = false
            if newFlags.contains(.write) && pfn != zeroPFN {
                if shared { writable = pte.isDirty || pte.isWritable }
                else {
                    let f = phys.memMap.flags[pfn.index]
                    writable = f.contains(.anon) && phys.memMap.mapcount[pfn.index] == 1 && phys.memMap.refcount[pfn.index] == 1
                }
            }
            let keep = pte.raw & (PTE.accessed | PTE.dirty)
            phys.writePTE(slot, PTE(raw: PTE(pfn: pfn, flags: pteFlags(newFlags, writable: writable, dirty: false)).raw | keep))
        }
        flushTLBRange(mm, start, end)
    }

    /// Moves the PTEs of [oldStart, oldStart+length) to start at newStart, creating tables as
    /// needed. Returns false when a page table could not be allocated (entries moved so far stay moved).
    /// Linux: move_page_tables(), mm/mremap.c
    public func movePageTables(_ mm: MMStruct, from oldStart: VirtAddr, to newStart: VirtAddr, length: UInt64) -> Bool {
        guard let oldEnd = oldStart.adding(length) else { return false }
        var ok = true
        var moves: [(VirtAddr, PTE)] = []
        // The model moves PTEs only: huge PMDs in the range are split first (Linux's
        // move_huge_pmd() moves a whole huge PMD when both addresses are 2 MiB-aligned).
        splitHugePMDRange(mm, oldStart, oldEnd)
        forEachPresentPTE(mm, oldStart, oldEnd) { va, slot, pte in
            moves.append((va, pte))
            phys.writePTE(slot, PTE(raw: 0))
        }
        for (va, pte) in moves {
            let dst = VirtAddr(newStart.raw &+ (va.raw &- oldStart.raw))
            guard let slot = pteAlloc(mm, dst, task: nil) else { ok = false; break }
            phys.writePTE(slot, pte)
        }
        flushTLBRange(mm, oldStart, oldEnd)
        return ok
    }

    /// Faults in every page of [start, end): a write fault for private writable VMAs, a read
    /// fault otherwise, skipping pages already mapped well enough. Returns ENOMEM if a page was
    /// outside every VMA or memory ran out. Linux: populate_vma_page_range() / __mm_populate(), mm/gup.c
    public func populateRange(_ task: Task, _ start: VirtAddr, _ end: VirtAddr) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.ENOMEM) }
        var va = start.raw & PAGE_MASK
        while va < end.raw {
            guard task.state.isAlive, panicMessage == nil else { return .failure(.ENOMEM) }
            guard let vma = mm.vmas.vmaLookup(VirtAddr(va)) else { return .failure(.ENOMEM) }
            let write = vma.flags.intersection([.write, .shared]) == .write
            if let pmd = pmdLookup(mm, VirtAddr(va)), case let e = phys.readPMD(pmd), e.isPresent && e.isHuge,
               !write || e.isWritable {
                // A huge PMD already maps the whole 2 MiB block (follow_trans_huge_pmd()).
                va = (va & ~(HPAGE_PMD_SIZE - 1)) &+ HPAGE_PMD_SIZE
                continue
            }
            if let slot = phys.walk(mm.pgd, VirtAddr(va)) {
                let pte = phys.readPTE(slot)
                if pte.isPresent && (!write || pte.isWritable) { va += PAGE_SIZE; continue }
            }
            var code: PFErrorCode = [.user]
            if write { code.insert(.write) }
            if let slot = phys.walk(mm.pgd, VirtAddr(va)), phys.readPTE(slot).isPresent { code.insert(.prot) }
            let r = handleMMFault(task, mm, vma, VirtAddr(va), code)
            kswapdRunIfWoken()
            switch r {
            case .minor, .major: break
            case .oom, .sigbus, .sigsegv: return .failure(.ENOMEM)
            }
            va += PAGE_SIZE
        }
        return .success(())
    }

    /// Drops an mm_count reference; the last one frees the PGD (accounted in PageTables but not
    /// in VmPTE, as in Linux). mm_users holds one mm_count reference for all its users, so the PGD
    /// outlives exit_mmap while a kernel thread still runs on it. Linux: mmdrop() → __mmdrop(), kernel/fork.c
    func mmdrop(_ mm: MMStruct) {
        mm.mmCount -= 1
        guard mm.mmCount == 0 else { return }
        freeMMObjects(mm)
        let rootFrames = phys.paging.rootFrames
        for i in 0..<rootFrames {
            phys.memMap.flags[mm.pgd.index + i].remove(.pageTable)
            phys.contents.clear(mm.pgd.advanced(by: i))
        }
        stat.nrPageTable -= rootFrames
        if rootFrames == 1 { phys.putPage(mm.pgd) } else { phys.freePages(mm.pgd, order: 2) }   // pgd_free()
    }

    /// Tears down a whole address space: unmaps every VMA, unaccounts committed memory, frees
    /// every page table below the PGD, and flushes the whole mm once at the end (a fullmm
    /// mmu_gather: CPUs still lazily on the mm get an IPI and switch to init_mm).
    /// Linux: exit_mmap(), mm/mmap.c; tlb_gather_mmu_fullmm() / tlb_finish_mmu(), mm/mmu_gather.c
    func exitMMap(_ mm: MMStruct) {
        for vma in mm.vmas.vmas {
            zapPageRange(mm, vma.start, vma.end, flush: false)
            if vma.flags.contains(.account) { vmUnacctMemory(pages: vma.pages) }
        }
        // The end of the user part of the PGD: 2^47 on x86-64, 2^56 with LA57, 2^VA on ARM64, 2^(VA-1) on RISC-V.
        let f = phys.paging
        freePgtables(mm, floor: VirtAddr(0), ceiling: VirtAddr(UInt64(f.userRootEntries) << f.shift(0)))
        while mm.vmas.count > 0 {
            mm.vmas.remove(at: mm.vmas.count - 1)
            vmAreaFree(mm)
        }
        unlinkAnonVMAs(mm)
        shmemReleaseUnused()
        mm.totalVM = 0; mm.lockedVM = 0; mm.dataVM = 0; mm.execVM = 0; mm.stackVM = 0
        flushTLBMM(mm)
    }
}
