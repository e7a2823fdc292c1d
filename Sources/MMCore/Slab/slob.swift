/// SLOB, the "simple list of blocks" allocator for small machines (mm/slob.c, removed in 6.4):
/// no per-cache slabs; every object, whatever its cache, is carved first-fit from pages kept on
/// three lists by request size (below 256 bytes, below 1 KiB, the rest), in 2-byte units.
///
/// What is modelled: the three lists, first fit with alignment (a fragment before an aligned
/// block stays free), splitting, freeing with merging of adjacent free blocks, a page freed to
/// the buddy allocator when all its units are free, kmalloc's 8-byte size header
/// (ARCH_KMALLOC_MINALIGN) and natural alignment of power-of-two sizes, page-sized and larger
/// requests going to the page allocator, NR_SLAB_UNRECLAIMABLE for every SLOB page.
/// Not modelled: the list rotation after a successful search (next-fit flavour), NUMA nodes.
/// SLOB has no /proc/slabinfo.

/// Size of a SLOB unit (sizeof(slob_t) with 4 KiB pages) and the list boundaries.
public let SLOB_UNIT = 2
public let SLOB_BREAK1 = 256
public let SLOB_BREAK2 = 1024
/// Units in a page.
let SLOB_PAGE_UNITS = Int(PAGE_SIZE) / SLOB_UNIT

/// One SLOB page: its free blocks as (first unit, units), ascending.
final class SlobPage {
    let pfn: PFN
    var free: [(start: Int, units: Int)]
    /// Which list (0 small, 1 medium, 2 large) the page is on, or nil when it is full.
    var list: Int?
    init(pfn: PFN, list: Int) { self.pfn = pfn; free = [(0, SLOB_PAGE_UNITS)]; self.list = list }
    /// Free units (sp->units).
    var units: Int { free.reduce(0) { $0 + $1.units } }
}

/// SLOB's pages and what it handed out.
struct SlobState {
    /// free_slob_small, free_slob_medium, free_slob_large: pages with free units.
    var lists: [[SlobPage]] = [[], [], []]
    /// Every SLOB page by PFN index (PageSlab).
    var pages: [Int: SlobPage] = [:]
    /// kmalloc'ed blocks: address → requested size (the header SLOB stores before the block).
    var kmallocSizes: [UInt64: Int] = [:]
    /// Cache objects: address → the cache (and its size), to check frees.
    var objects: [UInt64: KmemCache] = [:]
    /// Pages of caches whose objects are a page or larger: head PFN index → order.
    var pageObjects: [Int: Int] = [:]
}

extension SlubGeometry {
    /// SLOB keeps only the object size and alignment (objects are placed one by one).
    /// Linux: __kmem_cache_create() (c->size, c->align), mm/slob.c
    public static func calculateSLOB(objectSize: Int, align: Int, flags: SlabFlags) -> SlubGeometry? {
        guard objectSize > 0, objectSize <= Int(PAGE_SIZE) << MAX_PAGE_ORDER, align >= 0, align <= Int(PAGE_SIZE) else { return nil }
        var a = align
        if flags.contains(.hwcacheAlign) {
            var ralign = CACHE_LINE_SIZE
            while objectSize <= ralign / 2 { ralign /= 2 }
            a = max(a, ralign)
        }
        a = alignUp(max(a, ARCH_SLAB_MINALIGN), POINTER_SIZE)
        return SlubGeometry(objectSize: objectSize, size: objectSize, align: a, offset: 0, order: getOrder(objectSize),
                            objects: 1, minOrder: getOrder(objectSize), minOrderObjects: 1, minPartial: 0)
    }
}

extension Kernel {
    /// Returns `size` bytes carved from a SLOB page of the list for that size, at an address with
    /// (address + alignOffset) a multiple of `align`, taking a new page when no page has room;
    /// nil when no page can be had. Linux: slob_alloc() / slob_page_alloc(), mm/slob.c
    func slobAlloc(_ size: Int, gfp: GFP, align: Int, alignOffset: Int = 0) -> UInt64? {
        let units = (size + SLOB_UNIT - 1) / SLOB_UNIT
        let li = size < SLOB_BREAK1 ? 0 : size < SLOB_BREAK2 ? 1 : 2
        for sp in kmem.slob.lists[li] where sp.units >= units {
            if let a = slobPageAlloc(sp, units: units, align: align, alignOffset: alignOffset) { return a }
        }
        guard let pfn = allocKernelPages(order: 0, gfp: gfp.subtracting(.zero)) else { return nil }
        let sp = SlobPage(pfn: pfn, list: li)
        kmem.slob.pages[pfn.index] = sp
        kmem.slob.lists[li].insert(sp, at: 0)
        phys.memMap.flags[pfn.index].insert(.slab)
        kmem.unreclaimablePages += 1
        syncSlabStat()
        narrate("SLOB: new page at PFN \(pfn) for the \(["small", "medium", "large"][li]) list")
        return slobPageAlloc(sp, units: units, align: align, alignOffset: alignOffset)
    }

    /// First fit in one page; returns the address or nil. Linux: slob_page_alloc(), mm/slob.c
    private func slobPageAlloc(_ sp: SlobPage, units: Int, align: Int, alignOffset: Int) -> UInt64? {
        let base = pageAddress(sp.pfn)
        for (i, b) in sp.free.enumerated() {
            var delta = 0
            if align > 0 {
                let cur = Int(base & (PAGE_SIZE - 1)) + b.start * SLOB_UNIT
                let aligned = alignUp(cur + alignOffset, align) - alignOffset
                delta = (aligned - cur) / SLOB_UNIT
            }
            guard b.units >= units + delta else { continue }
            var replacement: [(start: Int, units: Int)] = []
            if delta > 0 { replacement.append((b.start, delta)) }
            let rest = b.units - delta - units
            if rest > 0 { replacement.append((b.start + delta + units, rest)) }
            sp.free.replaceSubrange(i...i, with: replacement)
            if sp.free.isEmpty, let li = sp.list {
                kmem.slob.lists[li].removeAll { $0 === sp }
                sp.list = nil
            }
            return base &+ UInt64((b.start + delta) * SLOB_UNIT)
        }
        return nil
    }

    /// Gives `size` bytes at `addr` back to their SLOB page, merging free neighbours; a page with
    /// every unit free goes back to the buddy allocator. Linux: slob_free(), mm/slob.c
    func slobFreeBlock(_ addr: UInt64, size: Int) {
        guard let pfn = virtToPFN(addr), let sp = kmem.slob.pages[pfn.index] else { return }
        let units = (size + SLOB_UNIT - 1) / SLOB_UNIT
        let start = Int(addr & (PAGE_SIZE - 1)) / SLOB_UNIT
        if sp.units + units == SLOB_PAGE_UNITS {
            if let li = sp.list { kmem.slob.lists[li].removeAll { $0 === sp } }
            kmem.slob.pages[pfn.index] = nil
            phys.memMap.flags[pfn.index].remove(.slab)
            kmem.unreclaimablePages -= 1
            syncSlabStat()
            narrate("SLOB: page at PFN \(pfn) entirely free: back to the buddy allocator")
            freeKernelPages(pfn, order: 0)
            return
        }
        if sp.list == nil {
            let li = size < SLOB_BREAK1 ? 0 : size < SLOB_BREAK2 ? 1 : 2
            sp.list = li
            kmem.slob.lists[li].insert(sp, at: 0)
        }
        var i = sp.free.firstIndex { $0.start > start } ?? sp.free.count
        sp.free.insert((start, units), at: i)
        if i + 1 < sp.free.count, sp.free[i].start + sp.free[i].units == sp.free[i + 1].start {
            sp.free[i].units += sp.free[i + 1].units
            sp.free.remove(at: i + 1)
        }
        if i > 0, sp.free[i - 1].start + sp.free[i - 1].units == sp.free[i].start {
            sp.free[i - 1].units += sp.free[i].units
            sp.free.remove(at: i)
            i -= 1
        }
    }

    /// kmalloc under SLOB for sizes below a page: an 8-byte header holding the size, then the
    /// block, aligned to 8 (or to the size for powers of two). Linux: __do_kmalloc_node(), mm/slob.c
    func slobKmalloc(_ size: Int, gfp: GFP) -> UInt64? {
        let minalign = ARCH_SLAB_MINALIGN
        let align = size & (size - 1) == 0 ? max(minalign, size) : minalign
        guard let m = slobAlloc(size + minalign, gfp: gfp, align: align, alignOffset: minalign) else { return nil }
        let addr = m &+ UInt64(minalign)
        kmem.slob.kmallocSizes[addr] = size
        if gfp.contains(.zero) { zeroKernelBytes(addr, size) }
        narrate("kmalloc(\(size)) under SLOB: \(size + minalign) bytes (with the size header) from a SLOB page")
        return addr
    }

    /// kfree of a SLOB kmalloc block. Linux: kfree(), mm/slob.c
    func slobKfree(_ addr: UInt64) -> Result<Void, SlabError> {
        guard let size = kmem.slob.kmallocSizes.removeValue(forKey: addr) else {
            if kmem.slob.objects[addr] != nil { return .failure(.notAnObject(addr)) }
            return .failure(.notAnObject(addr))
        }
        slobFreeBlock(addr &- UInt64(ARCH_SLAB_MINALIGN), size: size + ARCH_SLAB_MINALIGN)
        return .success(())
    }

    /// An object of `cache` under SLOB: from a SLOB page below a page, else its own pages.
    /// Linux: slob_alloc_node(), mm/slob.c
    func slobCacheAlloc(_ cache: KmemCache, gfp: GFP) -> UInt64? {
        let g = cache.geometry
        let addr: UInt64
        if g.size < Int(PAGE_SIZE) {
            guard let a = slobAlloc(g.size, gfp: gfp, align: g.align) else { return nil }
            addr = a
        } else {
            guard let p = allocKernelPages(order: g.order, gfp: gfp.union(.comp)) else { return nil }
            kmem.slob.pageObjects[p.index] = g.order
            kmem.largeKmallocPages += 1 << g.order
            kmem.unreclaimablePages += 1 << g.order
            syncSlabStat()
            addr = pageAddress(p)
        }
        kmem.slob.objects[addr] = cache
        cache.activeObjects += 1
        if gfp.contains(.zero) { zeroKernelBytes(addr, g.objectSize) }
        return addr
    }

    /// Frees an object of `cache` under SLOB; fails for an address that is not one of its objects.
    /// Linux: kmem_cache_free() → __kmem_cache_free(), mm/slob.c
    func slobCacheFree(_ cache: KmemCache, _ addr: UInt64) -> Result<Void, SlabError> {
        guard let c = kmem.slob.objects[addr] else { return .failure(.notAnObject(addr)) }
        guard c === cache else { return .failure(.wrongCache(addr, c.name)) }
        kmem.slob.objects[addr] = nil
        cache.activeObjects -= 1
        if let pfn = virtToPFN(addr), let o = kmem.slob.pageObjects.removeValue(forKey: pfn.index) {
            kmem.largeKmallocPages -= 1 << o
            kmem.unreclaimablePages -= 1 << o
            syncSlabStat()
            freeKernelPages(pfn, order: o)
        } else {
            slobFreeBlock(addr, size: cache.geometry.size)
        }
        return .success(())
    }

    /// Frees a cache descriptor allocated from SLOB. Linux: kmem_cache_free(kmem_cache, s), mm/slob.c
    func slobFree(_ addr: UInt64) -> Bool {
        guard let c = kmem.slob.objects[addr] else { return false }
        if case .success = slobCacheFree(c, addr) { return true }
        return false
    }
}
