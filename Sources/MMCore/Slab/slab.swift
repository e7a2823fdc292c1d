/// SLAB, the allocator Linux shipped until 6.7 (mm/slab.c): slabs with the free-object index
/// inside them, per-CPU array caches of free objects filled and drained in batches, and the
/// node's three lists (full, partial, free).
///
/// What is modelled: the object size (aligned to the word or the requested alignment, at least
/// SLAB_OBJ_MIN_SIZE), where the freelist lives (in a free object when there is no constructor,
/// else off-slab or on-slab) and the order `calculate_slab_order` picks (at most
/// slab_max_order = 1 above 32 MiB of RAM, leftover ≤ 1/8, reclaimable caches at the first order
/// that holds an object), the tunables `enable_cpucache` sets (limit 120/54/24/8/1 by object size,
/// batchcount (limit+1)/2, shared 8 on SMP), array-cache refill and flush, free_limit.
/// Not modelled: cache colouring, the shared array and alien caches (one CPU allocates), the
/// periodic cache_reap drain, off-slab freelist objects (the freelist is not allocated).

/// Free-object indices are bytes (FREELIST_BYTE_INDEX with 4 KiB pages): at most 255 objects a slab.
let SLAB_OBJ_MAX_NUM = 255
/// Smallest object SLAB hands out (SLAB_OBJ_MIN_SIZE).
let SLAB_OBJ_MIN_SIZE = 16
/// Objects from this size up may keep their freelist off the slab (OFF_SLAB_MIN_SIZE).
let OFF_SLAB_MIN_SIZE = 128

extension SlubGeometry {
    /// Returns SLAB's layout for a cache, or nil when no order up to MAX_PAGE_ORDER holds an object.
    /// Linux: __kmem_cache_create() → set_objfreelist_slab_cache() / set_off_slab_cache() /
    /// set_on_slab_cache() → calculate_slab_order() → cache_estimate(); enable_cpucache(), mm/slab.c
    public static func calculateSLAB(objectSize: Int, align: Int, flags: SlabFlags, hasCtor: Bool, nrCPUs: Int,
                                     slabMaxOrder: Int = 1) -> SlubGeometry? {
        guard objectSize > 0, objectSize <= Int(PAGE_SIZE) << MAX_PAGE_ORDER, align >= 0, align <= Int(PAGE_SIZE) else { return nil }
        var a = align
        if flags.contains(.hwcacheAlign) {
            var ralign = CACHE_LINE_SIZE
            while objectSize <= ralign / 2 { ralign /= 2 }
            a = max(a, ralign)
        }
        a = alignUp(max(a, ARCH_SLAB_MINALIGN), POINTER_SIZE)
        var size = alignUp(alignUp(objectSize, POINTER_SIZE), a)
        if size < SLAB_OBJ_MIN_SIZE { size = alignUp(SLAB_OBJ_MIN_SIZE, a) }
        // cache_estimate() + calculate_slab_order(); `perObject` is 0 when the index is elsewhere.
        func order(_ perObject: Int) -> (order: Int, num: Int, left: Int)? {
            var best: (Int, Int, Int)? = nil
            var o = 0
            while o <= MAX_PAGE_ORDER {
                let slabSize = Int(PAGE_SIZE) << o
                let num = slabSize / (size + perObject), left = slabSize % (size + perObject)
                if num == 0 { o += 1; continue }
                if num > SLAB_OBJ_MAX_NUM { break }
                best = (o, num, left)
                if flags.contains(.reclaimAccount) || o >= slabMaxOrder || left * 8 <= slabSize { break }
                o += 1
            }
            return best
        }
        var chosen: (order: Int, num: Int, left: Int)? = nil
        if !hasCtor && !flags.contains(.typesafeByRCU), let r = order(0), r.num <= objectSize {
            chosen = r                                   // OBJFREELIST: the index lives in a free object
        } else if size >= OFF_SLAB_MIN_SIZE, let r = order(0), r.left < r.num {
            chosen = r                                   // OFF_SLAB: the index does not fit in the leftover
        } else {
            chosen = order(1)                            // on-slab index after the objects
        }
        guard let c = chosen else { return nil }
        // enable_cpucache()
        let limit = size > 131072 ? 1 : size > Int(PAGE_SIZE) ? 8 : size > 1024 ? 24 : size > 256 ? 54 : 120
        let shared = size <= Int(PAGE_SIZE) && nrCPUs > 1 ? 8 : 0
        return SlubGeometry(objectSize: objectSize, size: size, align: a, offset: 0, order: c.order, objects: c.num,
                            minOrder: c.order, minOrderObjects: c.num, minPartial: 0,
                            limit: limit, batchcount: (limit + 1) / 2, shared: shared)
    }
}

extension Kernel {
    /// Returns an object of `cache` from this CPU's array cache, refilling it with up to batchcount
    /// objects from partial slabs, then free slabs, then a new slab; nil when no slab can be had.
    /// Linux: ____cache_alloc() → cache_alloc_refill() → cache_grow_begin(), mm/slab.c
    func slabCacheAlloc(_ cache: KmemCache, gfp: GFP) -> UInt64? {
        let cpu = min(kmem.currentCPU, cache.arrayCache.count - 1)
        if cache.arrayCache[cpu].isEmpty {
            var batch = cache.geometry.batchcount
            narrate("\(cache.name): array cache of CPU \(cpu) empty: refill up to \(batch) objects")
            while batch > 0 {
                var slab = cache.partial.first ?? cache.slabsFree.first
                if slab == nil {
                    if !cache.arrayCache[cpu].isEmpty { break }
                    guard let s = newSlab(cache, gfp: gfp) else { return nil }
                    cache.freeObjects += s.objects
                    s.onFree = true
                    cache.slabsFree.append(s)
                    slab = s
                }
                let s = slab!
                if s.onFree { cache.slabsFree.removeAll { $0 === s }; s.onFree = false; s.onPartial = true; cache.partial.insert(s, at: 0) }
                while batch > 0, let idx = s.freelist.popLast() {
                    s.allocated[idx] = true
                    cache.freeObjects -= 1
                    cache.arrayCache[cpu].append(pageAddress(s.headPFN) &+ UInt64(idx * cache.geometry.size))
                    batch -= 1
                }
                if s.freelist.isEmpty { removePartial(cache, s) }   // now on slabs_full
            }
            // The first object taken from the slabs is handed out first.
            cache.arrayCache[cpu].reverse()
        }
        let addr = cache.arrayCache[cpu].removeLast()
        cache.activeObjects += 1
        if gfp.contains(.zero) { zeroKernelBytes(addr, cache.geometry.objectSize) }
        return addr
    }

    /// Frees an object into this CPU's array cache; a full array cache first flushes its
    /// batchcount oldest objects back to their slabs. Linux: ___cache_free() → cache_flusharray(), mm/slab.c
    func slabCacheFree(_ cache: KmemCache, _ addr: UInt64) -> Result<Void, SlabError> {
        let cpu = min(kmem.currentCPU, cache.arrayCache.count - 1)
        if cache.arrayCache[cpu].contains(addr) { return .failure(.doubleFree(addr)) }
        if cache.arrayCache[cpu].count >= cache.geometry.limit {
            let n = min(cache.geometry.batchcount, cache.arrayCache[cpu].count)
            narrate("\(cache.name): array cache full (\(cache.geometry.limit)): \(n) objects go back to their slabs")
            let flushed = cache.arrayCache[cpu].prefix(n)
            cache.arrayCache[cpu].removeFirst(n)
            for a in flushed { freeBlock(cache, a) }
        }
        cache.arrayCache[cpu].append(addr)
        cache.activeObjects -= 1
        return .success(())
    }

    /// Returns an object to its slab: the slab moves to the partial list, or to the free list when
    /// empty, or is destroyed when the node already holds more than free_limit free objects.
    /// Linux: free_block() / slabs_destroy(), mm/slab.c
    func freeBlock(_ cache: KmemCache, _ addr: UInt64) {
        guard let pfn = virtToPFN(addr), let s = kmem.slabOfPFN[pfn.index] else { return }
        let idx = Int((addr &- pageAddress(s.headPFN)) / UInt64(cache.geometry.size))
        s.allocated[idx] = false
        s.freelist.append(idx)
        cache.freeObjects += 1
        if s.onPartial { removePartial(cache, s) }
        if s.inuse == 0 {
            if cache.freeObjects > cache.freeLimit {
                cache.freeObjects -= s.objects
                discardSlab(cache, s)
            } else {
                s.onFree = true
                cache.slabsFree.append(s)
            }
        } else {
            s.onPartial = true
            cache.partial.insert(s, at: 0)
        }
    }

    /// Drains the array caches and frees every free slab; returns the pages freed.
    /// Linux: __kmem_cache_shrink() → drain_cpu_caches() / drain_freelist(), mm/slab.c
    func slabCacheShrink(_ cache: KmemCache) -> Int {
        for cpu in cache.arrayCache.indices {
            let objs = cache.arrayCache[cpu]
            cache.arrayCache[cpu] = []
            for a in objs { freeBlock(cache, a) }
        }
        var freed = 0
        for s in cache.slabsFree {
            cache.freeObjects -= s.objects
            freed += 1 << s.order
            s.onFree = false
            discardSlab(cache, s)
        }
        cache.slabsFree = []
        return freed
    }
}
