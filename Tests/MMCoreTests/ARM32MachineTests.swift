import XCTest
@testable import MMCore

/// The 32-bit ARM machine (`machine arch=arm32`): zones with HighMem and no DMA, the ARM process
/// layout, Linux's 2-level tables (PGD pairs, Linux and hardware PTEs) in simulated frames, the
/// kernel half of every PGD, kmap on real frames, and the young/dirty emulation by faults.
final class ARM32MachineTests: XCTestCase {
    func machine(_ ram: UInt64, swap: UInt64 = 0) throws -> Kernel {
        var c = MachineConfig(ramBytes: ram, swapBytes: swap)
        c.arch = .arm32(ttbcrN: 0)
        return try Kernel(config: c)
    }

    /// The PTE pair (Linux word | hardware word << 32) mapping `va`.
    func pte(_ k: Kernel, _ mm: MMStruct, _ va: UInt64) -> UInt64 {
        let s = k.phys.walk(mm.pgd, VirtAddr(va))!
        return k.phys.paging.readRaw(k.phys.contents, s.table, s.index, level: 1)
    }

    // 2 GiB: ZONE_NORMAL [0, 0x30000) (768 MiB), ZONE_HIGHMEM [0x30000, 0x80000). Reserved:
    // swapper_pg_dir (PFN 4-7), the image at TEXT_OFFSET (0xbbdc90 bytes: 3006 frames, PFN
    // 8-0xbc5), mem_map
    // (0x80000 frames * 32 B = 4096 frames) just below the lowmem limit.
    func testZonesOf2GiB() throws {
        let k = try machine(2 << 30)
        let z = k.phys.zones
        XCTAssertEqual(z.map(\.type), [.normal, .highmem])
        XCTAssertEqual(z.map(\.startPFN.index), [0, 0x30000])
        XCTAssertEqual(z.map(\.spannedPages), [0x30000, 0x50000])
        XCTAssertEqual(z.map(\.managedPages), [0x30000 - 4 - 3006 - 4096, 0x50000])
        XCTAssertEqual(k.phys.reservedRegions.map(\.name), ["swapper_pg_dir", "kernel image", "mem_map"])
        XCTAssertEqual(k.phys.reservedRegions.map(\.startPFN.index), [4, 8, 0x2f000])
        // HighMem min watermark: managed/1024 = 320 clamped to 32...128; Normal takes all of min_free_kbytes.
        XCTAssertEqual(z[1].watermarkMin, 128)
        XCTAssertEqual(z[0].watermarkMin, k.phys.minFreeKbytes / 4)
        // lowmem_reserve (ratios 256, 256, 32, 0) indexed DMA, DMA32, Normal, HighMem.
        XCTAssertEqual(z[0].lowmemReserve, [0, 0, 0, 0x50000 / 32])
        XCTAssertEqual(z[1].lowmemReserve, [0, 0, 0, 0])
        XCTAssertEqual(k.phys.highmemPages.managed, 0x50000)
        XCTAssertEqual(k.config.thp, .never)
        // The vmalloc area: VMALLOC_START = high_memory 0xf0000000 + 8 MiB, VMALLOC_END 0xff800000.
        XCTAssertEqual([k.vmap.start, k.vmap.end], [0xf080_0000, 0xff7f_ffff])
        _ = try k.spawn(ProgramImage(path: "/bin/p")).get()
        XCTAssertEqual(k.vmap.areas.first?.addr, 0xf080_0000)   // the first kernel stack
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // 512 MiB: all RAM is lowmem (ZONE_HIGHMEM unpopulated); user pages come from Normal.
    func testZonesOf512MiB() throws {
        let k = try machine(512 << 20)
        XCTAssertEqual(k.phys.zones.map(\.type), [.normal])
        XCTAssertEqual(k.phys.zones.map(\.managedPages), [0x20000 - 4 - 3006 - 1024])
        XCTAssertEqual(k.phys.highmemPages.managed, 0)
        XCTAssertEqual(k.vmap.start, 0xe080_0000)   // high_memory 0xe0000000 + 8 MiB: 496 MiB of vmalloc space
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(t, addr: 0, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.store(t, a, [1]).get())
        XCTAssertEqual(k.phys.zone(of: k.phys.readPTE(k.phys.walk(t.mm!.pgd, a)!).pfn)?.type, .normal)
        XCTAssertThrowsError(try machine(5 << 30)) { e in XCTAssertEqual(e as? PhysicalMemoryError, .tooLarge32(5 << 30)) }
    }

    // ARM's layout: TASK_SIZE 0xbf000000, non-PIE text at 0x10000, mmap_base TASK_SIZE - 128 MiB,
    // the stack ending at TASK_SIZE, [vectors] as the gate VMA, armhf library paths, a PIE at
    // ELF_ET_DYN_BASE 0x7f555000.
    func testProcessLayout() throws {
        let k = try machine(2 << 30)
        let t = try k.spawn(ProgramImage(path: "/bin/p", pie: false)).get()
        let mm = t.mm!
        XCTAssertTrue(mm.ia32)
        XCTAssertEqual(mm.taskSize, 0xbf00_0000)
        XCTAssertEqual(mm.mmapBase, 0xb700_0000)
        XCTAssertEqual(mm.vmas.vmas.first!.start.raw, 0x0001_0000)
        XCTAssertEqual(mm.startCode, 0x0001_1000)
        XCTAssertEqual(mm.vmas.vmas.last!.end.raw, 0xbf00_0000)
        XCTAssertEqual(mm.gateVMA?.start.raw, 0xffff_0000)
        XCTAssertEqual(mm.gateVMA?.special, .vectors)
        XCTAssertTrue(mm.vmas.vmas.contains { $0.file?.path == "/usr/lib/arm-linux-gnueabihf/ld-linux-armhf.so.3" })
        let pie = try k.spawn(ProgramImage(path: "/bin/q", pie: true)).get()
        XCTAssertEqual(pie.mm!.vmas.vmas.first!.start.raw, 0x7f55_5000)
        // Beyond TASK_SIZE: MAP_FIXED is ENOMEM, an access to the modules area or the linear
        // map is SIGSEGV; the vectors page is readable (kuser helpers) but not writable.
        if case .failure(let e) = k.mmap(t, addr: 0xbf00_0000, length: 0x1000, prot: [.read], flags: [.private, .anonymous, .fixed]) {
            XCTAssertEqual(e, .ENOMEM)
        } else { XCTFail("MAP_FIXED at TASK_SIZE must fail") }
        XCTAssertEqual(try k.access(t, VirtAddr(0xffff_0fa0), .read).get().raw, UInt64(k.kernelTables32!.vectorsPage!.index) << 12 | 0xfa0)
        for (va, kind) in [(UInt64(0xbf00_0000), AccessKind.read), (0xc010_0000, .read), (0xffff_0000, .write)] {
            let victim = try k.spawn(ProgramImage(path: "/bin/v")).get()
            if case .failure(.signal(.SIGSEGV, let at)) = k.access(victim, VirtAddr(va), kind) { XCTAssertEqual(at.raw, va) } else { XCTFail("\(va): SIGSEGV expected") }
        }
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // Entries worked out by hand (pgtable-2level.h, proc-v7-2level.S):
    //   written private anonymous page: Linux PRESENT|YOUNG|MT_WRITEALLOC(0x1c)|DIRTY|USER|XN|SHARED
    //   = 0x75f; hardware: Linux & ~0x3f3 keeps C B (0xc) and S (0x400), + nG 0x800, AP0 0x10,
    //   small page 2, TEX(1) 0x40, AP1 0x20, XN 1 = 0xc7f.
    //   after fork (write-protected): Linux + RDONLY 0x80 = 0x7df; hardware + APX 0x200 = 0xe7f.
    //   old (MADV_COLD): Linux 0x75d, hardware 0. Clean and young (MADV_FREE, then a read):
    //   Linux 0x71f, hardware 0xe7f (APX: the first write faults).
    //   PGD pair: (PTE page + 2048) | PMD_TYPE_TABLE | PMD_BIT4 | domain 1 (0x31), + 1024.
    func testEntriesByHand() throws {
        let k = try machine(2 << 30)
        let f = k.phys.paging
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let mm = t.mm!
        XCTAssertEqual(mm.pgd.index & 3, 0)   // 16 KiB aligned
        let a: UInt64 = 0xa000_3000
        _ = try k.mmap(t, addr: 0xa000_0000, length: 0x10000, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        let faults0 = k.vmstat.pgfault
        for i in 0..<16 { XCTAssertNoThrow(try k.store(t, VirtAddr(0xa000_0000 + UInt64(i) << 12), [UInt8(i)]).get()) }
        XCTAssertEqual(k.vmstat.pgfault - faults0, 16)
        // 0xa0003000: PGD index 1280 (L1 2560 and 2561), PTE index 3.
        let pair = f.readRaw(k.phys.contents, mm.pgd, 1280, level: 0)
        let table = PFN((pair & 0xffff_f000) >> 12)
        XCTAssertLessThan(table.index, 0x30000)                       // PTE page in lowmem
        XCTAssertEqual(pair, (table.raw << 12 | 0x831) | (table.raw << 12 | 0xc31) << 32)
        // The PGD entry is the 64-bit word at byte 8 * 1280 of the 16 KiB table: frame 2, word 256.
        XCTAssertEqual(k.phys.contents.readWord(mm.pgd.advanced(by: 2), 256), pair)
        let p = pte(k, mm, a)
        let frame = (p & 0xffff_f000) >> 12
        XCTAssertEqual(k.phys.zone(of: PFN(frame))?.type, .highmem)   // user page in HighMem
        XCTAssertEqual(p, (frame << 12 | 0x75f) | (frame << 12 | 0xc7f) << 32)
        // The Linux word at +12 and the hardware word at +2048+12 of the PTE page.
        XCTAssertEqual(k.phys.contents.readWord(table, 1) >> 32, frame << 12 | 0x75f)
        XCTAssertEqual(k.phys.contents.readWord(table, 257) >> 32, frame << 12 | 0xc7f)
        XCTAssertEqual(try k.access(t, VirtAddr(a | 0x123), .read).get().raw, frame << 12 | 0x123)
        let lines = k.phys.describeWalk(pgd: mm.pgd, va: VirtAddr(a | 0x123))
        XCTAssertEqual(lines, [
            "0xa0003123 on arm32: PGD 1280 | PTE 3 | offset 0x123",
            "TTBR0 = PGD at PFN \(mm.pgd)",
            "  PGD (L1) table \(mm.pgd)[1280]: L1[2560] = 0x" + String(table.raw << 12 | 0x831, radix: 16).armPad8 + ", L1[2561] = 0x" + String(table.raw << 12 | 0xc31, radix: 16).armPad8
                + "  [page table @0x" + String(table.raw << 12 | 0x800, radix: 16) + " domain 1] [page table @0x" + String(table.raw << 12 | 0xc00, radix: 16) + " domain 1]",
            "  PTE (L2) table \(table)[3]: linux = 0x" + String(frame << 12 | 0x75f, radix: 16) + ", hw +2048 = 0x" + String(frame << 12 | 0xc7f, radix: 16)
                + "  linux L_PTE_PRESENT|YOUNG|DIRTY|USER|XN|SHARED; hw small page PA=0x" + String(frame << 12, radix: 16) + " AP[2:0]=011 XN nG",
            "=> 0x" + String(frame << 12 | 0x123, radix: 16) + " (4K page, RW- user, dirty, young)"])
        // fork write-protects both copies; the child's copy is also old (copy_present_pte's
        // pte_mkold), so its hardware entry is 0 and its first read takes a fault that only
        // makes the PTE young.
        let child = try k.fork(t).get()
        XCTAssertEqual(pte(k, mm, a), (frame << 12 | 0x7df) | (frame << 12 | 0xe7f) << 32)
        XCTAssertEqual(pte(k, child.mm!, a), frame << 12 | 0x7dd)
        let childFaults = child.minFlt
        XCTAssertEqual(try k.load(child, VirtAddr(a), count: 1).get(), [3])
        XCTAssertEqual(child.minFlt - childFaults, 1)
        XCTAssertEqual(pte(k, child.mm!, a), (frame << 12 | 0x7df) | (frame << 12 | 0xe7f) << 32)
        k.exitTask(child, status: 0)
        XCTAssertNoThrow(try k.store(t, VirtAddr(a), [9]).get())    // reused: writable and dirty again
        XCTAssertEqual(pte(k, mm, a), (frame << 12 | 0x75f) | (frame << 12 | 0xc7f) << 32)
        // Old: no hardware entry.
        XCTAssertNoThrow(try k.madvise(t, addr: a, length: 0x1000, advice: .cold).get())
        XCTAssertEqual(pte(k, mm, a), frame << 12 | 0x75d)
        XCTAssertEqual(k.phys.describeWalk(pgd: mm.pgd, va: VirtAddr(a)).last, "=> not present at the PTE level: the access faults")
        // Young but clean (MADV_FREE, then a read): read-only in hardware.
        XCTAssertNoThrow(try k.madvise(t, addr: a, length: 0x1000, advice: .free).get())
        XCTAssertEqual(pte(k, mm, a), frame << 12 | 0x71d)
        _ = try k.load(t, VirtAddr(a), count: 1).get()
        XCTAssertEqual(pte(k, mm, a), (frame << 12 | 0x71f) | (frame << 12 | 0xe7f) << 32)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // ARM has no hardware access flag or dirty bit: after MADV_COLD each access takes a minor
    // fault that makes the PTE young; after MADV_FREE a read makes it young (one fault) and the
    // first write makes it dirty (another). x86-64 takes none of these faults.
    func testYoungAndDirtyEmulationFaults() throws {
        func run(_ arch: Architecture) throws -> [Int] {
            var c = MachineConfig(ramBytes: 512 << 20)
            c.arch = arch
            let k = try Kernel(config: c)
            let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
            let a = try k.mmap(t, addr: 0, length: 0x10000, prot: [.read, .write], flags: [.private, .anonymous]).get()
            var out: [Int] = []
            func pages(_ write: Bool) throws {
                let f0 = k.vmstat.pgfault, m0 = t.minFlt
                for i in 0..<16 {
                    let va = VirtAddr(a.raw + UInt64(i) << 12)
                    if write { try k.store(t, va, [1]).get() } else { _ = try k.load(t, va, count: 1).get() }
                }
                XCTAssertEqual(Int(k.vmstat.pgfault - f0), Int(t.minFlt - m0))
                out.append(Int(k.vmstat.pgfault - f0))
            }
            try pages(true)
            try k.madvise(t, addr: a.raw, length: 0x10000, advice: .cold).get()
            try pages(false)
            try pages(true)
            try k.madvise(t, addr: a.raw, length: 0x10000, advice: .free).get()
            try pages(false)
            try pages(true)
            XCTAssertEqual(k.checkInvariants(), [])
            return out
        }
        XCTAssertEqual(try run(.arm32(ttbcrN: 0)), [16, 16, 0, 16, 16])
        XCTAssertEqual(try run(.x86_64(la57: false)), [16, 0, 0, 0, 0])
    }

    // swapper_pg_dir is the 16 KiB at 0x4000; lowmem in sections (the 12 MiB holding the image,
    // which ends at 0xbc6000, MT_MEMORY_RWX 0x1140e; the rest MT_MEMORY_RW with XN 0x1141e),
    // the pkmap table (PFN 0xbc5, PGD 1535) and the fixmap table (0xbc4, PGD 2047) with the
    // vectors page (0xbc2) at index 496 (Linux 0x5df, hardware AP 111 0x67e) and the stubs page
    // (0xbc3, kernel read-only: Linux 0x4df, hardware 0x65e) after it; entries 1528-2047 of
    // every PGD are swapper's.
    func testKernelHalfOfEveryPGD() throws {
        let k = try machine(2 << 30)
        let f = k.phys.paging
        let kt = try XCTUnwrap(k.kernelTables32)
        XCTAssertEqual(kt.swapperPgDir.index, 4)
        XCTAssertEqual(kt.linearTables, [])
        XCTAssertEqual(kt.pkmapTable.index, 0xbc5)
        XCTAssertEqual(kt.fixmapTable.index, 0xbc4)
        XCTAssertEqual(kt.vectorsPage?.index, 0xbc2)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let pgd = t.mm!.pgd
        func e(_ i: Int) -> UInt64 { f.readRaw(k.phys.contents, pgd, i, level: 0) }
        XCTAssertEqual(e(1536), 0x0011_140e_0001_140e)
        XCTAssertEqual(e(1541), 0x00b1_140e_00a1_140e)
        XCTAssertEqual(e(1542), 0x00d1_141e_00c1_141e)
        XCTAssertEqual(e(1919), 0x2ff1_141e_2fe1_141e)
        XCTAssertEqual(e(1920), 0)
        XCTAssertEqual(e(1528), 0)
        XCTAssertEqual(e(1535), 0x00bc_5c11_00bc_5811)
        XCTAssertEqual(e(2047), 0x00bc_4c11_00bc_4811)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.fixmapTable, 496, level: 1), 0x00bc_267e_00bc_25df)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.fixmapTable, 497, level: 1), 0x00bc_365e_00bc_34df)
        for i in 1528..<2048 { XCTAssertEqual(e(i), f.readRaw(k.phys.contents, kt.swapperPgDir, i, level: 0), "PGD entry \(i)") }
        XCTAssertEqual(k.phys.describeWalk(pgd: pgd, va: VirtAddr(0xc0d0_0123)),
                       ["0xc0d00123 on arm32: PGD 1542 | PTE 256 | offset 0x123",
                        "TTBR0 = PGD at PFN \(pgd)",
                        "  PGD (L1) table \(pgd)[1542]: L1[3084] = 0x00c1141e, L1[3085] = 0x00d1141e  [section PA=0xc00000 domain 0 AP[2:0]=001 XN S] [section PA=0xd00000 domain 0 AP[2:0]=001 XN S]",
                        "=> 0xd00123 (1M section, RW- kernel, dirty, young)"])
        let child = try k.fork(t).get()
        XCTAssertEqual(f.readRaw(k.phys.contents, child.mm!.pgd, 2047, level: 0), 0x00bc_4c11_00bc_4811)
        XCTAssertEqual(k.checkInvariants(), [])
        // With 100 MiB, lowmem ends inside the 2 MiB chunk 0x6400000: that chunk is kernel PTEs.
        let s = try machine(100 << 20)
        let st = try XCTUnwrap(s.kernelTables32)
        XCTAssertEqual(st.linearTables.count, 0)   // 100 MiB is a multiple of 2 MiB
        let o = try machine(101 << 20)
        let ot = try XCTUnwrap(o.kernelTables32)
        XCTAssertEqual(ot.linearTables.map(\.index), [0xbc5])
        XCTAssertEqual(o.phys.paging.readRaw(o.phys.contents, ot.linearTables[0], 255, level: 1),
                       (0x64ff000 | 0x65f) | (0x64ff000 | 0x45f) << 32)
        XCTAssertEqual(o.phys.paging.readRaw(o.phys.contents, ot.linearTables[0], 256, level: 1), 0)
    }

    // kmap of a HighMem frame writes PAGE_KERNEL into the shared pkmap table (Linux 0x65f:
    // PRESENT|YOUNG|DIRTY|XN|SHARED|MT_WRITEALLOC; hardware 0x45f: AP 001, XN, global); the
    // entry stays after kunmap until a wrap flushes it; kmap_atomic's fixmap slot is set and cleared.
    func testKmapWritesRealPTEs() throws {
        let k = try machine(2 << 30)
        let h = try XCTUnwrap(k.highmem32)
        let kt = try XCTUnwrap(k.kernelTables32)
        let f = k.phys.paging
        XCTAssertEqual(h.lastPkmap, 512)
        XCTAssertEqual(try h.kmap(0x60000).get(), 0xbfe0_1000)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.pkmapTable, 1, level: 1), 0x6000_045f_6000_065f)
        XCTAssertNoThrow(try h.kunmap(0x60000).get())
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.pkmapTable, 1, level: 1), 0x6000_045f_6000_065f)
        XCTAssertEqual(try h.kmap(0x1000).get(), 0xc100_0000)
        let slot = try h.kmapAtomic(0x70000).get()
        XCTAssertEqual(slot, 0xffef_e000)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.fixmapTable, 254, level: 1), 0x7000_045f_7000_065f)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        XCTAssertEqual(k.phys.describeWalk(pgd: t.mm!.pgd, va: VirtAddr(slot | 0x10)).last, "=> 0x70000010 (4K page, RW- kernel, dirty, young)")
        XCTAssertNoThrow(try h.kunmapAtomic(slot).get())
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.fixmapTable, 254, level: 1), 0)
        XCTAssertEqual(h.pa(0xc010_0000), 0x10_0000)
        XCTAssertNil(h.va(0x3000_0000))
    }

    // A page swapped out leaves the ARM swap entry (type << 3 | offset << 8) in the Linux word
    // and 0 in the hardware word; the next access is a major fault that maps it again.
    func testSwapEntry() throws {
        let k = try machine(256 << 20, swap: 64 << 20)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(t, addr: 0, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.store(t, a, [7]).get()
        try k.madvise(t, addr: a.raw, length: 0x1000, advice: .pageout).get()
        let raw = pte(k, t.mm!, a.raw)
        let e = k.phys.readPTE(k.phys.walk(t.mm!.pgd, a)!)
        XCTAssertTrue(e.isSwap)
        XCTAssertEqual(raw, UInt64(e.swapEntry.type) << 3 | UInt64(e.swapEntry.offset) << 8)
        let maj = t.majFlt
        XCTAssertEqual(try k.load(t, a, count: 1).get(), [7])
        XCTAssertEqual(t.majFlt - maj, 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // CONFIG_VMAP_STACK on ARM: THREAD_SIZE = 8 KiB vmalloc'ed at THREAD_ALIGN = 16 KiB, from the
    // vmalloc area that starts at high_memory + 8 MiB rounded down to 8 MiB (0xf0800000 with
    // 768 MiB of lowmem) and ends at VMALLOC_END 0xff800000.
    func testKernelStacksAndVmallocArea() throws {
        let k = try machine(2 << 30)
        XCTAssertEqual(k.vmap.start, 0xf080_0000)
        XCTAssertEqual(k.vmap.end, 0xff7f_ffff)
        XCTAssertEqual(k.threadSize, 8192)
        XCTAssertTrue(k.vmapStack)
        let stackKB = k.stat.nrKernelStackKB
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        XCTAssertEqual(k.stat.nrKernelStackKB - stackKB, 8)
        let area = try XCTUnwrap(k.vmap.taskStacks[t.pid])
        XCTAssertEqual(area.size, 8192 + 4096)   // the stack and its guard page
        XCTAssertEqual(area.pages.count, 2)
        XCTAssertEqual(area.addr % 16384, 0)
        XCTAssertGreaterThanOrEqual(area.addr, 0xf080_0000)
        XCTAssertEqual(area.caller, "dup_task_struct")
        k.exitTask(t, status: 0)
        XCTAssertEqual(k.stat.nrKernelStackKB, stackKB)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // The 16 KiB PGD is an order-2 block counted as 4 PageTables pages; spawning, touching and
    // exiting leaves every zone's free count as it was.
    func testTeardownRestoresLowAndHighFree() throws {
        let k = try machine(2 << 30)
        let initTask = try k.spawn(ProgramImage(path: "/sbin/init")).get()
        func round(check before: [Int]?) throws {
            let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
            let a = try k.mmap(t, addr: 0, length: 0x100000, prot: [.read, .write], flags: [.private, .anonymous]).get()
            for i in 0..<256 { XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + UInt64(i) << 12), [1]).get()) }
            if let before { XCTAssertGreaterThan(before[1] - k.phys.zones[1].freePages, 256) }
            k.exitTask(t, status: 0)
            k.switchTo(initTask)
            _ = k.dropCaches(1)
        }
        _ = k.dropCaches(1)
        try round(check: nil)
        let before = k.phys.zones.map(\.freePages)
        let tables0 = k.stat.nrPageTable
        let t = try k.spawn(ProgramImage(path: "/bin/q")).get()
        XCTAssertGreaterThanOrEqual(k.stat.nrPageTable - tables0, 4)   // at least the 4-frame PGD
        k.exitTask(t, status: 0)
        k.switchTo(initTask)
        try round(check: before)
        XCTAssertEqual(k.stat.nrPageTable, tables0)
        XCTAssertEqual(k.phys.zones.map(\.freePages), before)
        XCTAssertEqual(k.checkInvariants(), [])
    }
}

private extension String {
    /// The string left-padded with zeros to 8 characters (a 32-bit word in hex).
    var armPad8: String { String(repeating: "0", count: max(0, 8 - count)) + self }
}
