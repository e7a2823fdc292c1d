/// kmalloc: general-purpose kernel allocations served by the kmalloc size classes (8 … 8192 bytes,
/// with the odd classes 96 and 192), and larger ones straight from the page allocator.
/// Follows Linux 6.x include/linux/slab.h, mm/slab_common.c and mm/slub.c with SLUB and 4 KiB pages.

/// Smallest kmalloc class: 2^3 = 8 bytes (KMALLOC_SHIFT_LOW; KMALLOC_MIN_SIZE = 8 on x86-64).
public let KMALLOC_SHIFT_LOW = 3
/// Largest kmalloc class: 2^13 = 8192 bytes (KMALLOC_SHIFT_HIGH = PAGE_SHIFT + 1 under SLUB).
public let KMALLOC_SHIFT_HIGH = 13
/// Largest size served by a kmalloc cache (KMALLOC_MAX_CACHE_SIZE).
public let KMALLOC_MAX_CACHE_SIZE = 1 << KMALLOC_SHIFT_HIGH
/// SLAB's kmalloc classes: from 2^5 = 32 bytes (KMALLOC_MIN_SIZE 32) up to 2^22 = 4 MiB.
public let KMALLOC_SHIFT_LOW_SLAB = 5
public let KMALLOC_SHIFT_HIGH_SLAB = 22
/// Largest size kmalloc can serve at all: one MAX_PAGE_ORDER block (KMALLOC_MAX_SIZE).
public let KMALLOC_MAX_SIZE = Int(PAGE_SIZE) << MAX_PAGE_ORDER
/// What kmalloc(0) returns: a pointer that faults on access (ZERO_SIZE_PTR).
public let ZERO_SIZE_PTR: UInt64 = 16

/// Returns the index of the kmalloc cache serving `size` bytes: 0 for 0 bytes, 1 for 65…96,
/// 2 for 129…192, else the n of the smallest 2^n ≥ size (3 for 1…8); -1 above KMALLOC_MAX_CACHE_SIZE.
/// Linux: __kmalloc_index(), include/linux/slab.h
public func kmallocIndex(_ size: Int, kind: SlabAllocatorKind = .slub) -> Int {
    if size <= 0 { return 0 }
    if kind == .slab {
        if size > 1 << KMALLOC_SHIFT_HIGH_SLAB { return -1 }
        if size <= 32 { return KMALLOC_SHIFT_LOW_SLAB }
    }
    if kind == .slob { return -1 }
    if size > KMALLOC_MAX_CACHE_SIZE && kind == .slub { return -1 }
    if size <= 8 { return KMALLOC_SHIFT_LOW }
    if size > 64 && size <= 96 { return 1 }
    if size > 128 && size <= 192 { return 2 }
    return fls(size - 1)
}

/// Returns the object size of kmalloc cache `index` (96 and 192 for indices 1 and 2), 0 for index 0.
/// Linux: kmalloc_size(), mm/slab_common.c (kmalloc_info[].size)
public func kmallocSize(_ index: Int) -> Int {
    switch index {
    case 0: return 0
    case 1: return 96
    case 2: return 192
    default: return 1 << index
    }
}

/// Returns the name of kmalloc cache `index`: "kmalloc-96", "kmalloc-1k"…"kmalloc-8k".
/// Linux: kmalloc_info[] / INIT_KMALLOC_INFO(), mm/slab_common.c
public func kmallocName(_ index: Int) -> String {
    let size = kmallocSize(index)
    if size >= 1 << 20 { return "kmalloc-\(size >> 20)M" }
    return size >= 1024 ? "kmalloc-\(size >> 10)k" : "kmalloc-\(size)"
}

/// Where a kmalloc of some size lands.
public struct KmallocPlacement: Sendable, Equatable {
    /// The cache's name, or "page allocator (order N)" for large requests.
    public var where_: String
    /// Bytes actually reserved (the class size, or the pages).
    public var allocated: Int
    /// Bytes wasted: allocated − requested.
    public var waste: Int { allocated - requested }
    public var requested: Int
}

/// Returns where `size` bytes of kmalloc go and how much is reserved for them; nil above KMALLOC_MAX_SIZE.
/// Linux: kmalloc() → kmalloc_slab() / __kmalloc_large_node(), mm/slub.c
public func kmallocPlacement(_ size: Int, kind: SlabAllocatorKind = .slub) -> KmallocPlacement? {
    guard size >= 0, size <= KMALLOC_MAX_SIZE else { return nil }
    if size == 0 { return KmallocPlacement(where_: "ZERO_SIZE_PTR", allocated: 0, requested: 0) }
    if kind == .slob && size < Int(PAGE_SIZE) - 8 {
        // slob_alloc(size + minalign): rounded up to 2-byte units, 8 bytes of header.
        return KmallocPlacement(where_: "SLOB page (\(size < SLOB_BREAK1 ? "small" : size < SLOB_BREAK2 ? "medium" : "large") list)",
                                allocated: (size + 1) & ~1 + 8, requested: size)
    }
    let i = kmallocIndex(size, kind: kind)
    if i > 0 { return KmallocPlacement(where_: kmallocName(i), allocated: kmallocSize(i), requested: size) }
    let order = getOrder(size)
    return KmallocPlacement(where_: "page allocator (order \(order))", allocated: Int(PAGE_SIZE) << order, requested: size)
}

extension Kernel {
    /// Creates the kmalloc caches in the kernel's order: 8, 16, 32, 64, 96, 128, 192, 256 … 8k.
    /// Linux: create_kmalloc_caches() / new_kmalloc_cache(), mm/slab_common.c
    func createKmallocCaches() {
        func make(_ i: Int) {
            let size = kmallocSize(i)
            // create_kmalloc_cache(): power-of-two caches are aligned to their size.
            let align = size & (size - 1) == 0 ? size : ARCH_SLAB_MINALIGN
            if case .success(let c) = kmemCacheCreate(kmallocName(i), size: size, align: min(align, Int(PAGE_SIZE)), flags: [.kmalloc, .noMerge]) {
                kmem.kmallocCaches[i] = c
            }
        }
        if kmem.kind == .slob { return }   // SLOB has no kmalloc caches
        let (low, high) = kmem.kind == .slab ? (KMALLOC_SHIFT_LOW_SLAB, KMALLOC_SHIFT_HIGH_SLAB) : (KMALLOC_SHIFT_LOW, KMALLOC_SHIFT_HIGH)
        for i in low...high {
            make(i)
            if i == 6 { make(1) }
            if i == 7 { make(2) }
        }
    }

    /// Returns a kernel address for `size` bytes: ZERO_SIZE_PTR for 0, an object of the kmalloc
    /// cache kmalloc_index() picks up to 8 KiB, else a compound block of get_order(size) pages from
    /// the page allocator (counted as unreclaimable slab memory). Returns nil when memory cannot
    /// be had or `size` exceeds KMALLOC_MAX_SIZE.
    /// Linux: kmalloc() → __kmalloc_noprof() / __kmalloc_large_node(), mm/slub.c
    public func kmalloc(_ size: Int, gfp: GFP = .kernel) -> UInt64? {
        if size == 0 { return ZERO_SIZE_PTR }
        guard size > 0, size <= KMALLOC_MAX_SIZE else {
            narrate("kmalloc(\(size)): larger than KMALLOC_MAX_SIZE (\(KMALLOC_MAX_SIZE)): fails")
            return nil
        }
        if kmem.kind == .slob && size < Int(PAGE_SIZE) - 8 { return slobKmalloc(size, gfp: gfp) }
        let i = kmallocIndex(size, kind: kmem.kind)
        if i > 0, let c = kmem.kmallocCaches[i] {
            narrate("kmalloc(\(size)): kmalloc_index \(i) → \(c.name) (\(c.geometry.size - size) bytes of slack)")
            return kmemCacheAlloc(c, gfp: gfp)
        }
        let order = getOrder(size)
        narrate(kmem.kind == .slob ? "kmalloc(\(size)) under SLOB: a page or more: order-\(order) pages from the page allocator"
                : "kmalloc(\(size)): above KMALLOC_MAX_CACHE_SIZE (\(KMALLOC_MAX_CACHE_SIZE)): order-\(order) pages from the page allocator")
        guard let pfn = allocKernelPages(order: order, gfp: gfp.union(.comp)) else { return nil }
        kmem.largeKmalloc[pfn.index] = order
        kmem.largeKmallocPages += 1 << order
        kmem.unreclaimablePages += 1 << order
        syncSlabStat()
        return pageAddress(pfn)
    }

    /// Returns the usable size of the kmalloc'ed block at `addr` (the class size or the pages), or nil.
    /// Linux: ksize(), mm/slab_common.c
    public func ksize(_ addr: UInt64) -> Int? {
        guard let pfn = virtToPFN(addr) else { return nil }
        if let s = kmem.slabOfPFN[pfn.index] { return s.cache.geometry.objectSize }
        if kmem.kind == .slob, let n = kmem.slob.kmallocSizes[addr] { return n }
        if let o = kmem.largeKmalloc[pfn.index] { return Int(PAGE_SIZE) << o }
        return nil
    }

    /// Frees what kmalloc returned; NULL and ZERO_SIZE_PTR are ignored. Fails, freeing nothing, for
    /// an address that is neither a slab object nor the start of a large kmalloc block.
    /// Linux: kfree() → slab_free() / free_large_kmalloc(), mm/slub.c
    public func kfree(_ addr: UInt64) -> Result<Void, SlabError> {
        if addr <= ZERO_SIZE_PTR { return .success(()) }
        guard let pfn = virtToPFN(addr) else { return .failure(.notAnObject(addr)) }
        if let s = kmem.slabOfPFN[pfn.index] { return kmemCacheFree(s.cache, addr) }
        if kmem.kind == .slob && kmem.largeKmalloc[pfn.index] == nil { return slobKfree(addr) }
        guard addr & (PAGE_SIZE - 1) == 0, let order = kmem.largeKmalloc[pfn.index] else { return .failure(.notAnObject(addr)) }
        kmem.largeKmalloc[pfn.index] = nil
        kmem.largeKmallocPages -= 1 << order
        kmem.unreclaimablePages -= 1 << order
        syncSlabStat()
        narrate("kfree(0x\(String(addr, radix: 16))): a large kmalloc block: order-\(order) pages back to the buddy allocator")
        freeKernelPages(pfn, order: order)
        return .success(())
    }
}

extension GFP {
    /// The GFP names a scenario may combine with `|`: the composite masks (GFP_KERNEL, GFP_ATOMIC…)
    /// and the single flags (__GFP_ZERO, __GFP_DMA…), as include/linux/gfp_types.h spells them.
    public static let names: [(String, GFP)] = [
        ("GFP_KERNEL", .kernel), ("GFP_KERNEL_ACCOUNT", .kernelAccount), ("GFP_ATOMIC", .atomic), ("GFP_NOWAIT", .nowait),
        ("GFP_NOIO", .noio), ("GFP_NOFS", .nofs), ("GFP_USER", .user), ("GFP_DMA", .gfpDMA), ("GFP_DMA32", .gfpDMA32),
        ("GFP_HIGHUSER", .highuser), ("GFP_HIGHUSER_MOVABLE", .highuserMovable),
        ("__GFP_DMA", .dma), ("__GFP_DMA32", .dma32), ("__GFP_HIGHMEM", .highmem), ("__GFP_MOVABLE", .movable),
        ("__GFP_RECLAIMABLE", .reclaimable), ("__GFP_HIGH", .high), ("__GFP_IO", .io), ("__GFP_FS", .fs),
        ("__GFP_ZERO", .zero), ("__GFP_DIRECT_RECLAIM", .directReclaim), ("__GFP_KSWAPD_RECLAIM", .kswapdReclaim),
        ("__GFP_RECLAIM", .reclaim), ("__GFP_NOWARN", .nowarn), ("__GFP_RETRY_MAYFAIL", .retryMayfail),
        ("__GFP_NOFAIL", .nofail), ("__GFP_NORETRY", .noretry), ("__GFP_MEMALLOC", .memalloc), ("__GFP_COMP", .comp),
        ("__GFP_NOMEMALLOC", .nomemalloc), ("__GFP_HARDWALL", .hardwall), ("__GFP_ACCOUNT", .account),
    ]

    /// Returns the mask a `|`-joined list of GFP names stands for, or the first unknown name.
    public static func parse(_ text: String) -> (mask: GFP?, unknown: String?) {
        var g = GFP()
        for part in text.split(separator: "|", omittingEmptySubsequences: false) {
            guard let (_, v) = names.first(where: { $0.0 == String(part) }) else { return (nil, String(part)) }
            g.formUnion(v)
        }
        return (g, nil)
    }
}
