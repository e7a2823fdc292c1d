/// GFP ("get free pages") flags, with Linux's composite masks.
public struct GFP: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    // Zone modifiers.
    public static let dma = GFP(rawValue: 0x01)
    public static let highmem = GFP(rawValue: 0x02)
    public static let dma32 = GFP(rawValue: 0x04)
    public static let movable = GFP(rawValue: 0x08)
    // Page mobility and placement.
    public static let reclaimable = GFP(rawValue: 0x10)
    public static let high = GFP(rawValue: 0x20)
    public static let io = GFP(rawValue: 0x40)
    public static let fs = GFP(rawValue: 0x80)
    public static let zero = GFP(rawValue: 0x100)
    public static let directReclaim = GFP(rawValue: 0x400)
    public static let kswapdReclaim = GFP(rawValue: 0x800)
    public static let write = GFP(rawValue: 0x1000)
    public static let nowarn = GFP(rawValue: 0x2000)
    public static let retryMayfail = GFP(rawValue: 0x4000)
    public static let nofail = GFP(rawValue: 0x8000)
    public static let noretry = GFP(rawValue: 0x10000)
    public static let memalloc = GFP(rawValue: 0x20000)
    public static let comp = GFP(rawValue: 0x40000)
    public static let nomemalloc = GFP(rawValue: 0x80000)
    public static let hardwall = GFP(rawValue: 0x100000)
    public static let account = GFP(rawValue: 0x400000)

    public static let reclaim: GFP = [.directReclaim, .kswapdReclaim]
    /// GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM.
    public static let atomic: GFP = [.high, .kswapdReclaim]
    /// GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN.
    public static let nowait: GFP = [.kswapdReclaim, .nowarn]
    /// GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS.
    public static let kernel: GFP = [.reclaim, .io, .fs]
    /// GFP_KERNEL_ACCOUNT.
    public static let kernelAccount: GFP = [.reclaim, .io, .fs, .account]
    /// GFP_NOIO.
    public static let noio: GFP = [.reclaim]
    /// GFP_NOFS.
    public static let nofs: GFP = [.reclaim, .io]
    /// GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL.
    public static let user: GFP = [.reclaim, .io, .fs, .hardwall]
    /// GFP_DMA / GFP_DMA32.
    public static let gfpDMA: GFP = [.dma]
    public static let gfpDMA32: GFP = [.dma32]
    /// GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM.
    public static let highuser: GFP = [.reclaim, .io, .fs, .hardwall, .highmem]
    /// GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE (user pages).
    public static let highuserMovable: GFP = [.reclaim, .io, .fs, .hardwall, .highmem, .movable]
}

/// Migrate types of the buddy allocator (`enum migratetype`).
public enum MigrateType: Int, Sendable, CaseIterable {
    case unmovable = 0, movable = 1, reclaimable = 2, highatomic = 3, isolate = 4

    /// The name /proc/pagetypeinfo prints.
    public var name: String {
        switch self {
        case .unmovable: return "Unmovable"
        case .movable: return "Movable"
        case .reclaimable: return "Reclaimable"
        case .highatomic: return "HighAtomic"
        case .isolate: return "Isolate"
        }
    }

    /// The migrate type an allocation with these flags asks for (`gfp_migratetype()`).
    public init(gfp: GFP) {
        if gfp.contains(.movable) { self = .movable } else if gfp.contains(.reclaimable) { self = .reclaimable } else { self = .unmovable }
    }
}

/// Zones of a node (`enum zone_type`).
public enum ZoneType: Int, Sendable, CaseIterable {
    case dma = 0, dma32 = 1, normal = 2, highmem = 3, movable = 4
    /// The name /proc/buddyinfo and /proc/zoneinfo print.
    public var name: String {
        switch self {
        case .dma: return "DMA"
        case .dma32: return "DMA32"
        case .normal: return "Normal"
        case .highmem: return "HighMem"
        case .movable: return "Movable"
        }
    }
    /// The highest zone an allocation with these flags may use (`gfp_zone()`): __GFP_HIGHMEM
    /// allows ZONE_HIGHMEM, which only a 32-bit machine populates (on x86-64 the walk then starts
    /// at Normal, the highest populated zone, as CONFIG_HIGHMEM=n maps __GFP_HIGHMEM to it).
    /// Linux: gfp_zone(), include/linux/gfp.h
    public init(gfp: GFP) {
        if gfp.contains(.dma) { self = .dma } else if gfp.contains(.dma32) { self = .dma32 }
        else if gfp.contains(.highmem) { self = .highmem } else { self = .normal }
    }
}
