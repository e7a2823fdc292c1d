/// Swap areas (Linux mm/swapfile.c): swapon/swapoff, the swap map with a count per slot,
/// slot allocation by priority (higher first, equal priorities in turn), and the x86-64 swap
/// PTE encoding. Each slot's data is kept sparsely (only slots that hold non-zero bytes).

/// One swap area: a swap file or partition. Linux: struct swap_info_struct, include/linux/swap.h
public final class SwapInfo {
    /// Swap type: the index in the swap_info array (and in the swap PTE).
    public let type: Int
    /// Path given to swapon.
    public let path: String
    /// A block device (partition) rather than a file: /proc/swaps' Type column.
    public let isPartition: Bool
    /// Priority: higher is used first; swapon without one gets -2, -3, … in order.
    public let priority: Int
    /// Usable slots (si->pages): offsets 1...pages; slot 0 holds the swap header.
    public let pages: Int
    /// Swap count of each slot: the page-table entries (and other swap references) holding it,
    /// kept sparsely (a 4 TiB area costs nothing until used). Linux: si->swap_map (without the
    /// continuation pages: counts are plain integers here)
    public internal(set) var count = SparseCounts()
    /// Slots whose page is in the swap cache (SWAP_HAS_CACHE).
    public internal(set) var hasCache = SparseFlags()
    /// Slots in use (count > 0 or in the swap cache). Linux: si->inuse_pages
    public internal(set) var inuse = 0
    /// The bytes stored in each slot that holds non-zero data (512 words each).
    var data: [Int: [UInt64]] = [:]
    /// Where the next slot search starts (next-fit; Linux keeps per-CPU cluster cursors).
    var cursor = 1

    /// Returns the offsets of the slots in use (a count or SWAP_HAS_CACHE), ascending; empty when
    /// none is. Linux: the non-zero bytes of si->swap_map
    public var usedSlots: [Int] { Set(count.values.keys).union(hasCache.members).sorted() }

    init(type: Int, path: String, isPartition: Bool, priority: Int, pages: Int) {
        self.type = type; self.path = path; self.isPartition = isPartition
        self.priority = priority; self.pages = pages
    }
}

/// Per-slot counts stored only where non-zero.
public struct SparseCounts: Sendable {
    var values: [Int: Int32] = [:]
    /// The count of slot `i` (0 when never set).
    public subscript(i: Int) -> Int32 {
        get { values[i] ?? 0 }
        set { values[i] = newValue == 0 ? nil : newValue }
    }
}

/// Per-slot flags stored as the set of slots where they are true.
public struct SparseFlags: Sendable {
    var members: Set<Int> = []
    /// Whether slot `i` has the flag.
    public subscript(i: Int) -> Bool {
        get { members.contains(i) }
        set { if newValue { members.insert(i) } else { members.remove(i) } }
    }
}

/// A swap entry: swap type and slot offset. Linux: swp_entry_t, include/linux/swapops.h
public struct SwapEntry: Hashable, Sendable {
    public var type: Int
    public var offset: Int
    public init(type: Int, offset: Int) { self.type = type; self.offset = offset }
    /// The architecture-independent value (type in the top bits, as SWP_TYPE_SHIFT = 58).
    public var val: UInt64 { UInt64(type) << 58 | UInt64(offset) }
    public init(val: UInt64) { type = Int(val >> 58); offset = Int(val & ((1 << 58) - 1)) }
}

extension PTE {
    /// SWP_TYPE_BITS and SWP_OFFSET_SHIFT of x86-64 (arch/x86/include/asm/pgtable_64.h).
    static let swpTypeBits: UInt64 = 5
    static let swpOffsetShift: UInt64 = 14   // SWP_OFFSET_FIRST_BIT (9) + SWP_TYPE_BITS
    /// A non-present PTE holding a swap entry in x86-64's format: the type in bits 59–63, the
    /// offset inverted (L1TF mitigation) in bits 9–58. Linux: __swp_entry() + __swp_entry_to_pte()
    public init(swap e: SwapEntry) {
        raw = (((~UInt64(e.offset)) << PTE.swpOffsetShift) >> PTE.swpTypeBits) | (UInt64(e.type) << (64 - PTE.swpTypeBits))
    }
    /// Whether this is a swap entry (neither none nor present). Linux: is_swap_pte()
    @inlinable public var isSwap: Bool { raw != 0 && raw & PTE.present == 0 }
    /// The swap entry of a swap PTE. Linux: __pte_to_swp_entry() + __swp_type() / __swp_offset()
    public var swapEntry: SwapEntry {
        SwapEntry(type: Int(raw >> (64 - PTE.swpTypeBits)), offset: Int(truncatingIfNeeded: ((~raw) << PTE.swpTypeBits) >> PTE.swpOffsetShift))
    }
}

/// Why swapon/swapoff failed, with the errno the syscall returns.
public enum SwapError: Error, Equatable, CustomStringConvertible {
    case busy(String), invalid(String), noSuchFile(String), notActive(String), tooMany, noMemory(String)
    public var errno: Errno {
        switch self {
        case .busy: return .EBUSY
        case .invalid, .notActive: return .EINVAL
        case .noSuchFile: return .ENOENT
        case .tooMany: return .EPERM
        case .noMemory: return .ENOMEM
        }
    }
    public var description: String {
        switch self {
        case .busy(let p): return "swapon \(p): already in use (EBUSY)"
        case .invalid(let s): return s
        case .noSuchFile(let p): return "\(p): no such file (ENOENT)"
        case .notActive(let p): return "swapoff \(p): not an active swap area (EINVAL)"
        case .tooMany: return "swapon: too many swap areas (MAX_SWAPFILES, EPERM)"
        case .noMemory(let p): return "swapoff \(p): not enough memory to bring the pages back in (ENOMEM)"
        }
    }
}

extension Kernel {
    /// The maximum number of swap areas (MAX_SWAPFILES with the migration, hwpoison and
    /// device-private types reserved: 32 − 3 on a typical x86-64 config).
    public static let maxSwapfiles = 29

    /// The active swap areas, in swap-type order.
    public var swapAreas: [SwapInfo] { reclaim.swapInfo.compactMap { $0 } }

    /// Swap pages configured (SwapTotal in pages). Linux: total_swap_pages, mm/swapfile.c
    public var totalSwapPages: Int { swapAreas.reduce(0) { $0 + $1.pages } }

    /// Free swap slots (SwapFree in pages). Linux: nr_swap_pages / get_nr_swap_pages()
    public var nrSwapPages: Int { swapAreas.reduce(0) { $0 + $1.pages - $1.inuse } }

    /// Pages in the swap cache (SwapCached). Linux: total_swapcache_pages()
    public var swapCachePages: Int { reclaim.swapCache.count }

    /// Enables a swap area of `bytes` (whole pages; the first is the header) at `path`; `priority`
    /// nil gives the next default (-2, -3, …). Returns the area or why it could not be enabled
    /// (EBUSY when the path is active, EINVAL when smaller than two pages or the priority is out of
    /// 0...32767, EPERM beyond MAX_SWAPFILES). Linux: sys_swapon() → setup_swap_map_and_extents(), mm/swapfile.c
    @discardableResult
    public func swapon(path: String, bytes: UInt64, priority: Int? = nil) -> Result<SwapInfo, SwapError> {
        if swapAreas.contains(where: { $0.path == path }) { return .failure(.busy(path)) }
        let maxPages = bytes >> PAGE_SHIFT
        guard maxPages >= 2 else { return .failure(.invalid("swapon \(path): a swap area needs at least 2 pages (EINVAL)")) }
        guard maxPages <= 1 << 32 else { return .failure(.invalid("swapon \(path): too large (EINVAL)")) }
        if let p = priority, p < 0 || p > 32767 { return .failure(.invalid("swapon \(path): priority \(p) out of range 0...32767 (EINVAL)")) }
        let type = reclaim.swapInfo.firstIndex(where: { $0 == nil }) ?? reclaim.swapInfo.count
        guard type < Kernel.maxSwapfiles else { return .failure(.tooMany) }
        let prio: Int
        if let p = priority { prio = p } else { reclaim.leastPriority -= 1; prio = reclaim.leastPriority }
        let si = SwapInfo(type: type, path: path, isPartition: path.hasPrefix("/dev/"), priority: prio, pages: Int(maxPages) - 1)
        if type == reclaim.swapInfo.count { reclaim.swapInfo.append(si) } else { reclaim.swapInfo[type] = si }
        printk("Adding \(si.pages * Int(PAGE_SIZE >> 10))k swap on \(path).  Priority:\(prio) extents:1 across:\(si.pages * Int(PAGE_SIZE >> 10))k")
        narrate("swapon \(path): swap type \(type), \(si.pages) slots (slot 0 is the header), priority \(prio)")
        return .success(si)
    }

    /// Disables the swap area at `path`: every page swapped out to it is read back in (swap
    /// entries in every process become present PTEs again) and its swap-cache pages leave the
    /// cache. Fails with EINVAL when `path` is not active, ENOMEM when memory runs out (the area
    /// stays enabled with what is left). Linux: sys_swapoff() → try_to_unuse(), mm/swapfile.c
    public func swapoff(path: String) -> Result<Void, SwapError> {
        guard let si = swapAreas.first(where: { $0.path == path }) else { return .failure(.notActive(path)) }
        // Refuse when the pages in use cannot fit in memory (security_vm_enough_memory_mm: the
        // pages come back as committed anonymous memory; here: free RAM above the min watermark).
        var seen = Set<ObjectIdentifier>()
        for t in allTasks {
            guard let mm = t.mm, seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            for vma in mm.vmas.vmas {
                var entries: [VirtAddr] = []
                forEachPresentPTE(mm, vma.start, vma.end) { va, _, pte in
                    if pte.isSwap && pte.swapEntry.type == si.type { entries.append(va) }
                }
                for va in entries {
                    guard let slot = phys.walk(mm.pgd, va) else { continue }
                    let pte = phys.readPTE(slot)
                    guard pte.isSwap, pte.swapEntry.type == si.type else { continue }
                    let r = doSwapPage(t, mm, vma, va, slot, pte, write: false, forSwapoff: true)
                    if r == .oom || r == .sigbus { return .failure(.noMemory(path)) }
                }
            }
        }
        // Pages left only in the swap cache (read ahead, or unmapped) leave it.
        for off in si.hasCache.members.sorted() {
            if let pfn = reclaim.swapCache[SwapEntry(type: si.type, offset: off).val] {
                let saved = phys.memMap.refcount[pfn.index]
                if saved == 1 { lruDel(pfn) }
                deleteFromSwapCache(pfn)
            }
        }
        guard si.inuse == 0 else { return .failure(.noMemory(path)) }
        reclaim.swapInfo[si.type] = nil
        if si.priority < 0 && si.priority == reclaim.leastPriority { reclaim.leastPriority += 1 }
        narrate("swapoff \(path): every page is back in memory; swap type \(si.type) freed")
        return .success(())
    }

    /// Allocates one swap slot: from the highest-priority area with a free slot, areas of equal
    /// priority taking turns; within an area the next free slot from its cursor. Returns nil when
    /// every area is full. Linux: folio_alloc_swap() → get_swap_pages() / scan_swap_map_slots(), mm/swapfile.c
    func getSwapPage() -> SwapEntry? {
        let areas = swapAreas.filter { $0.inuse < $0.pages }
        guard let top = areas.map({ $0.priority }).max() else { return nil }
        let group = areas.filter { $0.priority == top }
        let si = group[reclaim.swapRoundRobin % group.count]
        reclaim.swapRoundRobin &+= 1
        var off = si.cursor
        for _ in 0..<si.pages {
            if off > si.pages { off = 1 }
            if si.count[off] == 0 && !si.hasCache[off] {
                si.cursor = off + 1
                si.inuse += 1
                return SwapEntry(type: si.type, offset: off)
            }
            off += 1
        }
        return nil
    }

    /// The area of `e` when `e` names a slot in use, else nil (a bad or stale entry).
    /// Linux: get_swap_device() / _swap_info_get(), mm/swapfile.c
    func swapInfoFor(_ e: SwapEntry) -> SwapInfo? {
        guard e.type >= 0, e.type < reclaim.swapInfo.count, let si = reclaim.swapInfo[e.type],
              e.offset >= 1, e.offset <= si.pages, si.count[e.offset] > 0 || si.hasCache[e.offset] else { return nil }
        return si
    }

    /// The swap count of `e` (page-table references), 0 for a bad entry. Linux: __swap_count()
    public func swapCount(_ e: SwapEntry) -> Int {
        guard let si = swapInfoFor(e) else { return 0 }
        return Int(si.count[e.offset])
    }

    /// Adds one reference to a slot (a copied swap PTE). Linux: swap_duplicate(), mm/swapfile.c
    func swapDuplicate(_ e: SwapEntry) {
        guard let si = swapInfoFor(e) else { return }
        si.count[e.offset] += 1
    }

    /// Drops one reference to a slot; the slot is freed (and its data forgotten) when neither a
    /// reference nor the swap cache holds it. Linux: swap_free() → __swap_entry_free(), mm/swapfile.c
    func swapFree(_ e: SwapEntry) {
        guard let si = swapInfoFor(e), si.count[e.offset] > 0 else { return }
        si.count[e.offset] -= 1
        freeSlotIfUnused(si, e.offset)
    }

    /// Releases slot `off` of `si` when nothing holds it. Linux: swap_entry_range_free(), mm/swapfile.c
    func freeSlotIfUnused(_ si: SwapInfo, _ off: Int) {
        guard si.count[off] == 0 && !si.hasCache[off] else { return }
        si.data[off] = nil
        si.inuse -= 1
    }

    /// Drops a zapped swap PTE's reference and, when that was the last one, also the page the
    /// swap cache holds for it if nothing else uses that page. Linux: free_swap_and_cache(), mm/swapfile.c
    func freeSwapAndCache(_ e: SwapEntry) {
        swapFree(e)
        guard swapCount(e) == 0, let pfn = reclaim.swapCache[e.val],
              phys.memMap.mapcount[pfn.index] == 0, phys.memMap.refcount[pfn.index] == 1 else { return }
        lruDel(pfn)
        deleteFromSwapCache(pfn)
    }

    /// Whether more than half of swap is in use. Linux: vm_swap_full(), mm/swap.h
    func vmSwapFull() -> Bool { nrSwapPages * 2 < totalSwapPages }

    /// Writes the bytes of `pfn` into the slot of `e` (only a non-zero page takes host memory).
    /// Linux: swap_writepage() → __swap_writepage(), mm/page_io.c
    func swapWritePage(_ pfn: PFN, _ e: SwapEntry) {
        guard let si = reclaim.swapInfo[e.type] else { return }
        if phys.contents.isZero(pfn) {
            si.data[e.offset] = nil
        } else {
            var words = [UInt64](repeating: 0, count: FrameContents.wordsPerFrame)
            for w in 0..<FrameContents.wordsPerFrame { words[w] = phys.contents.readWord(pfn, w) }
            si.data[e.offset] = words
        }
        vmstat.pswpout += 1
        vmstat.pgpgout += PAGE_SIZE >> 10
    }

    /// Reads the slot of `e` into `pfn`. Linux: swap_read_folio(), mm/page_io.c
    func swapReadPage(_ pfn: PFN, _ e: SwapEntry) {
        phys.contents.clear(pfn)
        if let si = reclaim.swapInfo[e.type], let words = si.data[e.offset] {
            for w in 0..<FrameContents.wordsPerFrame where words[w] != 0 { phys.contents.writeWord(pfn, w, words[w]) }
        }
        vmstat.pswpin += 1
        vmstat.pgpgin += PAGE_SIZE >> 10
    }

    /// Checks every swap area's counts against the swap PTEs of every process and the swap cache.
    func swapInvariantViolations(swapRefs: [UInt64: Int]) -> [String] {
        var out: [String] = []
        var totalPages = 0
        for si in swapAreas {
            var inuse = 0
            let slots = Set(si.count.values.keys).union(si.hasCache.members).union(si.data.keys)
            for off in slots.sorted() {
                let e = SwapEntry(type: si.type, offset: off)
                let refs = swapRefs[e.val] ?? 0
                if Int(si.count[off]) != refs { out.append("swap \(si.path) slot \(off): count \(si.count[off]) but \(refs) swap PTEs") }
                if si.hasCache[off] != (reclaim.swapCache[e.val] != nil) { out.append("swap \(si.path) slot \(off): SWAP_HAS_CACHE \(si.hasCache[off]) disagrees with the swap cache") }
                if si.count[off] > 0 || si.hasCache[off] { inuse += 1 } else if si.data[off] != nil { out.append("swap \(si.path) slot \(off): free slot keeps data") }
            }
            if inuse != si.inuse { out.append("swap \(si.path): inuse_pages \(si.inuse) but \(inuse) slots in use") }
            totalPages += si.pages
        }
        for (val, pfn) in reclaim.swapCache {
            let f = phys.memMap.flags[pfn.index]
            if !f.contains(.swapcache) || reclaim.swapEntryOf[pfn.index] != val { out.append("swap cache: PFN \(pfn) lacks PG_swapcache or its entry") }
            if phys.memMap.refcount[pfn.index] < 1 + phys.memMap.mapcount[pfn.index] { out.append("swap cache: PFN \(pfn) refcount \(phys.memMap.refcount[pfn.index]) below cache + mappings") }
        }
        for (val, _) in swapRefs where swapInfoFor(SwapEntry(val: val)) == nil {
            out.append("a swap PTE holds entry \(String(val, radix: 16)) of no slot in use")
        }
        _ = totalPages
        return out
    }
}
