/// SLUB: object caches (`kmem_cache`) carved out of slabs, a slab being one compound block of
/// 2^order pages from the buddy allocator. Follows Linux 6.x mm/slub.c without debugging options.
///
/// What is modelled: the object layout (`calculate_sizes`: free pointer in the middle of the
/// object, or after it for caches with a constructor or SLAB_TYPESAFE_BY_RCU; alignment from
/// `calculate_alignment`), the slab order (`calculate_order`/`calc_slab_order` with
/// min_objects = 4 * (fls(nr_cpus) + 1), waste fractions 1/16, 1/8, 1/4, slub_max_order 3 and the
/// fallback to the minimum order), one active slab per CPU, the node's partial list with
/// `min_partial`, empty slabs discarded once the node keeps enough partial slabs, and the
/// NR_SLAB_RECLAIMABLE/UNRECLAIMABLE page counters behind meminfo.
///
/// Not modelled: per-CPU partial lists (the kernel is as if built without CONFIG_SLUB_CPU_PARTIAL),
/// cache merging (every cache is shown under its own name, as with slab_nomerge), freelist
/// randomisation and hardening, debug red zones, memcg (kmalloc-cg-*) and DMA kmalloc caches,
/// RCU-delayed frees, several NUMA nodes.

/// Which slab allocator the kernel was built with (CONFIG_SLUB, CONFIG_SLAB before 6.8, CONFIG_SLOB before 6.4).
public enum SlabAllocatorKind: String, Sendable, Equatable, CaseIterable {
    case slub, slab, slob
}

/// The slab flags a cache is created with (SLAB_* in include/linux/slab.h).
public struct SlabFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// SLAB_HWCACHE_ALIGN: align objects on a cache line (or a fraction of one for small objects).
    public static let hwcacheAlign = SlabFlags(rawValue: 1 << 0)
    /// SLAB_RECLAIM_ACCOUNT: the objects can be reclaimed (dentries, inodes): counted as SReclaimable.
    public static let reclaimAccount = SlabFlags(rawValue: 1 << 1)
    /// SLAB_TYPESAFE_BY_RCU: slabs are freed after an RCU grace period; the free pointer lies outside the object.
    public static let typesafeByRCU = SlabFlags(rawValue: 1 << 2)
    /// SLAB_ACCOUNT: charged to the allocating task's memory cgroup.
    public static let account = SlabFlags(rawValue: 1 << 3)
    /// SLAB_PANIC: creation failure panics (boot caches).
    public static let panic = SlabFlags(rawValue: 1 << 4)
    /// SLAB_KMALLOC: one of the kmalloc caches.
    public static let kmalloc = SlabFlags(rawValue: 1 << 5)
    /// SLAB_NO_MERGE.
    public static let noMerge = SlabFlags(rawValue: 1 << 6)
}

/// Size of a cache line on x86-64 (cache_line_size()).
public let CACHE_LINE_SIZE = 64
/// ARCH_SLAB_MINALIGN on x86-64: __alignof__(unsigned long long).
public let ARCH_SLAB_MINALIGN = 8
/// Largest order SLUB chooses on its own (slub_max_order = PAGE_ALLOC_COSTLY_ORDER).
public let SLUB_MAX_ORDER = 3
/// Most objects a slab may hold (MAX_OBJS_PER_PAGE: the 15-bit objects field of struct slab).
public let MAX_OBJS_PER_PAGE = 32767
/// Bounds of a cache's min_partial (MIN_PARTIAL, MAX_PARTIAL).
public let MIN_PARTIAL = 5, MAX_PARTIAL = 10
/// sizeof(void *).
let POINTER_SIZE = 8

/// Returns the position of the most significant set bit, 1-based; 0 for 0. Linux: fls(), include/asm-generic/bitops/fls.h
@inlinable public func fls(_ x: Int) -> Int { x <= 0 ? 0 : Int.bitWidth - x.leadingZeroBitCount }

/// Returns the smallest order whose 2^order pages hold `size` bytes (0 for sizes up to a page).
/// Sizes beyond the 64-bit range cannot reach it (the callers bound them). Linux: get_order(), include/asm-generic/getorder.h
@inlinable public func getOrder(_ size: Int) -> Int {
    if size <= Int(PAGE_SIZE) { return 0 }
    return fls((size - 1) >> Int(PAGE_SHIFT))
}

/// Rounds `x` up to a multiple of the power of two `a`. Linux: ALIGN(), include/linux/align.h
@inlinable func alignUp(_ x: Int, _ a: Int) -> Int { (x + a - 1) & ~(a - 1) }

/// The layout SLUB computes for a cache: object size with padding, alignment, free-pointer
/// offset, slab order and objects per slab.
public struct SlubGeometry: Sendable, Equatable {
    /// The size asked for (s->object_size).
    public var objectSize: Int
    /// Bytes each object occupies in the slab (s->size; slabinfo's <objsize>).
    public var size: Int
    /// Alignment of every object (s->align).
    public var align: Int
    /// Offset of the free pointer within the object (s->offset).
    public var offset: Int
    /// Order of a slab (oo_order(s->oo)) and the objects it holds (oo_objects(s->oo)).
    public var order: Int
    public var objects: Int
    /// The fallback when a slab of `order` cannot be had: get_order(size) (s->min).
    public var minOrder: Int
    public var minOrderObjects: Int
    /// Partial slabs a node keeps before it frees empty ones (s->min_partial).
    public var minPartial: Int
    /// SLAB only: the per-CPU array cache's limit and batch count, the shared array's factor
    /// (slabinfo's tunables; 0 under SLUB).
    public var limit = 0, batchcount = 0, shared = 0

    /// Pages per slab (slabinfo's <pagesperslab>).
    public var pagesPerSlab: Int { 1 << order }

    /// Returns the geometry SLUB gives a cache of `objectSize` bytes with alignment `align` and
    /// `flags` on a machine with `nrCPUs` CPUs, or nil when no slab up to MAX_PAGE_ORDER holds one
    /// object (the cache cannot be created).
    /// Linux: calculate_alignment(), mm/slab_common.c; calculate_sizes(), set_min_partial(), mm/slub.c
    public static func calculate(objectSize: Int, align: Int, flags: SlabFlags, hasCtor: Bool, nrCPUs: Int) -> SlubGeometry? {
        guard objectSize > 0, objectSize <= Int(PAGE_SIZE) << MAX_PAGE_ORDER, align >= 0, align <= Int(PAGE_SIZE) else { return nil }
        // calculate_alignment()
        var a = align
        if flags.contains(.hwcacheAlign) {
            var ralign = CACHE_LINE_SIZE
            while objectSize <= ralign / 2 { ralign /= 2 }
            a = max(a, ralign)
        }
        a = max(a, ARCH_SLAB_MINALIGN)
        a = alignUp(a, POINTER_SIZE)
        // calculate_sizes()
        var size = alignUp(objectSize, POINTER_SIZE)
        let offset: Int
        if flags.contains(.typesafeByRCU) || hasCtor {
            offset = size
            size += POINTER_SIZE
        } else {
            offset = (objectSize / 2) & ~(POINTER_SIZE - 1)
        }
        size = alignUp(size, a)
        guard let order = calculateOrder(size: size, nrCPUs: nrCPUs) else { return nil }
        let minOrder = getOrder(size)
        // set_min_partial(s, ilog2(s->size) / 2)
        let minPartial = min(MAX_PARTIAL, max(MIN_PARTIAL, (fls(size) - 1) / 2))
        return SlubGeometry(objectSize: objectSize, size: size, align: a, offset: offset, order: order,
                            objects: orderObjects(order, size), minOrder: minOrder,
                            minOrderObjects: orderObjects(minOrder, size), minPartial: minPartial)
    }

    /// Objects of `size` bytes that fit in a slab of 2^order pages. Linux: order_objects(), mm/slub.c
    @inlinable public static func orderObjects(_ order: Int, _ size: Int) -> Int { (Int(PAGE_SIZE) << order) / size }

    /// Returns the lowest order from `minOrder` to `maxOrder` whose slab wastes at most
    /// 1/`fractLeftover` of itself, or `maxOrder + 1` when none does. Linux: calc_slab_order(), mm/slub.c
    public static func calcSlabOrder(size: Int, minOrder: Int, maxOrder: Int, fractLeftover: Int) -> Int {
        var order = minOrder
        while order <= maxOrder {
            let slabSize = Int(PAGE_SIZE) << order
            if slabSize % size <= slabSize / fractLeftover { break }
            order += 1
        }
        return order
    }

    /// Returns the slab order for objects of `size` bytes: at least enough pages for
    /// min_objects = 4 * (fls(nr_cpus) + 1) objects (capped at what an order-3 slab holds), then
    /// the lowest order up to 3 that wastes at most 1/16, else 1/8, else 1/4 of the slab; else
    /// get_order(size); nil when even that exceeds MAX_PAGE_ORDER. Linux: calculate_order(), mm/slub.c
    public static func calculateOrder(size: Int, nrCPUs: Int) -> Int? {
        let minObjectsWanted = 4 * (fls(max(1, nrCPUs)) + 1)
        let maxObjects = max(orderObjects(SLUB_MAX_ORDER, size), 1)
        let minObjects = min(minObjectsWanted, maxObjects)
        let minOrder = getOrder(minObjects * size)
        if orderObjects(minOrder, size) > MAX_OBJS_PER_PAGE { return getOrder(size * MAX_OBJS_PER_PAGE) - 1 }
        var fraction = 16
        while fraction > 1 {
            let order = calcSlabOrder(size: size, minOrder: minOrder, maxOrder: SLUB_MAX_ORDER, fractLeftover: fraction)
            if order <= SLUB_MAX_ORDER { return order }
            fraction /= 2
        }
        let order = getOrder(size)
        return order <= MAX_PAGE_ORDER ? order : nil
    }
}

/// One slab: a compound block of pages cut into objects (struct slab).
public final class Slab {
    /// The cache the slab belongs to.
    public unowned let cache: KmemCache
    /// First frame and order of the block.
    public let headPFN: PFN
    public let order: Int
    /// Objects the slab holds.
    public let objects: Int
    /// Free object indices; the last is the freelist head (the next object handed out).
    var freelist: [Int]
    /// Whether each object is allocated.
    var allocated: [Bool]
    /// Whether the slab is some CPU's active slab (slab->frozen).
    public internal(set) var frozen = false
    /// Whether the slab is on the node's partial list.
    var onPartial = false
    /// SLAB only: whether the slab is on the node's free list (slabs_free).
    var onFree = false

    init(cache: KmemCache, headPFN: PFN, order: Int, objects: Int) {
        self.cache = cache; self.headPFN = headPFN; self.order = order; self.objects = objects
        freelist = Array((0..<objects).reversed())
        allocated = [Bool](repeating: false, count: objects)
    }
    /// Objects in use (slab->inuse).
    public var inuse: Int { objects - freelist.count }
}

/// An object cache (struct kmem_cache) with its per-CPU slabs and its node's partial list.
public final class KmemCache {
    /// The name slabinfo prints.
    public let name: String
    public let flags: SlabFlags
    /// Whether the cache has a constructor.
    public let hasCtor: Bool
    public let geometry: SlubGeometry
    /// The active slab of each CPU (kmem_cache_cpu->slab).
    public internal(set) var cpuSlab: [Slab?]
    /// The node's partial slabs, head first (kmem_cache_node->partial).
    public internal(set) var partial: [Slab] = []
    /// Slabs and objects of the node (nr_slabs, total_objects).
    public internal(set) var nrSlabs = 0
    public internal(set) var totalObjects = 0
    /// Objects allocated now.
    public internal(set) var activeObjects = 0
    /// The kmem_cache object that describes this cache (in the `kmem_cache` cache), if any.
    var descriptor: UInt64 = 0
    /// SLAB only: each CPU's array cache of free objects, last = next handed out (array_cache->entry).
    public internal(set) var arrayCache: [[UInt64]] = []
    /// SLAB only: the node's completely free slabs (slabs_free) and free objects in slabs
    /// (free_objects; objects in array caches count as allocated), and free_limit.
    public internal(set) var slabsFree: [Slab] = []
    public internal(set) var freeObjects = 0
    public internal(set) var freeLimit = 0

    init(name: String, flags: SlabFlags, hasCtor: Bool, geometry: SlubGeometry, nrCPUs: Int) {
        self.name = name; self.flags = flags; self.hasCtor = hasCtor; self.geometry = geometry
        cpuSlab = [Slab?](repeating: nil, count: max(1, nrCPUs))
        arrayCache = [[UInt64]](repeating: [], count: max(1, nrCPUs))
        freeLimit = (1 + max(1, nrCPUs)) * geometry.batchcount + geometry.objects
    }

    /// Free objects on the node's partial list (count_partial(n, count_free)).
    public var partialFreeObjects: Int { partial.reduce(0) { $0 + $1.freelist.count } }
    /// Whether its pages count as SReclaimable.
    public var reclaimable: Bool { flags.contains(.reclaimAccount) }
}

/// Why a slab operation was refused.
public enum SlabError: Error, Equatable, CustomStringConvertible {
    case badSize(Int)
    case badAlign(Int)
    case duplicateName(String)
    case noSuchCache(String)
    case notAnObject(UInt64)
    case doubleFree(UInt64)
    case wrongCache(UInt64, String)
    case stillInUse(String, Int)
    case noMemory
    public var description: String {
        switch self {
        case .badSize(let s): return "size \(s) is out of range (1...\(KMALLOC_MAX_SIZE))"
        case .badAlign(let a): return "alignment \(a) is not a power of two up to \(PAGE_SIZE)"
        case .duplicateName(let n): return "a cache named '\(n)' already exists"
        case .noSuchCache(let n): return "no cache named '\(n)'"
        case .notAnObject(let a): return "0x\(String(a, radix: 16)) is not an object of any slab or a kmalloc'ed page"
        case .doubleFree(let a): return "double free of object 0x\(String(a, radix: 16))"
        case .wrongCache(let a, let n): return "object 0x\(String(a, radix: 16)) belongs to cache \(n)"
        case .stillInUse(let n, let k): return "kmem_cache_destroy \(n): Slab cache still has objects (\(k) in use)"
        case .noMemory: return "out of memory"
        }
    }
}

/// The slab allocator's global state: the list of caches, the kmalloc caches, which slab every
/// slab page belongs to, and large kmalloc blocks.
public final class KmemState {
    /// Caches in creation order (slabinfo prints them newest first, as the slab_caches list).
    public internal(set) var caches: [KmemCache] = []
    /// kmalloc_caches[KMALLOC_NORMAL][index], by kmalloc_index().
    public internal(set) var kmallocCaches = [KmemCache?](repeating: nil, count: KMALLOC_SHIFT_HIGH_SLAB + 1)
    /// The `kmem_cache` and `kmem_cache_node` caches (descriptors of every cache).
    public internal(set) var kmemCacheCache: KmemCache?
    public internal(set) var kmemCacheNodeCache: KmemCache?
    /// The slab each slab page belongs to, by PFN index (every page of the block).
    var slabOfPFN: [Int: Slab] = [:]
    /// Large kmalloc blocks: head PFN index → order.
    public internal(set) var largeKmalloc: [Int: Int] = [:]
    /// CPUs the geometry is computed for, and the CPU that allocates.
    public let nrCPUs: Int
    public var currentCPU = 0
    /// Pages in slabs: reclaimable and unreclaimable (NR_SLAB_*_B / PAGE_SIZE).
    public internal(set) var reclaimablePages = 0
    public internal(set) var unreclaimablePages = 0
    /// Pages of large kmalloc blocks (also counted in `unreclaimablePages`, as the kernel does).
    public internal(set) var largeKmallocPages = 0
    /// The allocator the kernel runs.
    public let kind: SlabAllocatorKind
    /// The kernel object caches by `KernelObjectKind` (kernel_objects.swift); nil where one
    /// could not be created.
    var objectCaches: [KmemCache?] = []
    /// Fault injection: every allocation from this cache fails (Linux: the failslab fault
    /// attribute with its cache-filter, mm/failslab.c, set on one cache).
    public var failslab: KmemCache?
    /// SLOB only: its pages for small, medium and large requests.
    var slob = SlobState()
    public init(nrCPUs: Int = 1, kind: SlabAllocatorKind = .slub) { self.nrCPUs = max(1, nrCPUs); self.kind = kind }

    /// The cache called `name`, or nil.
    public func cache(named name: String) -> KmemCache? { caches.last { $0.name == name } }
}

/// Base of the x86-64 direct map with 4-level paging and KASLR off (PAGE_OFFSET, __PAGE_OFFSET_BASE_L4).
public let PAGE_OFFSET: UInt64 = 0xffff_8880_0000_0000

extension Kernel {
    /// Returns the direct-map address of a frame. Linux: page_address() / __va(), include/linux/mm.h
    public func pageAddress(_ pfn: PFN) -> UInt64 { PAGE_OFFSET &+ (pfn.raw << PAGE_SHIFT) }

    /// Returns the frame behind a direct-map address, or nil for an address outside the direct map
    /// of this machine's RAM. Linux: virt_to_page() / __pa(), arch/x86/include/asm/page.h
    public func virtToPFN(_ addr: UInt64) -> PFN? {
        guard addr >= PAGE_OFFSET else { return nil }
        let pfn = (addr &- PAGE_OFFSET) >> PAGE_SHIFT
        return pfn < UInt64(phys.frameCount) ? PFN(pfn) : nil
    }

    /// Creates an object cache and returns it; fails for a size out of 1...KMALLOC_MAX_SIZE, an
    /// alignment that is not a power of two up to PAGE_SIZE, or a name already in use. The
    /// descriptor itself is an object of the `kmem_cache` cache (and one of `kmem_cache_node`).
    /// Linux: kmem_cache_create() → __kmem_cache_create_args() → do_kmem_cache_create(), mm/slab_common.c, mm/slub.c
    @discardableResult
    public func kmemCacheCreate(_ name: String, size: Int, align: Int = 0, flags: SlabFlags = [], ctor: Bool = false) -> Result<KmemCache, SlabError> {
        guard size >= 1, size <= KMALLOC_MAX_SIZE else { return .failure(.badSize(size)) }
        guard align >= 0, align <= Int(PAGE_SIZE), align & (align &- 1) == 0 else { return .failure(.badAlign(align)) }
        guard kmem.cache(named: name) == nil else { return .failure(.duplicateName(name)) }
        let geometry: SlubGeometry?
        switch kmem.kind {
        case .slub: geometry = SlubGeometry.calculate(objectSize: size, align: align, flags: flags, hasCtor: ctor, nrCPUs: kmem.nrCPUs)
        case .slab: geometry = SlubGeometry.calculateSLAB(objectSize: size, align: align, flags: flags, hasCtor: ctor, nrCPUs: kmem.nrCPUs)
        case .slob: geometry = SlubGeometry.calculateSLOB(objectSize: size, align: align, flags: flags)
        }
        guard let g = geometry else { return .failure(.badSize(size)) }
        let c = KmemCache(name: name, flags: flags, hasCtor: ctor, geometry: g, nrCPUs: kmem.nrCPUs)
        if let kc = kmem.kmemCacheCache {
            guard let d = kmemCacheAlloc(kc, gfp: .kernel) else { return .failure(.noMemory) }
            c.descriptor = d
            if let kn = kmem.kmemCacheNodeCache, kmemCacheAlloc(kn, gfp: .kernel) == nil { return .failure(.noMemory) }
        }
        kmem.caches.append(c)
        narrate("kmem_cache_create(\"\(name)\", \(size)): objsize \(g.size), align \(g.align), \(g.objects) objects per slab of order \(g.order) (\(g.pagesPerSlab) page\(g.pagesPerSlab == 1 ? "" : "s"))")
        return .success(c)
    }

    /// Returns the direct-map address of a free object of `cache`, taken from the CPU's active
    /// slab, else the first slab of the node's partial list, else a new slab from the buddy
    /// allocator; nil when no slab can be allocated (the allocation failure is reported by the
    /// page allocator). __GFP_ZERO clears the object.
    /// Fails at once for the cache under fault injection (`KmemState.failslab`).
    /// Linux: kmem_cache_alloc() → slab_alloc_node() → ___slab_alloc(), mm/slub.c
    public func kmemCacheAlloc(_ cache: KmemCache, gfp: GFP) -> UInt64? {
        // slab_pre_alloc_hook() → should_failslab(), mm/failslab.c
        if let f = kmem.failslab, f === cache { return nil }
        if kmem.kind == .slab { return slabCacheAlloc(cache, gfp: gfp) }
        if kmem.kind == .slob { return slobCacheAlloc(cache, gfp: gfp) }
        let cpu = min(kmem.currentCPU, cache.cpuSlab.count - 1)
        var slab = cache.cpuSlab[cpu]
        if slab == nil || slab!.freelist.isEmpty {
            // deactivate_slab(): a full slab is simply forgotten (SLUB keeps no full list).
            if let old = slab { old.frozen = false; cache.cpuSlab[cpu] = nil }
            if !cache.partial.isEmpty {
                // get_partial_node(): take the first partial slab and freeze it.
                let s = cache.partial.removeFirst()
                s.onPartial = false
                s.frozen = true
                cache.cpuSlab[cpu] = s
                slab = s
                narrate("\(cache.name): CPU \(cpu) takes a partial slab at PFN \(s.headPFN) (\(s.freelist.count) free)")
            } else {
                guard let s = newSlab(cache, gfp: gfp) else { return nil }
                s.frozen = true
                cache.cpuSlab[cpu] = s
                slab = s
            }
        }
        let s = slab!
        let idx = s.freelist.removeLast()
        s.allocated[idx] = true
        cache.activeObjects += 1
        let addr = pageAddress(s.headPFN) &+ UInt64(idx * cache.geometry.size)
        if gfp.contains(.zero) { zeroKernelBytes(addr, cache.geometry.objectSize) }
        return addr
    }

    /// Frees the object at `addr` into `cache`: back on its slab's freelist; a full slab goes to
    /// the tail of the node's partial list; a slab left empty (not a CPU's active slab) is freed
    /// to the buddy allocator once the node already keeps min_partial partial slabs.
    /// Fails (changing nothing) for an address that is not an allocated object of `cache`.
    /// Linux: kmem_cache_free() → slab_free() → __slab_free() / discard_slab(), mm/slub.c
    public func kmemCacheFree(_ cache: KmemCache, _ addr: UInt64) -> Result<Void, SlabError> {
        if kmem.kind == .slob { return slobCacheFree(cache, addr) }
        guard let pfn = virtToPFN(addr), let s = kmem.slabOfPFN[pfn.index] else { return .failure(.notAnObject(addr)) }
        guard s.cache === cache else { return .failure(.wrongCache(addr, s.cache.name)) }
        let off = addr &- pageAddress(s.headPFN)
        let size = UInt64(cache.geometry.size)
        guard off % size == 0, off / size < UInt64(s.objects) else { return .failure(.notAnObject(addr)) }
        let idx = Int(off / size)
        guard s.allocated[idx] else { return .failure(.doubleFree(addr)) }
        if kmem.kind == .slab { return slabCacheFree(cache, addr) }
        let wasFull = s.freelist.isEmpty
        s.allocated[idx] = false
        s.freelist.append(idx)
        cache.activeObjects -= 1
        if s.frozen { return .success(()) }
        if s.inuse == 0 && cache.partial.count >= cache.geometry.minPartial {
            if s.onPartial { removePartial(cache, s) }
            discardSlab(cache, s)
            return .success(())
        }
        if wasFull {
            s.onPartial = true
            cache.partial.append(s)
        }
        return .success(())
    }

    /// Destroys a cache with no objects in use: its slabs go back to the buddy allocator and its
    /// descriptor to `kmem_cache`. Fails when objects are still allocated.
    /// Linux: kmem_cache_destroy() → __kmem_cache_shutdown(), mm/slab_common.c, mm/slub.c
    public func kmemCacheDestroy(_ cache: KmemCache) -> Result<Void, SlabError> {
        guard cache.activeObjects == 0 else { return .failure(.stillInUse(cache.name, cache.activeObjects)) }
        if kmem.kind == .slob {
            kmem.caches.removeAll { $0 === cache }
            if cache.descriptor != 0 { _ = slobFree(cache.descriptor) }
            return .success(())
        }
        kmemCacheShrink(cache)
        for i in cache.cpuSlab.indices {
            if let s = cache.cpuSlab[i] { cache.cpuSlab[i] = nil; s.frozen = false; discardSlab(cache, s) }
        }
        kmem.caches.removeAll { $0 === cache }
        if cache.descriptor != 0, let kc = kmem.kmemCacheCache {
            _ = kmemCacheFree(kc, cache.descriptor)
            if let kn = kmem.kmemCacheNodeCache, let obj = anyObject(of: kn) { _ = kmemCacheFree(kn, obj) }
        }
        return .success(())
    }

    /// Frees every empty slab on the node's partial list and returns how many pages went back.
    /// Linux: kmem_cache_shrink() → __kmem_cache_do_shrink(), mm/slub.c
    @discardableResult
    public func kmemCacheShrink(_ cache: KmemCache) -> Int {
        if kmem.kind == .slab { return slabCacheShrink(cache) }
        var freed = 0
        for s in cache.partial where s.inuse == 0 {
            removePartial(cache, s)
            freed += 1 << s.order
            discardSlab(cache, s)
        }
        return freed
    }

    /// The address of some allocated object of `cache` (the highest-addressed), or nil.
    func anyObject(of cache: KmemCache) -> UInt64? {
        var best: UInt64? = nil
        for (_, s) in kmem.slabOfPFN where s.cache === cache {
            if let i = s.allocated.lastIndex(of: true) {
                let a = pageAddress(s.headPFN) &+ UInt64(i * cache.geometry.size)
                if best == nil || a > best! { best = a }
            }
        }
        return best
    }

    /// Takes `s` off the node's partial list of `cache`. Linux: remove_partial(), mm/slub.c
    func removePartial(_ cache: KmemCache, _ s: Slab) {
        cache.partial.removeAll { $0 === s }
        s.onPartial = false
    }

    /// Allocates and registers a new slab for `cache`: order oo with __GFP_NOWARN|__GFP_NORETRY,
    /// then the minimum order; nil when both fail. Linux: allocate_slab(), mm/slub.c
    func newSlab(_ cache: KmemCache, gfp: GFP) -> Slab? {
        let g = cache.geometry
        var flags = gfp.subtracting(.zero).union(.comp)
        if cache.reclaimable { flags.insert(.reclaimable) }
        var order = g.order, objects = g.objects
        var pfn = allocKernelPages(order: order, gfp: order > g.minOrder ? flags.union([.nowarn, .noretry]).subtracting(.nofail) : flags)
        if pfn == nil && order > g.minOrder {
            order = g.minOrder; objects = g.minOrderObjects
            pfn = allocKernelPages(order: order, gfp: flags)
        }
        guard let head = pfn else { return nil }
        let s = Slab(cache: cache, headPFN: head, order: order, objects: objects)
        for i in 0..<(1 << order) {
            kmem.slabOfPFN[head.index + i] = s
            phys.memMap.flags[head.index + i].insert(.slab)
        }
        if cache.reclaimable { kmem.reclaimablePages += 1 << order } else { kmem.unreclaimablePages += 1 << order }
        syncSlabStat()
        cache.nrSlabs += 1
        cache.totalObjects += objects
        narrate("\(cache.name): new slab of order \(order) at PFN \(head) (\(objects) objects of \(g.size) bytes)")
        return s
    }

    /// Returns a slab's pages to the buddy allocator. Linux: discard_slab() → free_slab(), mm/slub.c
    func discardSlab(_ cache: KmemCache, _ s: Slab) {
        for i in 0..<(1 << s.order) {
            kmem.slabOfPFN[s.headPFN.index + i] = nil
            phys.memMap.flags[s.headPFN.index + i].remove(.slab)
        }
        if cache.reclaimable { kmem.reclaimablePages -= 1 << s.order } else { kmem.unreclaimablePages -= 1 << s.order }
        syncSlabStat()
        cache.nrSlabs -= 1
        cache.totalObjects -= s.objects
        narrate("\(cache.name): empty slab at PFN \(s.headPFN) freed to the buddy allocator (\(1 << s.order) page\(s.order == 0 ? "" : "s"))")
        freeKernelPages(s.headPFN, order: s.order)
    }

    /// Copies the slab counters into the node statistics meminfo reads.
    func syncSlabStat() {
        stat.nrSlabReclaimable = kmem.reclaimablePages
        stat.nrSlabUnreclaimable = kmem.unreclaimablePages
    }

    /// Zeroes `count` bytes of kernel memory at direct-map address `addr`; frames nobody wrote are
    /// already zero and stay unstored.
    func zeroKernelBytes(_ addr: UInt64, _ count: Int) {
        guard let pfn = virtToPFN(addr) else { return }
        let start = pfn.physAddr.raw | (addr & (PAGE_SIZE - 1))
        var i = 0
        while i < count {
            let pa = PhysAddr(start &+ UInt64(i))
            if pa.pfn.index >= phys.frameCount { break }
            if phys.contents.isZero(pa.pfn) { i += Int(PAGE_SIZE - (pa.raw & (PAGE_SIZE - 1))); continue }
            phys.contents.writeByte(pa, 0)
            i += 1
        }
    }

    /// The caches every kernel has, created at boot in kmem_cache_init() order: kmem_cache_node,
    /// kmem_cache, then the kmalloc caches. Linux: kmem_cache_init() → create_kmalloc_caches(), mm/slub.c, mm/slab_common.c
    func kmemCacheInit() {
        if kmem.kind == .slob {
            // SLOB: one boot cache for the descriptors (struct kmem_cache is 96 bytes there).
            if case .success(let c) = kmemCacheCreate("kmem_cache", size: 96, flags: [.hwcacheAlign]) {
                kmem.kmemCacheCache = c
                if let d = kmemCacheAlloc(c, gfp: .kernel) { c.descriptor = d }
            }
            createKernelObjectCaches()
            return
        }
        // Bootstrap: the descriptors of the first two caches are static until `kmem_cache` exists.
        if case .success(let n) = kmemCacheCreate("kmem_cache_node", size: 64, flags: [.hwcacheAlign, .noMerge]) { kmem.kmemCacheNodeCache = n }
        if case .success(let c) = kmemCacheCreate("kmem_cache", size: 248, flags: [.hwcacheAlign, .noMerge]) {
            // bootstrap(): both descriptors move into objects of `kmem_cache` / `kmem_cache_node`.
            kmem.kmemCacheCache = c
            for cache in [kmem.kmemCacheNodeCache, c] {
                if let cache = cache, let d = kmemCacheAlloc(c, gfp: .kernel) {
                    cache.descriptor = d
                    if let kn = kmem.kmemCacheNodeCache { _ = kmemCacheAlloc(kn, gfp: .kernel) }
                }
            }
        }
        createKmallocCaches()
        createKernelObjectCaches()
    }
}

extension PhysicalMemory {
    /// Slab pages found by walking mem_map (PG_slab), for the invariant checks.
    func countSlabFlaggedPages() -> Int {
        var n = 0
        for f in memMap.flags where f.contains(.slab) { n += 1 }
        return n
    }
}

extension Kernel {
    /// Returns the slab allocator's broken invariants: per-cache counts that disagree with the
    /// slabs, PG_slab pages that no slab owns, slab counters that disagree with meminfo's.
    public func slabInvariantViolations() -> [String] {
        var out: [String] = []
        var seen = Set<ObjectIdentifier>()
        var recl = 0, unrecl = 0
        var perCache: [ObjectIdentifier: (slabs: Int, objs: Int, active: Int)] = [:]
        for (_, s) in kmem.slabOfPFN where seen.insert(ObjectIdentifier(s)).inserted {
            var e = perCache[ObjectIdentifier(s.cache)] ?? (0, 0, 0)
            e.slabs += 1; e.objs += s.objects; e.active += s.inuse
            perCache[ObjectIdentifier(s.cache)] = e
            if s.cache.reclaimable { recl += 1 << s.order } else { unrecl += 1 << s.order }
            if phys.memMap.refcount[s.headPFN.index] < 1 { out.append("slab at PFN \(s.headPFN) has refcount 0") }
            if s.inuse == 0 && !s.frozen && !s.onPartial && !s.onFree { out.append("\(s.cache.name): empty slab at PFN \(s.headPFN) on no list") }
            if s.onPartial && (s.inuse == s.objects) { out.append("\(s.cache.name): full slab at PFN \(s.headPFN) on the partial list") }
        }
        for c in kmem.caches where kmem.kind != .slob {
            let e = perCache[ObjectIdentifier(c)] ?? (0, 0, 0)
            let cached = c.arrayCache.reduce(0) { $0 + $1.count }
            if e.slabs != c.nrSlabs || e.objs != c.totalObjects || e.active != c.activeObjects + cached {
                out.append("\(c.name): counts \(c.nrSlabs) slabs/\(c.totalObjects) objects/\(c.activeObjects) active but slabs hold \(e.slabs)/\(e.objs)/\(e.active)")
            }
        }
        if kmem.kind == .slob {
            let pages = kmem.slob.pages.count
            unrecl = kmem.largeKmallocPages + pages
            if unrecl != kmem.unreclaimablePages { out.append("SLOB pages \(pages) + large \(kmem.largeKmallocPages) but counter \(kmem.unreclaimablePages)") }
            return out
        }
        for (p, o) in kmem.largeKmalloc { unrecl += 1 << o; if phys.memMap.refcount[p] < 1 { out.append("large kmalloc at PFN \(PFN(index: p)) has refcount 0") } }
        if recl != kmem.reclaimablePages || unrecl != kmem.unreclaimablePages {
            out.append("slab page counters \(kmem.reclaimablePages)/\(kmem.unreclaimablePages) but slabs hold \(recl)/\(unrecl)")
        }
        if phys.countSlabFlaggedPages() != kmem.slabOfPFN.count { out.append("PG_slab pages and slab pages disagree") }
        return out
    }
}
