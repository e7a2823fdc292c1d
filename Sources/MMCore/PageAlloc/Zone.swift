/// Zones and their buddy free areas.

/// Largest buddy order + 1 (NR_PAGE_ORDERS; orders 0...10).
public let NR_PAGE_ORDERS = 11
/// Largest buddy order (MAX_PAGE_ORDER): 4 MiB blocks.
public let MAX_PAGE_ORDER = 10
/// Order of a pageblock, the unit that carries a migrate type (pageblock_order = HPAGE_PMD_ORDER on x86-64).
public let PAGEBLOCK_ORDER = 9
/// Frames per pageblock (pageblock_nr_pages).
public let PAGEBLOCK_NR_PAGES = 1 << 9
/// Number of free lists per order: one per migrate type (MIGRATE_TYPES; no CMA).
public let MIGRATE_TYPES = 5
/// Migrate types that fall back to each other (MIGRATE_PCPTYPES: Unmovable, Movable, Reclaimable).
public let MIGRATE_PCPTYPES = 3

/// One zone of the (single) node: a PFN range with its own buddy allocator and watermarks.
///
/// The free lists are doubly linked lists threaded through `MemMap.buddyNext/buddyPrev`; the zone
/// holds only their heads, tails and counters (`free_area[order].free_list[migratetype]`, `nr_free`).
/// Linux: struct zone, include/linux/mmzone.h
public final class Zone {
    public let type: ZoneType
    /// First PFN and number of PFNs spanned.
    public let startPFN: PFN
    public let spannedPages: Int
    /// Pages of RAM present, and managed by the buddy allocator (present minus reserved).
    public var presentPages: Int
    public var managedPages: Int
    /// Free pages in this zone (NR_FREE_PAGES).
    public var freePages: Int
    /// Watermarks in pages: WMARK_MIN, WMARK_LOW, WMARK_HIGH.
    public var watermarkMin = 0, watermarkLow = 0, watermarkHigh = 0
    /// lowmem_reserve[] in pages, indexed by the `ZoneType.rawValue` of an allocation's highest
    /// allowed zone (DMA, DMA32, Normal, and HighMem on x86-32; ZONE_MOVABLE is not modeled and always empty).
    public var lowmemReserve: [Int] = []

    /// Head and tail PFN of each free list (buffers this zone owns), index `order * MIGRATE_TYPES + migratetype`; -1 when empty.
    @usableFromInline let freeHead: FixedArray<Int32>
    @usableFromInline let freeTail: FixedArray<Int32>
    /// Blocks on each free list.
    @usableFromInline let nrFreeList: FixedArray<Int>
    /// Blocks of each order over all migrate types (`free_area[order].nr_free`).
    @usableFromInline let nrFreeOrder: FixedArray<Int>

    /// `nrZoneTypes` is the length of `lowmemReserve` (MAX_NR_ZONES up to the highest zone the
    /// layout has: Normal on x86-64, HighMem on x86-32).
    public init(type: ZoneType, startPFN: PFN, spannedPages: Int, nrZoneTypes: Int = ZoneType.normal.rawValue + 1) {
        self.type = type; self.startPFN = startPFN; self.spannedPages = spannedPages
        presentPages = spannedPages; managedPages = spannedPages; freePages = 0
        freeHead = FixedArray(repeating: -1, count: NR_PAGE_ORDERS * MIGRATE_TYPES)
        freeTail = FixedArray(repeating: -1, count: NR_PAGE_ORDERS * MIGRATE_TYPES)
        nrFreeList = FixedArray(repeating: 0, count: NR_PAGE_ORDERS * MIGRATE_TYPES)
        nrFreeOrder = FixedArray(repeating: 0, count: NR_PAGE_ORDERS)
        lowmemReserve = [Int](repeating: 0, count: nrZoneTypes)
    }
    deinit { freeHead.deallocate(); freeTail.deallocate(); nrFreeList.deallocate(); nrFreeOrder.deallocate() }

    /// The name /proc/buddyinfo prints ("DMA", "DMA32", "Normal", "HighMem").
    public var name: String { type.name }
    /// One past the last PFN spanned.
    public var endPFN: PFN { startPFN.advanced(by: spannedPages) }
    /// Whether the zone spans `pfn`. Linux: zone_spans_pfn(), include/linux/mmzone.h
    @inlinable public func spans(_ pfn: PFN) -> Bool { spansIndex(pfn.index) }
    @inlinable func spansIndex(_ i: Int) -> Bool { i >= startPFN.index && i < startPFN.index &+ spannedPages }

    /// Number of free blocks of exactly this order (a column of /proc/buddyinfo); 0 for an order out of range.
    public func nrFree(order: Int) -> Int {
        guard order >= 0 && order < NR_PAGE_ORDERS else { return 0 }
        return nrFreeOrder[order]
    }
    /// Number of free blocks of this order and migrate type (/proc/pagetypeinfo); 0 for an order out of range.
    public func nrFree(order: Int, migrateType: MigrateType) -> Int {
        guard order >= 0 && order < NR_PAGE_ORDERS else { return 0 }
        return nrFreeList[order &* MIGRATE_TYPES &+ migrateType.rawValue]
    }
    /// The watermark `mark` in pages.
    public func watermark(_ mark: WatermarkLevel) -> Int {
        switch mark {
        case .min: return watermarkMin
        case .low: return watermarkLow
        case .high: return watermarkHigh
        }
    }
    /// The largest lowmem_reserve entry (what totalreserve_pages adds for this zone).
    public var maxLowmemReserve: Int {
        var m = 0
        for r in lowmemReserve where r > m { m = r }
        return m
    }
}

/// The three zone watermarks (`enum zone_watermarks` without WMARK_PROMO).
public enum WatermarkLevel: Int, Sendable, CaseIterable {
    case min = 0, low = 1, high = 2
}
