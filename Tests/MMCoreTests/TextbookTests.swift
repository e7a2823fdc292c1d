import XCTest
@testable import MMCore

/// Segmentation, memory without an MMU, the textbook paging puzzles and page-table cost, each
/// checked against answers worked out by hand.
final class TextbookTests: XCTestCase {
    func testBaseAndBounds() {
        // base 0x3000, bounds 1000: 999 → 0x3000 + 999 = 0x33e7; 1000 is out of bounds.
        let b = BaseBounds(base: 0x3000, limit: 1000)
        XCTAssertEqual(b.translate(0), 0x3000)
        XCTAssertEqual(b.translate(999), 0x33e7)
        XCTAssertNil(b.translate(1000))
        XCTAssertNil(BaseBounds(base: .max, limit: 10).translate(5))   // overflow is a violation, not a trap
    }

    func testTwoSegments() {
        // 10-bit space: seg 0 base 0x1000 limit 300; seg 1 (stack) base 0x2000 limit 200.
        let s = TwoSegments(vaBits: 10, seg0: BaseBounds(base: 0x1000, limit: 300), seg1: BaseBounds(base: 0x2000, limit: 200))
        XCTAssertEqual(s.translate(0x10).pa, 0x1010)
        XCTAssertNil(s.translate(300).pa)                 // 300 = limit
        // 0x3ff: top bit set → segment 1, offset 0x3ff - 1024 = -1 → 0x2000 - 1 = 0x1fff.
        XCTAssertEqual(s.translate(0x3ff).offset, -1)
        XCTAssertEqual(s.translate(0x3ff).pa, 0x1fff)
        // 0x338 = 824: offset -200 → 0x2000 - 200 = 0x1f38 (the last legal byte); 0x337: -201 → violation.
        XCTAssertEqual(s.translate(0x338).pa, 0x1f38)
        XCTAssertNil(s.translate(0x337).pa)
    }

    func testX86SegmentsAndLinuxFlatDescriptors() {
        let seg = X86Segmentation.linuxFlat()
        // Linux's GDT values (arch/x86/kernel/cpu/common.c, GDT_ENTRY_INIT): KERNEL32_CS 0x00cf9b000000ffff,
        // KERNEL_CS 0x00af9b000000ffff, KERNEL_DS 0x00cf93000000ffff, USER32_CS 0x00cffb000000ffff,
        // USER_DS 0x00cff3000000ffff, USER_CS 0x00affb000000ffff.
        XCTAssertEqual(seg.gdt[1]?.encoded, 0x00cf_9b00_0000_ffff)
        XCTAssertEqual(seg.gdt[2]?.encoded, 0x00af_9b00_0000_ffff)
        XCTAssertEqual(seg.gdt[3]?.encoded, 0x00cf_9300_0000_ffff)
        XCTAssertEqual(seg.gdt[4]?.encoded, 0x00cf_fb00_0000_ffff)
        XCTAssertEqual(seg.gdt[5]?.encoded, 0x00cf_f300_0000_ffff)
        XCTAssertEqual(seg.gdt[6]?.encoded, 0x00af_fb00_0000_ffff)
        XCTAssertEqual(SegmentDescriptor(encoded: 0x00cf_f300_0000_ffff), seg.gdt[5]!)
        // __USER_CS = 0x33: index 6, GDT, RPL 3.
        let cs = SegmentSelector(0x33)
        XCTAssertEqual([cs.index, cs.rpl], [6, 3])
        XCTAssertFalse(cs.ldt)
        XCTAssertEqual(try seg.translate(cs, offset: 0x401000, kind: .exec, cpl: 3).get(), 0x401000)
        // A user load of __KERNEL_DS: max(CPL 3, RPL 0) = 3 > DPL 0 → #GP(0x18).
        XCTAssertEqual(seg.translate(SegmentSelector(0x18), offset: 0, kind: .read, cpl: 3), .failure(SegmentFault("#GP(0x18): max(CPL 3, RPL 0) > DPL 0")))
        XCTAssertEqual(seg.translate(SegmentSelector(0), offset: 0, kind: .read, cpl: 0), .failure(SegmentFault("#GP(0): null selector")))
        // A byte-granular segment: base 0x10000, limit 0xffff: 0xffff is in, 0x10000 is #GP.
        var s2 = seg
        s2.gdt.append(contentsOf: [nil, nil])
        s2.gdt[8] = SegmentDescriptor(base: 0x10000, limit: 0xffff, granularity: false, dpl: 3, code: false, readWrite: true)
        XCTAssertEqual(try s2.translate(SegmentSelector(0x43), offset: 0xffff, kind: .write, cpl: 3).get(), 0x1ffff)
        XCTAssertEqual(s2.translate(SegmentSelector(0x43), offset: 0x10000, kind: .read, cpl: 3), .failure(SegmentFault("#GP(0): offset 0x10000 beyond the limit 0xffff")))
        // G = 1: limit 0xf means 16 pages: 0xffff is the last byte.
        s2.gdt[9] = SegmentDescriptor(base: 0, limit: 0xf, granularity: true, dpl: 3, code: false, readWrite: false)
        XCTAssertEqual(s2.gdt[9]?.byteLimit, 0xffff)
        XCTAssertEqual(s2.translate(SegmentSelector(0x4b), offset: 0x10, kind: .write, cpl: 3), .failure(SegmentFault("#GP(0): segment not writable")))
    }

    func testSegmentedPagingMakesThreeReferences() {
        let sp = SegmentedPaging(pageShift: 10, segmentTable: 0x1000, segments: [.init(pageTable: 0x2000, frames: [5, 9, 2])])
        // (0, 1, 0x2a): segment table entry at 0x1000, PTE at 0x2000 + 8, frame 9 → 9 * 1024 + 0x2a = 0x242a.
        let w = sp.translate(segment: 0, page: 1, offset: 0x2a)
        XCTAssertEqual(w.references.map(\.0), [0x1000, 0x2008, 0x242a])
        XCTAssertEqual(w.pa, 0x242a)
        XCTAssertNil(sp.translate(segment: 0, page: 3, offset: 0).pa)
        XCTAssertEqual(sp.translate(segment: 0, page: 3, offset: 0).references.count, 1)
    }

    func testExternalFragmentationFits() {
        // 1024 KiB: A 200, B 300, C 100, D 250; free B and D → holes 300 KiB at 200 KiB, 424 KiB at 600 KiB.
        func run(_ fit: SegmentMemory.Fit) -> (SegmentMemory, UInt64?) {
            var m = SegmentMemory(size: 1 << 20)
            for (n, l) in [("A", 200), ("B", 300), ("C", 100), ("D", 250)] { _ = m.allocate(n, length: UInt64(l) << 10, fit: fit) }
            m.free("B"); m.free("D")
            _ = m.allocate("F", length: 120 << 10, fit: fit)
            _ = m.allocate("G", length: 250 << 10, fit: fit)
            return (m, m.allocate("E", length: 300 << 10, fit: fit))
        }
        // First fit: F at 200 KiB, G at 600 KiB, holes 180 + 174 KiB: E (300 KiB) fails with 354 KiB free.
        let (f, fe) = run(.first)
        XCTAssertNil(fe)
        XCTAssertEqual(f.freeBytes, 354 << 10)
        XCTAssertEqual(f.holes.map(\.length), [180 << 10, 174 << 10])
        // Best fit picks the 300 KiB hole for F too; worst fit puts F and G in the 424 KiB hole's
        // successors and leaves the 300 KiB hole for E.
        XCTAssertNil(run(.best).1)
        XCTAssertEqual(run(.worst).1, 200 << 10)
    }

    func testNoMMUProblemsAndPaging() throws {
        var m = NoMMUMemory(size: 64 << 10)
        XCTAssertEqual(try m.load("A", length: 16 << 10), 0)
        XCTAssertEqual(try m.load("B", length: 16 << 10), 0x4000)
        XCTAssertEqual(try m.load("C", length: 16 << 10), 0x8000)
        m.exit("B")
        XCTAssertThrowsError(try m.load("D", length: 24 << 10)) { e in
            XCTAssertEqual(e as? NoMMUMemory.LoadError, .notContiguous(length: 24 << 10, free: 32 << 10, largest: 16 << 10))
        }
        XCTAssertEqual(m.store(0x8010, 0x41, by: "A"), "C")
        XCTAssertEqual(try m.load("p1", length: 4096, at: 0x4000), 0x4000)
        XCTAssertThrowsError(try m.load("p2", length: 4096, at: 0x4000))
        var p = PagedMemory(size: 64 << 10, pageSize: 4096)
        _ = p.load("A", length: 16 << 10, va: 0)
        _ = p.load("B", length: 16 << 10, va: 0)
        _ = p.load("C", length: 16 << 10, va: 0)
        p.exit("B")
        XCTAssertEqual(p.load("D", length: 24 << 10, va: 0), [4, 5, 6, 7, 12, 13])
        XCTAssertNil(p.translate("A", 0x8010))
        XCTAssertEqual(p.load("x", length: 1, va: 0x4000), [14])
        XCTAssertEqual(p.load("y", length: 1, va: 0x4000), [15])
        XCTAssertEqual(p.translate("x", 0x4001), 14 * 4096 + 1)
        XCTAssertNil(p.load("z", length: 1, va: 0))
    }

    func testDumpPuzzle() throws {
        // 32-byte pages, 15-bit VA, 1-byte entries: bit 7 valid, bits 6-0 PFN; PD in page 2.
        // 0x0c2a = 00011 00001 01010: PD[3] = 0x85 → table page 5; PT[1] = 0x89 → frame 9;
        // PA = 9 * 32 + 10 = 0x12a; byte 10 of page 9 = 0xcc.
        let g = TextbookGeometry(pageSize: 32, vaBits: 15, entryBytes: 1, validBit: 7, pfnHigh: 6, pfnLow: 0)
        XCTAssertNil(g.validate())
        XCTAssertEqual(g.levelBits, [5, 5])
        let inv = Array(repeating: "7f", count: 32)
        var pd = inv; pd[3] = "85"
        var pt = inv; pt[1] = "89"
        let data = (0..<32).map { $0 == 10 ? "cc" : "00" }
        let text = "page 2: \(pd.joined(separator: " "))\npage   5:\(pt.joined(separator: " ")) # a table\r\n\npage 0x9: \(data.joined(separator: " "))\n"
        let m = try DumpMemory.parse(text, pageSize: 32)
        let w = TextbookWalk.walk(0x0c2a, pdbr: 2, geometry: g, memory: m)
        XCTAssertEqual(w.steps.map(\.index), [3, 1])
        XCTAssertEqual(w.steps.map(\.entry), [0x85, 0x89])
        XCTAssertEqual(w.pa, 0x12a)
        XCTAssertEqual(w.value, 0xcc)
        // 0x0c4a: PT[2] = 0x7f: invalid at level 1.
        XCTAssertEqual(TextbookWalk.walk(0x0c4a, pdbr: 2, geometry: g, memory: m).faultLevel, 1)
        // Errors name the line and column.
        XCTAssertThrowsError(try DumpMemory.parse("page 1: 00 01\n", pageSize: 4)) { e in
            XCTAssertEqual(e as? DumpMemory.ParseError, DumpMemory.ParseError(line: 1, column: 14, message: "page 1 has 2 bytes, expected 4"))
        }
        XCTAssertThrowsError(try DumpMemory.parse("\npage 1: 00 0g 00 00\n", pageSize: 4)) { e in
            XCTAssertEqual(e as? DumpMemory.ParseError, DumpMemory.ParseError(line: 2, column: 12, message: "bad byte '0g' (expected two hex digits)"))
        }
        XCTAssertThrowsError(try DumpMemory.parse("pgae 1: 00\n", pageSize: 1))
        XCTAssertThrowsError(try DumpMemory.parse("page 99999999999999999999: 00\n", pageSize: 1))
        // Two-byte big-endian entries, PFN in bits 11-4.
        let g2 = TextbookGeometry(pageSize: 16, vaBits: 8, entryBytes: 2, validBit: 15, pfnHigh: 11, pfnLow: 4)
        XCTAssertEqual(g2.split(0x8120).valid, true)
        XCTAssertEqual(g2.split(0x8120).pfn, 0x12)
    }

    func testTLB() {
        var t = TextbookTLB(entries: 2, pageShift: 12)
        XCTAssertEqual(t.access(0x1000).hit, false)
        XCTAssertEqual(t.access(0x1fff).hit, true)
        _ = t.access(0x2000)
        _ = t.access(0x1000)          // 1 becomes most recent
        XCTAssertEqual(t.access(0x3000).evicted, 2)
    }

    func testPageTableCostMatchesTheSeed() {
        // 32-bit, 4 KiB pages, 4-byte entries: 2^20 entries * 4 = 4 MiB; 100 processes = 400 MiB.
        let c = PageTableCost(vaBits: 32, pageShift: 12, entryBytes: 4, usedNumerator: 20, usedDenominator: 100, processes: 100)
        XCTAssertNil(c.validate())
        XCTAssertEqual(c.levelBits, [10, 10])
        XCTAssertEqual(c.linearBytes, 4 << 20)
        XCTAssertEqual(c.linearBytes * c.processes, 400 << 20)
        // 4 KiB + 20 % × 4 MiB = 4096 + 838860.8 = 842956.8 bytes = 0.8039 MiB ≈ 0.804 MiB.
        XCTAssertEqual(c.estimateScaled, 84_295_680)
        // Whole tables: 1 directory + ceil(0.2 × 1024) = 205 tables = 206 × 4 KiB.
        XCTAssertEqual(c.wholeTables, [1, 205])
        XCTAssertEqual(c.wholeBytes, 206 * 4096)
        XCTAssertEqual(c.fullBytes, 4096 + (4 << 20))
        XCTAssertNotNil(PageTableCost(vaBits: 32, pageShift: 12, entryBytes: 4, levelBits: [10, 11]).validate())
        XCTAssertNotNil(PageTableCost(vaBits: 64, pageShift: 1, entryBytes: 8).validate())
    }
}
