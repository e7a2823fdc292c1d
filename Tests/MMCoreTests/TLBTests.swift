import XCTest
@testable import MMCore

private let P = PTE.present, RW = PTE.rw, US = PTE.user, G = PTE.global

/// The TLB hierarchy: exact hit/miss counts, LRU victims, refills, flushes, PCIDs, staleness.
final class TLBTests: XCTestCase {
    /// User page `i` of the test region: VPN 0x10000 + i.
    func page(_ i: UInt64) -> UInt64 { 0x1000_0000 + i << 12 }

    private func machine(_ config: TLBConfig = TLBConfig(), pages: UInt64 = 0) throws -> (PageTableBuilder, MMU) {
        let b = try PageTableBuilder()
        for i in 0..<pages { b.map(page(i), to: PFN(0x2000 + i), flags: P | RW | US) }
        let mmu = MMU(config: config)
        mmu.loadCR3(b.pgd)
        mmu.resetStats()
        return (b, mmu)
    }

    private func read(_ mmu: MMU, _ b: PageTableBuilder, _ va: UInt64, user: Bool = true) -> Translation {
        mmu.translate(VirtAddr(va), .read, user: user, mem: b.mem)
    }

    // MARK: Geometry

    func testValidateAcceptsMultiplesOfWays() throws {
        try TLBConfig().validate()
        try TLBConfig(l1d: .init(entries: 4, ways: 2), l1i: .init(entries: 6, ways: 3), stlb: .init(entries: 6, ways: 2)).validate()
        try TLBConfig(stlb: .init(entries: 1, ways: 1)).validate()
    }

    func testValidateRejectsBadGeometryWithMessage() {
        XCTAssertThrowsError(try TLBConfig(l1d: .init(entries: 6, ways: 4)).validate()) { e in
            XCTAssertEqual(e as? TLBConfigError, .invalidGeometry(tlb: "L1 dTLB", entries: 6, ways: 4))
            XCTAssertEqual("\(e)", "invalid L1 dTLB geometry (6 entries, 4 ways): ways must be at least 1 and "
                           + "entries a positive multiple of ways, at most 1048576")
        }
        XCTAssertThrowsError(try TLBConfig(l1i: .init(entries: 2, ways: 4)).validate()) { e in
            XCTAssertEqual(e as? TLBConfigError, .invalidGeometry(tlb: "L1 iTLB", entries: 2, ways: 4))
        }
        XCTAssertThrowsError(try TLBConfig(stlb: .init(entries: 0, ways: 0)).validate()) { e in
            XCTAssertEqual(e as? TLBConfigError, .invalidGeometry(tlb: "STLB", entries: 0, ways: 0))
        }
        XCTAssertThrowsError(try TLBConfig(stlb: .init(entries: 8, ways: -2)).validate())
        XCTAssertThrowsError(try TLBConfig(stlb: .init(entries: 1 << 21, ways: 1)).validate())
    }

    // MARK: Scripted hit/miss counts and LRU

    /// L1 dTLB 4 entries / 2 ways (2 sets), STLB 6 entries / 3 ways (2 sets): even pages share set 0.
    func testScriptedSequenceOnTinyTLBsCountsAndLRUVictims() throws {
        let cfg = TLBConfig(l1d: .init(entries: 4, ways: 2), l1i: .init(entries: 4, ways: 2), stlb: .init(entries: 6, ways: 3))
        let (b, mmu) = try machine(cfg, pages: 8)
        for i: UInt64 in [0, 2, 0, 4, 2, 0, 6, 4] {
            XCTAssertEqual(read(mmu, b, page(i) + 0x10), .ok(PhysAddr((0x2000 + i) << 12 + 0x10)))
        }
        var expected = TLBStats()
        expected.l1dHits = 1; expected.l1dMisses = 7
        expected.stlbHits = 2; expected.stlbMisses = 5
        // The first walk reads 4 entries; the other 4 hit the PDE cache (all pages share one PMD
        // entry) and read only the PTE.
        expected.pageWalks = 5; expected.walkMemoryRefs = 8; expected.adUpdates = 4   // p4's second walk finds A set
        expected.pwcPDEHits = 4
        XCTAssertEqual(mmu.stats, expected)
        // L1: p2 evicted at the 4th access, p0 at the 5th, p4 at the 6th, p2 at the 7th, p0 at the 8th.
        XCTAssertEqual(mmu.l1d.entries().map { $0.page.raw }, [page(6), page(4)])
        XCTAssertEqual(mmu.l1d.entries().map { $0.way }, [0, 1])
        // STLB: p4 evicted at the 7th access (least recently probed), p2 at the 8th.
        XCTAssertEqual(mmu.stlb.entries().map { $0.page.raw }, [page(0), page(4), page(6)])
        XCTAssertTrue(mmu.stlb.entries().allSatisfy { $0.set == 0 })
    }

    /// Repeated hits on the previous data page (the inlined fast path of `translate`) count as L1
    /// dTLB hits and keep the LRU order exact. L1 dTLB 2 entries / 2 ways: one set.
    func testRepeatedDataPageHitsCountAndKeepLRUOrder() throws {
        let cfg = TLBConfig(l1d: .init(entries: 2, ways: 2), stlb: .init(entries: 64, ways: 4))
        let (b, mmu) = try machine(cfg, pages: 8)
        for i: UInt64 in [0, 1, 0, 0, 0, 2, 0, 3, 0, 1] {
            XCTAssertEqual(read(mmu, b, page(i) + 8), .ok(PhysAddr((0x2000 + i) << 12 + 8)))
        }
        // Hits: p0 at the 3rd, 4th, 5th, 7th and 9th access; misses: p0, p1, p2, p3, p1.
        XCTAssertEqual(mmu.stats.l1dHits, 5)
        XCTAssertEqual(mmu.stats.l1dMisses, 5)
        // p2 evicts p1 (p0 was used after it), p3 evicts p2 and p1 evicts p3: p0 stays, as it was
        // used between each fill (the 7th and 9th accesses must refresh its LRU stamp).
        XCTAssertEqual(Set(mmu.l1d.entries().map { $0.page.raw }), [page(0), page(1)])
        mmu.resetStats()
        XCTAssertEqual(mmu.stats, TLBStats())
    }

    /// L1 dTLB 6 entries / 2 ways: 3 sets, set = VPN mod 3 = (1 + i) mod 3.
    func testNonPowerOfTwoSetCount() throws {
        let cfg = TLBConfig(l1d: .init(entries: 6, ways: 2), stlb: .init(entries: 6, ways: 3))
        let (b, mmu) = try machine(cfg, pages: 8)
        XCTAssertEqual(mmu.l1d.sets, 3)
        for i: UInt64 in [0, 3, 6, 1, 2] { _ = read(mmu, b, page(i)) }
        let e = mmu.l1d.entries()
        XCTAssertEqual(e.map { $0.page.raw }, [page(2), page(6), page(3), page(1)])
        XCTAssertEqual(e.map { $0.set }, [0, 1, 1, 2])
        XCTAssertEqual(e.map { $0.way }, [0, 0, 1, 0])
        // STLB 6/3 has 2 sets: pages 0, 6, 2 (even VPNs) in set 0, pages 3, 1 in set 1; nothing evicted.
        XCTAssertEqual(mmu.stlb.entries().map { $0.page.raw }, [page(0), page(6), page(2), page(3), page(1)])
        // Page 0 was evicted from L1 but is still in the STLB: refill without a walk.
        _ = read(mmu, b, page(0))
        XCTAssertEqual(mmu.stats.l1dMisses, 6)
        XCTAssertEqual(mmu.stats.stlbHits, 1)
        XCTAssertEqual(mmu.stats.pageWalks, 5)
        XCTAssertEqual(mmu.l1d.entries().map { $0.page.raw }, [page(2), page(6), page(0), page(1)])   // p3 was LRU
    }

    func testInstructionAndDataTLBsAreSeparateAndShareTheSTLB() throws {
        let (b, mmu) = try machine(pages: 1)
        XCTAssertEqual(mmu.translate(VirtAddr(page(0)), .exec, user: true, mem: b.mem), .ok(PhysAddr(0x2000_000)))
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2000_000)))
        XCTAssertEqual(mmu.translate(VirtAddr(page(0)), .exec, user: true, mem: b.mem), .ok(PhysAddr(0x2000_000)))
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2000_000)))
        var expected = TLBStats()
        expected.l1iHits = 1; expected.l1iMisses = 1; expected.l1dHits = 1; expected.l1dMisses = 1
        expected.stlbHits = 1; expected.stlbMisses = 1
        expected.pageWalks = 1; expected.walkMemoryRefs = 4; expected.adUpdates = 1
        XCTAssertEqual(mmu.stats, expected)
    }

    func testLRUStampsSurviveClockWrap() {
        // More than 16 ways: the sets keep LRU stamps, re-stamped when the clock wraps.
        let t = TLB(geometry: .init(entries: 17, ways: 17))
        XCTAssertFalse(t.nibbleOrder)
        let pay = TLB.makePayload(HardwareTranslation(pageBase: PhysAddr(0x5000), pageSize: .size4K, flags: 0))
        func tag(_ vpn: UInt64) -> UInt64 { TLB.makeTag(VirtAddr(vpn << 12), size: .size4K, pcid: 0, global: false) }
        for v in 0..<17 { t.insert(tag: tag(UInt64(v)), payload: pay) }
        t.clock = UInt32.max - 1
        XCTAssertEqual(t.lookup(VirtAddr(0), pcid: 0), 0)        // stamp UInt32.max
        XCTAssertEqual(t.lookup(VirtAddr(1 << 12), pcid: 0), 1)  // clock wraps: set re-stamped, this entry newest
        XCTAssertEqual(t.clock, 18)
        XCTAssertEqual(t.insert(tag: tag(17), payload: pay), 2)  // evicts vpn 2, the least recently used
        XCTAssertEqual(t.entries().map { $0.page.raw >> 12 }, [0, 1, 17] + (3..<17).map { UInt64($0) })
        XCTAssertEqual(t.validCount, 17)
    }

    // MARK: Rewalks

    func testStaleButStricterEntryIsRewalkedNotFaulted() throws {
        let (b, mmu) = try machine()
        let s = b.map(page(0), to: PFN(0x2000), flags: P | US)
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2000_000)))
        b.mem.writePTE(s, PTE(raw: b.mem.readPTE(s).raw | RW))   // relaxed without a flush, as Linux may
        XCTAssertEqual(mmu.translate(VirtAddr(page(0)), .write, user: true, mem: b.mem), .ok(PhysAddr(0x2000_000)))
        XCTAssertEqual(mmu.stats.l1dHits, 1)
        XCTAssertEqual(mmu.stats.pageWalks, 2)
        XCTAssertEqual(mmu.stats.pageFaults, 0)
        XCTAssertTrue(b.mem.readPTE(s).isDirty)
    }

    func testDeniedCachedEntryFaultsAndIsDropped() throws {
        let (b, mmu) = try machine()
        b.map(page(0), to: PFN(0x2000), flags: P | US)
        _ = read(mmu, b, page(0))
        XCTAssertEqual(mmu.l1d.validCount, 1)
        XCTAssertEqual(mmu.stlb.validCount, 1)
        XCTAssertEqual(mmu.translate(VirtAddr(page(0)), .write, user: true, mem: b.mem), .faultCode(0b111))
        XCTAssertEqual(mmu.stats.pageWalks, 2)
        XCTAssertEqual(mmu.stats.pageFaults, 1)
        XCTAssertEqual(mmu.l1d.validCount, 0)
        XCTAssertEqual(mmu.stlb.validCount, 0)
    }

    // MARK: Flushes

    func testFlushRangeAtAndAboveTheCeiling() throws {
        let (b, mmu) = try machine(pages: 40)
        for i in 0..<UInt64(40) { _ = read(mmu, b, page(i)) }
        XCTAssertEqual(mmu.stats.pageWalks, 40)

        mmu.resetStats()
        mmu.flushRange(VirtAddr(page(0)), VirtAddr(page(33)))        // 33 pages: INVLPG each
        XCTAssertEqual(mmu.stats.singlePageFlushes, 33)
        XCTAssertEqual(mmu.stats.fullFlushes, 0)
        for i in 0..<UInt64(40) { _ = read(mmu, b, page(i)) }
        XCTAssertEqual(mmu.stats.pageWalks, 33)
        XCTAssertEqual(mmu.stats.l1dHits, 7)

        mmu.resetStats()
        mmu.flushRange(VirtAddr(page(0)), VirtAddr(page(34)))        // 34 pages: full flush
        XCTAssertEqual(mmu.stats.singlePageFlushes, 0)
        XCTAssertEqual(mmu.stats.fullFlushes, 1)
        for i in 0..<UInt64(40) { _ = read(mmu, b, page(i)) }
        XCTAssertEqual(mmu.stats.pageWalks, 40)

        mmu.resetStats()
        mmu.flushRange(VirtAddr(page(0) + 0x800), VirtAddr(page(1) + 0x800))   // touches pages 0 and 1
        mmu.flushRange(VirtAddr(page(5)), VirtAddr(page(5)))                   // empty: nothing
        XCTAssertEqual(mmu.stats.singlePageFlushes, 2)
        mmu.flushRange(VirtAddr(0), VirtAddr(UInt64.max))                      // TLB_FLUSH_ALL
        XCTAssertEqual(mmu.stats.fullFlushes, 1)
        XCTAssertEqual(mmu.l1d.validCount + mmu.stlb.validCount, 0)
    }

    func testCR3LoadWithoutPCIDFlushesAllButGlobal() throws {
        let b = try PageTableBuilder()
        let pgdB = try XCTUnwrap(b.newTable())
        let kva: UInt64 = 0xffff_8880_0000_0000
        b.map(page(0), to: PFN(0x2001), flags: P | RW | US)
        b.map(page(0), to: PFN(0x2002), flags: P | RW | US, pgd: pgdB)
        b.map(kva, to: PFN(0x3000), flags: P | RW | G)
        b.map(kva, to: PFN(0x3000), flags: P | RW | G, pgd: pgdB)
        let mmu = MMU(config: TLBConfig())
        mmu.loadCR3(b.pgd)
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2001_000)))
        XCTAssertEqual(read(mmu, b, kva, user: false), .ok(PhysAddr(0x3000_000)))
        mmu.loadCR3(pgdB, pcid: 7)                                   // PCID ignored when disabled
        XCTAssertEqual(mmu.pcid, 0)
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2002_000)))
        XCTAssertEqual(read(mmu, b, kva, user: false), .ok(PhysAddr(0x3000_000)))
        mmu.loadCR3(b.pgd)
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2001_000)))
        XCTAssertEqual(mmu.stats.pageWalks, 4)
        XCTAssertEqual(mmu.stats.l1dHits, 1)                          // the global kernel page
        XCTAssertEqual(mmu.stats.cr3Loads, 3)
        XCTAssertEqual(mmu.stats.fullFlushes, 3)
        // flushAll keeps the global entry; flushEverything drops it.
        mmu.flushAll()
        XCTAssertEqual(mmu.l1d.entries().map { $0.page.raw }, [kva])
        mmu.flushEverything()
        XCTAssertEqual(mmu.l1d.validCount + mmu.l1i.validCount + mmu.stlb.validCount, 0)
    }

    func testCR3LoadWithPCIDKeepsOtherAddressSpaces() throws {
        let b = try PageTableBuilder()
        let pgdB = try XCTUnwrap(b.newTable())
        let kva: UInt64 = 0xffff_8880_0000_0000
        b.map(page(0), to: PFN(0x2001), flags: P | RW | US)
        b.map(page(0), to: PFN(0x2002), flags: P | RW | US, pgd: pgdB)
        b.map(kva, to: PFN(0x3000), flags: P | RW | G)
        b.map(kva, to: PFN(0x3000), flags: P | RW | G, pgd: pgdB)
        let mmu = MMU(config: TLBConfig(pcid: true))
        mmu.loadCR3(b.pgd, pcid: 1)
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2001_000)))        // walk 1
        XCTAssertEqual(read(mmu, b, kva, user: false), .ok(PhysAddr(0x3000_000))) // walk 2
        mmu.loadCR3(pgdB, pcid: 2)
        XCTAssertEqual(mmu.pcid, 2)
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2002_000)))        // walk 3
        XCTAssertEqual(read(mmu, b, kva, user: false), .ok(PhysAddr(0x3000_000))) // global: hit
        mmu.loadCR3(b.pgd, pcid: 1, noFlush: true)
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2001_000)))        // PCID 1 kept: hit
        mmu.loadCR3(pgdB, pcid: 2)                                               // flushes PCID 2 only
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2002_000)))        // walk 4
        mmu.loadCR3(b.pgd, pcid: 1, noFlush: true)
        XCTAssertEqual(read(mmu, b, page(0)), .ok(PhysAddr(0x2001_000)))        // still a hit
        XCTAssertEqual(mmu.stats.pageWalks, 4)
        XCTAssertEqual(mmu.stats.l1dHits, 3)
        XCTAssertEqual(mmu.stats.fullFlushes, 3)
        // A range flush aimed at PCID 2 from PCID 1 leaves PCID 1's entry alone.
        mmu.flushRange(VirtAddr(page(0)), VirtAddr(page(1)), pcid: 2)
        XCTAssertEqual(mmu.l1d.entries().filter { $0.page.raw == page(0) }.map { $0.pcid }, [1])
    }

    // MARK: Never stale

    func testChangedPTEIsSeenAfterTheKernelFlushes() throws {
        let (b, mmu) = try machine()
        let s = b.map(page(0), to: PFN(0x2001), flags: P | RW | US)
        XCTAssertEqual(read(mmu, b, page(0) + 4), .ok(PhysAddr(0x2001_004)))
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem), [])
        b.mem.writePTE(s, PTE(pfn: PFN(0x2002), flags: P | RW | US))             // e.g. migration
        XCTAssertEqual(read(mmu, b, page(0) + 4), .ok(PhysAddr(0x2001_004)))     // stale until flushed
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem).count, 2)             // L1 dTLB and STLB
        mmu.flushRange(VirtAddr(page(0)), VirtAddr(page(1)))
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem), [])
        XCTAssertEqual(read(mmu, b, page(0) + 4), .ok(PhysAddr(0x2002_004)))

        // Write-protect (as fork does for COW) and flush: the next write faults.
        _ = mmu.translate(VirtAddr(page(0)), .write, user: true, mem: b.mem)
        b.mem.writePTE(s, PTE(raw: b.mem.readPTE(s).raw & ~RW))
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem).count, 2)
        mmu.flushRange(VirtAddr(page(0)), VirtAddr(page(1)))
        XCTAssertEqual(mmu.translate(VirtAddr(page(0)), .write, user: true, mem: b.mem), .faultCode(0b111))

        // Unmap and flush: not present.
        b.mem.writePTE(s, PTE(raw: 0))
        mmu.flushRange(VirtAddr(page(0)), VirtAddr(page(1)))
        XCTAssertEqual(read(mmu, b, page(0)), .faultCode(0b100))
    }

    func testHugePageEntryCoversItsRangeAndIsInvalidatedFromInside() throws {
        let (b, mmu) = try machine()
        b.mapHuge(0x60_0000, level: .pmd, to: PFN(0x800), flags: P | RW | US)
        XCTAssertEqual(read(mmu, b, 0x60_0000), .ok(PhysAddr(0x80_0000)))
        XCTAssertEqual(read(mmu, b, 0x7f_f008), .ok(PhysAddr(0x9f_f008)))
        XCTAssertEqual(mmu.stats.pageWalks, 1)
        XCTAssertEqual(mmu.l1d2M.entries().map { $0.pageSize }, [.size2M])
        XCTAssertEqual(mmu.l1d.validCount, 0)
        // Repoint the PMD, then INVLPG one 4 KiB page inside the huge page.
        b.update(0x60_0000, .pmd) { ($0 & ~PTE.pfnMask) | 0xa0_0000 }
        mmu.flushPage(VirtAddr(0x70_3000))
        XCTAssertEqual(read(mmu, b, 0x61_0000), .ok(PhysAddr(0xa1_0000)))
        XCTAssertEqual(mmu.stats.pageWalks, 2)
        // A 2 MiB-stride range flush (as for a PMD mapping) is one INVLPG.
        mmu.resetStats()
        mmu.flushRange(VirtAddr(0x60_0000), VirtAddr(0x80_0000), strideShift: 21)
        XCTAssertEqual(mmu.stats.singlePageFlushes, 1)
        XCTAssertEqual(mmu.validTLBEntries, 0)
    }

    func testResetStats() throws {
        let (b, mmu) = try machine(pages: 1)
        _ = read(mmu, b, page(0))
        XCTAssertNotEqual(mmu.stats, TLBStats())
        mmu.resetStats()
        XCTAssertEqual(mmu.stats, TLBStats())
    }
}
