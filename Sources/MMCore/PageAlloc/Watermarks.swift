/// Zone watermarks, lowmem reserves and the watermark check of the allocator.

/// Allocation flags of the page allocator (ALLOC_* in mm/internal.h); the low two bits select the
/// watermark (ALLOC_WMARK_MIN = 0, LOW = 1, HIGH = 2).
public struct AllocFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// ALLOC_WMARK_MIN (no bit set: check against the min watermark).
    public static let wmarkMin = AllocFlags([])
    /// ALLOC_WMARK_LOW.
    public static let wmarkLow = AllocFlags(rawValue: 0x01)
    /// ALLOC_WMARK_HIGH.
    public static let wmarkHigh = AllocFlags(rawValue: 0x02)
    /// ALLOC_WMARK_MASK.
    public static let wmarkMask = AllocFlags(rawValue: 0x03)
    /// ALLOC_NO_WATERMARKS: ignore watermarks entirely (__GFP_MEMALLOC).
    public static let noWatermarks = AllocFlags(rawValue: 0x04)
    /// ALLOC_OOM: an OOM victim may dip further into the reserves.
    public static let oom = AllocFlags(rawValue: 0x08)
    /// ALLOC_NON_BLOCK: the caller cannot reclaim (no __GFP_DIRECT_RECLAIM).
    public static let nonBlock = AllocFlags(rawValue: 0x10)
    /// ALLOC_MIN_RESERVE (formerly ALLOC_HIGH): __GFP_HIGH may use half of the min reserve.
    public static let minReserve = AllocFlags(rawValue: 0x20)
    /// ALLOC_NOFRAGMENT: do not mix migrate types within a pageblock; try the lower zones first.
    public static let noFragment = AllocFlags(rawValue: 0x100)
    /// ALLOC_HIGHATOMIC: may use the MIGRATE_HIGHATOMIC free lists.
    public static let highatomic = AllocFlags(rawValue: 0x200)
    /// ALLOC_KSWAPD: the caller allows kswapd to be woken (__GFP_KSWAPD_RECLAIM).
    public static let kswapd = AllocFlags(rawValue: 0x800)
    /// ALLOC_RESERVES: any flag that grants access to the reserves below the min watermark.
    public static let reserves: AllocFlags = [.nonBlock, .minReserve, .highatomic, .oom]
    /// Flags that may use the HighAtomic free lists (ALLOC_HIGHATOMIC | ALLOC_OOM).
    public static let highatomicOrOOM: AllocFlags = [.highatomic, .oom]
    /// Flags that may fall back to the HighAtomic lists when all else fails (ALLOC_OOM | ALLOC_NON_BLOCK).
    public static let oomOrNonBlock: AllocFlags = [.oom, .nonBlock]

    /// The watermark these flags check against.
    public var watermark: WatermarkLevel {
        switch rawValue & 0x03 {
        case 1: return .low
        case 2: return .high
        default: return .min
        }
    }
}

/// Floor of the square root of `x`.
/// Linux: int_sqrt(), lib/math/int_sqrt.c
public func intSqrt(_ x: UInt64) -> UInt64 {
    if x < 2 { return x }
    // Bit-by-bit method: exact for every 64-bit input.
    var op = x, res: UInt64 = 0
    var one: UInt64 = 1 << 62
    while one > op { one >>= 2 }
    while one != 0 {
        if op >= res + one {
            op -= res + one
            res = (res >> 1) + one
        } else {
            res >>= 1
        }
        one >>= 2
    }
    return res
}

/// (x / d) * n + ((x % d) * n) / d without overflowing the intermediate product.
/// Linux: mult_frac(), include/linux/math.h
@inlinable func multFrac(_ x: Int, _ n: Int, _ d: Int) -> Int {
    (x / d) * n + ((x % d) * n) / d
}

extension PhysicalMemory {
    /// Returns the boot-time default of vm.min_free_kbytes: int_sqrt(lowmem_kbytes * 16) clamped
    /// to [128, 262144], where lowmem_kbytes counts the managed pages above each zone's high watermark.
    /// Linux: calculate_min_free_kbytes() / nr_free_buffer_pages(), mm/page_alloc.c
    public func calculateMinFreeKbytes() -> Int {
        // nr_free_buffer_pages() = nr_free_zone_pages(gfp_zone(GFP_USER)): every zone up to Normal.
        var pages = 0
        for z in zones where z.type.rawValue <= ZoneType.normal.rawValue {
            if z.managedPages > z.watermarkHigh { pages += z.managedPages - z.watermarkHigh }
        }
        let lowmemKbytes = UInt64(pages) * (PAGE_SIZE >> 10)
        let v = Int(intSqrt(lowmemKbytes * 16))
        return Swift.min(Swift.max(v, 128), 262144)
    }

    /// Sets each zone's min/low/high watermark from vm.min_free_kbytes and vm.watermark_scale_factor:
    /// min is the zone's share of min_free_kbytes in proportion to its managed pages, and
    /// low = min + gap, high = low + gap with gap = max(min/4, managed * scale / 10000). Also
    /// recomputes the lowmem reserves. Never fails.
    /// Linux: __setup_per_zone_wmarks(), mm/page_alloc.c
    public func setupPerZoneWmarks() {
        let pagesMin = minFreeKbytes >> (Int(PAGE_SHIFT) - 10)
        var lowmemPages = 0
        for z in zones where z.type != .highmem { lowmemPages += z.managedPages }
        for z in zones {
            var tmp = lowmemPages > 0 ? pagesMin * z.managedPages / lowmemPages : 0
            if z.type == .highmem {
                // HighMem is not needed by __GFP_HIGH/PF_MEMALLOC callers: a small fixed min,
                // managed/1024 clamped to SWAP_CLUSTER_MAX...128 pages.
                z.watermarkMin = Swift.min(Swift.max(z.managedPages / 1024, 32), 128)
            } else {
                z.watermarkMin = tmp
            }
            tmp = Swift.max(tmp >> 2, multFrac(z.managedPages, watermarkScaleFactor, 10000))
            z.watermarkLow = z.watermarkMin + tmp
            z.watermarkHigh = z.watermarkLow + tmp
        }
        setupPerZoneLowmemReserve()
    }

    /// Sets lowmem_reserve[j] of each zone i < j to (managed pages of zones i+1...j) / ratio[i], or 0
    /// when the ratio is 0 or zone i manages no pages. Unpopulated zones count as 0 pages.
    /// Linux: setup_per_zone_lowmem_reserve(), mm/page_alloc.c
    public func setupPerZoneLowmemReserve() {
        let nz = zones.first?.lowmemReserve.count ?? ZoneType.normal.rawValue + 1
        var managed = [Int](repeating: 0, count: nz)
        for z in zones { managed[z.type.rawValue] = z.managedPages }
        for z in zones {
            let i = z.type.rawValue
            let ratio = i < lowmemReserveRatio.count ? lowmemReserveRatio[i] : 0
            let clear = ratio <= 0 || z.managedPages == 0
            var upper = 0
            var reserve = [Int](repeating: 0, count: nz)
            if i + 1 < nz {
                for j in (i + 1)..<nz {
                    upper += managed[j]
                    reserve[j] = clear ? 0 : upper / ratio
                }
            }
            z.lowmemReserve = reserve
        }
    }

    /// Returns true when `zone` can serve an order-`order` allocation without its free pages
    /// (less the 2^order − 1 pages the request makes unusable) dropping to `mark` plus the lowmem
    /// reserve against `highestZone`; __GFP_HIGH (ALLOC_MIN_RESERVE) halves the mark, a non-blocking
    /// such caller takes another quarter off, an OOM victim halves it again. For order > 0 a free
    /// block of at least that order must also exist on a usable list. Returns false otherwise.
    /// Linux: __zone_watermark_ok(), mm/page_alloc.c
    public func zoneWatermarkOK(_ zone: Zone, order: Int, mark: Int, highestZone: ZoneType, allocFlags: AllocFlags) -> Bool {
        // __zone_watermark_unusable_free(): no highatomic reserve and no CMA are modeled.
        let freePages = zone.freePages - ((1 << order) - 1)
        var min = mark
        if !allocFlags.isDisjoint(with: .reserves) {
            if allocFlags.contains(.minReserve) {
                min -= min / 2
                if allocFlags.contains(.nonBlock) { min -= min / 4 }
            }
            if allocFlags.contains(.oom) { min -= min / 2 }
        }
        let hz = highestZone.rawValue < zone.lowmemReserve.count ? highestZone.rawValue : zone.lowmemReserve.count - 1
        let reserve = hz >= 0 ? zone.lowmemReserve[hz] : 0
        if freePages <= min + reserve { return false }
        if order == 0 { return true }
        var o = order
        while o < NR_PAGE_ORDERS {
            if zone.nrFreeOrder[o] != 0 {
                for mt in 0..<MIGRATE_PCPTYPES where zone.freeHead[o &* MIGRATE_TYPES &+ mt] >= 0 { return true }
                if !allocFlags.isDisjoint(with: .highatomicOrOOM),
                   zone.freeHead[o &* MIGRATE_TYPES &+ MigrateType.highatomic.rawValue] >= 0 { return true }
            }
            o += 1
        }
        return false
    }

    /// Returns whether `zone` is above `level` for an order-`order` request with no special flags
    /// (what kswapd checks with the high watermark). Linux: zone_watermark_ok(), mm/page_alloc.c
    public func zoneWatermarkOK(_ zone: Zone, order: Int, level: WatermarkLevel, highestZone: ZoneType) -> Bool {
        zoneWatermarkOK(zone, order: order, mark: zone.watermark(level), highestZone: highestZone, allocFlags: [])
    }

    /// Sets vm.min_free_kbytes (clamped to 0...Int32.max) and recomputes watermarks and lowmem reserves.
    /// Linux: min_free_kbytes_sysctl_handler(), mm/page_alloc.c
    public func setMinFreeKbytes(_ kbytes: Int) {
        minFreeKbytes = Swift.min(Swift.max(kbytes, 0), Int(Int32.max))
        setupPerZoneWmarks()
    }

    /// Sets vm.watermark_scale_factor (clamped to the sysctl's range 1...3000) and recomputes watermarks.
    /// Linux: watermark_scale_factor_sysctl_handler(), mm/page_alloc.c
    public func setWatermarkScaleFactor(_ factor: Int) {
        watermarkScaleFactor = Swift.min(Swift.max(factor, 1), 3000)
        setupPerZoneWmarks()
    }
}
