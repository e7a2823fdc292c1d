import XCTest
@testable import MMCore

/// Paging formats: entries worked out by hand from the manuals, walks, faults, and the property
/// that every architecture translates a random address space like a reference map.
final class ArchTests: XCTestCase {
    let userRW = ArchProt(write: true, exec: false, user: true, global: false)

    // MARK: x86-64

    func testX8664EntriesAndWalk() throws {
        let a = Architecture.x86_64(la57: false)
        // PTE for 0x12345000, user rw, no exec: P(bit 0) RW(1) US(2) = 0x7, NX = bit 63.
        XCTAssertEqual(a.encodeLeaf(0x1234_5000, level: 3, prot: userRW), 0x8000_0000_1234_5007)
        // A table entry: address | P RW US A = 0x27 (Linux's _PAGE_TABLE).
        XCTAssertEqual(a.encodeTable(0x2000, level: 0), 0x2027)
        // 2 MiB leaf at the PDE: PS = bit 7 → 0x80; 1 GiB at the PDPTE likewise.
        XCTAssertEqual(a.encodeLeaf(0x4000_0000, level: 2, prot: ArchProt(write: false, exec: true)), 0x4000_0085)
        // PS in a PML4E is reserved.
        XCTAssertEqual(a.decode(0x2087, level: 0), .invalid(reason: "#PF: reserved bit set (PS=1 at this level)"))
        // A 2 MiB leaf with bit 13 set: bits 20:13 must be zero.
        XCTAssertEqual(a.decode(0x4000_2085, level: 2), .invalid(reason: "#PF: reserved bit set (bits 20:13 of a large page)"))
        var t = ArchPageTables(a)
        try t.map(va: 0x7f00_0040_1000, pa: 0x1234_5000, pageShift: 12, prot: userRW)
        // 0x7f0000401abc: bits 47:39 = 0x7f0000401abc >> 39 = 254; 38:30 = 0; 29:21 = 2;
        // 20:12 = 0x401 & 0x1ff = 1; offset 0xabc.
        let w = t.walk(0x7f00_0040_1abc, .write)
        XCTAssertEqual(w.steps.map(\.index), [254, 0, 2, 1])
        XCTAssertEqual(try w.result.get().physAddr, 0x1234_5abc)
        // 4 reads, then A and D set in the PTE (one write-back; the tables already have A).
        XCTAssertEqual(w.memoryReferences, 5)
        XCTAssertEqual(w.writeBacks, 1)
        XCTAssertEqual(t.readEntry(w.steps[3].entryAddress), 0x8000_0000_1234_5067)
        // Non-canonical: bit 47 set but bits 63:48 clear.
        XCTAssertEqual(t.walk(0x8000_0000_0000).result, .failure(ArchFaultError(fault: ArchFault(level: nil, reason: "#GP(0): non-canonical address (bits 63:47 differ)"))))
        // Execute a NX page.
        guard case .failure(let f) = t.walk(0x7f00_0040_1000, .exec).result else { return XCTFail("exec of NX page") }
        XCTAssertEqual(f.fault.level, 3)
        // Rights accumulate: a PDE without US makes a user access fault even though the PTE has US.
        let pde = w.steps[2].entryAddress
        t.writeEntry(pde, t.readEntry(pde) & ~PTE.user)
        guard case .failure = t.walk(0x7f00_0040_1abc, .read, user: true).result else { return XCTFail("US cleared in PDE") }
        XCTAssertNotNil(t.lookup(0x7f00_0040_1abc))
    }

    func testLA57() throws {
        let a = Architecture.x86_64(la57: true)
        XCTAssertEqual(a.levels.map(\.shift), [48, 39, 30, 21, 12])
        // 0x0080_0000_0000_0000: bit 55 set, bits 63:56 clear → canonical for 57 bits, not for 48.
        XCTAssertNil(a.canonicalFault(0x0080_0000_0000_0000))
        XCTAssertNotNil(Architecture.x86_64(la57: false).canonicalFault(0x0080_0000_0000_0000))
        XCTAssertNotNil(a.canonicalFault(0x0100_0000_0000_0000))
        var t = ArchPageTables(a)
        try t.map(va: 0x00ff_ffff_c000_0000, pa: 0x8000_0000, pageShift: 30, prot: userRW)
        // PML5 index = bits 56:48 = 0xff, PML4 = 511, PDPTE = 511 and PS there ends the walk.
        let w = t.walk(0x00ff_ffff_c123_4567)
        XCTAssertEqual(w.steps.map(\.index), [255, 511, 511])
        XCTAssertEqual(try w.result.get().physAddr, 0x8123_4567)
        XCTAssertEqual(try w.result.get().pageShift, 30)
    }

    // MARK: x86-32 and PAE

    func testX86_32PSE36() throws {
        let a = Architecture.x86_32
        // 4 MiB page at 0x1_2340_0000 (PSE-36): bits 31:22 = 0x23400000, bits 39:32 = 1 go to
        // PDE bits 20:13 → 0x2000, PS 0x80, P RW US 0x7 → 0x23402087.
        XCTAssertEqual(a.encodeLeaf(0x1_2340_0000, level: 0, prot: userRW), 0x2340_2087)
        XCTAssertEqual(a.decode(0x2340_2087, level: 0), .leaf(base: 0x1_2340_0000, rights: [.userRead, .userWrite, .userExec, .kernRead, .kernWrite, .kernExec], accessed: false, dirty: false, global: false))
        XCTAssertEqual(a.decode(0x2360_2087, level: 0), .invalid(reason: "#PF: reserved bit 21 set in a 4 MiB PDE"))
        var t = ArchPageTables(a)
        try t.map(va: 0xc000_0000, pa: 0x1_2340_0000, pageShift: 22, prot: userRW)
        try t.map(va: 0x0804_8000, pa: 0x0010_0000, pageShift: 12, prot: ArchProt(write: false, exec: true))
        // 0xc0123456 >> 22 = 0x300; offset 0x123456 → 0x1_2352_3456.
        let w = t.walk(0xc012_3456)
        XCTAssertEqual(w.steps.map(\.index), [0x300])
        XCTAssertEqual(try w.result.get().physAddr, 0x1_2352_3456)
        // 0x08048abc: PDE index 0x20, PTE index 0x48; 4-byte entries at table + 4 * index.
        let w2 = t.walk(0x0804_8abc, .exec)
        XCTAssertEqual(w2.steps.map(\.index), [0x20, 0x48])
        XCTAssertEqual(w2.steps[1].entryAddress & 0xfff, 0x48 * 4)
        XCTAssertEqual(try w2.result.get().physAddr, 0x0010_0abc)
        guard case .failure = t.walk(0x0804_8000, .write).result else { return XCTFail("write to read-only page") }
        XCTAssertThrowsError(try t.map(va: 0x1_0000_0000, pa: 0, pageShift: 12, prot: userRW))
    }

    func testPAE() throws {
        let a = Architecture.x86PAE
        XCTAssertEqual(a.levels.map(\.bits), [2, 9, 9])
        // A PDPTE has only P, PWT, PCD and the address: the table at 0x2000 → 0x2001.
        XCTAssertEqual(a.encodeTable(0x2000, level: 0), 0x2001)
        // RW (bit 1) is reserved in a PDPTE.
        XCTAssertEqual(a.decode(0x2003, level: 0), .invalid(reason: "#GP at the CR3 load: reserved PDPTE bit set"))
        var t = ArchPageTables(a)
        try t.map(va: 0xbf80_0000, pa: 0x1_4000_0000, pageShift: 21, prot: userRW)
        // 0xbf812345: bits 31:30 = 2, bits 29:21 = 0x1fc; the PDPTE is a register: 1 memory reference.
        let w = t.walk(0xbf81_2345)
        XCTAssertEqual(w.steps.map(\.index), [2, 0x1fc])
        XCTAssertEqual(w.steps.map(\.memoryReference), [false, true])
        XCTAssertEqual(try w.result.get().physAddr, 0x1_4001_2345)
        XCTAssertEqual(w.memoryReferences, 2)  // the PDE read and its A write-back
    }

    // MARK: ARM64

    func testARM64Geometry() {
        func g(_ n: String) -> [String] { Architecture(name: n)!.levels.map { "\($0.name):\($0.shift):\($0.bits)" } }
        XCTAssertEqual(g("arm64-4k-48"), ["L0:39:9", "L1:30:9", "L2:21:9", "L3:12:9"])
        XCTAssertEqual(g("arm64-4k-39"), ["L1:30:9", "L2:21:9", "L3:12:9"])
        XCTAssertEqual(g("arm64-4k-52"), ["L-1:48:4", "L0:39:9", "L1:30:9", "L2:21:9", "L3:12:9"])
        XCTAssertEqual(g("arm64-16k-47"), ["L1:36:11", "L2:25:11", "L3:14:11"])
        XCTAssertEqual(g("arm64-16k-48"), ["L0:47:1", "L1:36:11", "L2:25:11", "L3:14:11"])
        XCTAssertEqual(g("arm64-64k-42"), ["L2:29:13", "L3:16:13"])
        XCTAssertEqual(g("arm64-64k-48"), ["L1:42:6", "L2:29:13", "L3:16:13"])
        XCTAssertEqual(g("arm64-64k-52"), ["L1:42:10", "L2:29:13", "L3:16:13"])
        XCTAssertEqual(Architecture(name: "arm64-4k-48")!.pageShifts, [12, 21, 30])
        XCTAssertEqual(Architecture(name: "arm64-64k-48")!.pageShifts, [16, 29])
        XCTAssertNil(Architecture(name: "arm64-8k-48"))
        XCTAssertNil(Architecture(name: "arm64-4k-60"))
        XCTAssertEqual(ARM64.ttbrSelect(0x0000_ffff_ffff_ffff, vaBits: 48), 0)
        XCTAssertEqual(ARM64.ttbrSelect(0xffff_0000_0000_0000, vaBits: 48), 1)
        XCTAssertNil(ARM64.ttbrSelect(0x0001_0000_0000_0000, vaBits: 48))
    }

    func testARM64Descriptors() throws {
        let a = Architecture(name: "arm64-4k-48")!
        // Page: bits 1:0 = 11, SH = 11 (0x300), AF (0x400), nG (0x800), AP[1] = EL0 (0x40),
        // PXN (bit 53) on user pages, UXN (bit 54) since not executable → 0x0060000080000f43.
        XCTAssertEqual(a.encodeLeaf(0x8000_0000, level: 3, prot: userRW), 0x0060_0000_8000_0f43)
        // Kernel read-only executable global block: bits 1:0 = 01, SH, AF, AP[2] (0x80), UXN → 0x0040000040000781.
        XCTAssertEqual(a.encodeLeaf(0x4000_0000, level: 2, prot: ArchProt(write: false, exec: true, user: false, global: true)), 0x0040_0000_4000_0781)
        XCTAssertEqual(a.encodeTable(0x3000, level: 0), 0x3003)
        // 01 at L3 is reserved; 01 at L0 (4K granule) is not a legal block.
        XCTAssertEqual(a.decode(0x8000_0401, level: 3), .invalid(reason: "translation fault: reserved descriptor (bits 1:0 = 01 at level 3)"))
        XCTAssertEqual(a.decode(0x8000_0401, level: 0), .invalid(reason: "translation fault: block descriptor not allowed at this level"))
        // 64K granule with 52-bit addresses (FEAT_LPA): OA[51:48] = 0xf in bits 15:12.
        let l = Architecture(name: "arm64-64k-52")!
        let e = try XCTUnwrap(l.encodeLeaf(0x000f_0000_0001_0000, level: 2, prot: userRW))
        XCTAssertEqual(e & 0xffff_ffff_f000, 0x1_f000)
        guard case .leaf(let base, _, _, _, _) = l.decode(e, level: 2) else { return XCTFail() }
        XCTAssertEqual(base, 0x000f_0000_0001_0000)
        // 4K with FEAT_LPA2: OA[51:50] = 3 in bits 9:8 (SH moves to TCR_EL1).
        let l2 = Architecture(name: "arm64-4k-52")!
        let e2 = try XCTUnwrap(l2.encodeLeaf(0x000c_0000_0000_1000, level: 4, prot: userRW))
        XCTAssertEqual(e2 & 0x0003_ffff_ffff_f300, 0x1300)
        guard case .leaf(let b2, _, _, _, _) = l2.decode(e2, level: 4) else { return XCTFail() }
        XCTAssertEqual(b2, 0x000c_0000_0000_1000)
        XCTAssertNil(a.encodeLeaf(1 << 48, level: 3, prot: userRW))
    }

    func testARM64WalkTTBRAndFaults() throws {
        var t = ArchPageTables(Architecture(name: "arm64-4k-48")!)
        t.asid = 5
        try t.map(va: 0x0000_aaaa_bbbb_c000, pa: 0x8_8000_1000, pageShift: 12, prot: userRW)
        try t.map(va: 0xffff_8000_1000_0000, pa: 0x4000_0000, pageShift: 21, prot: ArchProt(write: true, exec: true, user: false, global: true))
        // 0xaaaabbbbc123: L0 = bits 47:39 = 0x155, L1 = 0xaa, L2 = 0x1dd, L3 = 0x1bc.
        let w = t.walk(0x0000_aaaa_bbbb_c123)
        XCTAssertEqual(w.rootName, "TTBR0_EL1")
        XCTAssertEqual(w.steps.map(\.index), [0x155, 0xaa, 0x1dd, 0x1bc])
        XCTAssertEqual(try w.result.get().physAddr, 0x8_8000_1123)
        XCTAssertFalse(try w.result.get().global)
        // The kernel block through TTBR1: EL1 may run it, EL0 may not read it.
        let k = t.walk(0xffff_8000_1001_2345, .exec, user: false)
        XCTAssertEqual(k.rootName, "TTBR1_EL1")
        XCTAssertEqual(try k.result.get().physAddr, 0x4001_2345)
        XCTAssertEqual(k.steps.count, 3)
        guard case .failure(let f) = t.walk(0xffff_8000_1001_2345, .read, user: true).result else { return XCTFail() }
        XCTAssertEqual(f.fault.reason, "permission fault: EL0 read not permitted (user --- kernel rwx)")
        // EL1 may not execute user memory (PXN), and EL0-writable memory is never EL1-executable.
        guard case .failure = t.walk(0x0000_aaaa_bbbb_c000, .exec, user: false).result else { return XCTFail() }
        // AF = 0: an access-flag fault at the leaf.
        let leaf = w.steps[3].entryAddress
        t.writeEntry(leaf, t.readEntry(leaf) & ~(1 << 10))
        guard case .failure(let af) = t.walk(0x0000_aaaa_bbbb_c123).result else { return XCTFail() }
        XCTAssertEqual(af.fault.reason, "access flag fault, level 3: AF=0")
        t.writeEntry(leaf, t.readEntry(leaf) | (1 << 10))
        // APTable[0] (bit 61) in the L1 table entry removes EL0 access below it.
        let l1 = w.steps[1].entryAddress
        t.writeEntry(l1, t.readEntry(l1) | (1 << 61))
        guard case .failure = t.walk(0x0000_aaaa_bbbb_c123).result else { return XCTFail("APTable") }
        XCTAssertNotNil(t.lookup(0x0000_aaaa_bbbb_c123))
        // Outside both halves: a translation fault before any read.
        let o = t.walk(0x0001_0000_0000_0000)
        XCTAssertTrue(o.steps.isEmpty)
        XCTAssertEqual(o.memoryReferences, 0)
    }

    // MARK: RISC-V

    func testRISCV() throws {
        let a = Architecture.riscv(vaBits: 39)
        // Leaf for 0x80200000, user rw: PPN 0x80200 << 10 = 0x20080000; V R W U A D = 0xd7.
        XCTAssertEqual(a.encodeLeaf(0x8020_0000, level: 2, prot: userRW), 0x2008_00d7)
        XCTAssertEqual(a.encodeTable(0x3000, level: 0), 0xc01)
        // W without R is reserved; a pointer at level 0 faults; a misaligned megapage faults.
        XCTAssertEqual(a.decode(0x2008_0005, level: 2), .invalid(reason: "page fault: reserved encoding W=1 R=0"))
        XCTAssertEqual(a.decode(0xc01, level: 2), .invalid(reason: "page fault: pointer PTE at level 0"))
        XCTAssertEqual(a.decode(0x2008_04d7, level: 1), .invalid(reason: "page fault: misaligned superpage (low PPN bits set)"))
        XCTAssertEqual(a.levels.map(\.name), ["VPN[2]", "VPN[1]", "VPN[0]"])
        // Sv39: bits 63:39 must equal bit 38.
        XCTAssertNotNil(a.canonicalFault(0x40_0000_0000))
        XCTAssertNil(a.canonicalFault(0xffff_ffc0_0000_0000))
        var t = ArchPageTables(a)
        try t.map(va: 0x4000_0000, pa: 0x8000_0000, pageShift: 30, prot: userRW)   // a gigapage
        try t.map(va: 0x1000, pa: 0x8765_4000, pageShift: 12, prot: ArchProt(write: false, exec: true, user: false))
        let w = t.walk(0x4123_4567)
        XCTAssertEqual(w.steps.count, 1)
        XCTAssertEqual(try w.result.get().physAddr, 0x8123_4567)
        // S-mode may not touch a U page (SUM = 0); U-mode may not touch an S page.
        guard case .failure = t.walk(0x4123_4567, .read, user: false).result else { return XCTFail() }
        guard case .failure = t.walk(0x1000, .read, user: true).result else { return XCTFail() }
        XCTAssertEqual(try t.walk(0x1abc, .exec, user: false).result.get().physAddr, 0x8765_4abc)
        // Svade: D = 0 on a store faults.
        let e = w.steps[0].entryAddress
        t.writeEntry(e, t.readEntry(e) & ~(1 << 7))
        guard case .failure(let f) = t.walk(0x4000_0000, .write).result else { return XCTFail() }
        XCTAssertEqual(f.fault.reason, "page fault: D=0 on a store (Svade: software sets A/D)")
        XCTAssertEqual(Architecture.riscv(vaBits: 57).levels.count, 5)
    }

    /// ARMv7 short descriptors worked out by hand: Linux's PTE page layout, small and large
    /// pages, sections and supersections, AP/XN/nG, domains and the TTBCR.N split.
    func testARM32ShortDescriptors() throws {
        let arch = try XCTUnwrap(Architecture(name: "arm32"))
        XCTAssertEqual(arch.pageShifts, [12, 16, 20, 24])
        XCTAssertEqual(arch.tableShift(0), 14)   // 4096 entries × 4 bytes
        XCTAssertEqual(arch.tableShift(1), 10)   // 256 × 4
        var t = ArchPageTables(arch)
        XCTAssertEqual(t.root, 0x4000)           // 16 KiB aligned
        // A user rw- small page: AP[2:0] = 011, XN, nG; its 4 KiB Linux PTE page holds the Linux
        // tables at +0/+1024 and the hardware tables at +2048/+3072.
        try t.map(va: 0x1_2000, pa: 0x8765_4000, pageShift: 12, prot: ArchProt(write: true, exec: false, user: true))
        XCTAssertEqual(t.readEntry(0x4000), 0x8821)        // L1[0]: table at 0x8800, domain 1 (user)
        XCTAssertEqual(t.readEntry(0x4004), 0x8c21)        // L1[1]: the odd MiB's table at 0x8c00
        XCTAssertEqual(t.readEntry(0x8848), 0x8765_4833)   // L2[0x12]
        XCTAssertEqual(t.readEntry(0x8048), 0x8765_4343)   // Linux: VALID YOUNG DIRTY USER XN
        let w = t.walk(0x1_2abc, .write, user: true)
        XCTAssertEqual(try w.result.get().physAddr, 0x8765_4abc)
        XCTAssertEqual(try w.result.get().rights, [.userRead, .userWrite, .kernRead, .kernWrite])
        XCTAssertEqual(w.memoryReferences, 2)
        XCTAssertEqual(w.rootName, "TTBR0")
        XCTAssertEqual(arch.describe(0x8765_4833, level: 1), "small page PA=0x87654000 AP[2:0]=011 XN nG")
        // A user r-- large page (16 copies of the entry, XN in bit 15).
        try t.map(va: 0x2_0000, pa: 0x4567_0000, pageShift: 16, prot: ArchProt(write: false, exec: false, user: true))
        for i in 0..<16 { XCTAssertEqual(t.readEntry(0x8800 + UInt64(0x20 + i) * 4), 0x4567_8a31) }
        XCTAssertEqual(try t.walk(0x2_f123, .read).result.get().physAddr, 0x4567_f123)
        XCTAssertEqual(try t.walk(0x2_f123, .read).result.get().pageShift, 16)
        guard case .failure(let pf) = t.walk(0x2_0000, .write).result else { return XCTFail() }
        XCTAssertEqual(pf.fault.reason, "permission fault: PL0 write not permitted (user r-- kernel r--)")
        XCTAssertThrowsError(try t.map(va: 0x2_4000, pa: 0, pageShift: 12, prot: ArchProt()))   // inside the large page
        // A kernel rwx global section at PAGE_OFFSET: AP[2:0] = 001, domain 0.
        try t.map(va: 0xc000_0000, pa: 0, pageShift: 20, prot: ArchProt(write: true, exec: true, user: false, global: true))
        XCTAssertEqual(t.readEntry(0x4000 + 0xc00 * 4), 0x402)
        XCTAssertEqual(try t.walk(0xc001_2345, .exec, user: false).result.get().physAddr, 0x1_2345)
        guard case .failure(let uf) = t.walk(0xc000_0000, .read, user: true).result else { return XCTFail() }
        XCTAssertEqual(uf.fault.reason, "permission fault: PL0 read not permitted (user --- kernel rwx)")
        XCTAssertEqual(t.walk(0xc000_0000, .read, user: false).memoryReferences, 1)
        // A user r-x supersection above 4 GiB physical: PA[35:32] in bits 23:20.
        try t.map(va: 0xd000_0000, pa: 0x1_2300_0000, pageShift: 24, prot: ArchProt(write: false, exec: true, user: true))
        for i in 0..<16 { XCTAssertEqual(t.readEntry(0x4000 + UInt64(0xd00 + i) * 4), 0x2316_8c02) }
        let st = try t.walk(0xd0ab_cdef, .exec).result.get()
        XCTAssertEqual(st.physAddr, 0x1_23ab_cdef)
        XCTAssertEqual(st.pageShift, 24)
        XCTAssertEqual(st.rights, [.userRead, .userExec, .kernRead, .kernExec])
        XCTAssertEqual(arch.describe(0x2316_8c02, level: 0), "supersection PA=0x123000000 AP[2:0]=111 nG")
        // Unmapped: a translation fault at L1 (section) or L2 (page).
        guard case .failure(let f1) = t.walk(0x4000_0000, .read).result, case .failure(let f2) = t.walk(0x5_0000, .read).result else { return XCTFail() }
        XCTAssertEqual(f1.fault.level, 0)
        XCTAssertEqual(f2.fault.reason, "translation fault (page): second-level descriptor bits 1:0 = 00")
        // Domains: user pages are in domain 1; no access there is a domain fault, manager skips AP.
        t.dacr = 0x51
        guard case .failure(let df) = t.walk(0x1_2000, .read).result else { return XCTFail() }
        XCTAssertEqual(df.fault.reason, "domain fault (page): domain 1 is no access in DACR 0x51")
        XCTAssertNoThrow(try t.walk(0xc000_0000, .read, user: false).result.get())   // domain 0 still client
        t.dacr = 0x5d
        XCTAssertEqual(try t.walk(0x2_0000, .write).result.get().physAddr, 0x4567_0000)   // manager: no AP check
        // TTBCR.N = 2: TTBR0 below 1 GiB, TTBR1 above.
        var s = ArchPageTables(try XCTUnwrap(Architecture(name: "arm32-ttbcr2")))
        XCTAssertNotEqual(s.root, s.root1)
        try s.map(va: 0xc000_0000, pa: 0x10_0000, pageShift: 20, prot: ArchProt(user: false))
        XCTAssertEqual(s.readEntry(s.root1 + 0xc00 * 4), 0x10_0000 | 0x400 | 0x10 | 0x2 | 0x2_0000)
        let w1 = s.walk(0xc000_0004, .read, user: false)
        XCTAssertEqual(w1.rootName, "TTBR1")
        XCTAssertEqual(try w1.result.get().physAddr, 0x10_0004)
        XCTAssertEqual(s.walk(0x1000, .read).rootName, "TTBR0")
    }

    // MARK: property

    /// For every architecture: map a random set of pages (some huge) into fresh tables, then every
    /// mapped address translates to the reference map's answer and every other address faults.
    func testEveryArchitectureMatchesAReferenceMap() throws {
        for name in Architecture.names {
            let arch = try XCTUnwrap(Architecture(name: name), name)
            var rng = SplitMix64(seed: 42)
            var t = ArchPageTables(arch, poolFrames: 8192)
            var reference: [(va: UInt64, shift: Int, pa: UInt64)] = []
            let shifts = arch.pageShifts
            let vaLimit: UInt64 = arch.vaBits >= 64 ? .max : (UInt64(1) << UInt64(arch.vaBits - 1))
            var paBits: UInt64 = arch == .x86_32 ? 32 : 40
            if case .arm32 = arch { paBits = 32 }
            // Cluster the pages in a few regions so tables are shared.
            let regions = (0..<4).map { _ in rng.next() % vaLimit }
            for i in 0..<120 {
                let shift = i % 10 == 0 && shifts.count > 1 ? shifts[1] : shifts[0]
                let size = UInt64(1) << UInt64(shift)
                var va = (regions[i % 4] &+ (rng.next() % 64) &* size) & ~(size - 1)
                if va >= vaLimit { va = (va % vaLimit) & ~(size - 1) }
                let pa = (rng.next() % (UInt64(1) << paBits)) & ~(size - 1)
                if case .arm64 = arch, i % 7 == 0 { va = ~(vaLimit * 2 - 1) | va }   // the TTBR1 half
                if case .riscv = arch, i % 7 == 0 { va = ~(vaLimit - 1) | va }
                if case .x86_64 = arch, i % 7 == 0 { va = ~(vaLimit - 1) | va }
                if reference.contains(where: { r in
                    let rs = UInt64(1) << UInt64(r.shift)
                    return va < r.va &+ rs && r.va < va &+ size
                }) { continue }
                do { try t.map(va: va, pa: pa, pageShift: shift, prot: userRW) } catch ArchMapError.overlaps { continue }
                reference.append((va, shift, pa))
            }
            XCTAssertGreaterThan(reference.count, 50, name)
            for r in reference {
                let off = rng.next() % (UInt64(1) << UInt64(r.shift))
                var w = t
                let res = w.walk(r.va | off, .read, user: true).result
                XCTAssertEqual(try? res.get().physAddr, r.pa | off, "\(name) \(String(r.va | off, radix: 16))")
            }
            for _ in 0..<200 {
                let va = rng.next() % vaLimit
                let expected = reference.first { va >= $0.va && va - $0.va < UInt64(1) << UInt64($0.shift) }.map { $0.pa | (va - $0.va) }
                var w = t
                XCTAssertEqual(try? w.walk(va, .read, user: true).result.get().physAddr, expected, "\(name) \(String(va, radix: 16))")
            }
        }
    }
}
