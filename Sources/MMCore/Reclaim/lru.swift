/// The per-node LRU lists (Linux mm/swap.c, include/linux/mm_inline.h): five intrusive
/// doubly-linked lists of frames, newest at the head, reclaim scanning from the tail.
/// New pages (anonymous and file) go to the head of the inactive list of their type, as
/// Linux 6.x does (lru_cache_add → folio_add_lru; anonymous pages start inactive since 5.9).

/// The LRU lists of a node, in Linux's `enum lru_list` order.
public enum LRUList: Int, Sendable, CaseIterable {
    case inactiveAnon = 0, activeAnon = 1, inactiveFile = 2, activeFile = 3, unevictable = 4
    /// Whether this list holds file pages (LRU_FILE set).
    public var isFile: Bool { self == .inactiveFile || self == .activeFile }
    /// Whether this list is an active list (LRU_ACTIVE set).
    public var isActive: Bool { self == .activeAnon || self == .activeFile }
}

/// Everything page reclaim and swap keep per machine: the LRU links, the reverse-map keys of
/// every page, the swap areas, the swap cache and kswapd's state.
public final class ReclaimState {
    /// Next/previous frame on the same LRU list (-1 at the ends). Linux: folio->lru
    let lruNext: FixedArray<Int32>
    let lruPrev: FixedArray<Int32>
    /// The list each frame is on, or -1.
    let lruOf: FixedArray<Int8>
    /// Head (newest) and tail (oldest) frame of each list, -1 when empty.
    let lruHead = FixedArray<Int32>(repeating: -1, count: 5)
    let lruTail = FixedArray<Int32>(repeating: -1, count: 5)
    /// Pages on each list (NR_LRU_LISTS counters).
    let lruCount = FixedArray<Int>(repeating: 0, count: 5)
    /// Pages on each list, in `LRUList` order.
    public var lruSize: [Int] { Array(lruCount) }
    /// Reverse-map key of each frame: for anonymous pages the anon_vma id, for page-cache pages
    /// 0 (the inode is in `rmapInode`). Linux: folio->mapping
    let rmapAnonVMA: FixedArray<UInt64>
    /// The page index of each frame: the linear page index of an anonymous page (vm_pgoff-based),
    /// or the file offset in pages of a page-cache page. Linux: folio->index
    let rmapIndex: FixedArray<UInt64>
    /// The inode of each page-cache frame (sparse: most frames never hold one). Linux: folio->mapping (address_space)
    var rmapInode: SparseFrameArray<Inode?>
    /// The swap entry of each frame in the swap cache (0 = none; sparse). Linux: folio->swap
    var swapEntryOf: SparseFrameArray<UInt64>
    /// The swap areas, indexed by swap type (nil after swapoff frees the type).
    public internal(set) var swapInfo: [SwapInfo?] = []
    /// The swap cache: swap entry value → frame. Linux: swapper_spaces[] (address_space of swap)
    var swapCache: [UInt64: PFN] = [:]
    /// The last default swap priority handed out (swapon without a priority gets one less).
    var leastPriority = -1
    /// Turn counter for areas of equal priority.
    var swapRoundRobin = 0
    /// Shadow entries of evicted page-cache pages (inode, index): a page read back in while its
    /// shadow exists is a refault. Linux: workingset_eviction() / workingset_refault(), mm/workingset.c
    var fileShadows: Set<FileShadow> = []
    /// vm.swappiness (0...200).
    public var swappiness = 60
    /// vm.page-cluster: swap readahead reads 2^pageCluster pages (0...20? Linux caps nothing; we cap at 6).
    public var pageCluster = 3
    /// Set by an allocation that left a zone below its low watermark (wakeup_kswapd); kswapd runs
    /// when the fault that woke it returns.
    public internal(set) var kswapdWoken = false
    /// True while kswapd or direct reclaim runs (no nested reclaim).
    var inReclaim = false {
        didSet { mmCache = nil }
    }
    /// The address spaces rmap walks, computed once per reclaim pass.
    var mmCache: [MMStruct]?
    /// Times kswapd ran (balance_pgdat calls: pageoutrun).
    public internal(set) var kswapdRuns = 0
    /// kswapd runs in a row that reclaimed nothing; at MAX_RECLAIM_RETRIES (16) the node is
    /// hopeless and kswapd is not woken until direct reclaim makes progress. Linux: pgdat->kswapd_failures
    public internal(set) var kswapdFailures = 0
    /// Simulated nanoseconds the CPUs sat idle (`tick`), and waited for swap reads (vmstat's
    /// id and wa columns; everything else the clock advanced is kernel time, sy).
    public internal(set) var idleNs: UInt64 = 0
    public internal(set) var ioWaitNs: UInt64 = 0
    /// Context switches (vmstat's cs). Linux: nr_context_switches()
    public internal(set) var contextSwitches: UInt64 = 0

    init(frames: Int) {
        lruNext = FixedArray(repeating: -1, count: frames)
        lruPrev = FixedArray(repeating: -1, count: frames)
        lruOf = FixedArray(repeating: -1, count: frames)
        rmapAnonVMA = FixedArray(repeating: 0, count: frames)
        rmapIndex = FixedArray(repeating: 0, count: frames)
        rmapInode = SparseFrameArray(count: frames, defaultValue: nil, isDefault: { $0 == nil })
        swapEntryOf = SparseFrameArray(count: frames, defaultValue: 0, isDefault: { $0 == 0 })
    }
    deinit {
        lruNext.deallocate(); lruPrev.deallocate(); lruOf.deallocate(); lruHead.deallocate(); lruTail.deallocate()
        lruCount.deallocate(); rmapAnonVMA.deallocate(); rmapIndex.deallocate()
    }

    /// The frames on `list`, head (newest) first.
    public func pages(on list: LRUList) -> [PFN] {
        var out: [PFN] = []
        var i = lruHead[list.rawValue]
        while i >= 0 { out.append(PFN(index: Int(i))); i = lruNext[Int(i)] }
        return out
    }

    /// The list `pfn` is on, or nil.
    public func list(of pfn: PFN) -> LRUList? {
        let l = lruOf[pfn.index]
        return l < 0 ? nil : LRUList(rawValue: Int(l))
    }
}

extension Kernel {
    /// The LRU list a page with flags `f` belongs on. Linux: folio_lru_list(), include/linux/mm_inline.h
    @inline(__always)
    func folioLRUList(_ f: PageFlags) -> LRUList {
        if f.contains(.unevictable) { return .unevictable }
        let base = f.contains(.swapbacked) ? 0 : 2
        return LRUList(rawValue: base + (f.contains(.active) ? 1 : 0))!
    }

    /// Adjusts the node counter of `list` by `delta` (NR_INACTIVE_ANON…NR_UNEVICTABLE).
    @inline(__always)
    private func lruStat(_ list: LRUList, _ delta: Int) {
        switch list {
        case .inactiveAnon: stat.nrInactiveAnon += delta
        case .activeAnon: stat.nrActiveAnon += delta
        case .inactiveFile: stat.nrInactiveFile += delta
        case .activeFile: stat.nrActiveFile += delta
        case .unevictable: stat.nrUnevictable += delta
        }
    }

    /// Puts `pfn` at the head (or, with `tail`, the tail) of the list its flags select and sets
    /// PG_lru; a page already on a list is moved. Linux: lruvec_add_folio() / lruvec_add_folio_tail(), mm_inline.h
    @inline(__always)
    func lruAdd(_ pfn: PFN, tail: Bool = false) {
        if reclaim.lruOf[pfn.index] >= 0 { lruDel(pfn) }
        phys.memMap.flags[pfn.index].insert(.lru)
        let list = folioLRUList(phys.memMap.flags[pfn.index])
        let l = list.rawValue, i = Int32(pfn.index)
        let r = reclaim
        if tail {
            r.lruNext[pfn.index] = -1
            r.lruPrev[pfn.index] = r.lruTail[l]
            if r.lruTail[l] >= 0 { r.lruNext[Int(r.lruTail[l])] = i } else { r.lruHead[l] = i }
            r.lruTail[l] = i
        } else {
            r.lruPrev[pfn.index] = -1
            r.lruNext[pfn.index] = r.lruHead[l]
            if r.lruHead[l] >= 0 { r.lruPrev[Int(r.lruHead[l])] = i } else { r.lruTail[l] = i }
            r.lruHead[l] = i
        }
        r.lruOf[pfn.index] = Int8(l)
        r.lruCount[l] += 1
        lruStat(list, 1)
    }

    /// Takes `pfn` off its LRU list (if on one) and clears PG_lru. Linux: lruvec_del_folio(), mm_inline.h
    func lruDel(_ pfn: PFN) {
        let r = reclaim
        let l = Int(r.lruOf[pfn.index])
        phys.memMap.flags[pfn.index].remove(.lru)
        guard l >= 0 else { return }
        let n = r.lruNext[pfn.index], p = r.lruPrev[pfn.index]
        if p >= 0 { r.lruNext[Int(p)] = n } else { r.lruHead[l] = n }
        if n >= 0 { r.lruPrev[Int(n)] = p } else { r.lruTail[l] = p }
        r.lruNext[pfn.index] = -1; r.lruPrev[pfn.index] = -1; r.lruOf[pfn.index] = -1
        r.lruCount[l] -= 1
        lruStat(LRUList(rawValue: l)!, -1)
    }

    /// Moves an LRU page to the unevictable list (mlock) or, with `lock` false, back to the
    /// inactive list of its type. Linux: mlock_folio() / munlock_folio(), mm/mlock.c
    func lruSetMlocked(_ pfn: PFN, _ lock: Bool) {
        let i = pfn.index
        if lock {
            guard !phys.memMap.flags[i].contains(.mlocked) else { return }
            phys.memMap.flags[i].remove(.active)
            phys.memMap.flags[i].insert([.mlocked, .unevictable])
            stat.nrMlock += 1
        } else {
            guard phys.memMap.flags[i].contains(.mlocked) else { return }
            phys.memMap.flags[i].remove([.mlocked, .unevictable])
            stat.nrMlock -= 1
        }
        // A page isolated by reclaim goes back to the list its flags select when it is put back.
        if reclaim.lruOf[i] >= 0 { lruAdd(pfn) }
    }

    /// Marks a page-cache page accessed by a read: an inactive page seen for the first time gets
    /// PG_referenced; one already referenced is activated (moved to the active list, pgactivate);
    /// an active page gets PG_referenced. Linux: folio_mark_accessed(), mm/swap.c
    public func markPageAccessed(_ pfn: PFN) {
        let i = pfn.index
        let f = phys.memMap.flags[i]
        guard f.contains(.lru), !f.contains(.unevictable) else { return }
        if !f.contains(.referenced) {
            phys.memMap.flags[i].insert(.referenced)
        } else if !f.contains(.active) {
            phys.memMap.flags[i].remove(.referenced)
            phys.memMap.flags[i].insert(.active)
            lruAdd(pfn)
            vmstat.pgactivate += 1
        }
    }

    /// Checks the LRU lists against mem_map: each list's links and length, PG_lru exactly on
    /// listed frames, each frame on the list its flags select, no free frame listed.
    func lruInvariantViolations() -> [String] {
        var out: [String] = []
        let r = reclaim
        for list in LRUList.allCases {
            var n = 0, prev: Int32 = -1
            var i = r.lruHead[list.rawValue]
            while i >= 0 && n <= phys.frameCount {
                let f = phys.memMap.flags[Int(i)]
                if r.lruPrev[Int(i)] != prev { out.append("LRU \(list): broken prev link at PFN \(PFN(index: Int(i)))") }
                if folioLRUList(f) != list || !f.contains(.lru) { out.append("LRU \(list): PFN \(PFN(index: Int(i))) has flags for another list") }
                if phys.memMap.refcount[Int(i)] <= 0 { out.append("LRU \(list): PFN \(PFN(index: Int(i))) is free") }
                n += 1; prev = i; i = r.lruNext[Int(i)]
            }
            if n != r.lruSize[list.rawValue] { out.append("LRU \(list): \(n) pages linked but size \(r.lruSize[list.rawValue])") }
            if r.lruTail[list.rawValue] != prev { out.append("LRU \(list): tail is not the last linked page") }
        }
        let counted = [stat.nrInactiveAnon, stat.nrActiveAnon, stat.nrInactiveFile, stat.nrActiveFile, stat.nrUnevictable]
        if counted != r.lruSize { out.append("LRU counters \(counted) but list sizes \(r.lruSize)") }
        for i in 0..<phys.frameCount where phys.memMap.flags[i].contains(.lru) != (r.lruOf[i] >= 0) {
            out.append("PFN \(PFN(index: i)): PG_lru \(phys.memMap.flags[i].contains(.lru)) but on list \(r.lruOf[i])")
        }
        return out
    }
}

/// Identifies an evicted page-cache page for refault detection.
struct FileShadow: Hashable {
    let inode: ObjectIdentifier
    let index: UInt64
}
