/// madvise(2). Linux: mm/madvise.c
///
/// What each advice does here:
/// - DONTNEED, FREE: zap the pages (zapPageRange). Linux's MADV_FREE only marks clean anonymous
///   pages lazily freeable and reclaim drops them later; the model has no lazy-free state, so
///   FREE on private anonymous memory acts like DONTNEED (the next touch reads zeros, which is a
///   permitted outcome of MADV_FREE). FREE on anything else is EINVAL, as in Linux.
/// - REMOVE: zaps the range of a shared writable mapping (the backing store is not modelled).
/// - NORMAL, RANDOM, SEQUENTIAL, DONTFORK, DOFORK, DONTDUMP, DODUMP, HUGEPAGE, NOHUGEPAGE,
///   WIPEONFORK, KEEPONFORK, MERGEABLE, UNMERGEABLE: set or clear VM flags with split and merge.
/// - WILLNEED, COLD, PAGEOUT: validated and accepted; readahead and LRU deactivation are the
///   page-cache and reclaim code's business and are not triggered from here.

extension Kernel {
    /// madvise(2) with a typed advice. Errors as `madvise(_:addr:length:behavior:)`.
    /// Linux: do_madvise(), mm/madvise.c
    public func madvise(_ task: Task, addr: UInt64, length: UInt64, advice: Advice) -> Result<Void, Errno> {
        madvise(task, addr: addr, length: length, behavior: advice.rawValue)
    }

    /// madvise(2) with the raw MADV_* number: EINVAL for an unknown advice (values outside
    /// `Advice` — POPULATE_*, COLLAPSE, HWPOISON are not modelled), an unaligned address or an
    /// overflowing range, or advice a VMA does not allow (EAGAIN when a split runs out of
    /// maps, EACCES for REMOVE on a non-writable-shared mapping); ENOMEM when part of the range is
    /// unmapped, after applying the advice to the mapped parts. Linux: do_madvise(), mm/madvise.c
    public func madvise(_ task: Task, addr: UInt64, length: UInt64, behavior: Int32) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        guard let advice = Advice(rawValue: behavior) else { return .failure(.EINVAL) }
        if addr & ~PAGE_MASK != 0 { return .failure(.EINVAL) }
        // PAGE_ALIGN of a length near 2^64 wraps to 0 in C: "len_in && !len" -> EINVAL.
        guard let len = pageAlignUp(length) else { return .failure(.EINVAL) }
        let (endRaw, o) = addr.addingReportingOverflow(len)
        if o { return .failure(.EINVAL) }
        if endRaw == addr { return .success(()) }
        return madviseWalkVMAs(mm, VirtAddr(addr), VirtAddr(endRaw)) { i, s, e in
            self.madviseVMABehavior(task, mm, i, s, e, advice)
        }
    }

    /// Applies `visit` to each mapped piece of [start, end); returns the first error of `visit`,
    /// else ENOMEM when part of the range was unmapped, else success.
    /// Linux: madvise_walk_vmas(), mm/madvise.c
    func madviseWalkVMAs(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr,
                         _ visit: (Int, VirtAddr, VirtAddr) -> Result<Int, Errno>) -> Result<Void, Errno> {
        var start = start
        var unmapped = false
        guard var i = mm.vmas.findVMAIndex(start) else { return .failure(.ENOMEM) }
        while true {
            let v = mm.vmas[i]
            if start < v.start {
                unmapped = true
                start = v.start
                if start >= end { break }
            }
            let tmp = min(v.end, end)
            let prevEnd: VirtAddr
            switch visit(i, start, tmp) {
            case .failure(let e): return .failure(e)
            case .success(let j): prevEnd = mm.vmas[j].end
            }
            start = max(tmp, prevEnd)
            if start >= end { break }
            guard let n = mm.vmas.findVMAIndex(prevEnd) else { return .failure(.ENOMEM) }
            i = n
        }
        return unmapped ? .failure(.ENOMEM) : .success(())
    }

    /// Applies one advice to [start, end) of the VMA at `index`; returns the index of the VMA
    /// now covering the range, or the advice's errno. Linux: madvise_vma_behavior(), mm/madvise.c
    func madviseVMABehavior(_ task: Task, _ mm: MMStruct, _ index: Int, _ start: VirtAddr, _ end: VirtAddr,
                            _ advice: Advice) -> Result<Int, Errno> {
        let v = mm.vmas[index]
        var newFlags = v.flags
        switch advice {
        case .remove:
            if v.flags.contains(.locked) { return .failure(.EINVAL) }
            if v.file == nil && v.shmemObject == 0 { return .failure(.EINVAL) }
            if !v.flags.isSuperset(of: [.shared, .maywrite]) { return .failure(.EACCES) }
            // vfs_fallocate(PUNCH_HOLE): every mapping of the range loses it, the pages go.
            if let inode = vmaInode(v) {
                let first = linearPageIndex(v, start)
                punchHole(inode, first, first + ((end.raw - start.raw) >> PAGE_SHIFT) - 1)
            }
            zapPageRange(mm, start, end)
            return .success(index)
        case .willneed:
            return .success(index)
        case .cold, .pageout:
            if v.flags.intersects([.locked, .pfnmap, .hugetlb]) { return .failure(.EINVAL) }
            madviseColdOrPageout(mm, start, end, pageout: advice == .pageout)
            return .success(index)
        case .free:
            if v.flags.intersects([.locked, .pfnmap, .hugetlb]) { return .failure(.EINVAL) }
            if !v.vmaIsAnonymous { return .failure(.EINVAL) }
            madviseFree(mm, start, end)
            return .success(index)
        case .dontneed:
            if v.flags.intersects([.locked, .pfnmap]) { return .failure(.EINVAL) }
            // madvise_dontneed_free_valid_vma(): a hugetlb range starts on a huge page boundary
            // and its end is rounded down to one.
            if let size = hugetlbPageSize(v) {
                if start.raw & (size - 1) != 0 { return .failure(.EINVAL) }
                let e = end.raw & ~(size - 1)
                if e > start.raw { zapPageRange(mm, start, VirtAddr(e)) }
                return .success(index)
            }
            zapPageRange(mm, start, end)
            return .success(index)
        case .normal: newFlags.subtract([.randRead, .seqRead])
        case .sequential: newFlags.remove(.randRead); newFlags.insert(.seqRead)
        case .random: newFlags.remove(.seqRead); newFlags.insert(.randRead)
        case .dontfork: newFlags.insert(.dontcopy)
        case .dofork:
            if v.flags.contains(.io) { return .failure(.EINVAL) }
            newFlags.remove(.dontcopy)
        case .wipeonfork:
            if v.file != nil || v.flags.contains(.shared) || v.shmemObject != 0 { return .failure(.EINVAL) }
            newFlags.insert(.wipeonfork)
        case .keeponfork: newFlags.remove(.wipeonfork)
        case .dontdump: newFlags.insert(.dontdump)
        case .dodump:
            if !v.flags.contains(.hugetlb) && v.flags.intersects(.special) { return .failure(.EINVAL) }
            newFlags.remove(.dontdump)
        case .mergeable:
            // ksm_madvise(): silently ignored on areas KSM cannot handle.
            if !v.flags.intersects([.mergeable, .shared, .mayshare, .pfnmap, .io, .dontexpand, .hugetlb, .mixedmap]) {
                newFlags.insert(.mergeable)
            }
        case .unmergeable: newFlags.remove(.mergeable)
        case .hugepage:
            newFlags.remove(.nohugepage); newFlags.insert(.hugepage)
            // hugepage_madvise() → khugepaged_enter_vma(): khugepaged will scan this mm.
            var nv = v; nv.flags = newFlags
            if thp.enabled != .never && thpVMAAllowable(nv) { mm.khugepagedRegistered = true }
        case .nohugepage: newFlags.remove(.hugepage); newFlags.insert(.nohugepage)
        }
        if newFlags == v.flags { return .success(index) }
        switch vmaModifyFlags(mm, index, start, end, newFlags) {
        case .success(let j): return .success(j)
        // madvise reports a temporary shortage of kernel resources as EAGAIN.
        case .failure(let e): return .failure(e == .ENOMEM ? .EAGAIN : e)
        }
    }
}

extension Kernel {
    /// MADV_COLD / MADV_PAGEOUT on [start, end) of `mm`: each page mapped only here loses its
    /// PTE's accessed bit and PG_referenced; COLD moves it to the inactive list (pgdeactivate),
    /// PAGEOUT reclaims it at once, ignoring references (anonymous pages go to swap).
    /// Linux: madvise_cold_or_pageout_pte_range() → folio_deactivate() / reclaim_pages(), mm/madvise.c
    func madviseColdOrPageout(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, pageout: Bool) {
        var pages: [PFN] = []
        // The model works on PTEs: huge PMDs in the range are split first.
        splitHugePMDRange(mm, start, end)
        forEachPresentPTE(mm, start, end) { va, slot, pte in
            guard pte.isPresent, pte.pfn != zeroPFN else { return }
            let i = pte.pfn.index
            let f = phys.memMap.flags[i]
            guard f.contains(.lru), !f.contains(.unevictable), phys.memMap.mapcount[i] == 1 else { return }
            if pte.isAccessed {
                phys.writePTE(slot, PTE(raw: pte.raw & ~PTE.accessed))
                flushTLBRange(mm, va, VirtAddr(va.raw &+ PAGE_SIZE))
            }
            phys.memMap.flags[i].remove(.referenced)
            pages.append(pte.pfn)
        }
        var freed = 0
        for p in pages {
            if pageout {
                lruDel(p)
                phys.memMap.flags[p.index].remove(.active)
                if shrinkFolio(p) { freed += 1 }
            } else if phys.memMap.flags[p.index].contains(.active) {
                phys.memMap.flags[p.index].remove(.active)
                lruAdd(p)
                vmstat.pgdeactivate += 1
            }
        }
        narrate(pageout ? "madvise(MADV_PAGEOUT): \(pages.count) page(s) reclaimed at once, \(freed) freed"
                        : "madvise(MADV_COLD): \(pages.count) page(s) made old and put on the inactive lists")
    }

    /// MADV_FREE on [start, end) of `mm`: swap entries are freed; each anonymous page mapped only
    /// here becomes lazily freeable — clean, old, not swap-backed, on the inactive file list
    /// (pglazyfree) — so reclaim frees it without swapping unless it is written again first.
    /// Linux: madvise_free_pte_range() → folio_mark_lazyfree(), mm/madvise.c, mm/swap.c
    func madviseFree(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) {
        var n = 0
        var changed = false
        // The model works on PTEs: huge PMDs in the range are split first.
        splitHugePMDRange(mm, start, end)
        forEachPresentPTE(mm, start, end) { va, slot, pte in
            if pte.isSwap {
                phys.writePTE(slot, PTE(raw: 0))
                mm.rss.swapents -= 1
                freeSwapAndCache(pte.swapEntry)
                return
            }
            guard pte.isPresent, pte.pfn != zeroPFN else { return }
            let p = pte.pfn
            let f = phys.memMap.flags[p.index]
            guard f.contains(.anon), phys.memMap.mapcount[p.index] == 1 else { return }
            if f.contains(.swapcache) {
                guard swapCount(SwapEntry(val: reclaim.swapEntryOf[p.index])) == 0 else { return }
                deleteFromSwapCache(p)
            }
            phys.writePTE(slot, PTE(raw: pte.raw & ~(PTE.accessed | PTE.dirty)))
            changed = true
            phys.memMap.flags[p.index].remove([.dirty, .referenced, .active, .swapbacked])
            if f.contains(.lru) { lruAdd(p) }
            if f.contains(.swapbacked) { vmstat.pglazyfree += 1; n += 1 }
        }
        if changed { flushTLBRange(mm, start, end) }
        narrate("madvise(MADV_FREE): \(n) page(s) marked lazily freeable")
    }
}
