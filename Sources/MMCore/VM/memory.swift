/// Page faults and page-table maintenance: the kernel side of the MMU (Linux mm/memory.c,
/// arch/x86/mm/fault.c).

/// How a page fault ended. Linux: the VM_FAULT_* bits, vm_fault_t.
public enum FaultResult: Equatable, Sendable {
    /// Handled without I/O (a minor fault).
    case minor
    /// Handled, but the page had to be read from backing store (a major fault).
    case major
    /// No VMA covers the address, or the VMA forbids the access (bad_area): deliver SIGSEGV.
    case sigsegv(SegvCode)
    /// The backing object cannot provide the page: deliver SIGBUS.
    case sigbus
    /// No memory could be found even after the OOM killer ran (VM_FAULT_OOM).
    case oom
}

/// si_code of a SIGSEGV.
public enum SegvCode: Int32, Sendable {
    /// SEGV_MAPERR: address not mapped to an object.
    case mapErr = 1
    /// SEGV_ACCERR: invalid permissions for a mapped object.
    case accErr = 2
    public var name: String { self == .mapErr ? "SEGV_MAPERR" : "SEGV_ACCERR" }
}

/// Simulated time each kind of fault takes, in nanoseconds: the figures measured on this project's
/// reference machine (Linux 6.18, x86-64; ../shared/TOOLING.md), so that log timestamps advance
/// the way a real run's would. The clock is simulated: nothing reads the host's.
public enum FaultCost {
    /// An anonymous write fault that allocates and zeroes a page (≈1.9 µs).
    public static let anonymousWrite: UInt64 = 1900
    /// A read fault that maps the shared zero page (≈1 µs).
    public static let zeroPageRead: UInt64 = 1000
    /// A copy-on-write fault that copies a page (≈2.7 µs).
    public static let copyOnWrite: UInt64 = 2700
    /// A write fault that reuses an exclusive page.
    public static let reuse: UInt64 = 600
    /// A fault that maps a file page already in memory.
    public static let fileRead: UInt64 = 1000
}

extension Kernel {
    // MARK: - Page-table pages

    /// Allocates a zeroed page-table page for `mm` and accounts it (PageTables:, VmPTE).
    /// Returns nil when no page can be found even after the OOM killer ran.
    /// Linux: pte_alloc_one() / __pte_alloc(), mm/memory.c
    func allocPageTable(_ mm: MMStruct, for task: Task?) -> PFN? {
        guard let pfn = allocPageOrOOM(gfp: [.reclaim, .io, .fs, .account, .zero], task: task) else { return nil }
        phys.contents.clear(pfn)
        phys.memMap.flags[pfn.index].insert(.pageTable)
        stat.nrPageTable += 1
        mm.pgtablesBytes += Int(PAGE_SIZE)
        return pfn
    }

    /// Frees a page-table page of `mm` and unaccounts it. Linux: pte_free(), free_pgd_range()
    func freePageTable(_ mm: MMStruct, _ pfn: PFN) {
        phys.memMap.flags[pfn.index].remove(.pageTable)
        phys.contents.clear(pfn)
        stat.nrPageTable -= 1
        mm.pgtablesBytes -= Int(PAGE_SIZE)
        phys.putPage(pfn)
    }

    /// Returns the leaf slot for `va`, creating missing upper tables and the PTE table (a huge
    /// PMD in the way is split first). Returns nil only when a table page could not be allocated
    /// or a huge leaf that cannot be split maps `va`. Linux: pte_alloc() after pmd_alloc(), mm/memory.c
    func pteAlloc(_ mm: MMStruct, _ va: VirtAddr, task: Task?) -> PTESlot? {
        if let slot = phys.walk(mm.pgd, va) { return slot }
        let f = phys.paging
        guard let table = tableAlloc(mm, va, level: f.pteLevel, task: task) else { return nil }
        return PTESlot(table: table, index: f.index(va, level: f.pteLevel))
    }

    /// Returns the leaf slot for `va` below the PMD slot `pmd` already found for it: straight from
    /// the PMD entry when it points to a PTE table, else as pteAlloc (creating the table, or
    /// splitting a huge PMD). Returns nil as pteAlloc does. Linux: pte_alloc() + pte_offset_map(), mm/memory.c
    @inline(__always)
    func pteAllocFromPMD(_ mm: MMStruct, _ pmd: PTESlot, _ va: VirtAddr, task: Task?) -> PTESlot? {
        let e = phys.readPMD(pmd)
        if e.isPresent && !e.isHuge {
            let f = phys.paging
            return PTESlot(table: e.pfn, index: f.index(va, level: f.pteLevel))
        }
        return pteAlloc(mm, va, task: task)
    }

    /// Returns the table at `level` (0 = the PGD) whose entry maps `va`, creating the missing
    /// tables above it with P|RW|US pointers; a huge PMD met on the way to the PTE level is split
    /// first (split_huge_pmd()). Returns nil when a table page could not be allocated or a huge
    /// leaf that cannot be split is in the way. The one walk-and-allocate primitive under
    /// pteAlloc, pmdAlloc and hugePTEAlloc.
    /// Linux: p4d_alloc() / pud_alloc() / pmd_alloc() / __pte_alloc(), mm/memory.c
    func tableAlloc(_ mm: MMStruct, _ va: VirtAddr, level target: Int, task: Task?) -> PFN? {
        let f = phys.paging
        var table = mm.pgd
        var level = 0
        while level < target {
            let idx = f.index(va, level: level)
            var e = phys.readEntry(table, idx, level: level)
            if level == f.pmdLevel && e.isPresent && e.isHuge {
                // A PTE is wanted inside a huge PMD: split it first (split_huge_pmd()).
                splitHugePMD(mm, VirtAddr(va.raw & ~(HPAGE_PMD_SIZE - 1)), PTESlot(table: table, index: idx))
                e = phys.readEntry(table, idx, level: level)
            }
            if e.isPresent {
                guard !e.isHuge else { return nil }
                table = e.pfn
            } else {
                guard let t = allocPageTable(mm, for: task) else { return nil }
                phys.writeEntry(table, idx, level: level, PTE(pfn: t, flags: PageTableFormat.tableFlags))
                table = t
            }
            level += 1
        }
        return table
    }

    /// Allocates one page for `task`: kswapd is woken when every zone is below its low watermark;
    /// when no page is free above min, direct reclaim runs, and only when it frees nothing does
    /// the OOM killer run.
    /// Returns nil when the OOM killer could not free memory, killed `task` itself, or panicked.
    /// Linux: __alloc_pages() slow path → __alloc_pages_direct_reclaim() / __alloc_pages_may_oom(), mm/page_alloc.c
    func allocPageOrOOM(gfp: GFP, task: Task?) -> PFN? {
        // The common case: the first zone above its low watermark hands out a page from its own
        // free lists. A zone above low means kswapd would not have been woken (allZonesBelowLow
        // checks the same zones against the same mark when the highest zone is the same), so the
        // wake-up check is skipped only then; any other outcome changed nothing and runs below.
        if !gfp.contains(.kswapdReclaim) || ZoneType(gfp: gfp) == ZoneType(gfp: .highuserMovable) {
            let p = phys.rmqueueFastOrder0(gfp: gfp)
            if p >= 0 {
                vmstat.pgalloc += 1
                return PFN(index: p)
            }
        }
        var attempts = -1   // tasks.count + 2, counted when the first attempt fails
        while attempts != 0 {
            if gfp.contains(.kswapdReclaim) { wakeupKswapd() }
            if let p = phys.allocPages(order: 0, gfp: gfp) {
                vmstat.pgalloc += 1
                return p
            }
            if attempts < 0 { attempts = tasks.count + 2 }
            if panicMessage != nil { return nil }
            // Direct reclaim before the OOM killer.
            if gfp.contains(.directReclaim) && tryToFreePages(gfp: gfp) > 0 { continue }
            narrate("no free page: the allocator enters the slow path and calls the OOM killer")
            let progress = outOfMemory(task: task, gfp: gfp, order: 0)
            if let t = task, !t.state.isAlive { return nil }
            if !progress || panicMessage != nil { return nil }
            attempts -= 1
        }
        return nil
    }

    // MARK: - PTE protection

    /// The PTE flag bits for a page of a VMA with `flags`; `writable` adds RW (and D).
    /// Linux: vm_get_page_prot() + pte_mkwrite(pte_mkdirty()), arch/x86/mm/pgprot.c
    @inline(__always)
    func pteFlags(_ flags: VMFlags, writable: Bool, dirty: Bool) -> UInt64 {
        var f = PTE.present | PTE.user | PTE.accessed
        if writable { f |= PTE.rw }
        if dirty { f |= PTE.dirty }
        if !flags.contains(.exec) { f |= PTE.nx }
        return f
    }

    // MARK: - Fault entry

    /// Handles a #PF from user mode: finds the VMA, grows the stack, checks access rights and
    /// hands the fault to handleMMFault. Returns how the fault ended; SIGSEGV when no VMA covers
    /// `va` or the VMA forbids the access. Linux: do_user_addr_fault(), arch/x86/mm/fault.c
    public func doUserAddrFault(_ task: Task, _ va: VirtAddr, _ code: PFErrorCode) -> FaultResult {
        guard let mm = task.mm else { return .sigsegv(.mapErr) }
        if !phys.paging.isCanonical(va) || va.raw >= mm.taskSize {
            narrate("address \(va) is outside user space (TASK_SIZE \(VirtAddr(mm.taskSize))): bad_area")
            return .sigsegv(.mapErr)
        }
        guard let vmaIndex = mm.findVMAIndexCached(va) else {
            narrate("find_vma(\(va)) found no VMA at or above the address: bad_area, SEGV_MAPERR")
            return .sigsegv(.mapErr)
        }
        if explain == nil, let r = handleAnonymousFaultFast(task, mm, vmaIndex, va, code) { return r }
        var vma = mm.vmas[vmaIndex]
        if vma.start > va {
            guard vma.flags.contains(.growsdown) else {
                narrate("\(va) lies in the hole below the VMA \(vmaRangeText(vma)): bad_area, SEGV_MAPERR")
                return .sigsegv(.mapErr)
            }
            guard expandStack(mm, va), let grown = mm.vmas.vmaLookup(va) else {
                narrate("the stack cannot grow down to \(va) (RLIMIT_STACK or the guard gap): SEGV_MAPERR")
                return .sigsegv(.mapErr)
            }
            narrate("the stack VMA grows down to \(vmaRangeText(grown)) (expand_stack)")
            vma = grown
        }
        if accessError(code, vma) {
            narrate("access_error: the VMA \(vmaRangeText(vma)) does not allow this access: SEGV_ACCERR")
            return .sigsegv(.accErr)
        }
        narrate("find_vma: \(va) lies in \(vmaRangeText(vma))")
        return handleMMFault(task, mm, vma, va, code)
    }

    /// True when `vma` does not permit the access described by `code`.
    /// Linux: access_error(), arch/x86/mm/fault.c
    func accessError(_ code: PFErrorCode, _ vma: VMA) -> Bool { accessError(code, vma.flags) }

    /// True when a VMA with `flags` does not permit the access described by `code`.
    /// Linux: access_error(), arch/x86/mm/fault.c
    @inline(__always)
    func accessError(_ code: PFErrorCode, _ flags: VMFlags) -> Bool {
        if code.contains(.pk) { return true }
        if code.contains(.write) { return !flags.contains(.write) }
        if code.contains(.instr) && code.contains(.prot) { return true }
        if code.contains(.prot) { return true }
        return !(flags.contains(.read) || flags.contains(.write) || flags.contains(.exec))
    }

    /// Handles the most common user fault without copying the VMA out of the tree: the first
    /// touch of a page inside (not below) the private anonymous VMA at `vmaIndex`, which allows
    /// the access, on x86-64 4-level tables that already lead to a PTE table whose entry for `va`
    /// is empty. Returns nil, having read only, in every other case (a table or the PTE to be
    /// made, a huge PMD, hugetlb, file or shmem memory, a stack to grow, a bad access, another
    /// format); the caller then takes the general path.
    ///
    /// Equivalent to doUserAddrFault → handleMMFault in that case: the same counters, then
    /// pmdAlloc would find the PGD and PUD entries present and create nothing, the PMD entry
    /// points to a PTE table (so no THP decision is made), the PTE is none and the VMA is
    /// anonymous without shmem object, so doAnonymousPage runs with the same VMA fields (flags,
    /// start, pgoff: what it and addNewPage read) on the same slot. `explain` must be off (the
    /// general path narrates find_vma first).
    /// Linux: handle_mm_fault() → handle_pte_fault() → do_anonymous_page(), mm/memory.c
    @inline(__always)
    func handleAnonymousFaultFast(_ task: Task, _ mm: MMStruct, _ vmaIndex: Int, _ va: VirtAddr, _ code: PFErrorCode) -> FaultResult? {
        let phys = self.phys
        guard phys.paging.isX86_64FourLevel, mm.vmas.vmas[vmaIndex].start <= va else { return nil }
        let flags = mm.vmas.vmas[vmaIndex].flags
        guard mm.vmas.vmas[vmaIndex].file == nil, mm.vmas.vmas[vmaIndex].shmemObject == 0,
              !flags.contains(.hugetlb), !accessError(code, flags) else { return nil }
        // x86-64 entries need no decoding: the words in the frames are the PTEs.
        let e0 = PTE(raw: phys.contents.readWord(mm.pgd, Int(truncatingIfNeeded: (va.raw >> 39) & 0x1ff)))
        guard e0.isPresent, !e0.isHuge else { return nil }
        let e1 = PTE(raw: phys.contents.readWord(e0.pfn, Int(truncatingIfNeeded: (va.raw >> 30) & 0x1ff)))
        guard e1.isPresent, !e1.isHuge else { return nil }
        let e2 = PTE(raw: phys.contents.readWord(e1.pfn, Int(truncatingIfNeeded: (va.raw >> 21) & 0x1ff)))
        guard e2.isPresent, !e2.isHuge else { return nil }
        let slot = PTESlot(table: e2.pfn, index: Int(truncatingIfNeeded: (va.raw >> 12) & 0x1ff))
        guard phys.contents.readWord(slot.table, slot.index) == 0 else { return nil }
        let index = mm.vmas.vmas[vmaIndex].pgoff &+ ((va.pageDown.raw &- mm.vmas.vmas[vmaIndex].start.raw) >> PAGE_SHIFT)
        // anonVMAPrepare would find the same VMA (the lookup above left its index as the hint)
        // and return its anon_vma when it has one.
        let anonVMA = mm.vmas.vmas[vmaIndex].anonVMA
        vmstat.pgfault += 1
        task.minFlt += 1
        return doAnonymousPage(task, mm, flags: flags, index: index, va, slot, write: code.contains(.write), anonVMA: anonVMA)
    }

    /// Allocates the page-table levels for `va` and dispatches the fault by PTE state.
    /// Returns the fault's outcome. Linux: handle_mm_fault() / __handle_mm_fault() / handle_pte_fault(), mm/memory.c
    public func handleMMFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ code: PFErrorCode) -> FaultResult {
        vmstat.pgfault += 1
        task.minFlt += 1
        let write = code.contains(.write)
        if vma.flags.contains(.hugetlb) { return hugetlbFault(task, mm, vma, va, write: write) }
        // The PMD level first: a THP fault, or a fault on a huge PMD (__handle_mm_fault()).
        guard let pmd = pmdAlloc(mm, va, task: task) else { return .oom }
        let pmdEntry = phys.readPMD(pmd)
        if pmdEntry.isNone {
            if thp.enabled != .never && thpVMAAllowable(vma) {
                mm.khugepagedRegistered = true   // khugepaged_enter_vma()
                if thpSuitable(vma, va), let r = doHugePMDAnonymousPage(task, mm, vma, va, pmd, write: write) { return r }
            }
        } else if pmdEntry.isHuge {
            if let r = handleHugePMDFault(mm, vma, va, pmd, pmdEntry, write: write) { return r }
        }
        // A PMD that pointed to a PTE table on entry was left alone above: its table is the one.
        let slot: PTESlot
        if pmdEntry.isPresent && !pmdEntry.isHuge {
            slot = PTESlot(table: pmdEntry.pfn, index: phys.paging.index(va, level: phys.paging.pteLevel))
        } else {
            guard let s = pteAllocFromPMD(mm, pmd, va, task: task) else { return .oom }
            slot = s
        }
        let pte = phys.readPTE(slot)
        if pte.isNone {
            if vma.isAnonymous && vma.shmemObject == 0 { return doAnonymousPage(task, mm, vma, va, slot, write: write) }
            let r = doFault(task, mm, vma, va, slot, write: write)
            if r == .major {
                // mm_account_fault(): a fault that read from disk counts as major, not minor.
                task.minFlt -= 1; task.majFlt += 1
                vmstat.pgmajfault += 1
            }
            return r
        }
        if pte.isSwap {
            let r = doSwapPage(task, mm, vma, va, slot, pte, write: write)
            if r == .major { task.minFlt -= 1 }
            return r
        }
        if write && !pte.isWritable { return doWpPage(task, mm, vma, va, slot, pte) }
        // Spurious fault: the PTE already allows the access (a stale TLB entry was stricter).
        var raw = pte.raw | PTE.accessed
        if write { raw |= PTE.dirty }
        phys.writePTE(slot, PTE(raw: raw))
        mmu.flushPage(va.pageDown)
        narrate(phys.paging.encoding == .arm32
            ? "ARM has no hardware young/dirty bits: the PTE was \(pte.isAccessed ? "clean (mapped read-only)" : "old (hardware entry 0)"); handle_pte_fault marks it young\(write ? " and dirty" : "") and set_pte_ext writes the hardware entry"
            : "the PTE already allows the access: spurious fault, TLB entry flushed")
        return .minor
    }

    // MARK: - Anonymous memory

    /// Maps a page for a first touch of private anonymous memory: the shared zero page for a
    /// read, else a newly allocated zeroed page. (Shared anonymous memory is shmem: doFault.)
    /// Returns .oom when no page is left. Linux: do_anonymous_page(), mm/memory.c
    func doAnonymousPage(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, write: Bool) -> FaultResult {
        doAnonymousPage(task, mm, flags: vma.flags, index: linearPageIndex(vma, va), va, slot, write: write)
    }

    /// doAnonymousPage for a VMA with `flags` in which `va` has the linear page index `index`
    /// (all it reads of the VMA); `anonVMA` is the VMA's anon_vma when the caller knows it is
    /// set, else 0 (anonVMAPrepare then finds or makes it). Linux: do_anonymous_page(), mm/memory.c
    func doAnonymousPage(_ task: Task, _ mm: MMStruct, flags: VMFlags, index: UInt64, _ va: VirtAddr, _ slot: PTESlot,
                         write: Bool, anonVMA: UInt64 = 0) -> FaultResult {
        if !write {
            phys.writePTE(slot, PTE(pfn: zeroPFN, flags: pteFlags(flags, writable: false, dirty: false)))
            vmstat.zeroPageMaps += 1
            clockNs &+= FaultCost.zeroPageRead
            narrate("do_anonymous_page: read of untouched memory maps the shared zero page (PFN \(zeroPFN)) read-only; PTE[\(slot.index)] in table PFN \(slot.table) = \(phys.readPTE(slot))")
            return .minor
        }
        guard let anon = anonVMA != 0 ? anonVMA : anonVMAPrepare(mm, va) else { return .oom }
        guard let pfn = allocPageOrOOM(gfp: .highuserMovable, task: task) else { return .oom }
        phys.contents.clear(pfn)
        addNewAnonPage(mm, flags, pfn, index: index, anonVMA: anon)
        clockNs &+= FaultCost.anonymousWrite
        phys.writePTE(slot, PTE(pfn: pfn, flags: pteFlags(flags, writable: flags.contains(.write), dirty: true)))
        narrate("do_anonymous_page: allocated zeroed anonymous page PFN \(pfn) (\(zoneName(pfn))); PTE[\(slot.index)] in table PFN \(slot.table) = \(phys.readPTE(slot))")
        return .minor
    }

    /// Handles a write to a present read-only PTE: in a shared mapping the page is made dirty
    /// and writable (wp_page_shared); a private page is reused when the writer is its only user,
    /// otherwise copied (copy-on-write; the zero page and page-cache pages are always copied).
    /// Returns .oom when the copy cannot be allocated. Linux: do_wp_page() / wp_page_shared() / wp_page_copy(), mm/memory.c
    func doWpPage(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, _ pte: PTE) -> FaultResult {
        let old = pte.pfn
        let oldFlags = phys.memMap.flags[old.index]
        if vma.flags.contains(.shared) && old != zeroPFN && !oldFlags.contains(.anon) {
            markPageDirty(old)
            phys.writePTE(slot, PTE(raw: pte.raw | PTE.rw | PTE.dirty | PTE.accessed))
            mmu.flushPage(va.pageDown)
            clockNs &+= FaultCost.reuse
            narrate("do_wp_page: shared page cache page PFN \(old)\(oldFlags.contains(.swapbacked) ? "" : " marked dirty and") made writable (wp_page_shared)")
            return .minor
        }
        if vma.flags.contains(.shared) || (old != zeroPFN && oldFlags.contains(.anon)
            && phys.memMap.mapcount[old.index] == 1 && phys.memMap.refcount[old.index] == 1) {
            phys.writePTE(slot, PTE(raw: pte.raw | PTE.rw | PTE.dirty | PTE.accessed))
            mmu.flushPage(va.pageDown)
            clockNs &+= FaultCost.reuse
            narrate("do_wp_page: the page PFN \(old) has no other user: reused, PTE made writable (wp_page_reuse)")
            return .minor
        }
        if old != zeroPFN && oldFlags.contains(.swapcache) && phys.memMap.mapcount[old.index] == 1
            && phys.memMap.refcount[old.index] == 2 && swapCount(SwapEntry(val: reclaim.swapEntryOf[old.index])) == 0 {
            // wp_can_reuse_anon_folio(): the swap cache is the only other user; the slot is freed.
            deleteFromSwapCache(old)
            phys.writePTE(slot, PTE(raw: pte.raw | PTE.rw | PTE.dirty | PTE.accessed))
            mmu.flushPage(va.pageDown)
            clockNs &+= FaultCost.reuse
            narrate("do_wp_page: PFN \(old) leaves the swap cache (its slot is freed) and is reused writable")
            return .minor
        }
        if anonVMAPrepare(mm, va) == nil { return .oom }
        // The old page is pinned while the copy is allocated (reclaim may run meanwhile).
        if old != zeroPFN { phys.getPage(old) }
        defer { if old != zeroPFN { phys.putPage(old) } }
        guard let new = allocPageOrOOM(gfp: .highuserMovable, task: task) else { return .oom }
        guard phys.readPTE(slot) == pte else { phys.putPage(new); return .minor }
        if old == zeroPFN { phys.contents.clear(new) } else { phys.contents.copy(from: old, to: new) }
        addNewPage(mm, vma, new, va)
        clockNs &+= FaultCost.copyOnWrite
        phys.writePTE(slot, PTE(pfn: new, flags: pteFlags(vma.flags, writable: true, dirty: true)))
        // ptep_clear_flush(): other CPUs running this mm may cache the old frame.
        flushTLBMMRange(mm, va.pageDown, VirtAddr(va.pageDown.raw &+ PAGE_SIZE))
        if old != zeroPFN { removeMappedPage(mm, old) }
        narrate("do_wp_page: copy-on-write of \(old == zeroPFN ? "the zero page" : "PFN \(old)") into new page PFN \(new); PTE = \(phys.readPTE(slot))")
        return .minor
    }

    // MARK: - File and shmem pages

    /// The PTE bits a file page gets in `vma`: writable only for a write fault, or for a shared
    /// writable shmem mapping (no write notification: vm_page_prot already allows writes).
    /// Linux: vma->vm_page_prot as set by vma_set_page_prot() / vma_wants_writenotify()
    func filePTEFlags(_ vma: VMA, _ inode: Inode, write: Bool) -> UInt64 {
        let sharedWritable = vma.flags.isSuperset(of: [.shared, .write])
        let writable = sharedWritable && (write || inode.isShmem)
        return pteFlags(vma.flags, writable: writable, dirty: write && sharedWritable)
    }

    /// Dispatches the first touch of a file (or shmem) page by access and sharing: read,
    /// private write (copy-on-write) or shared write. Returns the fault's outcome.
    /// Linux: do_fault(), mm/memory.c
    func doFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, write: Bool) -> FaultResult {
        guard let inode = vmaInode(vma) else {
            narrate("do_fault: the file \(vma.file?.path ?? "?") is not in the file system: SIGBUS")
            return .sigbus
        }
        clockNs &+= FaultCost.fileRead
        if !write { return doReadFault(task, mm, vma, va, slot, inode) }
        if !vma.flags.contains(.shared) { return doCowFault(task, mm, vma, va, slot, inode) }
        return doSharedFault(task, mm, vma, va, slot, inode)
    }

    /// A read fault on a file page: fault-around first (when vm.fault_around_bytes spans more
    /// than a page); if that did not map the faulting page, the page is found or read
    /// (filemap_fault) and mapped read-only (writable in a shared writable shmem mapping).
    /// Returns .minor, .major, .sigbus or .oom. Linux: do_read_fault() + finish_fault(), mm/memory.c
    func doReadFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, _ inode: Inode) -> FaultResult {
        if config.faultAroundPages > 1 {
            let (_, hit) = doFaultAround(mm, vma, va, slot, inode)
            if hit { return .minor }
        }
        let (page, result) = filemapFault(task, vma, inode, linearPageIndex(vma, va))
        guard let pfn = page else { return result }
        phys.writePTE(slot, PTE(pfn: pfn, flags: filePTEFlags(vma, inode, write: false)))
        pageAddFileRmap(mm, vma, pfn)
        narrate("do_read_fault: page cache page PFN \(pfn) mapped; PTE[\(slot.index)] in table PFN \(slot.table) = \(phys.readPTE(slot))")
        return result
    }

    /// A write fault on a private file mapping: the file page is found or read into the cache,
    /// then copied into a new anonymous page mapped writable; the cache page and the file are
    /// unchanged. Returns .minor/.major, or .sigbus/.oom. Linux: do_cow_fault(), mm/memory.c
    func doCowFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, _ inode: Inode) -> FaultResult {
        if anonVMAPrepare(mm, va) == nil { return .oom }
        guard let new = allocPageOrOOM(gfp: .highuserMovable, task: task) else { return .oom }
        let (page, result) = filemapFault(task, vma, inode, linearPageIndex(vma, va))
        guard let src = page else {
            phys.putPage(new)
            return result
        }
        phys.contents.copy(from: src, to: new)
        addNewPage(mm, vma, new, va)
        phys.writePTE(slot, PTE(pfn: new, flags: pteFlags(vma.flags, writable: true, dirty: true)))
        narrate("do_cow_fault: page cache page PFN \(src) copied into new anonymous page PFN \(new) (the file is unchanged); PTE = \(phys.readPTE(slot))")
        return result
    }

    /// A write fault on a shared file mapping: the page is found or read into the cache, made
    /// dirty (disk files) and mapped writable. Returns .minor/.major, or .sigbus/.oom.
    /// Linux: do_shared_fault() → do_page_mkwrite() / filemap_page_mkwrite(), mm/memory.c
    func doSharedFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, _ inode: Inode) -> FaultResult {
        let (page, result) = filemapFault(task, vma, inode, linearPageIndex(vma, va))
        guard let pfn = page else { return result }
        markPageDirty(pfn)
        phys.writePTE(slot, PTE(pfn: pfn, flags: filePTEFlags(vma, inode, write: true)))
        pageAddFileRmap(mm, vma, pfn)
        narrate("do_shared_fault: page cache page PFN \(pfn) mapped writable\(inode.isShmem ? "" : " and marked dirty"); PTE = \(phys.readPTE(slot))")
        return result
    }

    // MARK: - Page accounting

    /// Accounts a newly mapped anonymous page at `va`: flags, mapcount, RSS counter, node
    /// counters, the reverse-map key (anon_vma and linear index), the inactive anon LRU (the
    /// unevictable list in a VM_LOCKED VMA). (Page-cache pages are mapped with pageAddFileRmap.)
    /// `anonVMA` is the id anonVMAPrepare just returned for `va`; nil looks it up.
    /// Linux: folio_add_new_anon_rmap() + folio_add_lru_vma(), mm/rmap.c, mm/swap.c
    func addNewPage(_ mm: MMStruct, _ vma: VMA, _ pfn: PFN, _ va: VirtAddr, anonVMA: UInt64? = nil) {
        // The anon_vma is looked up first: nothing below changes the VMA tree.
        let id = anonVMA ?? mm.vmas.vmaLookup(va)?.anonVMA ?? vma.anonVMA
        addNewAnonPage(mm, vma.flags, pfn, index: linearPageIndex(vma, va), anonVMA: id)
    }

    /// addNewPage for a VMA with `flags`: the page gets linear index `index` and anon_vma `anonVMA`.
    /// Linux: folio_add_new_anon_rmap() + folio_add_lru_vma(), mm/rmap.c, mm/swap.c
    @inline(__always)
    func addNewAnonPage(_ mm: MMStruct, _ flags: VMFlags, _ pfn: PFN, index: UInt64, anonVMA: UInt64) {
        var f: PageFlags = [.uptodate, .anon, .swapbacked]
        mm.rss.anon += 1; stat.nrAnonMapped += 1
        if flags.contains(.locked) {
            f.insert([.mlocked, .unevictable])
            stat.nrMlock += 1
        }
        phys.memMap.flags[pfn.index] = f
        phys.memMap.mapcount[pfn.index] = 1
        reclaim.rmapAnonVMA[pfn.index] = anonVMA
        reclaim.rmapIndex[pfn.index] = index
        reclaim.rmapInode.setNil(pfn.index)
        lruAdd(pfn)
        mm.updateHiwater()
    }

    /// Unaccounts one mapping of `pfn` from `mm` and drops the page reference it held. An
    /// anonymous page leaves the LRU with its last mapping, and the swap cache too unless a swap
    /// PTE still needs its slot (then it stays cached on the LRU);
    /// a page-cache page stays in its cache (NR_FILE_MAPPED drops when its last mapping goes, and
    /// it leaves the unevictable list).
    /// Linux: zap_present_pte() → folio_remove_rmap_pte() + put, mm/memory.c, mm/rmap.c
    func removeMappedPage(_ mm: MMStruct, _ pfn: PFN) {
        let i = pfn.index
        let f = phys.memMap.flags[i]
        phys.memMap.mapcount[i] -= 1
        if !f.contains(.anon) {
            if f.contains(.swapbacked) { mm.rss.shmem -= 1 } else { mm.rss.file -= 1 }
            if phys.memMap.mapcount[i] == 0 {
                stat.nrFileMapped -= 1
                if f.contains(.mlocked) { lruSetMlocked(pfn, false) }
            }
            phys.putPage(pfn)
            return
        }
        mm.rss.anon -= 1
        if phys.memMap.mapcount[i] == 0 {
            stat.nrAnonMapped -= 1
            if f.contains(.mlocked) { stat.nrMlock -= 1; phys.memMap.flags[i].remove([.mlocked, .unevictable]) }
            if f.contains(.swapcache) && swapCount(SwapEntry(val: reclaim.swapEntryOf[i])) == 0 {
                // free_swap_cache(): no swap PTE needs the slot any more; the page leaves the cache.
                lruDel(pfn)
                deleteFromSwapCache(pfn)
            } else if f.contains(.swapcache) {
                if f.contains(.lru) { lruAdd(pfn) }
            } else {
                lruDel(pfn)
            }
        }
        phys.putPage(pfn)
    }

    /// Marks the pages already mapped in [start, end) mlocked (moved to the unevictable list) or,
    /// with `lock` false, clears that and puts them back on the inactive LRU list.
    /// Linux: mlock_pte_range() → mlock_folio() / munlock_folio(), mm/mlock.c
    func mlockPageRange(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, lock: Bool) {
        splitHugePMDBoundaries(mm, start, end)
        forEachHugePMD(mm, start, end) { _, _, e in
            guard !isHugeZeroPFN(e.pfn) else { return }
            for i in 0..<HPAGE_PMD_NR { lruSetMlocked(PFN(index: e.pfn.index + i), lock) }
        }
        forEachPresentPTE(mm, start, end) { _, _, pte in
            guard pte.isPresent, pte.pfn != zeroPFN else { return }
            lruSetMlocked(pte.pfn, lock)
        }
    }

    // MARK: - Narration helpers

    /// "7ffff7a00000-7ffff7b00000 rw-p (anonymous)" for narration.
    func vmaRangeText(_ v: VMA) -> String {
        let perms = (v.flags.contains(.read) ? "r" : "-") + (v.flags.contains(.write) ? "w" : "-")
            + (v.flags.contains(.exec) ? "x" : "-") + (v.flags.contains(.mayshare) ? "s" : "p")
        return String(v.start.raw, radix: 16) + "-" + String(v.end.raw, radix: 16) + " " + perms
            + (v.file.map { " " + $0.path } ?? " (anonymous)")
    }

    /// Name of the zone holding `pfn`.
    func zoneName(_ pfn: PFN) -> String { "zone " + (phys.zone(of: pfn)?.name ?? "?") }
}
