import XCTest
@testable import MMCore

/// SLUB geometry against the slabinfo of a real Linux 6.18 x86-64 machine with 2 CPUs, kmalloc
/// size classes, the allocator's lists and counters, large kmalloc, vmalloc and GFP decisions.
final class SlabTests: XCTestCase {
    /// The error of a result, or nil on success.
    private func failure<T, E: Error>(_ r: Result<T, E>) -> E? {
        if case .failure(let e) = r { return e }
        return nil
    }
    /// (name, object size, align, flags, ctor) → (objsize, objperslab, pagesperslab) from /proc/slabinfo.
    func testGeometryMatchesRealSlabinfoWithTwoCPUs() {
        let cases: [(String, Int, Int, SlabFlags, Bool, Int, Int, Int)] = [
            ("task_struct", 5888, 64, [], false, 5888, 5, 8),
            ("mm_struct", 1592, 0, [.hwcacheAlign], false, 1600, 20, 8),
            ("files_cache", 704, 0, [.hwcacheAlign], false, 704, 23, 4),
            ("signal_cache", 1136, 0, [.hwcacheAlign], false, 1152, 14, 4),
            ("sighand_cache", 2088, 0, [.hwcacheAlign, .typesafeByRCU], true, 2112, 15, 8),
            ("inode_cache", 616, 0, [.reclaimAccount], true, 624, 13, 2),
            ("dentry", 192, 0, [.hwcacheAlign, .reclaimAccount], false, 192, 21, 1),
            ("vm_area_struct", 176, 0, [.hwcacheAlign], false, 192, 21, 1),
            ("anon_vma", 96, 0, [.typesafeByRCU], true, 104, 39, 1),
            ("filp", 184, 0, [.hwcacheAlign], false, 192, 21, 1),
            ("kmem_cache", 248, 0, [.hwcacheAlign], false, 256, 16, 1),
            ("kmalloc-8k", 8192, 4096, [], false, 8192, 4, 8),
            ("kmalloc-4k", 4096, 4096, [], false, 4096, 8, 8),
            ("kmalloc-2k", 2048, 2048, [], false, 2048, 16, 8),
            ("kmalloc-1k", 1024, 1024, [], false, 1024, 16, 4),
            ("kmalloc-512", 512, 512, [], false, 512, 16, 2),
            ("kmalloc-256", 256, 256, [], false, 256, 16, 1),
            ("kmalloc-192", 192, 8, [], false, 192, 21, 1),
            ("kmalloc-128", 128, 128, [], false, 128, 32, 1),
            ("kmalloc-96", 96, 8, [], false, 96, 42, 1),
            ("kmalloc-64", 64, 64, [], false, 64, 64, 1),
            ("kmalloc-32", 32, 32, [], false, 32, 128, 1),
            ("kmalloc-16", 16, 16, [], false, 16, 256, 1),
            ("kmalloc-8", 8, 8, [], false, 8, 512, 1),
        ]
        for (name, size, align, flags, ctor, objsize, per, pages) in cases {
            let g = SlubGeometry.calculate(objectSize: size, align: align, flags: flags, hasCtor: ctor, nrCPUs: 2)
            XCTAssertEqual(g?.size, objsize, name)
            XCTAssertEqual(g?.objects, per, name)
            XCTAssertEqual(g?.pagesPerSlab, pages, name)
        }
    }

    /// With one CPU min_objects is 8, not 12: kmalloc-512 fits in one page, kmalloc-1k in two.
    func testOneCPUGivesSmallerSlabs() {
        XCTAssertEqual(SlubGeometry.calculateOrder(size: 512, nrCPUs: 1), 0)
        XCTAssertEqual(SlubGeometry.calculateOrder(size: 1024, nrCPUs: 1), 1)
        XCTAssertEqual(SlubGeometry.calculateOrder(size: 512, nrCPUs: 2), 1)
        XCTAssertEqual(SlubGeometry.calculateOrder(size: 512, nrCPUs: 4), 1)   // fls(4)=3: 16 objects
        XCTAssertEqual(SlubGeometry.calculateOrder(size: 256, nrCPUs: 4), 0)
        // Free pointer: in the middle without a constructor, after the object with one.
        XCTAssertEqual(SlubGeometry.calculate(objectSize: 100, align: 0, flags: [], hasCtor: false, nrCPUs: 1)?.offset, 48)
        XCTAssertEqual(SlubGeometry.calculate(objectSize: 100, align: 0, flags: [], hasCtor: true, nrCPUs: 1)?.size, 112)
        // HWCACHE_ALIGN halves the line for small objects: 20 bytes → 32-byte alignment.
        XCTAssertEqual(SlubGeometry.calculate(objectSize: 20, align: 0, flags: [.hwcacheAlign], hasCtor: false, nrCPUs: 1)?.align, 32)
        XCTAssertEqual(SlubGeometry.calculate(objectSize: 20, align: 0, flags: [.hwcacheAlign], hasCtor: false, nrCPUs: 1)?.minPartial, 5)
        XCTAssertEqual(SlubGeometry.calculate(objectSize: 8192, align: 0, flags: [], hasCtor: false, nrCPUs: 1)?.minPartial, 6)
    }

    func testKmallocIndex() {
        let expect: [(Int, Int, String)] = [(1, 3, "kmalloc-8"), (8, 3, "kmalloc-8"), (9, 4, "kmalloc-16"), (33, 6, "kmalloc-64"),
                                            (64, 6, "kmalloc-64"), (65, 1, "kmalloc-96"), (96, 1, "kmalloc-96"), (97, 7, "kmalloc-128"),
                                            (129, 2, "kmalloc-192"), (192, 2, "kmalloc-192"), (193, 8, "kmalloc-256"),
                                            (1025, 11, "kmalloc-2k"), (8192, 13, "kmalloc-8k")]
        for (size, index, name) in expect {
            XCTAssertEqual(kmallocIndex(size), index, "\(size)")
            XCTAssertEqual(kmallocName(index), name)
        }
        XCTAssertEqual(kmallocIndex(8193), -1)
        XCTAssertEqual(kmallocPlacement(8193)?.where_, "page allocator (order 2)")
        XCTAssertEqual(kmallocPlacement(100)?.waste, 28)
        XCTAssertNil(kmallocPlacement(KMALLOC_MAX_SIZE + 1))
    }

    /// Boot creates kmem_cache_node, kmem_cache, 13 kmalloc caches and the 8 kernel object caches;
    /// their descriptors take two slabs of kmem_cache and one of kmem_cache_node.
    func testBootCaches() throws {
        let k = try Kernel()
        XCTAssertEqual(k.kmem.caches.map(\.name), ["kmem_cache_node", "kmem_cache", "kmalloc-8", "kmalloc-16", "kmalloc-32",
            "kmalloc-64", "kmalloc-96", "kmalloc-128", "kmalloc-192", "kmalloc-256", "kmalloc-512", "kmalloc-1k",
            "kmalloc-2k", "kmalloc-4k", "kmalloc-8k", "task_struct", "pid", "sighand_cache", "signal_cache",
            "files_cache", "mm_struct", "vm_area_struct", "anon_vma"])
        XCTAssertEqual(k.kmem.cache(named: "kmem_cache")?.activeObjects, 23)
        XCTAssertEqual(k.kmem.cache(named: "kmem_cache_node")?.activeObjects, 23)
        // 23 descriptors of 256 bytes: two kmem_cache slabs; 23 of 64 bytes: one kmem_cache_node slab.
        XCTAssertEqual(k.kmem.unreclaimablePages, 3)
        XCTAssertEqual(k.stat.nrSlabUnreclaimable, 3)
        XCTAssertEqual(k.slabInvariantViolations(), [])
    }

    /// 64 kmalloc(64)s fill one page; the 65th takes a new slab. Freeing from the first (no longer
    /// the CPU slab) puts it on the partial list; the next allocation still comes from the CPU slab.
    /// Emptying a slab frees it only once the node keeps min_partial (5) partial slabs.
    func testSlabsPartialListAndDiscard() throws {
        let k = try Kernel()
        let c = try XCTUnwrap(k.kmem.kmallocCaches[6])
        let free0 = k.phys.freePageCount
        var objs: [UInt64] = []
        for _ in 0..<64 { objs.append(try XCTUnwrap(k.kmalloc(64))) }
        XCTAssertEqual(c.nrSlabs, 1)
        XCTAssertEqual(objs[1] - objs[0], 64)
        XCTAssertEqual(k.phys.freePageCount, free0 - 1)
        let p65 = try XCTUnwrap(k.kmalloc(64))
        XCTAssertEqual(c.nrSlabs, 2)
        XCTAssertEqual(p65 & (PAGE_SIZE - 1), 0)
        XCTAssertNil(failure(k.kfree(objs[10])))
        XCTAssertEqual(c.partial.count, 1)
        XCTAssertEqual(c.partialFreeObjects, 1)
        XCTAssertEqual(failure(k.kfree(objs[10])), .doubleFree(objs[10]))
        XCTAssertEqual(failure(k.kfree(objs[10] + 8)), .notAnObject(objs[10] + 8))
        let next = try XCTUnwrap(k.kmalloc(64))
        XCTAssertEqual(next, p65 + 64)   // from the CPU slab, not the partial one
        // Empty the first slab: it stays on the partial list (fewer than min_partial partial slabs).
        for (i, o) in objs.enumerated() where i != 10 { XCTAssertNil(failure(k.kfree(o))) }
        XCTAssertEqual(c.nrSlabs, 2)
        XCTAssertEqual(k.kmemCacheShrink(c), 1)
        XCTAssertEqual(c.nrSlabs, 1)
        XCTAssertEqual(k.phys.freePageCount, free0 - 1)
        XCTAssertEqual(k.slabInvariantViolations(), [])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    /// Large kmalloc: order get_order(size) compound pages counted in SUnreclaim; kfree returns them.
    func testLargeKmalloc() throws {
        let k = try Kernel()
        let free0 = k.phys.freePageCount, slab0 = k.stat.nrSlabUnreclaimable
        let p = try XCTUnwrap(k.kmalloc(20000))
        XCTAssertEqual(k.phys.freePageCount, free0 - 8)
        XCTAssertEqual(k.stat.nrSlabUnreclaimable, slab0 + 8)
        XCTAssertEqual(k.ksize(p), 32768)
        XCTAssertEqual(failure(k.kfree(p + 4096)), .notAnObject(p + 4096))
        XCTAssertNil(failure(k.kfree(p)))
        XCTAssertEqual(k.phys.freePageCount, free0)
        XCTAssertEqual(k.stat.nrSlabUnreclaimable, slab0)
        XCTAssertNil(k.kmalloc(KMALLOC_MAX_SIZE + 1))
        XCTAssertEqual(k.kmalloc(0), ZERO_SIZE_PTR)
        XCTAssertNil(failure(k.kfree(ZERO_SIZE_PTR)))
    }

    /// A cache with objects in use cannot be destroyed; an empty one gives its slabs and descriptor back.
    func testCreateAndDestroy() throws {
        let k = try Kernel()
        let free0 = k.phys.freePageCount
        guard case .success(let c) = k.kmemCacheCreate("foo", size: 100, flags: [.hwcacheAlign]) else { return XCTFail() }
        XCTAssertEqual(c.geometry.size, 128)
        XCTAssertEqual(failure(k.kmemCacheCreate("foo", size: 8)), .duplicateName("foo"))
        XCTAssertEqual(failure(k.kmemCacheCreate("bar", size: 8, align: 24)), .badAlign(24))
        let o = try XCTUnwrap(k.kmemCacheAlloc(c, gfp: .kernel))
        XCTAssertEqual(failure(k.kmemCacheDestroy(c)), .stillInUse("foo", 1))
        XCTAssertNil(failure(k.kmemCacheFree(c, o)))
        XCTAssertNil(failure(k.kmemCacheDestroy(c)))
        XCTAssertNil(k.kmem.cache(named: "foo"))
        XCTAssertEqual(k.phys.freePageCount, free0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    /// vmalloc: page-aligned areas with a guard page between them; VmallocUsed counts pages only.
    func testVmallocGuardPagesAndFree() throws {
        let k = try Kernel()
        let free0 = k.phys.freePageCount
        guard case .success(let a) = k.vmalloc(10000), case .success(let b) = k.vmalloc(4096) else { return XCTFail() }
        XCTAssertEqual(a.addr, VMALLOC_START)
        XCTAssertEqual(a.size, 4 * PAGE_SIZE)          // 3 pages + guard
        XCTAssertEqual(b.addr, VMALLOC_START + 4 * PAGE_SIZE)
        XCTAssertEqual(k.vmap.nrVmallocPages, 4)
        XCTAssertEqual(k.phys.freePageCount, free0 - 4)
        XCTAssertEqual(k.vmallocToPFN(a.addr + 8192 + 5), a.pages[2])
        XCTAssertNil(k.vmallocToPFN(a.addr + 3 * PAGE_SIZE))   // the guard page
        XCTAssertEqual(failure(k.vfree(a.addr + 1)), .noSuchArea(a.addr + 1))
        XCTAssertNil(failure(k.vfree(a.addr)))
        guard case .success(let c) = k.vmalloc(8192) else { return XCTFail() }
        XCTAssertEqual(c.addr, VMALLOC_START)          // first fit reuses the hole
        guard case .success(let d) = k.vmalloc(8192) else { return XCTFail() }
        XCTAssertEqual(d.addr, b.addr + 2 * PAGE_SIZE)  // 3 pages do not fit in the 1-page gap left
        XCTAssertEqual(failure(k.vmalloc(0)), .badSize(0))
        XCTAssertEqual(k.checkInvariants(), [])
    }

    /// Kernel stacks: 16 KiB vmalloc areas aligned to 16 KiB; freed stacks are cached (two per CPU).
    func testKernelStacksAreCached() throws {
        let k = try Kernel()
        let t1 = k.addTask(comm: "a", mm: nil), t2 = k.addTask(comm: "b", mm: nil), t3 = k.addTask(comm: "c", mm: nil)
        for t in [t1, t2, t3] { XCTAssertTrue(k.allocThreadStack(t)) }
        XCTAssertEqual(k.stat.nrKernelStackKB, 48)
        XCTAssertEqual(k.vmap.areas.map { $0.addr - VMALLOC_START }, [0, 0x8000, 0x10000])
        for t in [t1, t2, t3] { k.freeThreadStack(t) }
        XCTAssertEqual(k.stat.nrKernelStackKB, 0)
        XCTAssertEqual(k.vmap.cachedStacks.count, 2)
        XCTAssertEqual(k.vmap.areas.count, 2)
        XCTAssertEqual(k.vmap.nrVmallocPages, 8)
    }

    /// GFP decisions on a 64 MiB machine: once GFP_KERNEL|__GFP_NORETRY fails at the min
    /// watermark, GFP_ATOMIC still gets pages (it may go below min), GFP_NOWAIT does not; the
    /// failure is reported as warn_alloc() does, unless __GFP_NOWARN.
    func testAtomicDipsBelowMin() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20))
        var n = 0
        while k.allocKernelPages(order: 0, gfp: [.kernel, .noretry, .nowarn]) != nil { n += 1 }
        XCTAssertGreaterThan(n, 1000)
        XCTAssertNil(k.allocKernelPages(order: 0, gfp: .nowait))
        XCTAssertNotNil(k.allocKernelPages(order: 0, gfp: .atomic))
        k.log = []
        XCTAssertNil(k.allocKernelPages(order: 0, gfp: [.kernel, .noretry]))
        XCTAssertEqual(k.log.first?.text, "swapper/0: page allocation failure: order:0, mode:0x10cc0(GFP_KERNEL|__GFP_NORETRY), nodemask=(null),cpuset=/,mems_allowed=0")
        XCTAssertEqual(k.log[1].text, "Mem-Info:")
        XCTAssertTrue(k.log[2].text.hasPrefix("Node 0 DMA: "))
        XCTAssertNil(k.allocKernelPages(order: 11, gfp: [.kernel, .nowarn]))
    }

    /// Zone modifiers: __GFP_DMA takes from ZONE_DMA, __GFP_DMA32 never above 4 GiB.
    func testZoneModifiers() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 8 << 30))
        let d = try XCTUnwrap(k.allocKernelPages(order: 0, gfp: [.kernel, .dma]))
        XCTAssertEqual(k.phys.zone(of: d)?.type, .dma)
        let d32 = try XCTUnwrap(k.allocKernelPages(order: 2, gfp: [.kernel, .dma32]))
        XCTAssertEqual(k.phys.zone(of: d32)?.type, .dma32)
        let n = try XCTUnwrap(k.allocKernelPages(order: 0, gfp: .kernel))
        XCTAssertEqual(k.phys.zone(of: n)?.type, .normal)
        XCTAssertEqual(k.virtToPFN(k.pageAddress(n)), n)
    }
}

/// Compaction and the per-CPU allocator.
final class CompactionPercpuTests: XCTestCase {
    /// A process fills DMA32 with anonymous pages, then frees every other 32 KiB: no order-9 block
    /// is left there. Compacting DMA32 for order 9 builds one;
    /// the process's data survives the migration and the invariants hold.
    func testDirectCompactionBuildsABlock() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20))
        guard case .success(let t) = k.spawn(ProgramImage(path: "./frag")) else { return XCTFail() }
        k.switchTo(t)
        let buf = try k.mmap(t, addr: 0, length: 24 << 20, prot: [.read, .write], flags: [.private, .anonymous]).get()
        _ = k.touch(t, buf, length: 24 << 20, .write)
        _ = k.store(t, VirtAddr(buf.raw + 0x9000), [0x34, 0x12])
        for j in 0..<384 { _ = k.madvise(t, addr: buf.raw + UInt64(j) * 65536, length: 32768, advice: .dontneed) }
        let dma32 = k.phys.zones[1]
        XCTAssertFalse(k.compactionFinished(dma32, order: 9, .movable))
        let before = k.phys.freePageCount
        let r = k.compactZone(dma32, order: 9)
        XCTAssertTrue(r.success)
        XCTAssertGreaterThan(r.migrated, 0)
        XCTAssertEqual(k.phys.freePageCount, before)
        XCTAssertTrue(k.compactionFinished(dma32, order: 9, .movable))
        XCTAssertEqual(try k.load(t, VirtAddr(buf.raw + 0x9000), count: 2).get(), [0x34, 0x12])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testPercpuChunksAndPopulation() throws {
        let k = try Kernel()
        let free0 = k.phys.freePageCount
        let a = try XCTUnwrap(k.allocPercpu(24))
        XCTAssertEqual(a, VMALLOC_START)
        let b = try XCTUnwrap(k.allocPercpu(5000, align: 64))
        XCTAssertEqual(b, VMALLOC_START + 64)
        XCTAssertEqual(k.percpu.populatedPages, 2)           // unit pages 0 and 1
        XCTAssertEqual(k.phys.freePageCount, free0 - 2)
        XCTAssertEqual(k.allocPercpu(8), VMALLOC_START + 24)  // first fit in the gap
        XCTAssertNil(k.allocPercpu(PCPU_UNIT_SIZE + 1))
        XCTAssertNil(k.allocPercpu(8, align: 24))
        XCTAssertTrue(k.freePercpu(a))
        XCTAssertFalse(k.freePercpu(a))
        XCTAssertTrue(k.freePercpu(b))
        XCTAssertTrue(k.freePercpu(VMALLOC_START + 24))
        XCTAssertEqual(k.percpu.populatedPages, 0)
        XCTAssertEqual(k.phys.freePageCount, free0)
        XCTAssertTrue(k.vmap.areas.isEmpty)
    }
}

/// Kernel objects of tasks and address spaces come from their caches, allocated and freed at
/// the system calls themselves (no scenario runner involved).
final class KernelObjectTests: XCTestCase {
    func testTaskObjectsByHand() throws {
        let k = try Kernel()
        let free0 = k.phys.freePageCount
        let t = k.addTask(comm: "x", mm: nil)
        XCTAssertTrue(k.allocTaskObjects(t))
        XCTAssertEqual(k.kmem.cache(named: "task_struct")?.activeObjects, 1)
        XCTAssertEqual(k.kmem.cache(named: "files_cache")?.activeObjects, 1)
        XCTAssertEqual(k.stat.nrKernelStackKB, 16)
        k.freeTaskObjects(t)
        for n in ["task_struct", "pid", "files_cache", "signal_cache", "sighand_cache"] {
            XCTAssertEqual(k.kmem.cache(named: n)?.activeObjects, 0, n)
        }
        XCTAssertEqual(k.stat.nrKernelStackKB, 0)
        // The slabs stay (CPU slabs and a cached stack): memory is not all back.
        XCTAssertLessThan(k.phys.freePageCount, free0)
        XCTAssertEqual(k.slabInvariantViolations(), [])
    }

    /// active_objs of (vm_area_struct, anon_vma, mm_struct, task_struct).
    private func counts(_ k: Kernel) -> [Int] {
        ["vm_area_struct", "anon_vma", "mm_struct", "task_struct"].map { k.kmem.cache(named: $0)?.activeObjects ?? -1 }
    }

    /// mmap, a split by mprotect in the middle (+2), the merge back (-2), a first fault
    /// (anon_vma), munmap in the middle (+1), fork (everything doubled), exit and execve.
    func testObjectsFollowEachSystemCall() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        XCTAssertEqual(counts(k), [0, 0, 0, 0])
        let p = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let mm = p.mm!
        let n = mm.vmas.count
        let anon = Set(mm.vmas.vmas.map(\.anonVMA).filter { $0 != 0 }).count
        XCTAssertEqual(counts(k), [n, anon, 1, 1])
        XCTAssertEqual(k.kmem.cache(named: "pid")?.activeObjects, 1)
        XCTAssertEqual(k.kmem.cache(named: "signal_cache")?.activeObjects, 1)

        // A new anonymous mapping far from the others: one more vm_area_struct, no anon_vma yet.
        let a = try k.mmap(p, addr: 0x1000_0000, length: 0x10000, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertEqual(counts(k), [n + 1, anon, 1, 1])
        // mprotect of two pages in the middle: three VMAs where there was one.
        XCTAssertNoThrow(try k.mprotect(p, addr: a.raw + 0x4000, length: 0x2000, prot: .read).get())
        XCTAssertEqual(mm.vmas.count, n + 3)
        XCTAssertEqual(counts(k), [n + 3, anon, 1, 1])
        // Back to read-write: the three merge into one again.
        XCTAssertNoThrow(try k.mprotect(p, addr: a.raw + 0x4000, length: 0x2000, prot: [.read, .write]).get())
        XCTAssertEqual(counts(k), [n + 1, anon, 1, 1])
        // The first write fault gives the VMA its anon_vma (anon_vma_prepare).
        XCTAssertNoThrow(try k.store(p, a, [1]).get())
        XCTAssertEqual(counts(k), [n + 1, anon + 1, 1, 1])
        // munmap of a hole in the middle: two VMAs share that anon_vma.
        XCTAssertNoThrow(try k.munmap(p, addr: a.raw + 0x8000, length: 0x1000).get())
        XCTAssertEqual(counts(k), [n + 2, anon + 1, 1, 1])
        // A file mapping merged onto nothing and a second anonymous one adjacent to the first: merged.
        _ = try k.mmap(p, addr: a.raw + 0x10000, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertEqual(counts(k), [n + 2, anon + 1, 1, 1])

        // fork: the child copies every VMA and gets its own anon_vmas, mm_struct and task objects.
        let c = try k.fork(p).get()
        XCTAssertEqual(c.mm!.vmas.count, n + 2)
        XCTAssertEqual(counts(k), [2 * (n + 2), 2 * (anon + 1), 2, 2])
        XCTAssertEqual(k.kmem.cache(named: "pid")?.activeObjects, 2)
        XCTAssertEqual(k.objectCounts(c.mm!).vmas, n + 2)
        // The child exits (reaped at once); the mm_struct it ran on lives until the CPU leaves it.
        k.exitTask(c, status: 0)
        XCTAssertEqual(counts(k)[0], n + 2)
        XCTAssertEqual(counts(k)[1], anon + 1)
        XCTAssertEqual(counts(k)[3], 1)
        XCTAssertEqual(k.kmem.cache(named: "pid")?.activeObjects, 1)
        XCTAssertEqual(counts(k)[2], 1)

        // munmap of the whole area: both VMAs and their anon_vma go.
        XCTAssertNoThrow(try k.munmap(p, addr: a.raw, length: 0x11000).get())
        XCTAssertEqual(counts(k), [n, anon, 1, 1])
        // A thread: task_struct and pid only (it shares signal, sighand and files).
        let th = try k.cloneThread(p).get()
        XCTAssertEqual(counts(k)[3], 2)
        XCTAssertEqual(k.kmem.cache(named: "signal_cache")?.activeObjects, 1)
        XCTAssertEqual(k.kmem.cache(named: "pid")?.activeObjects, 2)
        k.killTask(th, signal: .SIGKILL)
        // exit_mmap freed every VMA; the CPU still runs on the mm (active_mm, lazy TLB), so its
        // mm_struct lives until the CPU switches to another process (mmdrop).
        XCTAssertEqual(counts(k), [0, 0, 1, 0])
        let q = try k.spawn(ProgramImage(path: "/bin/q")).get()
        XCTAssertEqual(counts(k), [q.mm!.vmas.count, Set(q.mm!.vmas.vmas.map(\.anonVMA).filter { $0 != 0 }).count, 1, 1])
        k.exitTask(q, status: 0)
        XCTAssertEqual(counts(k), [0, 0, 1, 0])
        for name in ["pid", "signal_cache", "sighand_cache", "files_cache"] {
            XCTAssertEqual(k.kmem.cache(named: name)?.activeObjects, 0, name)
        }
        XCTAssertEqual(k.stat.nrKernelStackKB, 0)
        XCTAssertEqual(k.slabInvariantViolations(), [])
    }

    /// When vm_area_struct objects cannot be had, mmap and a splitting mprotect fail with ENOMEM
    /// and leave the address space as it was.
    func testAllocationFailureIsENOMEM() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let p = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let mm = p.mm!
        let a = try k.mmap(p, addr: 0x1000_0000, length: 0x10000, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        let before = mm.vmas.vmas
        let committed = k.committedPages
        // failslab on vm_area_struct: every vm_area_alloc()/vm_area_dup() fails.
        k.kmem.failslab = k.kmem.cache(named: "vm_area_struct")
        XCTAssertNotNil(k.kmem.failslab)
        XCTAssertEqual(k.mmap(p, addr: 0x2000_0000, length: 0x1000, prot: .read, flags: [.private, .anonymous, .fixed]).failureErrnoForTest, .ENOMEM)
        XCTAssertEqual(k.mprotect(p, addr: a.raw + 0x4000, length: 0x1000, prot: .read).failureErrnoForTest, .ENOMEM)
        XCTAssertEqual(mm.vmas.vmas, before)
        XCTAssertEqual(k.committedPages, committed)
        XCTAssertEqual(k.fork(p).failureErrnoForTest, .ENOMEM)
        k.kmem.failslab = nil
        XCTAssertNoThrow(try k.mprotect(p, addr: a.raw + 0x4000, length: 0x1000, prot: .read).get())
        XCTAssertEqual(k.checkInvariants(), [])
    }
}

extension Result {
    /// The error of a failed result, nil on success.
    var failureErrnoForTest: Failure? { if case .failure(let e) = self { return e }; return nil }
}
