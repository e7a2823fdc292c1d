/// Transparent huge pages for anonymous memory (Linux mm/huge_memory.c): the huge PMD fault,
/// the huge zero page, write faults on a huge PMD, splitting a huge PMD into 512 PTEs, zapping,
/// copying at fork and changing the protection of a whole huge PMD.
///
/// Model: a THP is an order-9 block allocated from the buddy allocator whose 512 frames each
/// carry their own refcount, mapcount, LRU entry and reverse-map key, marked PG_transHuge while a
/// PMD maps them (Linux keeps one folio with an entire mapcount; page_mapcount() — PTE plus PMD
/// mappings — is what the model stores per frame). When the last huge PMD of a THP is split, its
/// frames become ordinary 4 KiB pages at once: Linux keeps a PTE-mapped large folio until the
/// deferred-split shrinker or reclaim splits it, so pages unmapped from a partially unmapped THP
/// are freed here immediately rather than at that later split.

/// The settings under /sys/kernel/mm/transparent_hugepage and the state behind them.
public struct TransparentHugepage: Sendable, Equatable {
    /// `enabled`: always, madvise or never.
    public var enabled: THPMode
    /// `defrag`: whether a fault's huge allocation may direct-reclaim and compact.
    public var defrag: THPDefrag = .madvise
    /// `use_zero_page`: a read fault maps the huge zero page.
    public var useZeroPage = true
    /// khugepaged/pages_to_scan, max_ptes_none, max_ptes_swap, max_ptes_shared, scan_sleep_millisecs.
    public var pagesToScan = 4096
    public var maxPtesNone = 511
    public var maxPtesSwap = 64
    public var maxPtesShared = 256
    public var scanSleepMillisecs = 10000
    /// khugepaged/pages_collapsed and full_scans.
    public var pagesCollapsed = 0
    public var fullScans = 0
    /// The huge zero page's first frame, once allocated (huge_zero_folio).
    public var hugeZeroPFN: PFN?
    /// PMD mappings of each THP (its entire mapcount), by the index of its first frame.
    public var entireMapcount: [Int: Int] = [:]
    /// khugepaged's scan cursor: the mm (by position among the registered ones) and address.
    public var scanMM = 0
    public var scanAddress: UInt64 = 0

    public init(enabled: THPMode) { self.enabled = enabled }

    /// The `enabled` file's text: "always [madvise] never".
    public var enabledText: String {
        THPMode.allCases.map { $0 == enabled ? "[\($0.rawValue)]" : $0.rawValue }.joined(separator: " ")
    }
    /// The `defrag` file's text: "always defer defer+madvise [madvise] never".
    public var defragText: String {
        THPDefrag.allCases.map { $0 == defrag ? "[\($0.rawValue)]" : $0.rawValue }.joined(separator: " ")
    }
}

/// Pages in a PMD-sized THP (HPAGE_PMD_NR) and its size.
public let HPAGE_PMD_NR = 512
public let HPAGE_PMD_SIZE: UInt64 = 2 << 20
/// Simulated time of a huge anonymous fault: clearing 2 MiB (clear_huge_page). An estimate
/// (2 MiB at about 17 GB/s), not a measurement on the reference machine.
public let hugeAnonymousFaultCost: UInt64 = 120_000

extension Kernel {
    // MARK: - Eligibility

    /// Whether a PMD-sized THP may back `vma` at all: anonymous private memory, not
    /// VM_NOHUGEPAGE/VM_HUGETLB/VM_PFNMAP/VM_MIXEDMAP, and the `enabled` mode allowing it
    /// (always, or madvise with VM_HUGEPAGE). Linux: __thp_vma_allowable_orders(), mm/huge_memory.c
    public func thpVMAAllowable(_ vma: VMA) -> Bool {
        let f = vma.flags
        guard vma.isAnonymous, vma.shmemObject == 0, !f.contains(.shared) else { return false }
        if f.contains(.nohugepage) || f.contains(.hugetlb) || f.contains(.pfnmap) || f.contains(.mixedmap) { return false }
        switch thp.enabled {
        case .always: return true
        case .madvise: return f.contains(.hugepage)
        case .never: return false
        }
    }

    /// Whether the 2 MiB-aligned block around `va` lies inside `vma`.
    /// Linux: thp_vma_suitable_order(), include/linux/huge_mm.h
    @inline(__always)
    func thpSuitable(_ vma: VMA, _ va: VirtAddr) -> Bool {
        let haddr = va.raw & ~(HPAGE_PMD_SIZE - 1)
        return haddr >= vma.start.raw && haddr &+ HPAGE_PMD_SIZE <= vma.end.raw && haddr &+ HPAGE_PMD_SIZE > haddr
    }

    /// The GFP mask of a THP fault for `vma` under `defrag`: GFP_TRANSHUGE_LIGHT plus direct
    /// reclaim/compaction for `always` (with __GFP_NORETRY unless madvised), and for madvised
    /// VMAs under `defer+madvise` and `madvise`; a kswapd/kcompactd wakeup instead under `defer`,
    /// and for other VMAs under `defer+madvise`. (No __GFP_COMP: the model keeps a THP as
    /// order-0 frames.) Linux: vma_thp_gfp_mask(), mm/huge_memory.c
    func thpGFPMask(_ vma: VMA) -> GFP {
        let madvised = vma.flags.contains(.hugepage)
        let light: GFP = [.highmem, .movable, .hardwall, .nowarn, .nomemalloc]   // GFP_TRANSHUGE_LIGHT
        switch thp.defrag {
        case .always: return madvised ? light.union(.directReclaim) : light.union([.directReclaim, .noretry])
        case .defer: return light.union(.kswapdReclaim)
        case .deferMadvise: return light.union(madvised ? .directReclaim : .kswapdReclaim)
        case .madvise: return madvised ? light.union(.directReclaim) : light
        case .never: return light
        }
    }

    /// Allocates an order-9 block for a THP with `gfp`: the fast path, then (with direct reclaim
    /// allowed) one round of compaction of every zone and a retry. Returns its first frame with
    /// every frame's refcount 1 (the block is split into order-0 frames), or nil.
    /// Linux: vma_alloc_folio(…, HPAGE_PMD_ORDER) → __alloc_pages_direct_compact(), mm/page_alloc.c
    func allocTHPBlock(_ gfp: GFP) -> PFN? {
        if gfp.contains(.kswapdReclaim) { wakeupKswapd() }
        var p = phys.allocPages(order: 9, gfp: gfp)
        if p == nil && gfp.contains(.directReclaim) {
            for z in phys.zones.reversed() where z.spannedPages > 0 { compactZone(z, order: 9) }
            p = phys.allocPages(order: 9, gfp: gfp)
        }
        guard let head = p else { return nil }
        vmstat.pgalloc += UInt64(HPAGE_PMD_NR)
        for i in 0..<HPAGE_PMD_NR { phys.memMap.refcount[head.index + i] = 1 }
        return head
    }

    // MARK: - Finding PMDs

    /// Returns the PMD slot for `va`, creating missing upper-level tables (as many levels as the
    /// machine's format has above the PMD); nil when a table page could not be allocated or a
    /// huge leaf maps `va` above the PMD level. Linux: pmd_alloc(), include/linux/mm.h
    func pmdAlloc(_ mm: MMStruct, _ va: VirtAddr, task: Task?) -> PTESlot? {
        let phys = self.phys
        if phys.paging.isX86_64FourLevel {
            // The common case on the fault path: the PGD and PUD entries point to tables (no
            // entry to create, no 1 GiB leaf): read them straight from the frames (x86-64 entries
            // need no decoding). Anything else takes tableAlloc below, which decides the same way.
            let e0 = phys.contents.readWord(mm.pgd, Int(truncatingIfNeeded: (va.raw >> 39) & 0x1ff))
            if e0 & (PTE.present | PTE.pse) == PTE.present {
                let pud = PTE(raw: e0).pfn
                let e1 = phys.contents.readWord(pud, Int(truncatingIfNeeded: (va.raw >> 30) & 0x1ff))
                if e1 & (PTE.present | PTE.pse) == PTE.present {
                    return PTESlot(table: PTE(raw: e1).pfn, index: Int(truncatingIfNeeded: (va.raw >> 21) & 0x1ff))
                }
            }
        }
        let f = phys.paging
        guard let table = tableAlloc(mm, va, level: f.pmdLevel, task: task) else { return nil }
        return PTESlot(table: table, index: f.index(va, level: f.pmdLevel))
    }

    /// Returns the PMD slot for `va` when the upper levels exist, without creating any.
    /// Linux: mm_find_pmd(), mm/rmap.c
    func pmdLookup(_ mm: MMStruct, _ va: VirtAddr) -> PTESlot? {
        let f = phys.paging
        guard let table = phys.tableAt(mm.pgd, va, level: f.pmdLevel) else { return nil }
        return PTESlot(table: table, index: f.index(va, level: f.pmdLevel))
    }

    /// Calls `body` with the 2 MiB-aligned address and slot of every huge PMD that maps part of
    /// [start, end) in `mm`, skipping absent upper levels. Allocates nothing.
    /// Linux: walk_pmd_range() with pmd_trans_huge(), mm/pagewalk.c
    func forEachHugePMD(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, _ body: (UInt64, PTESlot, PTE) -> Void) {
        let f = phys.paging
        var va = start.raw & ~(HPAGE_PMD_SIZE - 1)
        while va < end.raw {
            var table = mm.pgd
            var skip: UInt64 = 0
            var level = 0
            while level < f.pmdLevel {
                let e = phys.readEntry(table, f.index(VirtAddr(va), level: level), level: level)
                if !e.isPresent || e.isHuge { skip = UInt64(1) << f.shift(level); break }
                table = e.pfn
                level += 1
            }
            if skip == 0 {
                let slot = PTESlot(table: table, index: f.index(VirtAddr(va), level: f.pmdLevel))
                let e = phys.readPMD(slot)
                if e.isPresent && e.isHuge && !isHugetlbPage(e.pfn) { body(va, slot, e) }
                skip = HPAGE_PMD_SIZE
            }
            let next = (va & ~(skip - 1)) &+ skip
            if next <= va { return }
            va = next
        }
    }

    /// Whether `pfn` is the first frame of the huge zero page.
    /// Linux: is_huge_zero_pfn(), include/linux/huge_mm.h
    @inline(__always)
    func isHugeZeroPFN(_ pfn: PFN) -> Bool { thp.hugeZeroPFN == pfn }

    // MARK: - Huge faults

    /// Handles a first touch of a THP-eligible anonymous VMA whose PMD is empty: a read maps the
    /// huge zero page (use_zero_page), anything else an order-9 zeroed THP, each with a deposited
    /// page table. Returns nil to fall back to 4 KiB pages (no huge zero page, no THP: counted in
    /// thp_fault_fallback), or the fault's outcome. Linux: do_huge_pmd_anonymous_page(), mm/huge_memory.c
    func doHugePMDAnonymousPage(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ pmd: PTESlot, write: Bool) -> FaultResult? {
        let haddr = va.raw & ~(HPAGE_PMD_SIZE - 1)
        if !write && thp.useZeroPage {
            guard let zero = getHugeZeroPage() else { return nil }
            guard let table = allocPageTable(mm, for: task) else { return .oom }
            mm.hugePMDDeposits[haddr] = table
            var flags = PTE.present | PTE.user | PTE.accessed | PTE.pse
            if !vma.flags.contains(.exec) { flags |= PTE.nx }
            phys.writePMD(pmd, PTE(pfn: zero, flags: flags))
            clockNs &+= FaultCost.zeroPageRead
            narrate("do_huge_pmd_anonymous_page: read of untouched memory maps the huge zero page (PFN \(zero), 2 MiB) read-only at \(VirtAddr(haddr)); a page table (PFN \(table)) is deposited for a later split")
            return .minor
        }
        if anonVMAPrepare(mm, va) == nil { return .oom }
        guard let head = allocTHPBlock(thpGFPMask(vma)) else {
            vmstat.thpFaultFallback += 1
            narrate("do_huge_pmd_anonymous_page: no free order-9 block (defrag \(thp.defrag.rawValue)): thp_fault_fallback, 4 KiB pages instead")
            return nil
        }
        guard let table = allocPageTable(mm, for: task) else {
            for i in 0..<HPAGE_PMD_NR { phys.putPage(PFN(index: head.index + i)) }
            return .oom
        }
        mm.hugePMDDeposits[haddr] = table
        for i in 0..<HPAGE_PMD_NR {
            let p = PFN(index: head.index + i)
            phys.contents.clear(p)
            addNewPage(mm, vma, p, VirtAddr(haddr &+ UInt64(i) << PAGE_SHIFT))
            phys.memMap.flags[p.index].insert(.transHuge)
        }
        thp.entireMapcount[head.index] = 1
        stat.nrAnonTHPs += 1
        vmstat.thpFaultAlloc += 1
        clockNs &+= hugeAnonymousFaultCost
        phys.writePMD(pmd, PTE(pfn: head, flags: pteFlags(vma.flags, writable: vma.flags.contains(.write), dirty: true) | PTE.pse))
        narrate("do_huge_pmd_anonymous_page: allocated a zeroed 2 MiB THP at PFN \(head) (\(zoneName(head))) mapped by one PMD leaf at \(VirtAddr(haddr)); page table PFN \(table) deposited (thp_fault_alloc)")
        return .minor
    }

    /// Returns the huge zero page, allocating it (order 9, zeroed, not movable) on first use
    /// (thp_zero_page_alloc), or nil when that fails (thp_zero_page_alloc_failed).
    /// Linux: mm_get_huge_zero_folio() → get_huge_zero_page(), mm/huge_memory.c
    func getHugeZeroPage() -> PFN? {
        if let z = thp.hugeZeroPFN { return z }
        guard let z = phys.allocPages(order: 9, gfp: [.highmem, .hardwall, .nowarn, .noretry, .zero]) else {
            vmstat.thpZeroPageAllocFailed += 1
            return nil
        }
        vmstat.pgalloc += UInt64(HPAGE_PMD_NR)
        for i in 0..<HPAGE_PMD_NR {
            phys.memMap.refcount[z.index + i] = 1
            phys.memMap.flags[z.index + i].insert([.zeroPage, .reserved])
        }
        thp.hugeZeroPFN = z
        vmstat.thpZeroPageAlloc += 1
        return z
    }

    /// Handles a fault on a present huge PMD: a write to a read-only one goes to
    /// doHugePMDWpPage; otherwise the access is allowed and only the accessed (and dirty) bits
    /// are set. Returns nil when the PMD was split and the fault must be retried on its PTEs.
    /// Linux: __handle_mm_fault() → do_huge_pmd_wp_page() / huge_pmd_set_accessed(), mm/memory.c
    func handleHugePMDFault(_ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ pmd: PTESlot, _ e: PTE, write: Bool) -> FaultResult? {
        if write && !e.isWritable { return doHugePMDWpPage(mm, vma, va, pmd, e) }
        var raw = e.raw | PTE.accessed
        if write { raw |= PTE.dirty }
        phys.writePMD(pmd, PTE(raw: raw))
        let haddr = va.raw & ~(HPAGE_PMD_SIZE - 1)
        flushTLBRange(mm, VirtAddr(haddr), VirtAddr(haddr &+ HPAGE_PMD_SIZE))
        narrate("huge_pmd_set_accessed: the huge PMD already allows the access: spurious fault, TLB flushed")
        return .minor
    }

    /// A write to a read-only huge PMD: an anonymous THP that only this PMD maps is reused
    /// (made writable); the huge zero page, or a THP shared after fork, makes the PMD split so
    /// that the 4 KiB PTE fault copies only the page written (Linux 6.x falls back rather than
    /// copying 2 MiB). Returns nil after a split (retry on the PTE), else .minor.
    /// Linux: do_huge_pmd_wp_page(), mm/huge_memory.c
    func doHugePMDWpPage(_ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ pmd: PTESlot, _ e: PTE) -> FaultResult? {
        let haddr = va.raw & ~(HPAGE_PMD_SIZE - 1)
        let head = e.pfn.index
        if !isHugeZeroPFN(e.pfn) && thp.entireMapcount[head] == 1 {
            var exclusive = true
            for i in 0..<HPAGE_PMD_NR where phys.memMap.mapcount[head + i] != 1 || phys.memMap.refcount[head + i] != 1 { exclusive = false; break }
            if exclusive {
                phys.writePMD(pmd, PTE(raw: e.raw | PTE.rw | PTE.dirty | PTE.accessed))
                flushTLBRange(mm, VirtAddr(haddr), VirtAddr(haddr &+ HPAGE_PMD_SIZE))
                clockNs &+= FaultCost.reuse
                narrate("do_huge_pmd_wp_page: the THP at PFN \(e.pfn) has no other user: reused, PMD made writable")
                return .minor
            }
        }
        narrate("do_huge_pmd_wp_page: \(isHugeZeroPFN(e.pfn) ? "write to the huge zero page" : "the THP is shared"): the PMD is split and the write faults on its PTE")
        splitHugePMD(mm, VirtAddr(haddr), pmd)
        return nil
    }

    // MARK: - Splitting

    /// Splits the huge PMD at `haddr` into a PTE table (the deposited one) mapping the same 512
    /// frames with the same protection (the huge zero page becomes 512 PTEs of the 4 KiB zero
    /// page); counts thp_split_pmd. When no other PMD maps the THP it leaves AnonHugePages and
    /// its frames become ordinary pages. Linux: __split_huge_pmd() → __split_huge_pmd_locked(), mm/huge_memory.c
    func splitHugePMD(_ mm: MMStruct, _ haddr: VirtAddr, _ pmd: PTESlot) {
        let e = phys.readPMD(pmd)
        guard e.isPresent && e.isHuge && !isHugetlbPage(e.pfn) else { return }
        vmstat.thpSplitPMD += 1
        guard let table = mm.hugePMDDeposits.removeValue(forKey: haddr.raw) else { return }
        let zero = isHugeZeroPFN(e.pfn)
        let keep = e.raw & (PTE.present | PTE.rw | PTE.user | PTE.accessed | PTE.dirty | PTE.nx)
        for i in 0..<HPAGE_PMD_NR {
            let pfn = zero ? zeroPFN : PFN(index: e.pfn.index + i)
            phys.writePTE(PTESlot(table: table, index: i), PTE(pfn: pfn, flags: keep))
        }
        phys.writePMD(pmd, PTE(pfn: table, flags: PageTableFormat.tableFlags))
        if !zero { dropEntireMapping(e.pfn) }
        flushTLBRange(mm, haddr, VirtAddr(haddr.raw &+ HPAGE_PMD_SIZE))
        narrate("__split_huge_pmd: the huge PMD at \(haddr) now points to page table PFN \(table) with 512 PTEs\(zero ? " of the zero page" : "") (thp_split_pmd)")
    }

    /// Removes one PMD mapping from the THP starting at `head`; the last one takes it out of
    /// NR_ANON_THPS and clears PG_transHuge from its frames. Linux: __folio_remove_rmap(RMAP_LEVEL_PMD), mm/rmap.c
    func dropEntireMapping(_ head: PFN) {
        let n = (thp.entireMapcount[head.index] ?? 1) - 1
        if n > 0 { thp.entireMapcount[head.index] = n; return }
        thp.entireMapcount[head.index] = nil
        stat.nrAnonTHPs -= 1
        for i in 0..<HPAGE_PMD_NR { phys.memMap.flags[head.index + i].remove(.transHuge) }
    }

    /// Splits the huge PMDs that [start, end) covers only partly (at most the two at its ends),
    /// as a VMA split or a partial operation needs. Returns how many anonymous THPs lost their
    /// last PMD mapping (they are now only PTE-mapped).
    /// Linux: split_huge_pmd_if_needed() via vma_adjust_trans_huge(), mm/huge_memory.c
    @discardableResult
    func splitHugePMDBoundaries(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) -> Int {
        var n = 0
        for a in [start.raw, end.raw] where a & (HPAGE_PMD_SIZE - 1) != 0 {
            let haddr = a & ~(HPAGE_PMD_SIZE - 1)
            guard let slot = pmdLookup(mm, VirtAddr(haddr)) else { continue }
            let e = phys.readPMD(slot)
            guard e.isPresent && e.isHuge && !isHugetlbPage(e.pfn) else { continue }
            splitHugePMD(mm, VirtAddr(haddr), slot)
            if !isHugeZeroPFN(e.pfn) && thp.entireMapcount[e.pfn.index] == nil { n += 1 }
        }
        return n
    }

    /// Splits the huge PMDs a partial unmap of [start, end) cuts; an anonymous THP left mapped
    /// only in part by PTEs is queued for a deferred split (thp_deferred_split_page; the model
    /// frees its unmapped pages at once instead of at the shrinker's split).
    /// Linux: __folio_remove_rmap() → deferred_split_folio(folio, true), mm/rmap.c, mm/huge_memory.c
    func splitHugePMDsForUnmap(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) {
        let n = splitHugePMDBoundaries(mm, start, end)
        vmstat.thpDeferredSplitPage += UInt64(n)
    }

    /// Splits every huge PMD in [start, end) of `mm` (for operations the model does only on PTEs).
    /// Linux: split_huge_pmd() for each huge PMD met, mm/huge_memory.c
    func splitHugePMDRange(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) {
        var found: [(UInt64, PTESlot)] = []
        forEachHugePMD(mm, start, end) { a, s, _ in found.append((a, s)) }
        for (a, s) in found { splitHugePMD(mm, VirtAddr(a), s) }
    }

    /// Unmaps the huge PMD at `haddr`: the deposited table is freed, each frame loses a mapping
    /// and a reference (rss, AnonPages, LRU as for a PTE); the huge zero page only loses the
    /// mapping. Linux: zap_huge_pmd(), mm/huge_memory.c
    func zapHugePMD(_ mm: MMStruct, _ haddr: VirtAddr, _ pmd: PTESlot) {
        let e = phys.readPMD(pmd)
        guard e.isPresent && e.isHuge else { return }
        phys.writePMD(pmd, PTE(raw: 0))
        if let table = mm.hugePMDDeposits.removeValue(forKey: haddr.raw) { freePageTable(mm, table) }
        if isHugeZeroPFN(e.pfn) { return }
        dropEntireMapping(e.pfn)
        for i in 0..<HPAGE_PMD_NR { removeMappedPage(mm, PFN(index: e.pfn.index + i)) }
    }

    /// Copies the huge PMDs of `vma` from `src` into `dst` at fork: each THP frame gains a
    /// mapping and a reference, the child gets its own deposited table, and both PMDs become
    /// read-only (the child's also old). Returns false when a table could not be allocated.
    /// Linux: copy_huge_pmd(), mm/huge_memory.c
    func copyHugePMDs(_ child: Task, _ dst: MMStruct, _ src: MMStruct, _ vma: VMA) -> Bool {
        var ok = true
        forEachHugePMD(src, vma.start, vma.end) { haddr, slot, e in
            guard ok else { return }
            guard let dpmd = pmdAlloc(dst, VirtAddr(haddr), task: child),
                  let table = allocPageTable(dst, for: child) else { ok = false; return }
            dst.hugePMDDeposits[haddr] = table
            if !isHugeZeroPFN(e.pfn) {
                for i in 0..<HPAGE_PMD_NR {
                    let p = PFN(index: e.pfn.index + i)
                    phys.getPage(p)
                    phys.memMap.mapcount[p.index] += 1
                }
                dst.rss.anon += HPAGE_PMD_NR
                thp.entireMapcount[e.pfn.index, default: 0] += 1
            }
            let ro = e.raw & ~PTE.rw
            phys.writePMD(slot, PTE(raw: ro))
            phys.writePMD(dpmd, PTE(raw: ro & ~PTE.accessed))
        }
        return ok
    }

    /// Rewrites the protection of the huge PMDs wholly inside [start, end) for `newFlags`
    /// (writable only when the THP is exclusively ours, never the huge zero page).
    /// Linux: change_huge_pmd(), mm/huge_memory.c
    func changeHugePMDs(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, newFlags: VMFlags) {
        forEachHugePMD(mm, start, end) { haddr, slot, e in
            var writable = false
            if newFlags.contains(.write) && !isHugeZeroPFN(e.pfn) && thp.entireMapcount[e.pfn.index] == 1 {
                writable = true
                for i in 0..<HPAGE_PMD_NR where phys.memMap.mapcount[e.pfn.index + i] != 1 || phys.memMap.refcount[e.pfn.index + i] != 1 { writable = false; break }
            }
            let keep = e.raw & (PTE.accessed | PTE.dirty)
            phys.writePMD(slot, PTE(raw: PTE(pfn: e.pfn, flags: pteFlags(newFlags, writable: writable, dirty: false) | PTE.pse).raw | keep))
        }
    }

    /// Splits every PMD mapping of the THP containing `pfn` (found through the reverse map), so
    /// that reclaim can unmap and swap its pages one by one; counts thp_split_page.
    /// Linux: split_folio_to_list() with try_to_unmap(TTU_SPLIT_HUGE_PMD), mm/huge_memory.c
    func splitHugePage(_ pfn: PFN) {
        guard phys.memMap.flags[pfn.index].contains(.transHuge) else { return }
        let head = pfn.index & ~(HPAGE_PMD_NR - 1)
        let f = phys.memMap.flags[head]
        for mm in rmapAddressSpaces() {
            for v in mm.vmas.vmas where v.anonVMA == reclaim.rmapAnonVMA[head] && v.anonVMA != 0 && f.contains(.anon) {
                let index = reclaim.rmapIndex[head]
                guard index >= v.pgoff, index - v.pgoff < UInt64(v.pages) else { continue }
                let va = v.start.raw &+ ((index - v.pgoff) << PAGE_SHIFT)
                guard va & (HPAGE_PMD_SIZE - 1) == 0, let slot = pmdLookup(mm, VirtAddr(va)) else { continue }
                let e = phys.readPMD(slot)
                if e.isPresent && e.isHuge && e.pfn.index == head { splitHugePMD(mm, VirtAddr(va), slot) }
            }
        }
        vmstat.thpSplitPage += 1
        narrate("split_huge_page: the THP at PFN \(PFN(index: head)) is split into 512 pages (thp_split_page)")
    }

    /// Checks the huge PMDs of every address space: each maps a 512-aligned THP whose frames
    /// all carry PG_transHuge and are counted in its entire mapcount, each has a deposited
    /// page table, and NR_ANON_THPS matches the THPs mapped. Returns the violations.
    func hugePMDInvariantViolations() -> [String] {
        var out: [String] = []
        var entire: [Int: Int] = [:]
        var seen = Set<ObjectIdentifier>()
        for t in allTasks {
            guard let mm = t.mm, seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            var deposits = 0
            forEachHugePMD(mm, VirtAddr(0), VirtAddr(mm.taskSize)) { haddr, _, e in
                deposits += 1
                if mm.hugePMDDeposits[haddr] == nil { out.append("pid \(t.pid): huge PMD at \(VirtAddr(haddr)) has no deposited page table") }
                if isHugeZeroPFN(e.pfn) { return }
                guard e.pfn.index & (HPAGE_PMD_NR - 1) == 0, e.pfn.index + HPAGE_PMD_NR <= phys.frameCount else {
                    out.append("pid \(t.pid): huge PMD at \(VirtAddr(haddr)) maps unaligned PFN \(e.pfn)"); return
                }
                entire[e.pfn.index, default: 0] += 1
                for i in 0..<HPAGE_PMD_NR where !phys.memMap.flags[e.pfn.index + i].contains(.transHuge) {
                    out.append("pid \(t.pid): THP frame PFN \(PFN(index: e.pfn.index + i)) mapped by a huge PMD lacks PG_transHuge"); break
                }
            }
            if deposits != mm.hugePMDDeposits.count { out.append("pid \(t.pid): \(mm.hugePMDDeposits.count) deposited page tables for \(deposits) huge PMDs") }
        }
        if entire != thp.entireMapcount { out.append("THP entire mapcounts \(thp.entireMapcount.sorted { $0.key < $1.key }) but huge PMDs map \(entire.sorted { $0.key < $1.key })") }
        if stat.nrAnonTHPs != entire.count { out.append("NR_ANON_THPS = \(stat.nrAnonTHPs) but \(entire.count) THPs are PMD-mapped") }
        return out
    }
}
