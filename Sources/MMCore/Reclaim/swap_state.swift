/// The swap cache and swap-in (Linux mm/swap_state.c, mm/memory.c do_swap_page()): pages
/// being swapped out or just read back live in the swap cache, indexed by swap entry; a fault
/// on a swap PTE finds the page there (a minor fault) or reads it with its neighbours in the
/// swap area (swap readahead of 2^page-cluster slots, a major fault).

extension FaultCost {
    /// A fault that reads from swap: an assumed 100 µs of device time (the model has no disk).
    public static let swapIn: UInt64 = 100_000
}

extension Kernel {
    /// Puts `pfn` in the swap cache under `e`, taking the cache's reference. Linux: add_to_swap_cache(), mm/swap_state.c
    func addToSwapCache(_ pfn: PFN, _ e: SwapEntry) {
        reclaim.swapCache[e.val] = pfn
        reclaim.swapEntryOf[pfn.index] = e.val
        phys.memMap.flags[pfn.index].insert(.swapcache)
        reclaim.swapInfo[e.type]?.hasCache[e.offset] = true
        phys.getPage(pfn)
        stat.nrFilePages += 1
    }

    /// Takes `pfn` out of the swap cache and drops the cache's reference (freeing the page when
    /// it was the last); the slot is freed when no PTE holds it. Linux: delete_from_swap_cache() / folio_free_swap(), mm/swap_state.c
    func deleteFromSwapCache(_ pfn: PFN) {
        let e = SwapEntry(val: reclaim.swapEntryOf[pfn.index])
        reclaim.swapCache[e.val] = nil
        reclaim.swapEntryOf[pfn.index] = 0
        phys.memMap.flags[pfn.index].remove(.swapcache)
        stat.nrFilePages -= 1
        if let si = reclaim.swapInfo[e.type] {
            si.hasCache[e.offset] = false
            freeSlotIfUnused(si, e.offset)
        }
        phys.putPage(pfn)
    }

    /// Reads the slot `e` into a new page added to the swap cache and the inactive anon LRU.
    /// Returns the page, or nil when no page could be allocated (`mayOOM` false: readahead gives
    /// up instead of reclaiming hard). Linux: __read_swap_cache_async() + swap_read_folio(), mm/swap_state.c
    func readSwapCachePage(_ e: SwapEntry, task: Task?, mayOOM: Bool) -> PFN? {
        let pfn: PFN
        if mayOOM {
            guard let p = allocPageOrOOM(gfp: .highuserMovable, task: task) else { return nil }
            pfn = p
        } else {
            guard let p = phys.allocPages(order: 0, gfp: [.highmem, .movable]) else { return nil }
            vmstat.pgalloc += 1
            pfn = p
        }
        // The allocation may have run reclaim: another path could have brought the slot in meanwhile.
        if let cached = reclaim.swapCache[e.val] { phys.putPage(pfn); return cached }
        guard swapInfoFor(e) != nil else { phys.putPage(pfn); return nil }
        swapReadPage(pfn, e)
        phys.memMap.flags[pfn.index] = [.uptodate, .anon, .swapbacked]
        phys.memMap.mapcount[pfn.index] = 0
        addToSwapCache(pfn, e)
        phys.putPage(pfn)          // the cache's reference is now the only one
        lruAdd(pfn)
        // Every page read from swap was evicted earlier and left a shadow: a refault.
        vmstat.workingsetRefaultAnon += 1
        return pfn
    }

    /// Swap readahead around `e`: the 2^page-cluster aligned window of slots that are in use and
    /// not cached, read into the swap cache (swap_ra). Returns the pages read.
    /// Linux: swap_cluster_readahead(), mm/swap_state.c (the window is the maximum, not swapin_nr_pages()'s adaptive one)
    func swapClusterReadahead(_ e: SwapEntry, task: Task?) -> Int {
        guard reclaim.pageCluster > 0, let si = reclaim.swapInfo[e.type] else { return 0 }
        let n = 1 << reclaim.pageCluster
        let start = e.offset & ~(n - 1)
        var read = 0
        for off in max(1, start)..<min(si.pages + 1, start + n) where off != e.offset {
            guard si.count[off] > 0, !si.hasCache[off] else { continue }
            let re = SwapEntry(type: e.type, offset: off)
            guard let p = readSwapCachePage(re, task: task, mayOOM: false) else { break }
            phys.memMap.flags[p.index].insert(.reclaim)   // PG_readahead stands here for "read ahead, not yet used"
            vmstat.swapRa += 1
            read += 1
        }
        return read
    }

    /// Handles a fault on a swap PTE: the page is taken from the swap cache (minor) or read from
    /// the swap area with readahead (major, pswpin); it is mapped, the PTE's swap reference is
    /// dropped, and on a write fault to a page nobody else references (or when swap is more than
    /// half full) the page leaves the swap cache and is mapped writable. Returns the outcome;
    /// .sigbus for an entry of no slot in use. Linux: do_swap_page(), mm/memory.c
    func doSwapPage(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, _ pte: PTE,
                    write: Bool, forSwapoff: Bool = false) -> FaultResult {
        let e = pte.swapEntry
        guard swapInfoFor(e) != nil, swapCount(e) > 0 else {
            narrate("do_swap_page: the PTE holds swap entry type \(e.type) offset \(e.offset), which names no slot in use: SIGBUS")
            return .sigbus
        }
        var major = false
        var pfn: PFN
        if let p = reclaim.swapCache[e.val] {
            pfn = p
            if phys.memMap.flags[p.index].contains(.reclaim) {
                phys.memMap.flags[p.index].remove(.reclaim)
                vmstat.swapRaHit += 1
            }
            clockNs &+= FaultCost.reuse
            narrate("do_swap_page: swap entry \(e.type):\(e.offset) found in the swap cache (PFN \(p)): minor fault")
        } else {
            guard let p = readSwapCachePage(e, task: task, mayOOM: true) else { return .oom }
            pfn = p
            major = true
            let ra = forSwapoff ? 0 : swapClusterReadahead(e, task: task)
            clockNs &+= FaultCost.swapIn
            reclaim.ioWaitNs &+= FaultCost.swapIn
            narrate("do_swap_page: swap entry \(e.type):\(e.offset) read from \(reclaim.swapInfo[e.type]?.path ?? "?") into PFN \(p) (major fault, pswpin), \(ra) more page(s) read ahead into the swap cache")
        }
        // The PTE may have changed while reclaim ran inside the allocation (pte_same check).
        guard phys.readPTE(slot) == pte else { return major ? .major : .minor }
        let i = pfn.index
        phys.getPage(pfn)
        phys.memMap.mapcount[i] += 1
        if phys.memMap.mapcount[i] == 1 { stat.nrAnonMapped += 1 }
        reclaim.rmapAnonVMA[i] = vma.anonVMA
        reclaim.rmapIndex[i] = linearPageIndex(vma, va)
        mm.rss.anon += 1
        mm.rss.swapents -= 1
        swapFree(e)
        var writable = false
        if (write || vmSwapFull() || vma.flags.contains(.locked) || forSwapoff) && swapCount(e) == 0 && phys.memMap.mapcount[i] == 1 {
            // folio_free_swap(): nobody else holds the slot, so the page leaves the swap cache.
            deleteFromSwapCache(pfn)
            writable = vma.flags.contains(.write) && (write || forSwapoff)
        }
        if vma.flags.contains(.locked) { lruSetMlocked(pfn, true) }
        phys.writePTE(slot, PTE(pfn: pfn, flags: pteFlags(vma.flags, writable: writable, dirty: writable && write)))
        if writable && !write { phys.writePTE(slot, PTE(raw: phys.readPTE(slot).raw | PTE.dirty)) }
        mm.updateHiwater()
        if major {
            task.minFlt -= 1; task.majFlt += 1
            vmstat.pgmajfault += 1
            return .major
        }
        return .minor
    }
}
