import XCTest
@testable import MMCore

private let P = PTE.present, RW = PTE.rw, US = PTE.user

/// The per-page-size TLB arrays, the paging-structure caches and their flushes: exact counts.
final class TLBArrayTests: XCTestCase {
    private let noPWC = (pml4e: 0, pdpte: 0, pde: 0)

    private func machine(_ config: TLBConfig) throws -> (PageTableBuilder, MMU) {
        let b = try PageTableBuilder()
        let mmu = MMU(config: config)
        mmu.loadCR3(b.pgd)
        mmu.resetStats()
        return (b, mmu)
    }

    private func read(_ mmu: MMU, _ b: PageTableBuilder, _ va: UInt64, _ kind: AccessKind = .read) -> Translation {
        mmu.translate(VirtAddr(va), kind, user: true, mem: b.mem)
    }

    /// 2M pages in a 2-entry L1 dTLB 2M array, 1G pages in a 1-entry L1 dTLB 1G array, the STLB
    /// (4K/2M) and a 2-entry 1G STLB; no walk caches, so a 2M walk reads 3 entries and a 1G walk 2.
    func testHugePagesUseTheirOwnArrays() throws {
        let cfg = TLBConfig(l1d2M: .init(entries: 2, ways: 2), l1d1G: .init(entries: 1, ways: 1),
                            stlb1G: .init(entries: 2, ways: 2), pwcPML4E: 0, pwcPDPTE: 0, pwcPDE: 0)
        let (b, mmu) = try machine(cfg)
        func m2(_ i: UInt64) -> UInt64 { 0x4000_0000 + i << 21 }
        func g1(_ j: UInt64) -> UInt64 { 0x80_0000_0000 + j << 30 }
        for i: UInt64 in 0..<3 { b.mapHuge(m2(i), level: .pmd, to: PFN(0x10000 + 0x200 * i), flags: P | RW | US) }
        for j: UInt64 in 0..<2 { b.mapHuge(g1(j), level: .pud, to: PFN(0x40000 * (j + 1)), flags: P | RW | US) }

        XCTAssertEqual(read(mmu, b, m2(0)), .ok(PhysAddr(0x1000_0000)))              // walk
        XCTAssertEqual(read(mmu, b, m2(0) + 0x1008), .ok(PhysAddr(0x1000_1008)))     // L1 2M hit
        XCTAssertEqual(read(mmu, b, m2(1)), .ok(PhysAddr(0x1020_0000)))              // walk
        XCTAssertEqual(read(mmu, b, m2(2)), .ok(PhysAddr(0x1040_0000)))              // walk, evicts m2(0) from L1
        XCTAssertEqual(read(mmu, b, m2(0) + 8), .ok(PhysAddr(0x1000_0008)))          // STLB 2M hit
        XCTAssertEqual(read(mmu, b, g1(0)), .ok(PhysAddr(0x4000_0000)))              // walk
        XCTAssertEqual(read(mmu, b, g1(0) + 0x1234_5678), .ok(PhysAddr(0x5234_5678))) // L1 1G hit
        XCTAssertEqual(read(mmu, b, g1(1)), .ok(PhysAddr(0x8000_0000)))              // walk, evicts g1(0) from L1
        XCTAssertEqual(read(mmu, b, g1(0) + 16), .ok(PhysAddr(0x4000_0010)))         // 1G STLB hit
        var expected = TLBStats()
        expected.l1dHits = 2; expected.l1dMisses = 7; expected.l1d2MHits = 1; expected.l1d1GHits = 1
        expected.stlbHits = 2; expected.stlbMisses = 5; expected.stlb2MHits = 1; expected.stlb1GHits = 1
        expected.pageWalks = 5; expected.walkMemoryRefs = 3 * 3 + 2 * 2; expected.adUpdates = 5
        XCTAssertEqual(mmu.stats, expected)
        XCTAssertEqual(mmu.l1d.validCount, 0)
        XCTAssertEqual(mmu.l1d2M.entries().map { $0.page.raw }, [m2(2), m2(0)])
        XCTAssertEqual(mmu.l1d1G.entries().map { $0.page.raw }, [g1(0)])
        XCTAssertEqual(mmu.stlb.entries().map { $0.pageSize }, [.size2M, .size2M, .size2M])
        XCTAssertEqual(Set(mmu.stlb1G.entries().map { $0.page.raw }), [g1(0), g1(1)])
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem), [])
    }

    /// An instruction fetch from a 1G page caches the 2M piece holding the address in the iTLB 2M array.
    func testOneGigabyteCodePageIsSplinteredIntoTheITLB() throws {
        let cfg = TLBConfig(pwcPML4E: 0, pwcPDPTE: 0, pwcPDE: 0)
        let (b, mmu) = try machine(cfg)
        let g: UInt64 = 0x80_0000_0000
        b.mapHuge(g, level: .pud, to: PFN(0x40000), flags: P | RW | US)
        XCTAssertEqual(read(mmu, b, g + 0x30_1234, .exec), .ok(PhysAddr(0x4030_1234)))   // walk
        XCTAssertEqual(read(mmu, b, g + 0x20_0008, .exec), .ok(PhysAddr(0x4020_0008)))   // same 2M piece: iTLB 2M hit
        XCTAssertEqual(read(mmu, b, g + 0x40_0000, .exec), .ok(PhysAddr(0x4040_0000)))   // 1G STLB hit, new piece
        XCTAssertEqual(mmu.stats.l1iHits, 1)
        XCTAssertEqual(mmu.stats.l1i2MHits, 1)
        XCTAssertEqual(mmu.stats.l1iMisses, 2)
        XCTAssertEqual(mmu.stats.stlb1GHits, 1)
        XCTAssertEqual(mmu.stats.pageWalks, 1)
        XCTAssertEqual(mmu.l1i2M.entries().map { $0.page.raw }, [g + 0x20_0000, g + 0x40_0000])
        XCTAssertEqual(mmu.l1i2M.entries().map { $0.translation.pageBase.raw }, [0x4020_0000, 0x4040_0000])
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem), [])
    }

    // MARK: Paging-structure caches

    let base: UInt64 = 0x7f00_0000_0000   // PGD 254, PUD 0, PMD 0, PTE 0

    /// Each cache level saves the reads above it: PDE hit 1 reference, PDPTE hit 2, PML4E hit 3.
    func testWalkCacheHitsPerLevelAndMemoryReferences() throws {
        let (b, mmu) = try machine(TLBConfig())
        let pages = [base, base + 0x1000, base + 0x20_0000, base + 0x4000_0000, 0x10_0000_0000, base + 0x2000]
        for (i, p) in pages.enumerated() { b.map(p, to: PFN(0x3000 + UInt64(i)), flags: P | RW | US) }
        for p in pages.prefix(5) { _ = read(mmu, b, p) }
        XCTAssertEqual(mmu.stats.pageWalks, 5)
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 4 + 1 + 2 + 3 + 4)
        XCTAssertEqual([mmu.stats.pwcPML4EHits, mmu.stats.pwcPDPTEHits, mmu.stats.pwcPDEHits], [1, 1, 1])
        XCTAssertEqual(mmu.walkCaches.map { $0.1.validCount }, [2, 3, 4])
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem), [])

        // INVLPG of any page drops every walk-cache entry of the PCID (Intel SDM 4.10.4.1).
        mmu.flushPage(VirtAddr(0x10_0000_0000))
        XCTAssertEqual(mmu.walkCaches.map { $0.1.validCount }, [0, 0, 0])
        mmu.resetStats()
        XCTAssertEqual(read(mmu, b, base + 0x2000), .ok(PhysAddr(0x3005_000)))
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 4)
        XCTAssertEqual(read(mmu, b, base + 0x1000), .ok(PhysAddr(0x3001_000)))       // still in the L1 dTLB
        XCTAssertEqual(mmu.stats.l1dHits, 1)
    }

    func testWalkCachesOffReadEveryLevel() throws {
        let (b, mmu) = try machine(TLBConfig(pwcPML4E: 0, pwcPDPTE: 0, pwcPDE: 0))
        for i: UInt64 in 0..<4 { b.map(base + i << 12, to: PFN(0x3000 + i), flags: P | RW | US) }
        for i: UInt64 in 0..<4 { _ = read(mmu, b, base + i << 12) }
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 16)
        XCTAssertEqual(mmu.stats.pwcPML4EHits + mmu.stats.pwcPDPTEHits + mmu.stats.pwcPDEHits, 0)
    }

    /// Entries are tagged with the PCID: a CR3 write without no-flush drops only that PCID's.
    func testWalkCachesAreTaggedWithThePCID() throws {
        let (b, mmu) = try machine(TLBConfig(pcid: true))
        for i: UInt64 in 0..<3 { b.map(base + i << 12, to: PFN(0x3000 + i), flags: P | RW | US) }
        mmu.loadCR3(b.pgd, pcid: 1)
        _ = read(mmu, b, base)
        mmu.loadCR3(b.pgd, pcid: 2)                 // flushes PCID 2 only
        XCTAssertEqual(mmu.pdeCache.entries().map { $0.pcid }, [1])
        mmu.resetStats()
        _ = read(mmu, b, base + 0x1000)             // PCID 2: no cached entries
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 4)
        mmu.loadCR3(b.pgd, pcid: 1, noFlush: true)
        _ = read(mmu, b, base + 0x2000)             // PCID 1's PDE entry survived
        XCTAssertEqual(mmu.stats.walkMemoryRefs, 5)
        XCTAssertEqual(mmu.stats.pwcPDEHits, 1)
        mmu.loadCR3(b.pgd, pcid: 1)                 // flushing write: PCID 1's entries go
        XCTAssertEqual(mmu.pdeCache.entries().map { $0.pcid }, [2])
        XCTAssertEqual(mmu.pml4eCache.entries().map { $0.pcid }, [2])
    }

    /// A cached PDE that the tables no longer hold is reported stale until a flush drops it; a
    /// walk through it reads the old page table (why Linux must flush after freeing page tables).
    func testStaleWalkCacheEntryIsReportedUntilFlushed() throws {
        let (b, mmu) = try machine(TLBConfig())
        b.map(base, to: PFN(0x3000), flags: P | RW | US)
        b.map(base + 0x1000, to: PFN(0x3001), flags: P | RW | US)
        _ = read(mmu, b, base)
        let oldTable = b.entry(base, .pmd).pfn
        // Repoint the PMD entry to a new page table mapping base + 0x1000 elsewhere, no flush.
        let t2 = try XCTUnwrap(b.newTable())
        b.mem.contents.writeWord(t2, 1, PTE(pfn: PFN(0x3999), flags: P | RW | US | PTE.accessed).raw)
        b.update(base, .pmd) { ($0 & ~PTE.pfnMask) | (t2.raw << 12) }
        let stale = mmu.invariantViolations(mem: b.mem).filter { $0.hasPrefix("PDE cache") }
        XCTAssertEqual(stale, ["PDE cache \(VirtAddr(base)) pcid 0 -> table \(oldTable): page tables point to \(t2)"])
        XCTAssertEqual(read(mmu, b, base + 0x1000), .ok(PhysAddr(0x3001_000)))   // through the stale entry
        mmu.flushPage(VirtAddr(base))
        mmu.flushPage(VirtAddr(base + 0x1000))
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem), [])
        XCTAssertEqual(read(mmu, b, base + 0x1000), .ok(PhysAddr(0x3999_000)))
        // Freeing the page table (PMD entry cleared) without a flush: the entry holds a freed table.
        b.update(base, .pmd) { _ in 0 }
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem).filter { $0.hasPrefix("PDE cache") },
                       ["PDE cache \(VirtAddr(base)) pcid 0 -> table \(t2): page tables no longer hold that table"])
        mmu.flushRange(VirtAddr(base), VirtAddr(base + 0x2000))
        XCTAssertEqual(mmu.invariantViolations(mem: b.mem), [])
    }

    /// A page fault drops the walk-cache entries that would be used for the faulting address.
    func testPageFaultDropsTheEntriesForItsAddress() throws {
        let (b, mmu) = try machine(TLBConfig())
        b.map(base, to: PFN(0x3000), flags: P | RW | US)
        b.map(0x10_0000_0000, to: PFN(0x3001), flags: P | RW | US)
        _ = read(mmu, b, base)
        _ = read(mmu, b, 0x10_0000_0000)
        XCTAssertEqual(mmu.walkCaches.map { $0.1.validCount }, [2, 2, 2])
        XCTAssertEqual(read(mmu, b, base + 0x5000), .faultCode(0b100))   // PTE not present
        XCTAssertEqual(mmu.stats.pwcPDEHits, 1)
        XCTAssertEqual(mmu.walkCaches.map { $0.1.validCount }, [1, 1, 1])
        XCTAssertEqual(mmu.pdeCache.entries().map { $0.prefix.raw }, [0x10_0000_0000])
    }

    // MARK: Tags and configuration

    func testTagsHoldFiftySevenBitAddresses() {
        let a = TLB.makeTag(VirtAddr(0x0100_0000_0000_1000), size: .size4K, pcid: 0, global: false)
        let z = TLB.makeTag(VirtAddr(0x1000), size: .size4K, pcid: 0, global: false)
        XCTAssertNotEqual(a, z)
        for va: UInt64 in [0x00ff_0000_0000_1000, 0xff80_0000_0000_1000, 0xffff_8880_0012_3000, 0x7f00_0000_1000] {
            let e = TLBEntry(slot: 0, set: 0, way: 0, tag: TLB.makeTag(VirtAddr(va), size: .size4K, pcid: 0, global: false), payload: 0)
            XCTAssertEqual(e.page.raw, va)
        }
        var c = PagingStructureCache(capacity: 2, shift: 21)
        c.insert(0x00ff_0000_0020_0000, pcid: 0, payload: 0x5000)
        XCTAssertNil(c.lookup(0x0000_0000_0020_0000, pcid: 0))
        XCTAssertEqual(c.lookup(0x00ff_0000_003f_f000, pcid: 0), 0x5000)
        XCTAssertEqual(c.entries().map { $0.prefix.raw }, [0x00ff_0000_0020_0000])
    }

    func testConfigurationErrorsNameTheArray() {
        XCTAssertThrowsError(try TLBConfig(l1d1G: .init(entries: 3, ways: 2)).validate()) { e in
            XCTAssertEqual(e as? TLBConfigError, .invalidGeometry(tlb: "L1 dTLB 1G", entries: 3, ways: 2))
        }
        XCTAssertThrowsError(try TLBConfig(stlb1G: .init(entries: 0, ways: 1)).validate()) { e in
            XCTAssertEqual(e as? TLBConfigError, .invalidGeometry(tlb: "STLB 1G", entries: 0, ways: 1))
        }
        XCTAssertThrowsError(try TLBConfig(pwcPDE: -1).validate()) { e in
            XCTAssertEqual("\(e)", "invalid PDE cache size -1: expected 0 (off) to 1024 entries")
        }
        XCTAssertThrowsError(try TLBConfig(pwcPML4E: 1025).validate())
        XCTAssertNoThrow(try TLBConfig(pwcPML4E: 0, pwcPDPTE: 1024, pwcPDE: 0).validate())
    }
}

/// The paging-structure cache (hash index with backward-shift deletion, LRU list) against a
/// plain model of its rules: a linear array of (prefix, PCID, payload, stamp), same-prefix
/// replace, lowest free slot, else least recently used.
final class PagingStructureCacheModelTests: XCTestCase {
    func testRandomOperationsMatchALinearLRUModel() {
        for capacity in [1, 3, 8, 32] {
            let c = PagingStructureCache(capacity: capacity, shift: 21)
            var slots: [(prefix: UInt64, pcid: UInt16, payload: UInt64, stamp: Int)?] = Array(repeating: nil, count: capacity)
            var clock = 0
            var rng = SplitMix64(seed: UInt64(capacity))
            func find(_ prefix: UInt64, _ pcid: UInt16) -> Int? { slots.firstIndex { $0?.prefix == prefix && $0?.pcid == pcid } }
            for step in 0..<20_000 {
                // Few distinct prefixes and PCIDs, so that hits, evictions and collisions are frequent.
                let prefix = rng.next() % UInt64(3 * capacity + 2)
                let va = prefix << 21 | (rng.next() & 0x1f_ffff)
                let pcid = UInt16(rng.next() % 3)
                switch rng.next() % 10 {
                case 0...3:
                    let payload = (rng.next() % 0x10_0000) << 12 | PTE.rw
                    c.insert(va, pcid: pcid, payload: payload)
                    clock += 1
                    if let i = find(prefix, pcid) {
                        slots[i] = (prefix, pcid, payload, clock)
                    } else if let i = slots.firstIndex(where: { $0 == nil }) {
                        slots[i] = (prefix, pcid, payload, clock)
                    } else {
                        let i = slots.indices.min { slots[$0]!.stamp < slots[$1]!.stamp }!
                        slots[i] = (prefix, pcid, payload, clock)
                    }
                case 4...7:
                    let got = c.lookup(va, pcid: pcid)
                    if let i = find(prefix, pcid) {
                        clock += 1
                        slots[i]!.stamp = clock
                        XCTAssertEqual(got, slots[i]!.payload, "step \(step)")
                    } else {
                        XCTAssertNil(got, "step \(step)")
                    }
                case 8:
                    let i = find(prefix, pcid)
                    XCTAssertEqual(c.invalidate(va, pcid: pcid), i == nil ? 0 : 1, "step \(step)")
                    if let i { slots[i] = nil }
                default:
                    if rng.next() % 8 == 0 {
                        XCTAssertEqual(c.flushAll(), slots.compactMap { $0 }.count)
                        slots = Array(repeating: nil, count: capacity)
                    } else {
                        let n = slots.filter { $0?.pcid == pcid }.count
                        XCTAssertEqual(c.flushPCID(pcid), n, "step \(step)")
                        for i in slots.indices where slots[i]?.pcid == pcid { slots[i] = nil }
                    }
                }
                let want = slots.compactMap { $0 }.map { "\($0.prefix << 21) \($0.pcid) \($0.payload >> 12)" }
                let have = c.entries().map { "\($0.prefix.raw) \($0.pcid) \($0.nextTable.raw)" }
                XCTAssertEqual(have, want, "capacity \(capacity), step \(step)")
                if have != want { return }
            }
        }
    }
}

/// `TLB.lookupNotingVictim` (which lets the next `insert` skip its scan) against `lookup`: two
/// TLBs driven by the same random lookups, inserts (4K, 2M, global, other PCIDs) and drops end
/// every step with the same slots, tags and payloads.
final class TLBNotedVictimTests: XCTestCase {
    func testNotedVictimGivesTheSameSlotsAsAFullScan() {
        for (entries, ways) in [(8, 4), (24, 12), (12, 12)] {
            let a = TLB(geometry: .init(entries: entries, ways: ways)), b = TLB(geometry: .init(entries: entries, ways: ways))
            var rng = SplitMix64(seed: UInt64(entries * 31 + ways))
            for step in 0..<20_000 {
                // Few pages and PCIDs, so that sets fill, entries are evicted and pages repeat.
                let va = VirtAddr((rng.next() % UInt64(3 * entries)) << 12)
                let pcid = UInt16(rng.next() % 2)
                let size: PageSize = rng.next() % 8 == 0 ? .size2M : .size4K
                let tag = TLB.makeTag(va, size: size, pcid: pcid, global: rng.next() % 10 == 0)
                switch rng.next() % 10 {
                case 0...5:
                    let sa = a.lookupNotingVictim(va, pcid: pcid), sb = b.lookup(va, pcid: pcid)
                    XCTAssertEqual(sa, sb, "step \(step)")
                    // After a miss the MMU walks and fills: usually the very next insert.
                    if sa < 0 && rng.next() % 4 != 0 {
                        XCTAssertEqual(a.insert(tag: tag, payload: UInt64(step) << 12), b.insert(tag: tag, payload: UInt64(step) << 12), "step \(step)")
                    }
                case 6...7:
                    XCTAssertEqual(a.insert(tag: tag, payload: UInt64(step) << 12), b.insert(tag: tag, payload: UInt64(step) << 12), "step \(step)")
                case 8:
                    XCTAssertEqual(a.invalidatePage(va, pcid: pcid), b.invalidatePage(va, pcid: pcid), "step \(step)")
                default:
                    if rng.next() % 16 == 0 { XCTAssertEqual(a.flushPCID(pcid), b.flushPCID(pcid), "step \(step)") }
                    else { _ = a.lookup(va, pcid: pcid); _ = b.lookup(va, pcid: pcid) }
                }
                XCTAssertEqual(a.entries(), b.entries(), "geometry \(entries)/\(ways), step \(step)")
                if a.entries() != b.entries() { return }
                for i in 0..<a.capacity where a.stamps[i] != b.stamps[i] { XCTFail("stamp of slot \(i) at step \(step)"); return }
            }
        }
    }
}

/// The TLB's LRU order (a nibble list per set up to 16 ways, stamps above) against a plain
/// model: every slot keeps its tag and the time of its last use; a lookup touches the matching
/// entry; an insert replaces the entry for the same page usable under the tag's PCID, else the
/// lowest invalid way, else the valid way used longest ago. Random lookups, inserts (4K, 2M,
/// global, two PCIDs), invalidations and flushes must give the same slots and entries.
final class TLBLRUModelTests: XCTestCase {
    struct Model {
        let sets: Int, ways: Int
        var tags: [UInt64], used: [Int]
        var now = 0
        init(entries: Int, ways: Int) {
            self.sets = entries / ways; self.ways = ways
            tags = Array(repeating: 0, count: entries); used = Array(repeating: 0, count: entries)
        }
        func base(_ tag: UInt64) -> Int { Int((tag & TLB.pageMask) % UInt64(sets)) * ways }
        func matches(_ t: UInt64, _ key: UInt64, pcid: UInt64, global: Bool) -> Bool {
            t & TLB.valid != 0 && t & TLB.matchMask == key && (global || t & TLB.globalBit != 0 || (t >> TLB.pcidShift) & 0xfff == pcid)
        }
        mutating func lookup(_ va: VirtAddr, pcid: UInt16) -> Int {
            for size in PageSize.allCases {
                let key = TLB.makeTag(va, size: size, pcid: 0, global: false) & TLB.matchMask
                let b = base(key)
                for i in b..<(b + ways) where matches(tags[i], key, pcid: UInt64(pcid), global: false) {
                    now += 1; used[i] = now; return i
                }
            }
            return -1
        }
        mutating func insert(_ tag: UInt64) -> Int {
            let key = tag & TLB.matchMask, b = base(tag)
            let slots = Array(b..<(b + ways))
            let victim = slots.first { matches(tags[$0], key, pcid: (tag >> TLB.pcidShift) & 0xfff, global: tag & TLB.globalBit != 0) }
                ?? slots.first { tags[$0] & TLB.valid == 0 }
                ?? slots.min { used[$0] < used[$1] }!
            now += 1; used[victim] = now; tags[victim] = tag
            return victim
        }
    }

    func testRandomOperationsMatchAPlainLRUModel() {
        for (entries, ways) in [(8, 4), (64, 4), (1536, 12), (16, 16), (34, 17), (12, 12), (6, 3)] {
            let t = TLB(geometry: .init(entries: entries, ways: ways))
            XCTAssertEqual(t.nibbleOrder, ways <= 16)
            var m = Model(entries: entries, ways: ways)
            var rng = SplitMix64(seed: UInt64(entries * 131 + ways))
            for step in 0..<(entries > 100 ? 3_000 : 20_000) {
                let va = VirtAddr((rng.next() % UInt64(3 * entries)) << 12)
                let pcid = UInt16(rng.next() % 2)
                let size: PageSize = rng.next() % 8 == 0 ? .size2M : .size4K
                let tag = TLB.makeTag(va, size: size, pcid: pcid, global: rng.next() % 10 == 0)
                let have: Int, want: Int
                switch rng.next() % 10 {
                case 0...2: have = t.lookup(va, pcid: pcid); want = m.lookup(va, pcid: pcid)
                case 3...4:
                    have = t.lookupNotingVictim(va, pcid: pcid); want = m.lookup(va, pcid: pcid)
                    if have < 0 && want < 0 {
                        let nonGlobal = TLB.makeTag(va, size: .size4K, pcid: pcid, global: false)
                        XCTAssertEqual(t.insert(tag: nonGlobal, payload: 0), m.insert(nonGlobal), "step \(step)")
                    }
                case 5...7: have = t.insert(tag: tag, payload: 0); want = m.insert(tag)
                case 8:
                    have = t.invalidatePage(va, pcid: pcid)
                    var n = 0
                    for i in 0..<entries where m.tags[i] & TLB.valid != 0 {
                        let size = PageSize(rawValue: UInt8(truncatingIfNeeded: (m.tags[i] >> TLB.sizeShift) & 3))!
                        let key = TLB.makeTag(va, size: size, pcid: 0, global: false) & TLB.matchMask
                        if m.matches(m.tags[i], key, pcid: UInt64(pcid), global: false) { m.tags[i] = 0; n += 1 }
                    }
                    want = n
                default:
                    have = t.flushPCID(pcid)
                    var n = 0
                    for i in 0..<entries where m.tags[i] & TLB.valid != 0 && m.tags[i] & TLB.globalBit == 0
                        && (m.tags[i] >> TLB.pcidShift) & 0xfff == UInt64(pcid) { m.tags[i] = 0; n += 1 }
                    want = n
                }
                XCTAssertEqual(have, want, "geometry \(entries)/\(ways), step \(step)")
                let tags = (0..<entries).map { t.tags[$0] & TLB.valid != 0 ? t.tags[$0] : 0 }
                XCTAssertEqual(tags, m.tags, "geometry \(entries)/\(ways), step \(step)")
                if have != want || tags != m.tags { return }
            }
        }
    }
}
