import XCTest
@testable import MMCore

/// x86-32 highmem: zones, __pa/__va validity, kmap's pkmap entries and lazy flush, kmap_atomic slots.
final class HighmemTests: XCTestCase {
    func testZonesAndLinearMap() {
        let h = Highmem32(ramBytes: 2 << 30)
        XCTAssertEqual(X86_32Kernel.maxLowmem, 0x377f_e000)
        XCTAssertEqual(h.zonePages.map(\.pages), [0x1000, 0x377fe - 0x1000, 0x80000 - 0x377fe])
        XCTAssertEqual(h.va(0x10_0000), 0xc010_0000)
        XCTAssertNil(h.va(0x377f_e000))
        XCTAssertEqual(h.pa(0xf77f_dfff), 0x377f_dfff)
        XCTAssertNil(h.pa(0xf77f_e000))
        XCTAssertFalse(h.isHighmem(0x377fd))
        XCTAssertTrue(h.isHighmem(0x377fe))
        // 512 MiB: everything is lowmem, there is no ZONE_HIGHMEM.
        let small = Highmem32(ramBytes: 512 << 20)
        XCTAssertEqual(small.zonePages[2].pages, 0)
        XCTAssertEqual(try small.kmap(0x1ffff).get(), 0xdfff_f000)
    }

    /// Without PAE: 1024 entries. Entries 1…1023 are handed out first; unused entries are only
    /// unmapped when the search wraps to 0 (one flush); with every entry in use kmap would sleep.
    func testPkmapWrapAndFlush() throws {
        let h = Highmem32(ramBytes: 4 << 30, pae: false)
        XCTAssertEqual(h.lastPkmap, 1024)
        let base: UInt64 = 0x80000
        for i in 0..<1023 { XCTAssertEqual(try h.kmap(base + UInt64(i)).get(), X86_32Kernel.pkmapBase + UInt64(i + 1) * 4096) }
        for i in 0..<1023 { XCTAssertNoThrow(try h.kunmap(base + UInt64(i)).get()) }
        XCTAssertEqual(h.pkmapFlushes, 0)
        XCTAssertEqual(h.kmapToPhys(X86_32Kernel.pkmapBase + 4096 + 5), base << 12 + 5)  // still mapped, count 1
        // The next search wraps to entry 0: the 1023 unused entries are flushed at once.
        XCTAssertEqual(try h.kmap(0x90000).get(), X86_32Kernel.pkmapBase)
        XCTAssertEqual(h.pkmapFlushes, 1)
        XCTAssertNil(h.kmapToPhys(X86_32Kernel.pkmapBase + 4096))
        for i in 1..<1024 { _ = try h.kmap(0x90000 + UInt64(i)).get() }
        XCTAssertEqual(h.kmap(0xa0000), .failure(.wouldSleep))
        guard case .failure(let e) = h.kunmap(0xa0000) else { return XCTFail() }
        XCTAssertEqual(e, .notMapped(0xa0000 << 12))
    }

    func testKmapAtomicSlots() throws {
        let h = Highmem32(ramBytes: 2 << 30)
        var addrs: [UInt64] = []
        for i in 0..<16 { addrs.append(try h.kmapAtomic(0x40000 + UInt64(i)).get()) }
        XCTAssertEqual(addrs[0], 0xffff_f000 - 130 * 4096)
        XCTAssertEqual(addrs[1], addrs[0] - 4096)
        XCTAssertEqual(h.kmapAtomic(0x50000), .failure(.atomicSlotsExhausted))
        guard case .failure(let e) = h.kunmapAtomic(addrs[0]) else { return XCTFail() }
        XCTAssertEqual(e, .notInnermost(addrs[0]))
        for a in addrs.reversed() { XCTAssertNoThrow(try h.kunmapAtomic(a).get()) }
        XCTAssertEqual(try h.kmapAtomic(0x100).get(), 0xc010_0000)   // lowmem: no slot
        XCTAssertTrue(h.atomicStack.isEmpty)
    }

    /// 32-bit ARM (VMSPLIT_3G, no LPAE): 768 MiB of lowmem whatever the RAM above it, no ZONE_DMA.
    func testARM32Zones() {
        XCTAssertEqual(ARM32Kernel.maxLowmem, 768 << 20)
        XCTAssertEqual(ARM32Kernel.pkmapBase, 0xbfe0_0000)
        XCTAssertEqual(ARM32Kernel.fixaddrTop, 0xffef_f000)
        let g1 = Highmem32(ramBytes: 1 << 30, arch: .arm32)
        XCTAssertEqual(g1.lowmemBytes, 768 << 20)
        XCTAssertEqual(g1.zonePages.map(\.name), ["Normal", "HighMem"])
        XCTAssertEqual(g1.zonePages.map(\.pages), [0x30000, 0x10000])   // 768 MiB + 256 MiB
        let g2 = Highmem32(ramBytes: 2 << 30, arch: .arm32)
        XCTAssertEqual(g2.zonePages.map(\.pages), [0x30000, 0x50000])   // 768 MiB + 1280 MiB
        XCTAssertFalse(g2.pae)
        XCTAssertEqual(g2.lastPkmap, 512)
        // __pa/__va only for lowmem: 0xc0000000-0xf0000000.
        XCTAssertEqual(g2.va(0x8000), 0xc000_8000)
        XCTAssertEqual(g2.pa(0xefff_ffff), 0x2fff_ffff)
        XCTAssertNil(g2.pa(0xf000_0000))
        XCTAssertNil(g2.va(0x3000_0000))
        XCTAssertTrue(g2.isHighmem(0x30000))
        XCTAssertFalse(g2.isHighmem(0x2ffff))
        let small = Highmem32(ramBytes: 512 << 20, arch: .arm32)
        XCTAssertEqual(small.zonePages.map(\.pages), [0x20000, 0])
    }

    /// ARM's pkmap sits just below PAGE_OFFSET and its kmap_atomic slots below FIXADDR_TOP.
    func testARM32KmapAddresses() throws {
        let h = Highmem32(ramBytes: 1 << 30, arch: .arm32)
        XCTAssertEqual(try h.kmap(0x1000).get(), 0xc100_0000)           // lowmem: linear
        XCTAssertEqual(try h.kmap(0x30000).get(), 0xbfe0_1000)          // entry 1
        XCTAssertEqual(try h.kmap(0x3ffff).get(), 0xbfe0_2000)          // entry 2
        XCTAssertEqual(h.kmapToPhys(0xbfe0_2010), 0x3fff_f010)
        XCTAssertNil(h.pa(0xbfe0_2010))
        XCTAssertEqual(try h.kmapAtomic(0x30001).get(), 0xffef_e000)    // FIX_KMAP_BEGIN 1, slot 0
        XCTAssertEqual(try h.kmapAtomic(0x30002).get(), 0xffef_d000)    // slot 1
        for i in 2..<16 { _ = try h.kmapAtomic(0x30010 + UInt64(i)).get() }
        XCTAssertEqual(h.kmapAtomic(0x30100), .failure(.atomicSlotsExhausted))
        // 511 more entries fit after entry 0 (two are taken): with all in use, kmap would sleep.
        for i in 0..<509 { _ = try h.kmap(0x31000 + UInt64(i)).get() }
        XCTAssertEqual(try h.kmap(0x32000).get(), 0xbfe0_0000)   // wrapped to entry 0
        XCTAssertEqual(h.kmap(0x32001), .failure(.wouldSleep))
    }
}
