/// A machine's physical memory: `mem_map`, zones, the buddy allocator and frame contents.
///
/// PLACEHOLDER ALLOCATOR: the body below is a simple free list so the rest of the kernel can run;
/// the PageAlloc work replaces it with per-zone buddy allocators, keeping this public API.

/// Sizes and tunables of physical memory.
public struct PhysicalMemoryConfig: Sendable, Equatable {
    /// RAM installed, in bytes (rounded down to whole pages).
    public var ramBytes: UInt64
    /// `vm.min_free_kbytes`; nil means "computed at boot as Linux does".
    public var minFreeKbytes: Int?
    /// `vm.watermark_scale_factor` (in 1/10000 of a zone).
    public var watermarkScaleFactor: Int
    public init(ramBytes: UInt64, minFreeKbytes: Int? = nil, watermarkScaleFactor: Int = 10) {
        self.ramBytes = ramBytes
        self.minFreeKbytes = minFreeKbytes
        self.watermarkScaleFactor = watermarkScaleFactor
    }
}

/// Why physical memory could not be set up.
public enum PhysicalMemoryError: Error, Equatable, CustomStringConvertible {
    case tooSmall(UInt64)
    case tooLarge(UInt64)
    public var description: String {
        switch self {
        case .tooSmall(let b): return "RAM size \(b) bytes is too small (at least 64 MiB)"
        case .tooLarge(let b): return "RAM size \(b) bytes is too large (at most 1 TiB)"
        }
    }
}

/// Per-frame metadata in flat arrays indexed by PFN (Linux's `struct page` array, `mem_map`).
public struct MemMap {
    /// `page->_refcount`.
    public var refcount: [Int32]
    /// Number of page-table entries that map the frame (`page_mapcount()`; Linux stores it minus one).
    public var mapcount: [Int32]
    /// `page->flags`.
    public var flags: [PageFlags]
    /// Buddy order when the frame heads a free block (`page->private` under PageBuddy), else 0.
    public var order: [UInt8]
    public init(frames: Int) {
        refcount = [Int32](repeating: 0, count: frames)
        mapcount = [Int32](repeating: 0, count: frames)
        flags = [PageFlags](repeating: [], count: frames)
        order = [UInt8](repeating: 0, count: frames)
    }
}

/// One zone of the (single) node: a PFN range with its own buddy allocator and watermarks.
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
    /// lowmem_reserve[] against allocations that could use each higher zone, in pages.
    public var lowmemReserve: [Int] = []
    public init(type: ZoneType, startPFN: PFN, spannedPages: Int) {
        self.type = type; self.startPFN = startPFN; self.spannedPages = spannedPages
        presentPages = spannedPages; managedPages = spannedPages; freePages = 0
    }
    /// The name /proc/buddyinfo prints ("DMA", "DMA32", "Normal").
    public var name: String { type.name }
    /// Number of free blocks of exactly this order (a column of /proc/buddyinfo).
    public func nrFree(order: Int) -> Int { 0 }
    /// Number of free blocks of this order and migrate type (/proc/pagetypeinfo).
    public func nrFree(order: Int, migrateType: MigrateType) -> Int { 0 }
}

/// Largest buddy order + 1 (NR_PAGE_ORDERS; orders 0...10).
public let NR_PAGE_ORDERS = 11

public final class PhysicalMemory {
    /// The populated zones of node 0, lowest first (DMA, DMA32, Normal).
    public var zones: [Zone] = []
    /// The effective vm.min_free_kbytes.
    public var minFreeKbytes: Int = 0
    /// Pages reserved at boot (kernel image, mem_map, firmware areas): never in the allocator.
    public var reservedPages: Int { frameCount - totalManagedPages }
    /// Sum over zones of the low watermark (used by si_mem_available()).
    public var totalLowWatermarkPages: Int { zones.reduce(0) { $0 + $1.watermarkLow } }
    /// totalreserve_pages: sum over zones of (largest lowmem_reserve + high watermark).
    public var totalReservePages: Int { zones.reduce(0) { $0 + ($1.lowmemReserve.max() ?? 0) + $1.watermarkHigh } }
    /// The zone that holds `pfn`, or nil for a PFN outside every zone.
    public func zone(of pfn: PFN) -> Zone? { zones.first { pfn >= $0.startPFN && pfn.index < $0.startPFN.index + $0.spannedPages } }
    /// Returns every broken invariant of mem_map and the free lists (empty when consistent).
    public func invariantViolations() -> [String] { [] }

    public let config: PhysicalMemoryConfig
    /// Number of page frames (the PFN range is 0..<frameCount).
    public let frameCount: Int
    public var memMap: MemMap
    public var contents: FrameContents

    // Placeholder free list.
    var freeList: [PFN] = []

    /// Boots physical memory: sets up mem_map, reserves the kernel's pages and frees the rest into
    /// the allocator. Throws when the size is out of the supported range.
    public init(config: PhysicalMemoryConfig) throws {
        guard config.ramBytes >= 64 << 20 else { throw PhysicalMemoryError.tooSmall(config.ramBytes) }
        guard config.ramBytes <= 1 << 40 else { throw PhysicalMemoryError.tooLarge(config.ramBytes) }
        self.config = config
        frameCount = Int(config.ramBytes >> PAGE_SHIFT)
        memMap = MemMap(frames: frameCount)
        contents = FrameContents(frames: frameCount)
        let reserved = 4096
        for i in 0..<reserved { memMap.flags[i].insert(.reserved); memMap.refcount[i] = 1 }
        freeList = (reserved..<frameCount).reversed().map { PFN(index: $0) }
    }

    /// Pages managed by the allocator (MemTotal): all RAM minus what the kernel reserved at boot.
    public var totalManagedPages: Int { frameCount - 4096 }
    /// Pages on the free lists now (MemFree).
    public var freePageCount: Int { freeList.count }

    /// Allocates 2^order contiguous frames with refcount 1 on the head, or nil when no zone allowed
    /// by `gfp` has a free block above its watermark. Does not reclaim.
    /// Linux: __alloc_pages() fast path / get_page_from_freelist(), mm/page_alloc.c
    public func allocPages(order: Int, gfp: GFP) -> PFN? {
        precondition(order == 0, "placeholder allocator handles order 0 only")
        guard let p = freeList.popLast() else { return nil }
        memMap.refcount[p.index] = 1
        if gfp.contains(.zero) { contents.clear(p) }
        return p
    }

    /// Returns a block of 2^order frames to the allocator, merging buddies.
    /// Linux: __free_pages() / __free_one_page(), mm/page_alloc.c
    public func freePages(_ pfn: PFN, order: Int) {
        memMap.refcount[pfn.index] = 0
        memMap.flags[pfn.index] = []
        memMap.mapcount[pfn.index] = 0
        freeList.append(pfn)
    }

    /// Takes a reference on a frame. Linux: get_page(), include/linux/mm.h
    public func getPage(_ pfn: PFN) { memMap.refcount[pfn.index] += 1 }

    /// Drops a reference; frees the frame when the last one goes. Returns true if freed.
    /// Linux: put_page(), include/linux/mm.h
    @discardableResult
    public func putPage(_ pfn: PFN) -> Bool {
        memMap.refcount[pfn.index] -= 1
        if memMap.refcount[pfn.index] == 0 { freePages(pfn, order: 0); return true }
        return false
    }
}
