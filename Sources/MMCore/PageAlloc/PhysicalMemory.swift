/// A machine's physical memory: `mem_map`, zones, the buddy allocator and frame contents.
///
/// Boot follows x86-64 Linux: memblock reserves the first MiB, the kernel image at 16 MiB and
/// mem_map (top-down at the end of RAM); everything else is freed into the zones' buddy
/// allocators in naturally aligned blocks of up to MAX_PAGE_ORDER; then min_free_kbytes, the
/// watermarks and the lowmem reserves are computed. See BootLayout.swift for the memory map,
/// Buddy.swift for the allocator and Watermarks.swift for the watermark arithmetic.

/// Sizes and tunables of physical memory.
public struct PhysicalMemoryConfig: Sendable, Equatable {
    /// RAM installed, in bytes (rounded down to whole pages).
    public var ramBytes: UInt64
    /// `vm.min_free_kbytes`; nil means "computed at boot as Linux does".
    public var minFreeKbytes: Int?
    /// `vm.watermark_scale_factor` (in 1/10000 of a zone; clamped to the sysctl's 1...3000).
    public var watermarkScaleFactor: Int
    /// Bytes of the kernel image that stay reserved at CONFIG_PHYSICAL_START (16 MiB).
    public var kernelImageBytes: UInt64
    /// `vm.lowmem_reserve_ratio` for DMA, DMA32, Normal, HighMem (indexed by `ZoneType.rawValue`).
    public var lowmemReserveRatio: [Int]
    /// The boot layout: x86-64 (default) or x86-32 with highmem.
    public var layout: PhysicalLayout
    public init(ramBytes: UInt64, minFreeKbytes: Int? = nil, watermarkScaleFactor: Int = 10,
                kernelImageBytes: UInt64 = BootLayout.defaultKernelImageBytes,
                lowmemReserveRatio: [Int] = [256, 256, 32, 0], layout: PhysicalLayout = .x86_64) {
        self.layout = layout
        self.ramBytes = ramBytes
        self.minFreeKbytes = minFreeKbytes
        self.watermarkScaleFactor = watermarkScaleFactor
        self.kernelImageBytes = kernelImageBytes
        self.lowmemReserveRatio = lowmemReserveRatio
    }
}

/// Why physical memory could not be set up.
public enum PhysicalMemoryError: Error, Equatable, CustomStringConvertible {
    case tooSmall(UInt64)
    case tooLarge(UInt64)
    /// More RAM than a 32-bit machine addresses.
    case tooLarge32(UInt64)
    /// The kernel image does not fit between 16 MiB and mem_map.
    case kernelImageTooLarge(UInt64)
    public var description: String {
        switch self {
        case .tooSmall(let b): return "RAM size \(b) bytes is too small (at least 64 MiB)"
        case .tooLarge(let b): return "RAM size \(b) bytes is too large (at most 1 TiB)"
        case .tooLarge32(let b): return "RAM size \(b) bytes is too large for a 32-bit machine (at most 4 GiB)"
        case .kernelImageTooLarge(let b): return "kernel image of \(b) bytes does not fit in RAM above 16 MiB"
        }
    }
}

/// Per-frame metadata in flat arrays indexed by PFN (Linux's `struct page` array, `mem_map`), in
/// buffers this object owns (FixedArray): the fault and allocation paths write them without
/// uniqueness checks.
public final class MemMap {
    /// `page->_refcount`.
    public let refcount: FixedArray<Int32>
    /// Number of page-table entries that map the frame (`page_mapcount()`; Linux stores it minus one).
    public let mapcount: FixedArray<Int32>
    /// `page->flags`.
    public let flags: FixedArray<PageFlags>
    /// Buddy order when the frame heads a free block (`page->private` under PageBuddy); the folio
    /// order when the frame is the PageHead of an allocated compound block; else 0.
    public let order: FixedArray<UInt8>
    /// Free-list links (`page->buddy_list`): next and previous PFN on the same free list, -1 at the ends.
    public let buddyNext: FixedArray<Int32>
    public let buddyPrev: FixedArray<Int32>
    /// Migrate type of each pageblock of 2^PAGEBLOCK_ORDER frames (the pageblock bitmap).
    public let pageblockMigrateType: FixedArray<MigrateType>
    public init(frames: Int) {
        refcount = FixedArray(repeating: 0, count: frames)
        mapcount = FixedArray(repeating: 0, count: frames)
        flags = FixedArray(repeating: [], count: frames)
        order = FixedArray(repeating: 0, count: frames)
        buddyNext = FixedArray(repeating: -1, count: frames)
        buddyPrev = FixedArray(repeating: -1, count: frames)
        pageblockMigrateType = FixedArray(repeating: .movable,
                                          count: (frames + PAGEBLOCK_NR_PAGES - 1) >> PAGEBLOCK_ORDER)
    }
    deinit {
        refcount.deallocate(); mapcount.deallocate(); flags.deallocate(); order.deallocate()
        buddyNext.deallocate(); buddyPrev.deallocate(); pageblockMigrateType.deallocate()
    }
}

public final class PhysicalMemory {
    /// The populated zones of node 0, lowest first (DMA, DMA32, Normal on x86-64; DMA, Normal,
    /// HighMem on x86-32).
    public var zones: [Zone] = [] {
        didSet { hasDMA32 = zones.contains { $0.type == .dma32 } }
    }
    /// The effective vm.min_free_kbytes.
    public var minFreeKbytes: Int = 0
    /// The effective vm.watermark_scale_factor.
    public internal(set) var watermarkScaleFactor: Int
    /// The effective vm.lowmem_reserve_ratio (DMA, DMA32, Normal).
    public var lowmemReserveRatio: [Int]
    /// memblock's reserved regions, ascending: never handed to the buddy allocator.
    public let reservedRegions: [MemblockRegion]
    /// Pages reserved at boot (kernel image, mem_map, firmware areas): never in the allocator.
    public var reservedPages: Int { frameCount - totalManagedPages }
    /// Sum over zones of the low watermark (used by si_mem_available()).
    public var totalLowWatermarkPages: Int { zones.reduce(0) { $0 + $1.watermarkLow } }
    /// totalreserve_pages: sum over zones of (largest lowmem_reserve + high watermark), each capped
    /// at the zone's managed pages. Linux: calculate_totalreserve_pages(), mm/page_alloc.c
    public var totalReservePages: Int {
        var total = 0
        for z in zones { total += Swift.min(z.maxLowmemReserve + z.watermarkHigh, z.managedPages) }
        return total
    }
    /// The zone that holds `pfn`, or nil for a PFN outside every zone.
    public func zone(of pfn: PFN) -> Zone? {
        guard pfn.raw < UInt64(frameCount) else { return nil }
        let i = zoneIndex(pfn.index)
        return i >= 0 ? zones[i] : nil
    }
    /// Pages of each zone type, for `free`-style summaries: present, managed and free pages.
    public func pageCounts(of type: ZoneType) -> (present: Int, managed: Int, free: Int) {
        for z in zones where z.type == type { return (z.presentPages, z.managedPages, z.freePages) }
        return (0, 0, 0)
    }

    public let config: PhysicalMemoryConfig
    /// Number of page frames (the PFN range is 0..<frameCount).
    public let frameCount: Int
    public let memMap: MemMap
    public var contents: FrameContents
    /// The page-table format of the machine: how entries in page-table frames are encoded, how
    /// many levels there are and which VA bits index them (x86-64 4-level unless the machine says).
    public var paging: PageTableFormat = .x86_64

    /// Frames handed out by the allocator and not yet freed.
    public private(set) var allocatedPages = 0
    /// Boot-reserved ranges as [start, end) frame indices, for the free-path checks.
    let reservedStart: [Int]
    let reservedEnd: [Int]
    /// Rejected frees (bad_page reports), oldest first, capped at `maxBadPageReports`.
    var badPageReports: [String] = []
    static let maxBadPageReports = 64

    /// Boots physical memory: sets up mem_map, reserves the kernel's pages and frees the rest into
    /// the allocator. Throws when the size is out of the supported range or the kernel does not fit.
    /// Linux: mm_core_init() → memblock_free_all(), init_per_zone_wmark_min(), mm/mm_init.c, mm/page_alloc.c
    public init(config: PhysicalMemoryConfig) throws {
        guard config.ramBytes >= 64 << 20 else { throw PhysicalMemoryError.tooSmall(config.ramBytes) }
        guard config.ramBytes <= 1 << 40 else { throw PhysicalMemoryError.tooLarge(config.ramBytes) }
        guard config.ramBytes <= config.layout.maxRAMBytes else { throw PhysicalMemoryError.tooLarge32(config.ramBytes) }
        let frames = Int(config.ramBytes >> PAGE_SHIFT)
        guard let regions = BootLayout.reservedRegions(frames: frames, kernelImageBytes: config.kernelImageBytes,
                                                       layout: config.layout) else {
            throw PhysicalMemoryError.kernelImageTooLarge(config.kernelImageBytes)
        }
        self.config = config
        frameCount = frames
        reservedRegions = regions
        reservedStart = regions.map { $0.startPFN.index }
        reservedEnd = regions.map { $0.endPFN.index }
        watermarkScaleFactor = Swift.min(Swift.max(config.watermarkScaleFactor, 1), 3000)
        lowmemReserveRatio = config.lowmemReserveRatio
        memMap = MemMap(frames: frames)
        contents = FrameContents(frames: frames)

        // free_area_init(): zone spans. No holes, so present == spanned.
        for (type, lo, hi) in config.layout.zoneBounds where frames > lo {
            let z = Zone(type: type, startPFN: PFN(index: lo), spannedPages: Swift.min(frames, hi) - lo,
                         nrZoneTypes: config.layout.hasHighmem ? ZoneType.highmem.rawValue + 1 : ZoneType.normal.rawValue + 1)
            z.managedPages = 0
            zones.append(z)
        }
        hasDMA32 = zones.contains { $0.type == .dma32 }   // (observers do not run in init)
        // memmap_init(): every frame starts PG_reserved with one reference; pageblocks Movable.
        for i in 0..<frames {
            memMap.flags[i] = .reserved
            memMap.refcount[i] = 1
        }
        // memblock_free_all(): free every range between reserved regions.
        var start = 0
        for r in regions {
            if r.startPFN.index > start { freePagesMemory(start, r.startPFN.index) }
            start = Swift.max(start, r.endPFN.index)
        }
        if start < frames { freePagesMemory(start, frames) }

        // init_per_zone_wmark_min()
        if let user = config.minFreeKbytes {
            minFreeKbytes = Swift.min(Swift.max(user, 0), Int(Int32.max))
        } else {
            minFreeKbytes = calculateMinFreeKbytes()
        }
        setupPerZoneWmarks()
    }

    /// Releases frames [start, end) to the buddy allocator in the largest naturally aligned chunks,
    /// never letting a chunk cross a zone boundary (x86-32's max_low_pfn is not MAX_PAGE_ORDER-aligned).
    /// Linux: __free_pages_memory() → memblock_free_pages() → __free_pages_core(), mm/memblock.c, mm/page_alloc.c
    private func freePagesMemory(_ start: Int, _ end: Int) {
        var s = start
        while s < end {
            let zi = zoneIndex(s)
            let limit = Swift.min(end, zones[zi].endPFN.index)
            var order = s == 0 ? MAX_PAGE_ORDER : Swift.min(MAX_PAGE_ORDER, s.trailingZeroBitCount)
            while s + (1 << order) > limit { order -= 1 }
            let zone = zones[zi]
            for i in s..<(s + (1 << order)) {
                memMap.flags[i] = []
                memMap.refcount[i] = 0
            }
            zone.managedPages += 1 << order
            freePagesOk(zone, s, order: order, toTail: true)   // FPI_TO_TAIL
            s += 1 << order
        }
    }

    /// Index in `zones` of the zone spanning frame index `i`, or -1.
    @inline(__always) func zoneIndex(_ i: Int) -> Int {
        var k = zones.count - 1
        while k >= 0 {
            if zones[k].spansIndex(i) { return k }
            k -= 1
        }
        return -1
    }

    /// Pages managed by the allocator (MemTotal): all RAM minus what the kernel reserved at boot.
    public var totalManagedPages: Int {
        var n = 0
        for z in zones { n += z.managedPages }
        return n
    }
    /// Whether ZONE_DMA32 is populated (alloc_flags_nofragment() exists only with CONFIG_ZONE_DMA32).
    /// (Kept up to date by `zones`' observer: the allocator asks on every allocation.)
    public private(set) var hasDMA32 = false
    /// Whether the machine has a populated ZONE_HIGHMEM.
    public var hasHighmem: Bool { zones.last?.type == .highmem }
    /// Returns the type of the first zone of the zonelist an allocation with `gfp` walks (the
    /// highest populated zone it may use). Linux: first_zones_zonelist() of prepare_alloc_pages(), mm/page_alloc.c
    public func preferredZoneType(_ gfp: GFP) -> ZoneType {
        let highest = ZoneType(gfp: gfp).rawValue
        var k = zones.count - 1
        while k > 0 && zones[k].type.rawValue > highest { k -= 1 }
        return zones.isEmpty ? .normal : zones[k].type
    }
    /// Pages managed by, and free in, ZONE_HIGHMEM (totalhigh_pages(), nr_free_highpages()); 0 without it.
    public var highmemPages: (managed: Int, free: Int) {
        var m = 0, f = 0
        for z in zones where z.type == .highmem { m += z.managedPages; f += z.freePages }
        return (m, f)
    }
    /// Pages on the free lists now (MemFree).
    public var freePageCount: Int {
        var n = 0
        for z in zones { n += z.freePages }
        return n
    }

    // MARK: Allocation

    /// Allocates 2^order contiguous frames with refcount 1 on the head, or nil when no zone allowed
    /// by `gfp` has a free block above its watermark: first at the low watermark (fast path), then
    /// at the min watermark with the caller's reserve rights (slow path without reclaim or
    /// compaction), then, for __GFP_MEMALLOC, ignoring watermarks. Reclaim and OOM are the caller's.
    /// Linux: __alloc_pages() fast path / get_page_from_freelist(), mm/page_alloc.c
    public func allocPages(order: Int, gfp: GFP) -> PFN? {
        guard order >= 0 && order < NR_PAGE_ORDERS else { return nil }
        if order == 0 {
            let p = rmqueueFastOrder0(gfp: gfp)
            if p >= 0 { return PFN(index: p) }
        }
        // prepare_alloc_pages() + alloc_flags_nofragment()
        var fast: AllocFlags = .wmarkLow
        if gfp.contains(.kswapdReclaim) { fast.insert(.kswapd) }
        if preferredZoneType(gfp) == .normal && hasDMA32 { fast.insert(.noFragment) }
        if let p = getPageFromFreelist(order: order, gfp: gfp, allocFlags: fast) { return p }
        // __alloc_pages_slowpath(): gfp_to_alloc_flags()
        let slow = gfpToAllocFlags(gfp, order: order)
        if let p = getPageFromFreelist(order: order, gfp: gfp, allocFlags: slow) { return p }
        // __gfp_pfmemalloc_flags()
        if gfp.contains(.memalloc) && !gfp.contains(.nomemalloc) {
            var nw: AllocFlags = .noWatermarks
            if slow.contains(.kswapd) { nw.insert(.kswapd) }
            return getPageFromFreelist(order: order, gfp: gfp, allocFlags: nw)
        }
        return nil
    }

    /// Returns the PFN index of an order-0 page taken as the first pass of the fast path would take
    /// it (low watermark, no reserves) when that pass ends in the common way: the first zone
    /// (highest first) above its low watermark has a free block on its own migrate type's lists.
    /// Returns -1, having changed nothing, otherwise: allocPages then runs the full path, which
    /// skips the same zones and reaches the same zone, so the outcome is identical.
    /// (ALLOC_KSWAPD and ALLOC_NOFRAGMENT change nothing until that zone's own lists are empty.)
    /// Linux: get_page_from_freelist() → rmqueue() → __rmqueue_smallest(), mm/page_alloc.c
    @inline(__always) func rmqueueFastOrder0(gfp: GFP) -> Int {
        let highest = ZoneType(gfp: gfp)
        var k = zones.count - 1
        while k >= 0 {
            let zone = zones[k]
            k -= 1
            if zone.type.rawValue > highest.rawValue { continue }
            if !zoneWatermarkOK(zone, order: 0, mark: zone.watermarkLow, highestZone: highest, allocFlags: []) { continue }
            let mt = MigrateType(gfp: gfp).rawValue
            // The order-0 list of the migrate type has a page about half the time (each split
            // leaves the buddy there): rmqueueSmallest would take its head with nothing to split,
            // which is this straight line (page_del_and_expand with low == high == 0).
            let h = Int(zone.freeHead[listIndex(0, mt)])
            let p: Int
            if h >= 0 {
                delFromFreeList(zone, h, 0, mt)
                zone.freePages -= 1
                p = h
            } else {
                p = rmqueueSmallest(zone, order: 0, mt)
            }
            if p >= 0 { prepNewPage(p, order: 0, gfp: gfp) }
            return p
        }
        return -1
    }

    /// Returns the slow-path allocation flags for `gfp`: min watermark; __GFP_HIGH → ALLOC_MIN_RESERVE;
    /// no direct reclaim (and no __GFP_NOMEMALLOC) → ALLOC_NON_BLOCK, plus ALLOC_HIGHATOMIC for
    /// order > 0 with __GFP_HIGH. Linux: gfp_to_alloc_flags(), mm/page_alloc.c
    public func gfpToAllocFlags(_ gfp: GFP, order: Int) -> AllocFlags {
        var f: AllocFlags = .wmarkMin
        if gfp.contains(.high) { f.insert(.minReserve) }
        if gfp.contains(.kswapdReclaim) { f.insert(.kswapd) }
        if !gfp.contains(.directReclaim) && !gfp.contains(.nomemalloc) {
            f.insert(.nonBlock)
            if order > 0 && f.contains(.minReserve) { f.insert(.highatomic) }
        }
        return f
    }

    /// Walks the zonelist from the highest zone `gfp` allows down to DMA and returns the first block
    /// a zone above its watermark (per `allocFlags`) can supply, prepared for use; nil when none can.
    /// With ALLOC_NOFRAGMENT the walk is repeated without it before giving up.
    /// Linux: get_page_from_freelist(), mm/page_alloc.c
    public func getPageFromFreelist(order: Int, gfp: GFP, allocFlags: AllocFlags) -> PFN? {
        guard order >= 0 && order < NR_PAGE_ORDERS else { return nil }
        let highest = ZoneType(gfp: gfp)
        let mt = MigrateType(gfp: gfp).rawValue
        var flags = allocFlags
        while true {
            var k = zones.count - 1
            while k >= 0 {
                let zone = zones[k]
                k -= 1
                if zone.type.rawValue > highest.rawValue { continue }
                if !flags.contains(.noWatermarks) {
                    let mark = zone.watermark(flags.watermark)
                    if !zoneWatermarkOK(zone, order: order, mark: mark, highestZone: highest, allocFlags: flags) { continue }
                }
                let p = rmqueue(zone, order: order, mt, flags)
                if p >= 0 {
                    prepNewPage(p, order: order, gfp: gfp)
                    return PFN(index: p)
                }
            }
            if flags.contains(.noFragment) {
                flags.remove(.noFragment)
                continue
            }
            return nil
        }
    }

    /// Readies a freshly allocated block: refcount 1 on the head, zeroed with __GFP_ZERO, PageHead
    /// and the folio order with __GFP_COMP. Linux: prep_new_page() / post_alloc_hook(), mm/page_alloc.c
    @inline(__always) func prepNewPage(_ p: Int, order: Int, gfp: GFP) {
        memMap.refcount[p] = 1
        allocatedPages += 1 << order
        if gfp.contains(.zero) {
            var i = p
            while i < p + (1 << order) { contents.clear(PFN(index: i)); i += 1 }
        }
        if order > 0 && gfp.contains(.comp) {
            memMap.flags[p].insert(.head)
            memMap.order[p] = UInt8(truncatingIfNeeded: order)
        }
    }

    // MARK: Freeing

    /// Returns a block of 2^order frames to the allocator, merging buddies. A bad free (out of range,
    /// misaligned, already free, boot-reserved, still mapped) frees nothing and is reported by
    /// `invariantViolations()`, as Linux's bad_page() leaves such a page alone.
    /// Linux: __free_pages() / free_pages_prepare() / __free_one_page(), mm/page_alloc.c
    public func freePages(_ pfn: PFN, order: Int) {
        guard let reason = checkFree(pfn, order: order) else {
            let p = pfn.index
            var i = p
            while i < p + (1 << order) {
                memMap.refcount[i] = 0
                memMap.mapcount[i] = 0
                memMap.flags[i] = []
                memMap.order[i] = 0
                i += 1
            }
            allocatedPages -= 1 << order
            freePagesOk(zones[zoneIndex(p)], p, order: order, toTail: false)
            return
        }
        if badPageReports.count < PhysicalMemory.maxBadPageReports {
            badPageReports.append("BUG: Bad page state: pfn \(pfn) order \(order): \(reason)")
        }
    }

    /// Returns why freeing this block would be wrong, or nil when it is fine. Allocation-free on success.
    private func checkFree(_ pfn: PFN, order: Int) -> StaticString? {
        guard order >= 0 && order < NR_PAGE_ORDERS else { return "order out of range" }
        guard pfn.raw < UInt64(frameCount), pfn.index + (1 << order) <= frameCount else { return "PFN out of range" }
        let p = pfn.index
        guard p & ((1 << order) - 1) == 0 else { return "block not aligned to its order" }
        for k in 0..<reservedStart.count where p < reservedEnd[k] && p + (1 << order) > reservedStart[k] {
            return "frame reserved at boot"
        }
        // Already free: the frame heads, or lies inside, a free block.
        var o = 0
        while o < NR_PAGE_ORDERS {
            let h = p & ~((1 << o) - 1)
            if memMap.flags[h].contains(.buddy) && Int(memMap.order[h]) >= o { return "double free (PageBuddy)" }
            o += 1
        }
        var i = p
        while i < p + (1 << order) {
            if memMap.flags[i].contains(.buddy) { return "double free (PageBuddy)" }
            if memMap.mapcount[i] != 0 { return "nonzero mapcount" }
            i += 1
        }
        return nil
    }

    /// Takes a reference on a frame; a PFN out of range changes nothing and is reported by
    /// `invariantViolations()`. Linux: get_page(), include/linux/mm.h
    public func getPage(_ pfn: PFN) {
        guard pfn.raw < UInt64(frameCount) else {
            if badPageReports.count < PhysicalMemory.maxBadPageReports {
                badPageReports.append("BUG: get_page on PFN \(pfn) out of range")
            }
            return
        }
        memMap.refcount[pfn.index] += 1
    }

    /// Drops a reference; frees the frame (the whole compound block for a PageHead frame) when the
    /// last one goes. Returns true if freed; a put on a frame with no reference frees nothing and is
    /// reported by `invariantViolations()`.
    /// Linux: put_page() / folio_put(), include/linux/mm.h
    @discardableResult
    public func putPage(_ pfn: PFN) -> Bool {
        guard pfn.raw < UInt64(frameCount) else {
            if badPageReports.count < PhysicalMemory.maxBadPageReports {
                badPageReports.append("BUG: put_page on PFN \(pfn) out of range")
            }
            return false
        }
        let i = pfn.index
        guard memMap.refcount[i] > 0 else {
            if badPageReports.count < PhysicalMemory.maxBadPageReports {
                badPageReports.append("BUG: put_page on PFN \(pfn) with refcount \(memMap.refcount[i])")
            }
            return false
        }
        memMap.refcount[i] -= 1
        if memMap.refcount[i] == 0 {
            let order = memMap.flags[i].contains(.head) ? Int(memMap.order[i]) : 0
            let before = allocatedPages
            freePages(pfn, order: order)
            return allocatedPages != before
        }
        return false
    }
}

extension PhysicalMemory {
    /// Takes the naturally aligned range of 2^`order` frames at `pfn` (order may exceed
    /// MAX_PAGE_ORDER) out of the buddy allocator when every frame in it is free and in one zone,
    /// as a compound block (refcount 1 on the head, PageHead, the order). Returns false and
    /// changes nothing when a frame is allocated or reserved. Does not migrate.
    /// Linux: alloc_contig_range() / isolate_freepages_range(), mm/page_alloc.c
    public func allocContigRange(_ pfn: PFN, order: Int) -> Bool {
        let start = pfn.index, n = 1 << order
        guard start & (n - 1) == 0, start >= 0, start + n <= frameCount else { return false }
        let zi = zoneIndex(start)
        guard zones[zi].spansIndex(start), zones[zi].spansIndex(start + n - 1) else { return false }
        var p = start
        while p < start + n {
            guard memMap.flags[p].contains(.buddy) else { return false }
            p += 1 << Int(memMap.order[p])
        }
        guard p == start + n else { return false }
        let zone = zones[zi]
        p = start
        while p < start + n {
            let o = Int(memMap.order[p])
            delFromFreeList(zone, p, o, pageblockMT(p))
            zone.freePages -= 1 << o
            p += 1 << o
        }
        memMap.refcount[start] = 1
        memMap.flags[start].insert(.head)
        memMap.order[start] = UInt8(truncatingIfNeeded: order)
        allocatedPages += n
        return true
    }

    /// Frees a block taken by `allocContigRange` (any order) in MAX_PAGE_ORDER pieces.
    /// Linux: free_contig_range(), mm/page_alloc.c
    public func freeContigRange(_ pfn: PFN, order: Int) {
        let step = min(order, MAX_PAGE_ORDER)
        var p = pfn.index
        let end = p + (1 << order)
        while p < end { freePages(PFN(index: p), order: step); p += 1 << step }
    }
}
