import XCTest
@testable import MMCore

private let P = PTE.present, RW = PTE.rw, US = PTE.user, NX = PTE.nx, A = PTE.accessed, D = PTE.dirty, G = PTE.global

/// The hardware page walker: addresses, A/D bits, error codes, huge pages, reserved bits, narration.
final class WalkTests: XCTestCase {
    let va: UInt64 = 0x7f12_3456_7abc   // PGD 254, PUD 72, PMD 418, PTE 359, offset 0xabc

    private func machine() throws -> (PageTableBuilder, MMU) {
        let b = try PageTableBuilder()
        let mmu = MMU(config: TLBConfig())
        mmu.loadCR3(b.pgd)
        mmu.resetStats()
        return (b, mmu)
    }

    func testTranslate4KSetsAccessedThenDirty() throws {
        let (b, mmu) = try machine()
        b.map(va, to: PFN(0x5432), flags: P | RW | US)
        for level in [PageTableLevel.pgd, .pud, .pmd] { b.update(va, level) { $0 & ~A } }

        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .ok(PhysAddr(0x5432abc)))
        XCTAssertEqual(mmu.stats.pageWalks, 1)
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 4)
        XCTAssertEqual(mmu.stats.adUpdates, 4)
        for level in [PageTableLevel.pgd, .pud, .pmd] { XCTAssertTrue(b.entry(va, level).isAccessed, level.name) }
        XCTAssertEqual(b.entry(va, .pte).raw, 0x5432_000 | P | RW | US | A)

        // A write through the clean cached entry re-walks to set D in the leaf only.
        XCTAssertEqual(mmu.translate(VirtAddr(va + 1), .write, user: true, mem: b.mem), .ok(PhysAddr(0x5432abd)))
        XCTAssertEqual(mmu.stats.l1dHits, 1)
        XCTAssertEqual(mmu.stats.pageWalks, 2)
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 5)   // the PDE cache supplies the page table
        XCTAssertEqual(mmu.stats.pwcPDEHits, 1)
        XCTAssertEqual(mmu.stats.adUpdates, 5)
        XCTAssertEqual(b.entry(va, .pte).raw, 0x5432_000 | P | RW | US | A | D)

        // Now dirty in the TLB: no more walks.
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: true, mem: b.mem), .ok(PhysAddr(0x5432abc)))
        XCTAssertEqual(mmu.stats.l1dHits, 2)
        XCTAssertEqual(mmu.stats.pageWalks, 2)
        XCTAssertEqual(mmu.stats.adUpdates, 5)
    }

    func testNotPresentErrorCodes() throws {
        let (b, mmu) = try machine()
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .faultCode(0b00100))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: true, mem: b.mem), .faultCode(0b00110))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: false, mem: b.mem), .faultCode(0b00000))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .exec, user: true, mem: b.mem), .faultCode(0b10100))
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 4)   // one PGD read each
        XCTAssertEqual(mmu.stats.pageFaults, 4)

        // PGD and PUD present, PMD entry absent: three reads, P clear.
        b.map(va + 0x20_0000, to: PFN(0x100), flags: P | RW | US)
        mmu.resetStats()
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: true, mem: b.mem), .faultCode(0b00110))
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 3)
        // PTE table present, leaf absent.
        b.map(va + 0x1000, to: PFN(0x100), flags: P | RW | US)
        mmu.resetStats()
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .faultCode(0b00100))
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 4)
    }

    func testWriteToReadOnlyFaultsForUserAndKernel() throws {
        let (b, mmu) = try machine()
        b.map(va, to: PFN(0x5432), flags: P | US)
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: true, mem: b.mem), .faultCode(0b00111))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: false, mem: b.mem), .faultCode(0b00011))  // CR0.WP = 1
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .ok(PhysAddr(0x5432abc)))
    }

    func testUserAccessToSupervisorPageFaults() throws {
        let (b, mmu) = try machine()
        b.map(va, to: PFN(0x5432), flags: P | RW)
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .faultCode(0b00101))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .exec, user: true, mem: b.mem), .faultCode(0b10101))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: false, mem: b.mem), .ok(PhysAddr(0x5432abc)))
    }

    func testNXFetchFaults() throws {
        let (b, mmu) = try machine()
        b.map(va, to: PFN(0x5432), flags: P | RW | US | NX)
        XCTAssertEqual(mmu.translate(VirtAddr(va), .exec, user: true, mem: b.mem), .faultCode(0b10101))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .exec, user: false, mem: b.mem), .faultCode(0b10001))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .ok(PhysAddr(0x5432abc)))
    }

    func testRightsAccumulateAcrossLevels() throws {
        let (b, mmu) = try machine()
        b.map(va, to: PFN(0x5432), flags: P | RW | US)
        b.update(va, .pud) { $0 & ~RW }                   // RW = 0 above: read-only below
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: true, mem: b.mem), .faultCode(0b00111))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .ok(PhysAddr(0x5432abc)))
        b.update(va, .pud) { $0 | RW }
        b.update(va, .pmd) { $0 & ~US }                   // US = 0 above: supervisor-only below
        mmu.flushAll()
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .faultCode(0b00101))
        b.update(va, .pmd) { $0 | US }
        b.update(va, .pgd) { $0 | NX }                    // NX at any level: no execution
        mmu.flushAll()
        XCTAssertEqual(mmu.translate(VirtAddr(va), .exec, user: true, mem: b.mem), .faultCode(0b10101))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: true, mem: b.mem), .ok(PhysAddr(0x5432abc)))
    }

    func testFaultingWalkWritesNoAccessedOrDirtyBits() throws {
        let (b, mmu) = try machine()
        b.map(va, to: PFN(0x5432), flags: P | US)
        for level in [PageTableLevel.pgd, .pud, .pmd] { b.update(va, level) { $0 & ~(A | D) } }
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: true, mem: b.mem), .faultCode(0b00111))
        XCTAssertEqual(mmu.stats.adUpdates, 0)
        for level in PageTableLevel.allCases { XCTAssertFalse(b.entry(va, level).isAccessed, level.name) }
    }

    func testNonCanonicalAddressFaultsWithoutWalking() throws {
        let (b, mmu) = try machine()
        XCTAssertEqual(mmu.translate(VirtAddr(0x0000_8000_0000_0000), .read, user: true, mem: b.mem), .faultCode(0b00100))
        XCTAssertEqual(mmu.translate(VirtAddr(0xfff0_0000_0000_0000), .write, user: false, mem: b.mem), .faultCode(0b00010))
        XCTAssertEqual(mmu.translate(VirtAddr(0x0001_0000_0000_1000), .exec, user: true, mem: b.mem), .faultCode(0b10100))
        XCTAssertEqual(mmu.stats.generalProtectionFaults, 3)
        XCTAssertEqual(mmu.stats.pageFaults, 0)
        XCTAssertEqual(mmu.stats.pageWalks, 0)
        XCTAssertEqual(mmu.stats.l1dMisses, 0)
    }

    func testKernelHalfAddress() throws {
        let (b, mmu) = try machine()
        let kva: UInt64 = 0xffff_8880_0012_3000
        b.map(kva, to: PFN(0x123), flags: P | RW | G | NX)
        XCTAssertEqual(mmu.translate(VirtAddr(kva + 8), .read, user: false, mem: b.mem), .ok(PhysAddr(0x123008)))
        XCTAssertEqual(mmu.translate(VirtAddr(kva), .read, user: true, mem: b.mem), .faultCode(0b00101))
    }

    func testTwoMegabyteAndOneGigabytePages() throws {
        let (b, mmu) = try machine()
        b.mapHuge(0x60_0000, level: .pmd, to: PFN(0x800), flags: P | RW | US)
        XCTAssertEqual(mmu.translate(VirtAddr(0x61_2345), .read, user: true, mem: b.mem), .ok(PhysAddr(0x81_2345)))
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 3)
        XCTAssertEqual(b.entry(0x60_0000, .pmd).raw, 0x80_0000 | P | RW | US | PTE.pse | A)
        // Another 4 KiB page of the same 2 MiB page hits the same TLB entry.
        XCTAssertEqual(mmu.translate(VirtAddr(0x7f_f000), .read, user: true, mem: b.mem), .ok(PhysAddr(0x9f_f000)))
        XCTAssertEqual(mmu.stats.l1dHits, 1)
        XCTAssertEqual(mmu.stats.pageWalks, 1)

        b.mapHuge(0x8000_0000, level: .pud, to: PFN(0x40000), flags: P | RW | US)
        mmu.resetStats()
        XCTAssertEqual(mmu.translate(VirtAddr(0x8123_4567), .write, user: true, mem: b.mem), .ok(PhysAddr(0x4123_4567)))
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 1)   // PGD entry 0 is in the PML4E cache
        XCTAssertEqual(mmu.stats.pwcPML4EHits, 1)
        XCTAssertEqual(mmu.stats.l1d1GHits + mmu.stats.stlb1GHits, 0)
        XCTAssertEqual(mmu.stlb1G.validCount, 1)
        XCTAssertEqual(mmu.l1d1G.validCount, 1)
        XCTAssertEqual(b.entry(0x8000_0000, .pud).raw, 0x4000_0000 | P | RW | US | PTE.pse | A | D)
    }

    func testReservedBitsFaultWithRSVD() throws {
        let (b, mmu) = try machine()
        XCTAssertEqual(mmu.walker.maxPhysAddrBits, 46)
        // Address bit 47 in a leaf is beyond MAXPHYADDR = 46.
        let s = b.map(va, to: PFN(0x5432), flags: P | US)
        b.mem.writePTE(s, PTE(raw: b.mem.readPTE(s).raw | (1 << 47)))
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .faultCode(0b01101))
        // PS in a PGD entry is reserved.
        b.update(va, .pgd) { $0 | PTE.pse }
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: false, mem: b.mem), .faultCode(0b01001))
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 5)
        // A 2 MiB leaf whose address is not 2 MiB aligned (bit 13 set) has reserved bits set.
        b.mapHuge(0x60_0000, level: .pmd, to: PFN(0x802), flags: P | RW)
        XCTAssertEqual(mmu.translate(VirtAddr(0x60_0000), .write, user: false, mem: b.mem), .faultCode(0b01011))
        // A table pointer beyond installed RAM reads as all ones: reserved bits, RSVD.
        let far: UInt64 = 0x0000_1000_0000_0000
        b.mem.contents.writeWord(b.pgd, PageTableLevel.pgd.index(of: VirtAddr(far)), PTE(pfn: PFN(0x100000), flags: P | RW | US).raw)
        XCTAssertEqual(mmu.translate(VirtAddr(far), .read, user: false, mem: b.mem), .faultCode(0b01001))
        // With a 52-bit physical address width bit 47 is an ordinary address bit.
        mmu.walker = HardwareWalker(maxPhysAddrBits: 52)
        b.update(va, .pgd) { $0 & ~PTE.pse }
        XCTAssertEqual(mmu.translate(VirtAddr(va), .read, user: true, mem: b.mem), .ok(PhysAddr(0x8000_0543_2abc)))
    }

    func testEmptyCR3Faults() throws {
        let b = try PageTableBuilder()
        let mmu = MMU(config: TLBConfig())
        XCTAssertNil(mmu.cr3)
        XCTAssertEqual(mmu.translate(VirtAddr(va), .write, user: true, mem: b.mem), .faultCode(0b00110))
        XCTAssertEqual(mmu.explain(VirtAddr(va), mem: b.mem).stop, .noCR3)
    }

    func testDescribeSplit() {
        let mmu = MMU(config: TLBConfig())
        let s = mmu.describeSplit(VirtAddr(va))
        XCTAssertEqual([s.pgd, s.pud, s.pmd, s.pte], [254, 72, 418, 359])
        XCTAssertEqual(s.offset, 0xabc)
        XCTAssertEqual(s.description, "0x7f1234567abc: PGD 254 | PUD 72 | PMD 418 | PTE 359 | offset 0xabc")
        XCTAssertEqual(mmu.describeSplit(VirtAddr(0x0000_8000_0000_0000)).description,
                       "0x800000000000: PGD 256 | PUD 0 | PMD 0 | PTE 0 | offset 0x0 (non-canonical)")
    }

    func testExplainNarratesEachLevelWithoutSideEffects() throws {
        let (b, mmu) = try machine()
        b.map(va, to: PFN(0x5432), flags: P | RW | US)
        let pud = b.entry(va, .pgd).pfn, pmd = b.entry(va, .pud).pfn, pte = b.entry(va, .pmd).pfn
        let e = mmu.explain(VirtAddr(va), mem: b.mem)
        XCTAssertEqual(e.steps.map { $0.level }, [.pgd, .pud, .pmd, .pte])
        XCTAssertEqual(e.steps.map { $0.table }, [b.pgd, pud, pmd, pte])
        XCTAssertEqual(e.steps.map { $0.index }, [254, 72, 418, 359])
        XCTAssertEqual(e.steps.map { $0.outcome }, [.nextTable(pud), .nextTable(pmd), .nextTable(pte),
                                                     .leaf(PhysAddr(0x5432000), .size4K)])
        guard case .translated(let pa, let t) = e.stop else { return XCTFail("\(e.stop)") }
        XCTAssertEqual(pa, PhysAddr(0x5432abc))
        XCTAssertEqual(t.flags, RW | US)
        XCTAssertEqual(e.lines.last, "=> 0x5432abc (4K page, RWX user)")
        XCTAssertEqual(e.lines[4], "PTE  table \(pte)[359] = 0x0000000005432007  P RW US pfn=0x5432 -> 4K page at 0x5432000")
        let pgdRaw = String(format: "%016llx", b.entry(va, .pgd).raw)
        XCTAssertEqual(e.lines[1], "PGD  table \(b.pgd)[254] = 0x\(pgdRaw)  P RW US A D pfn=\(pud) -> next table \(pud)")
        // Narration set no A bit and left the TLBs and counters alone.
        XCTAssertFalse(b.entry(va, .pte).isAccessed)
        XCTAssertEqual(mmu.stats, TLBStats())
        XCTAssertEqual(mmu.stlb.validCount, 0)

        let miss = mmu.explain(VirtAddr(0x1000), mem: b.mem)
        XCTAssertEqual(miss.steps.count, 1)
        XCTAssertEqual(miss.stop, .notPresent(.pgd))
        XCTAssertEqual(miss.lines.last, "=> page fault: PGD entry not present")
        let gp = mmu.explain(VirtAddr(0x0000_8000_0000_0000), mem: b.mem)
        XCTAssertEqual(gp.steps, [])
        XCTAssertEqual(gp.stop, .nonCanonical)

        b.mapHuge(0x60_0000, level: .pmd, to: PFN(0x800), flags: P | RW | US | NX)
        let huge = mmu.explain(VirtAddr(0x61_2345), mem: b.mem)
        XCTAssertEqual(huge.steps.count, 3)
        XCTAssertEqual(huge.steps.last?.outcome, .leaf(PhysAddr(0x80_0000), .size2M))
        XCTAssertEqual(huge.lines.last, "=> 0x812345 (2M page, RW user)")
    }

    func testSoftwareWalkAllocatesOnlyMissingTables() throws {
        let b = try PageTableBuilder()
        XCTAssertNil(b.mem.walk(b.pgd, VirtAddr(va)))
        let before = b.mem.freePageCount
        let s1 = try XCTUnwrap(b.mem.walk(b.pgd, VirtAddr(va), allocTable: { b.newTable() }))
        XCTAssertEqual(b.mem.freePageCount, before - 3)
        XCTAssertEqual(s1.index, 359)
        XCTAssertEqual(b.mem.walk(b.pgd, VirtAddr(va + 0x1000), allocTable: { b.newTable() }),
                       PTESlot(table: s1.table, index: 360))
        XCTAssertEqual(b.mem.freePageCount, before - 3)
        XCTAssertEqual(b.entry(va, .pmd).raw & 0xfff, P | RW | US | A | D)
        XCTAssertEqual(b.mem.walk(b.pgd, VirtAddr(va), allocTable: { nil }), s1)
        b.mapHuge(0x60_0000, level: .pmd, to: PFN(0x800), flags: P | RW | US)
        XCTAssertNil(b.mem.walk(b.pgd, VirtAddr(0x60_0000), allocTable: { b.newTable() }))
        XCTAssertNil(b.mem.walk(b.pgd, VirtAddr(0x4000_0000_0000), allocTable: { nil }))
    }
}
