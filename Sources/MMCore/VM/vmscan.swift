/// Page reclaim (Linux 6.x mm/vmscan.c, classic two-list LRU, not MGLRU): the inactive lists are
/// scanned from their tails; a page whose PTEs were young since the last scan gets a second
/// chance (PG_referenced, back to the inactive head) and is activated when seen young again;
/// old pages are unmapped through rmap and freed — anonymous pages after being written to swap,
/// dirty file pages after writeback, clean file pages at once. The active lists are aged into
/// the inactive ones when an inactive list is low. `swappiness` balances anon against file.
///
/// kswapd is woken when an allocation finds every zone below its low watermark; it runs
/// synchronously when the fault that woke it returns (and at the end of the scenario step and on
/// `tick`), and reclaims until a
/// zone is above its high watermark. An allocation below min reclaims directly before the OOM
/// killer. Writeback and swap writes complete at once (no flusher, no async I/O).

extension Kernel {
    /// Failed kswapd runs after which the node counts as hopeless (MAX_RECLAIM_RETRIES).
    public static let maxReclaimRetries = 16
    /// Pages reclaimed per batch (SWAP_CLUSTER_MAX).
    public static let swapClusterMax = 32
    /// The first (lowest) scan priority: a pass scans list_size >> priority pages (DEF_PRIORITY).
    public static let defPriority = 12

    /// Whether anonymous pages can be reclaimed: a swap slot is free. Linux: can_reclaim_anon_pages()
    func canReclaimAnonPages() -> Bool { nrSwapPages > 0 }

    /// Whether the inactive list of a type is small compared with its active list:
    /// inactive × ratio < active with ratio = √(10 × size in GiB) (1 below 1 GiB).
    /// Linux: inactive_is_low(), mm/vmscan.c
    public func inactiveIsLow(file: Bool) -> Bool {
        let base = file ? 2 : 0
        let inactive = reclaim.lruCount[base], active = reclaim.lruCount[base + 1]
        let gb = (inactive + active) >> (30 - Int(PAGE_SHIFT))
        var ratio = 1
        if gb > 0 { ratio = Int(Double(10 * gb).squareRoot()) }
        return inactive * ratio < active
    }

    /// Moves up to `nr` pages from the tail of an active list to the inactive list (pgrefill,
    /// pgdeactivate), clearing their PTEs' accessed bits; young executable file pages stay active.
    /// Linux: shrink_active_list(), mm/vmscan.c
    func shrinkActiveList(_ list: LRUList, _ nr: Int) {
        var isolated: [PFN] = []
        var i = reclaim.lruTail[list.rawValue]
        while i >= 0 && isolated.count < nr {
            let p = PFN(index: Int(i))
            i = reclaim.lruPrev[Int(i)]
            isolated.append(p)
        }
        for p in isolated { lruDel(p) }
        vmstat.pgrefill += UInt64(isolated.count)
        var deactivated = 0
        for p in isolated {
            let (refs, vmf) = folioReferenced(p)
            if refs > 0 && vmf.contains(.exec) && list.isFile {
                lruAdd(p)
                continue
            }
            phys.memMap.flags[p.index].remove(.active)
            lruAdd(p)
            deactivated += 1
        }
        vmstat.pgdeactivate += UInt64(deactivated)
        if !isolated.isEmpty { narrate("shrink_active_list(\(list)): \(isolated.count) scanned, \(deactivated) deactivated") }
    }

    /// Scans up to `nr` pages from the tail of an inactive list and reclaims what it can.
    /// Returns the pages freed. Linux: shrink_inactive_list() → shrink_folio_list(), mm/vmscan.c
    func shrinkInactiveList(_ list: LRUList, _ nr: Int, kswapd: Bool) -> Int {
        var isolated: [PFN] = []
        var i = reclaim.lruTail[list.rawValue]
        while i >= 0 && isolated.count < nr {
            let p = PFN(index: Int(i))
            i = reclaim.lruPrev[Int(i)]
            isolated.append(p)
        }
        for p in isolated { lruDel(p) }
        let n = UInt64(isolated.count)
        if kswapd { vmstat.pgscanKswapd += n } else { vmstat.pgscanDirect += n }
        if list.isFile { vmstat.pgscanFile += n } else { vmstat.pgscanAnon += n }
        var freed = 0
        for p in isolated where shrinkFolio(p) { freed += 1 }
        let f = UInt64(freed)
        if kswapd { vmstat.pgstealKswapd += f } else { vmstat.pgstealDirect += f }
        if list.isFile { vmstat.pgstealFile += f } else { vmstat.pgstealAnon += f }
        if !isolated.isEmpty { narrate("shrink_inactive_list(\(list)) by \(kswapd ? "kswapd" : "direct reclaim"): \(isolated.count) scanned, \(freed) freed") }
        return freed
    }

    /// Decides the fate of one isolated inactive page and carries it out: back to the inactive
    /// head (second chance), to the active list, to the unevictable list, or freed (after swap
    /// or file writeback and unmapping). Returns true when the page was freed.
    /// Linux: shrink_folio_list() with folio_check_references(), mm/vmscan.c
    func shrinkFolio(_ p: PFN) -> Bool {
        let i = p.index
        let f = phys.memMap.flags[i]
        func keep() -> Bool { lruAdd(p); return false }
        func activate() -> Bool {
            phys.memMap.flags[i].insert(.active)
            lruAdd(p)
            vmstat.pgactivate += 1
            return false
        }
        if f.contains(.unevictable) { return keep() }
        let file = !f.contains(.anon) && !f.contains(.swapbacked)
        let cacheRef: Int32 = (f.contains(.swapcache) || reclaim.rmapInode[i] != nil) ? 1 : 0
        // Pinned by someone besides its mappings and cache (a fault in progress): not now.
        if phys.memMap.refcount[i] != phys.memMap.mapcount[i] + cacheRef { return keep() }
        let (refs, vmf) = folioReferenced(p)
        let referencedPage = f.contains(.referenced)
        phys.memMap.flags[i].remove(.referenced)
        if vmf.contains(.locked) {
            lruSetMlocked(p, true)
            return false
        }
        if refs > 0 {
            phys.memMap.flags[i].insert(.referenced)
            if referencedPage || refs > 1 || (vmf.contains(.exec) && file) { return activate() }
            return keep()   // second chance
        }
        if f.contains(.swapbacked) && !f.contains(.anon) { return activate() }   // shmem: not swapped in this model
        if referencedPage && file && phys.memMap.mapcount[i] == 0 {
            // Unmapped file page used by read(2) since the last scan: FOLIOREF_RECLAIM_CLEAN frees it
            // only when clean; it is activated when read again (mark_page_accessed).
            if f.contains(.dirty) { return keep() }
        }
        if f.contains(.transHuge) {
            // A PMD-mapped THP: the swap areas have no THP clusters, so folio_alloc_swap() of the
            // whole folio fails and it is split to be swapped page by page (thp_swpout_fallback).
            if f.contains(.anon) && f.contains(.swapbacked) && !canReclaimAnonPages() { return activate() }
            splitHugePage(p)
            if f.contains(.anon) && f.contains(.swapbacked) { vmstat.thpSwpoutFallback += 1 }
        }
        if f.contains(.anon) && f.contains(.swapbacked) && !f.contains(.swapcache) {
            guard let e = getSwapPage() else { return activate() }
            addToSwapCache(p, e)
            phys.memMap.flags[i].insert(.dirty)
            narrate("add_to_swap: PFN \(p) gets swap slot \(e.offset) of \(reclaim.swapInfo[e.type]?.path ?? "?")")
        }
        if phys.memMap.mapcount[i] > 0 && !tryToUnmap(p) { return activate() }
        let nf = phys.memMap.flags[i]
        if nf.contains(.dirty) {
            if nf.contains(.swapcache) {
                swapWritePage(p, SwapEntry(val: reclaim.swapEntryOf[i]))
                phys.memMap.flags[i].remove(.dirty)
            } else if let inode = reclaim.rmapInode[i] {
                let idx = reclaim.rmapIndex[i]
                writebackRange(inode, idx, idx)
                narrate("pageout: dirty page \(idx) of \(inode.path) written back before it is freed")
            }
        }
        if phys.memMap.refcount[i] != ((nf.contains(.swapcache) || reclaim.rmapInode[i] != nil) ? 1 : 0) { return keep() }
        if nf.contains(.swapcache) {
            deleteFromSwapCache(p)
        } else if let inode = reclaim.rmapInode[i] {
            let idx = reclaim.rmapIndex[i]
            reclaim.fileShadows.insert(FileShadow(inode: ObjectIdentifier(inode), index: idx))
            deleteFromPageCache(inode, idx)
        } else if f.contains(.anon) && !f.contains(.swapbacked) {
            vmstat.pglazyfreed += 1   // freed by its last unmap
        }
        return true
    }

    /// One reclaim pass over the node at `priority`: per-list scan targets of size >> priority,
    /// balanced between anon and file by swappiness (only file when no swap is free or swappiness
    /// is 0 or the inactive file list is large enough — cache trim mode), scanned in batches of
    /// SWAP_CLUSTER_MAX until `nrToReclaim` pages are freed. Returns the pages freed.
    /// Linux: shrink_node() → shrink_lruvec() with get_scan_count(), mm/vmscan.c
    func shrinkNode(priority: Int, nrToReclaim: Int, kswapd: Bool) -> Int {
        let sizes = reclaim.lruSize
        let canAnon = canReclaimAnonPages()
        let swappiness = reclaim.swappiness
        // get_scan_count()
        var anonPct = swappiness, filePct = 200 - swappiness
        let fileSize = sizes[2] + sizes[3]
        let highTotal = phys.zones.reduce(0) { $0 + $1.watermarkHigh }
        if !canAnon || swappiness == 0 {
            anonPct = 0; filePct = 200
        } else if fileSize + phys.freePageCount <= highTotal {
            anonPct = 200; filePct = 0            // SCAN_ANON: the file cache is nearly gone
        } else if !inactiveIsLow(file: true) && (sizes[2] >> priority) > 0 {
            anonPct = 0; filePct = 200            // cache_trim_mode: SCAN_FILE
        }
        var target = [Int](repeating: 0, count: 4)
        for l in 0..<4 {
            let scan = sizes[l] >> priority
            let pct = l < 2 ? anonPct : filePct
            target[l] = (scan * pct + 199) / 200
        }
        var reclaimed = 0
        while target.contains(where: { $0 > 0 }) && reclaimed < nrToReclaim {
            for l in [LRUList.inactiveAnon, .activeAnon, .inactiveFile, .activeFile] where target[l.rawValue] > 0 {
                let nr = min(target[l.rawValue], Kernel.swapClusterMax)
                target[l.rawValue] -= nr
                if l.isActive {
                    if inactiveIsLow(file: l.isFile) { shrinkActiveList(l, nr) }
                } else {
                    reclaimed += shrinkInactiveList(l, nr, kswapd: kswapd)
                }
            }
        }
        // Age the anon active list when its inactive list is low, even without anon scanning.
        if canAnon && inactiveIsLow(file: false) { shrinkActiveList(.activeAnon, Kernel.swapClusterMax) }
        return reclaimed
    }

    /// Direct reclaim: passes at decreasing priority (12 … 0) until SWAP_CLUSTER_MAX pages are
    /// freed. Returns the pages freed (0 = no progress: the OOM killer is next).
    /// Linux: try_to_free_pages() → do_try_to_free_pages(), mm/vmscan.c
    @discardableResult
    func tryToFreePages(gfp: GFP) -> Int {
        guard !reclaim.inReclaim else { return 0 }
        reclaim.inReclaim = true
        defer { reclaim.inReclaim = false }
        reclaim.mmCache = rmapAddressSpaces()
        // allocstall_normal for Normal/HighMem requests when Normal exists (x86-32 has no DMA32 counter).
        let zt = ZoneType(gfp: gfp)
        if (zt == .normal || zt == .highmem) && (phys.zones.count > ZoneType.normal.rawValue || !phys.hasDMA32) {
            vmstat.allocstallNormal += 1
        } else { vmstat.allocstallDMA32 += 1 }
        var reclaimed = 0
        var priority = Kernel.defPriority
        while priority >= 0 && reclaimed < Kernel.swapClusterMax {
            reclaimed += shrinkNode(priority: priority, nrToReclaim: Kernel.swapClusterMax - reclaimed, kswapd: false)
            priority -= 1
        }
        if reclaimed > 0 { reclaim.kswapdFailures = 0 }
        narrate("direct reclaim (try_to_free_pages): \(reclaimed) page(s) freed")
        return reclaimed
    }

    /// Whether some zone the user allocations may use is at or above its high watermark.
    /// Linux: pgdat_balanced(), mm/vmscan.c
    func pgdatBalanced() -> Bool {
        let highest = ZoneType(gfp: .highuserMovable)
        for z in phys.zones where z.type.rawValue <= highest.rawValue {
            if phys.zoneWatermarkOK(z, order: 0, level: .high, highestZone: highest) { return true }
        }
        return false
    }

    /// Whether every zone user allocations may use is below its low watermark: the fast path of
    /// the next allocation fails and wakes kswapd. Linux: the condition for wake_all_kswapds() in __alloc_pages_slowpath()
    func allZonesBelowLow() -> Bool {
        let highest = ZoneType(gfp: .highuserMovable)
        for z in phys.zones where z.type.rawValue <= highest.rawValue {
            if phys.zoneWatermarkOK(z, order: 0, level: .low, highestZone: highest) { return false }
        }
        return true
    }

    /// Lets `seconds` of simulated time pass with every task idle: the clock advances (idle time)
    /// and kswapd runs if woken, as it would during a sleep. Linux: the idle loop while kswapd is scheduled
    public func tick(seconds: UInt64) {
        let ns = seconds &* 1_000_000_000
        clockNs &+= ns
        reclaim.idleNs &+= ns
        if !reclaim.kswapdWoken { wakeupKswapd() }
        kswapdRunIfWoken()
    }

    /// Marks kswapd runnable when user allocations would fail the low watermark. Linux: wakeup_kswapd(), mm/vmscan.c
    func wakeupKswapd() {
        guard !reclaim.kswapdWoken, !reclaim.inReclaim, reclaim.kswapdFailures < Kernel.maxReclaimRetries,
              reclaim.lruCount.reduce(0, +) > 0 else { return }
        if allZonesBelowLow() {
            reclaim.kswapdWoken = true
            narrate("a zone fell below its low watermark: kswapd is woken")
        }
    }

    /// Runs kswapd when woken: reclaim passes at decreasing priority until a zone is above its
    /// high watermark (pageoutrun). Returns the pages freed. Runs synchronously at well-defined
    /// points: when the fault that woke it returns and at the end of each scenario step.
    /// Linux: kswapd() → balance_pgdat() → kswapd_shrink_node(), mm/vmscan.c
    @discardableResult
    public func kswapdRunIfWoken() -> Int {
        guard reclaim.kswapdWoken, !reclaim.inReclaim, panicMessage == nil else { return 0 }
        reclaim.kswapdWoken = false
        reclaim.inReclaim = true
        defer { reclaim.inReclaim = false }
        reclaim.kswapdRuns += 1
        if pgdatBalanced() { return 0 }
        reclaim.mmCache = rmapAddressSpaces()
        let highest = ZoneType(gfp: .highuserMovable)
        let nrToReclaim = phys.zones.filter { $0.type.rawValue <= highest.rawValue }
            .reduce(0) { $0 + max($1.watermarkHigh, Kernel.swapClusterMax) }
        var total = 0
        var priority = Kernel.defPriority
        var passes = 0
        while priority >= 1 && !pgdatBalanced() && passes < 64 {
            let r = shrinkNode(priority: priority, nrToReclaim: nrToReclaim, kswapd: true)
            total += r
            passes += 1
            if r < nrToReclaim { priority -= 1 }
        }
        if total == 0 { reclaim.kswapdFailures += 1 } else { reclaim.kswapdFailures = 0 }
        narrate("kswapd: \(total) page(s) reclaimed, \(pgdatBalanced() ? "a zone is above its high watermark again" : "still below the high watermark")")
        return total
    }
}
