import XCTest
@testable import MMCore

/// The SLAB and SLOB allocators, selectable per machine (`MachineConfig.slab`).
final class SlabSlobTests: XCTestCase {
    private func boot(_ kind: SlabAllocatorKind, ram: UInt64 = 2 << 30) throws -> Kernel {
        var c = MachineConfig(ramBytes: ram)
        c.slab = kind
        return try Kernel(config: c)
    }

    /// SLAB's geometry: kmalloc-32 keeps its byte index on the slab (4096/33 = 124 objects);
    /// 128 objects would not fit a 32-byte free object. kmalloc-8k: one object in an order-1 slab
    /// (slab_max_order 1). task_struct-sized objects: 1 per 2 pages, limit 8 / batch 4.
    func testSLABGeometry() {
        func g(_ size: Int, _ flags: SlabFlags = [], ctor: Bool = false, align: Int = 0) -> SlubGeometry? {
            SlubGeometry.calculateSLAB(objectSize: size, align: align, flags: flags, hasCtor: ctor, nrCPUs: 1)
        }
        XCTAssertEqual(g(32, align: 32)?.objects, 124)
        XCTAssertEqual(g(64, align: 64)?.objects, 64)
        XCTAssertEqual(g(8192)?.objects, 1)
        XCTAssertEqual(g(8192)?.pagesPerSlab, 2)
        XCTAssertEqual(g(5888)?.objects, 1)
        XCTAssertEqual(g(5888)?.limit, 8)
        XCTAssertEqual(g(5888)?.batchcount, 4)
        XCTAssertEqual(g(100)?.size, 104)
        XCTAssertEqual(g(100)?.objects, 39)
        XCTAssertEqual(g(100)?.limit, 120)
        XCTAssertEqual(g(2048)?.limit, 24)
        XCTAssertEqual(g(512)?.limit, 54)
        XCTAssertEqual(g(8)?.size, 16)                       // SLAB_OBJ_MIN_SIZE
        XCTAssertEqual(g(192, [.reclaimAccount])?.order, 0)  // reclaimable: first order that fits
        XCTAssertEqual(g(3000, [.reclaimAccount])?.order, 0)
        XCTAssertEqual(g(3000)?.order, 1)                    // 1 object wastes 1096 > 512: try order 1
        XCTAssertEqual(SlubGeometry.calculateSLAB(objectSize: 256, align: 0, flags: [], hasCtor: false, nrCPUs: 2)?.shared, 8)
        XCTAssertEqual(kmallocIndex(20, kind: .slab), 5)
        XCTAssertEqual(kmallocIndex(20000, kind: .slab), 15)
        XCTAssertEqual(kmallocName(22), "kmalloc-4M")
    }

    /// SLAB: the first allocation refills the CPU's array cache with batchcount objects; frees go
    /// to the array cache; a full array cache flushes batchcount objects to the slabs; shrink
    /// drains everything back to the buddy allocator.
    func testSLABArrayCache() throws {
        let k = try boot(.slab)
        XCTAssertNil(k.kmem.cache(named: "kmalloc-8"))
        guard case .success(let c) = k.kmemCacheCreate("obj", size: 100) else { return XCTFail() }
        let free0 = k.phys.freePageCount
        let first = try XCTUnwrap(k.kmemCacheAlloc(c, gfp: .kernel))
        // cache_alloc_refill() grows one slab and moves up to batchcount (60) of its 39 objects.
        XCTAssertEqual(c.nrSlabs, 1)
        XCTAssertEqual(c.arrayCache[0].count, 38)
        XCTAssertEqual(c.freeObjects, 0)
        XCTAssertEqual(first & (MMCore.PAGE_SIZE - 1), 0)            // the first object of the first slab
        var objs = [first]
        for _ in 0..<199 { objs.append(try XCTUnwrap(k.kmemCacheAlloc(c, gfp: .kernel))) }
        XCTAssertEqual(c.activeObjects, 200)
        for o in objs { XCTAssertNil({ if case .failure(let e) = k.kmemCacheFree(c, o) { return e }; return nil }()) }
        XCTAssertEqual(c.activeObjects, 0)
        XCTAssertLessThanOrEqual(c.arrayCache[0].count, 120)
        XCTAssertEqual(k.checkInvariants(), [])
        XCTAssertGreaterThan(k.slabCacheShrink(c), 0)
        XCTAssertEqual(c.nrSlabs, 0)
        XCTAssertEqual(k.phys.freePageCount, free0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    /// SLOB: small kmallocs share a page (8-byte size header, natural alignment for powers of
    /// two); the page goes back when its last block is freed; no kmalloc caches exist.
    func testSLOBPackingAndFree() throws {
        let k = try boot(.slob)
        XCTAssertEqual(k.kmem.caches.map(\.name), ["kmem_cache"] + kernelObjectCaches.map(\.name))
        let free0 = k.phys.freePageCount, slab0 = k.stat.nrSlabUnreclaimable
        let a = try XCTUnwrap(k.kmalloc(24)), b = try XCTUnwrap(k.kmalloc(100)), c = try XCTUnwrap(k.kmalloc(64))
        // The boot page holds 9 cache descriptors of 96 bytes, 64-aligned: 32-byte gaps between them.
        // a (24 + 8 header) fills the first gap; b (108 + 8) only fits after the last descriptor.
        XCTAssertEqual(a & 0xfff, 96 + 8)
        XCTAssertEqual(b & 0xfff, 8 * 128 + 96 + 8)
        XCTAssertEqual(c % 64, 0)
        XCTAssertEqual(k.ksize(b), 100)
        XCTAssertEqual(k.phys.freePageCount, free0)            // they fit in the boot page beside kmem_cache's descriptor
        let m = try XCTUnwrap(k.kmalloc(600))                  // the medium list: a page of its own
        XCTAssertNotEqual(m >> MMCore.PAGE_SHIFT, a >> MMCore.PAGE_SHIFT)
        XCTAssertEqual(k.stat.nrSlabUnreclaimable, slab0 + 1)
        for p in [a, b, c, m] { if case .failure(let e) = k.kfree(p) { XCTFail("\(e)") } }
        XCTAssertEqual(k.stat.nrSlabUnreclaimable, slab0)
        XCTAssertEqual(k.phys.freePageCount, free0 + 0)
        if case .success = k.kfree(a) { XCTFail("double kfree accepted") }
        XCTAssertEqual(k.checkInvariants(), [])
    }

    /// SLOB caches: objects are placed with the cache's alignment; a page-sized object takes pages.
    func testSLOBCaches() throws {
        let k = try boot(.slob)
        guard case .success(let c) = k.kmemCacheCreate("c", size: 40, flags: [.hwcacheAlign]),
              case .success(let big) = k.kmemCacheCreate("big", size: 5000) else { return XCTFail() }
        let x = try XCTUnwrap(k.kmemCacheAlloc(c, gfp: .kernel)), y = try XCTUnwrap(k.kmemCacheAlloc(c, gfp: .kernel))
        XCTAssertEqual(x % 64, 0)
        XCTAssertEqual(y - x, 64)
        let z = try XCTUnwrap(k.kmemCacheAlloc(big, gfp: .kernel))
        XCTAssertEqual(z & (MMCore.PAGE_SIZE - 1), 0)
        if case .success = k.kmemCacheFree(big, x) { XCTFail("wrong cache accepted") }
        for (cc, o) in [(c, x), (c, y), (big, z)] { if case .failure(let e) = k.kmemCacheFree(cc, o) { XCTFail("\(e)") } }
        XCTAssertEqual(k.checkInvariants(), [])
    }
}
