import XCTest
import MMCore
@testable import MMProcFS

/// /proc/slabinfo, slabtop, /proc/vmallocinfo, /proc/pagetypeinfo, extfrag and the layouts, byte for byte.
final class SlabinfoTests: XCTestCase {
    /// The column widths of cache_show(): the line of a real Linux 6.18 machine.
    func testSlabinfoLineMatchesTheKernel() {
        let e = SlabinfoEntry(name: "kmalloc-96", activeObjs: 3470, numObjs: 3570, objSize: 96, objPerSlab: 42, pagesPerSlab: 1,
                              activeSlabs: 85, numSlabs: 85)
        XCTAssertEqual(Slabinfo.format([e]), text([
            "slabinfo - version: 2.1",
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>",
            "kmalloc-96          3470   3570     96   42    1 : tunables    0    0    0 : slabdata     85     85      0",
        ]))
    }

    /// A booted machine lists its caches newest first (the kernel object caches, then kmalloc-8k …
    /// kmem_cache_node); a kmalloc(100) makes kmalloc-128's CPU
    /// slab (32 objects, all counted active by SLUB); kfree leaves it the CPU slab.
    func testGatherAfterKmalloc() throws {
        let k = try bootedKernel()
        let p = try XCTUnwrap(k.kmalloc(100))
        let e = Slabinfo.gather(k)
        XCTAssertEqual(e.first?.name, "anon_vma")
        XCTAssertEqual(e.last?.name, "kmem_cache_node")
        let c = try XCTUnwrap(e.first { $0.name == "kmalloc-128" })
        XCTAssertEqual([c.activeObjs, c.numObjs, c.objSize, c.objPerSlab, c.pagesPerSlab, c.activeSlabs], [32, 32, 128, 32, 1, 1])
        _ = k.kfree(p)
        XCTAssertEqual(Slabinfo.gather(k).first { $0.name == "kmalloc-128" }?.activeObjs, 32)
        // Boot: 3 pages of cache descriptors; kmalloc-128's slab: 1 more.
        XCTAssertTrue(ProcFS.meminfo(k).contains("Slab:                 16 kB\n"))
        XCTAssertTrue(ProcFS.meminfo(k).contains("SUnreclaim:           16 kB\n"))
    }

    func testSlabtop() {
        let entries = [
            SlabinfoEntry(name: "dentry", activeObjs: 20, numObjs: 42, objSize: 192, objPerSlab: 21, pagesPerSlab: 1, activeSlabs: 2, numSlabs: 2),
            SlabinfoEntry(name: "kmalloc-8", activeObjs: 512, numObjs: 512, objSize: 8, objPerSlab: 512, pagesPerSlab: 1, activeSlabs: 1, numSlabs: 1),
            SlabinfoEntry(name: "empty", activeObjs: 0, numObjs: 0, objSize: 8192, objPerSlab: 4, pagesPerSlab: 8, activeSlabs: 0, numSlabs: 0),
        ]
        XCTAssertEqual(Slabinfo.slabtop(entries), text([
            " Active / Total Objects (% used)    : 532 / 554 (96.0%)",
            " Active / Total Slabs (% used)      : 3 / 3 (100.0%)",
            " Active / Total Caches (% used)     : 2 / 3 (66.7%)",
            " Active / Total Size (% used)       : 7.75K / 11.88K (65.3%)",
            " Minimum / Average / Maximum Object : 0.01K / 0.02K / 8.00K",
            "",
            "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME",
            "   512    512 100%    0.01K      1      512         4K kmalloc-8",
            "    42     20  47%    0.19K      2       21         8K dentry",
            "     0      0   0%    8.00K      0        4         0K empty",
        ]))
    }

    func testVmallocinfo() throws {
        let k = try bootedKernel()
        _ = k.vmalloc(5000)
        XCTAssertEqual(ProcFS.vmallocinfo(k), "0xffffc90000000000-0xffffc90000003000   12288 vmalloc pages=2 vmalloc\n")
        XCTAssertTrue(ProcFS.meminfo(k).contains("VmallocUsed:           8 kB\n"))
    }

    /// Hand-computed indices on the DMA zone of a 64 MiB machine, and an empty zone.
    func testExtfragIndices() {
        let z = Zone(type: .dma, startPFN: PFN(0), spannedPages: 4096)
        // Use a real zone: 64 MiB DMA after boot has blocks of order 8, 9 and 3×10 (Movable).
        let k = try! Kernel(config: MachineConfig(ramBytes: 64 << 20))
        let dma = k.phys.zones[0]
        XCTAssertEqual((0..<11).map { dma.nrFree(order: $0) }, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3])
        // free = 256 + 512 + 3072 = 3840 pages. Order 9: suitable = 1 + 3*2 = 7 blocks of 512 = 3584:
        // unusable = (3840 - 3584) * 1000 / 3840 = 66; order 10: (3840 - 3072) * 1000 / 3840 = 200.
        XCTAssertEqual(Extfrag.unusableIndex(dma, order: 9), 66)
        XCTAssertEqual(Extfrag.unusableIndex(dma, order: 10), 200)
        XCTAssertEqual(Extfrag.fragmentationIndex(dma, order: 10), -1000)
        XCTAssertEqual(Extfrag.fragmentationIndex(z, order: 3), 0)   // no free block at all
        XCTAssertTrue(Extfrag.format(k, unusable: true).hasPrefix("Node 0, zone      DMA 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.066 0.200 \n"))
        XCTAssertTrue(Extfrag.format(k, unusable: false).hasPrefix("Node 0, zone      DMA -1.000 -1.000 "))
    }

    /// When no block is large enough: index = 1000 − (1000 + free·1000/2^order) / blocks.
    func testFragmentationIndexFormula() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20))
        // Take every block of order ≥ 3 from both zones, leaving only small blocks.
        while k.phys.allocPages(order: 3, gfp: [.memalloc, .comp]) != nil {}
        let dma32 = k.phys.zones[1]
        let info = Extfrag.contigInfo(dma32, order: 3)
        XCTAssertEqual(info.blocksSuitable, 0)
        let expect = 1000 - (1000 + info.freePages * 1000 / 8) / info.blocksTotal
        XCTAssertEqual(Extfrag.fragmentationIndex(dma32, order: 3), expect)
    }

    func testPagetypeinfoHeader() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20))
        let lines = ProcFS.pagetypeinfo(k).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines[0], "Page block order: 9")
        XCTAssertEqual(lines[1], "Pages per block:  512")
        XCTAssertEqual(lines[3], "Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 ")
        XCTAssertEqual(lines[5], "Node    0, zone      DMA, type      Movable      0      0      0      0      0      0      0      0      1      1      3 ")
        XCTAssertTrue(lines.contains("Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate "))
    }

    /// seed 000's mem_init() block for a 512 MiB board.
    func testArm32Layout() {
        let s = Layout.arm32(ramBytes: 512 << 20)
        XCTAssertTrue(s.hasPrefix(text([
            "Virtual kernel memory layout:",
            "    vector  : 0xffff0000 - 0xffff1000   (   4 kB)",
            "    fixmap  : 0xffc00000 - 0xfff00000   (3072 kB)",
            "    vmalloc : 0xe0800000 - 0xff800000   ( 496 MB)",
            "    lowmem  : 0xc0000000 - 0xe0000000   ( 512 MB)",
            "    pkmap   : 0xbfe00000 - 0xc0000000   (   2 MB)",
            "    modules : 0xbf000000 - 0xbfe00000   (  14 MB)",
            "      .text : 0xc0008000 - 0xc0691000   (6692 kB)",
            "      .init : 0xc0691000 - 0xc06c5000   ( 208 kB)",
            "      .data : 0xc06c6000 - 0xc071d3d8   ( 349 kB)",
            "       .bss : 0xc071d3d8 - 0xc0bc5c90   (4771 kB)",
        ])))
        XCTAssertTrue(Layout.arm32(ramBytes: 2 << 30).contains("    lowmem  : 0xc0000000 - 0xf0000000   ( 768 MB)\n"))
        XCTAssertTrue(Layout.x86_32(ramBytes: 2 << 30).contains("    lowmem  : 0xc0000000 - 0xf77fe000   ( 887 MB)\n"))
    }
}
