import XCTest
@testable import MMCore

/// The 32-bit x86 machine (`machine arch=x86-32`): zones with HighMem, the 3G/1G process layout,
/// 2-level page tables in simulated frames, the kernel half of every PGD, and kmap on real frames.
final class X86_32MachineTests: XCTestCase {
    func machine(_ ram: UInt64) throws -> Kernel {
        var c = MachineConfig(ramBytes: ram)
        c.arch = .x86_32
        return try Kernel(config: c)
    }

    // 2 GiB: ZONE_DMA [0, 0x1000), ZONE_NORMAL [0x1000, max_low_pfn 0x377fe), ZONE_HIGHMEM above.
    // Reserved: the first MiB (0x100 frames), the 12 MiB image at 1 MiB (0x100-0xd00, all in DMA)
    // and mem_map (524288 frames * 32 B = 4096 frames) just below max_low_pfn, in Normal.
    func testZonesOf2GiB() throws {
        let k = try machine(2 << 30)
        let z = k.phys.zones
        XCTAssertEqual(z.map(\.type), [.dma, .normal, .highmem])
        XCTAssertEqual(z.map(\.startPFN.index), [0, 0x1000, 0x377fe])
        XCTAssertEqual(z.map(\.spannedPages), [0x1000, 0x377fe - 0x1000, 0x80000 - 0x377fe])
        XCTAssertEqual(z.map(\.managedPages), [4096 - 256 - 3072, 0x367fe - 4096, 0x48802])
        XCTAssertEqual(k.phys.reservedRegions.map(\.name).last, "mem_map")
        XCTAssertEqual(k.phys.reservedRegions.last!.startPFN.index, 0x377fe - 4096)
        // HighMem min watermark: managed/1024 = 290 clamped to 32...128.
        XCTAssertEqual(z[2].watermarkMin, 128)
        // lowmem_reserve (ratios 256, 256, 32, 0) indexed DMA, DMA32, Normal, HighMem.
        XCTAssertEqual(z[0].lowmemReserve, [0, 0, 219134 / 256, (219134 + 296962) / 256])
        XCTAssertEqual(z[1].lowmemReserve, [0, 0, 0, 296962 / 32])
        XCTAssertEqual(z[2].lowmemReserve, [0, 0, 0, 0])
        XCTAssertEqual(k.phys.highmemPages.managed, 296962)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // 512 MiB: all RAM is lowmem; ZONE_HIGHMEM is not populated.
    func testZonesOf512MiB() throws {
        let k = try machine(512 << 20)
        XCTAssertEqual(k.phys.zones.map(\.type), [.dma, .normal])
        XCTAssertEqual(k.phys.zones.map(\.spannedPages), [0x1000, 0x20000 - 0x1000])
        XCTAssertEqual(k.phys.zones.map(\.managedPages), [768, 0x1f000 - 1024])
        XCTAssertEqual(k.phys.highmemPages.managed, 0)
        // User pages fall back to Normal.
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(t, addr: 0, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.store(t, a, [1]).get())
        XCTAssertEqual(k.phys.zone(of: k.phys.readPTE(k.phys.walk(t.mm!.pgd, a)!).pfn)?.type, .normal)
    }

    func testMoreThan4GiBIsRefused() {
        XCTAssertThrowsError(try machine(5 << 30)) { e in
            XCTAssertEqual(e as? PhysicalMemoryError, .tooLarge32(5 << 30))
        }
    }

    // The layout of a 32-bit process: TASK_SIZE 0xc0000000, mmap_base = TASK_SIZE - 128 MiB
    // (the 8 MiB stack rlimit + 1 MiB guard gap is below the 128 MiB minimum gap), legacy base
    // TASK_SIZE/3, no [vsyscall].
    func testProcessLayout() throws {
        let k = try machine(2 << 30)
        let t = try k.spawn(ProgramImage(path: "/bin/p", pie: false)).get()
        let mm = t.mm!
        XCTAssertTrue(mm.ia32)
        XCTAssertEqual(mm.taskSize, 0xc000_0000)
        XCTAssertEqual(mm.mmapBase, 0xb800_0000)
        XCTAssertEqual(mm.mmapLegacyBase, 0x4000_0000)
        XCTAssertNil(mm.gateVMA)
        XCTAssertEqual(mm.vmas.vmas.first!.start.raw, 0x0804_8000)
        XCTAssertEqual(mm.startCode, 0x0804_9000)
        XCTAssertEqual(mm.vmas.vmas.last!.end.raw, 0xc000_0000)
        XCTAssertEqual(mm.vmas.vmas.last!.start.raw, 0xbffd_f000)
        // A PIE goes to ELF_ET_DYN_BASE of ia32, 0x400000.
        let pie = try k.spawn(ProgramImage(path: "/bin/q", pie: true)).get()
        XCTAssertEqual(pie.mm!.vmas.vmas.first!.start.raw, 0x40_0000)
    }

    // Addresses beyond TASK_SIZE: MAP_FIXED there is ENOMEM, a hint there is ignored, an access
    // there is a SIGSEGV (kernel space), and an address above 4 GiB is not an address at all.
    func testTaskSizeIsEnforced() throws {
        let k = try machine(2 << 30)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        XCTAssertEqual(k.mmap(t, addr: 0xc000_0000, length: 0x1000, prot: [.read], flags: [.private, .anonymous, .fixed]).error, .ENOMEM)
        XCTAssertEqual(k.mmap(t, addr: 0xbfff_f000, length: 0x2000, prot: [.read], flags: [.private, .anonymous, .fixed]).error, .ENOMEM)
        let hinted = try k.mmap(t, addr: 0xd000_0000, length: 0x1000, prot: [.read], flags: [.private, .anonymous]).get()
        XCTAssertLessThan(hinted.raw, 0xb800_0000)
        // The MMU refuses a sign-extended form of a 32-bit address (no upper half on x86-32).
        if case .ok = k.mmu.translate(VirtAddr(0xffff_ffff_0040_1000), .read, user: true, mem: k.phys) {
            XCTFail("0xffffffff00401000 must not translate on x86-32")
        }
        if case .ok = k.mmu.translate(VirtAddr(0x0040_1000), .read, user: true, mem: k.phys) {} else {
            XCTFail("the PIE text page at 0x401000 translates")
        }
        if case .failure(.signal(.SIGSEGV, let va)) = k.access(t, VirtAddr(0xc010_0000), .read) {
            XCTAssertEqual(va.raw, 0xc010_0000)
        } else { XCTFail("a user access to kernel space must be SIGSEGV") }
        XCTAssertFalse(k.phys.paging.isCanonical(VirtAddr(0x1_0000_0000)))
    }

    // Translations through the 2-level tables, entries worked out by hand. The first PGD is the
    // first lowmem page the buddy hands out; user data pages come from HighMem (GFP_HIGHUSER_MOVABLE),
    // page tables from lowmem (GFP_KERNEL; no CONFIG_HIGHPTE).
    func testTwoLevelEntries() throws {
        let k = try machine(2 << 30)
        let f = k.phys.paging
        XCTAssertEqual(f.levels, 2)
        XCTAssertEqual(f.entryBytes, 4)
        XCTAssertEqual(f.entries(0), 1024)
        XCTAssertEqual(f.entries(1), 1024)
        XCTAssertEqual(f.shift(0), 22)
        XCTAssertEqual(f.userRootEntries, 768)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let mm = t.mm!
        let faults0 = k.vmstat.pgfault
        let a = try k.mmap(t, addr: 0xa000_0000, length: 0x10000, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        for i in 0..<16 { XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + UInt64(i) << 12), [UInt8(i)]).get()) }
        XCTAssertEqual(k.vmstat.pgfault - faults0, 16)
        // 0xa0003000: PGD index 0x280 = 640, PTE index 3.
        let va = VirtAddr(0xa000_3123)
        let pde = f.readRaw(k.phys.contents, mm.pgd, 640)
        XCTAssertEqual(pde & 0xfff, 0x067)                 // P RW US A D: _PAGE_TABLE
        let table = PFN(pde >> 12)
        XCTAssertLessThan(table.index, 0x377fe)             // page table in lowmem
        let pte = f.readRaw(k.phys.contents, table, 3)
        XCTAssertEqual(pte & 0xfff, 0x067)                 // P RW US A D: written
        XCTAssertLessThan(pte, 1 << 32)
        let frame = pte >> 12
        XCTAssertGreaterThanOrEqual(frame, 0x377fe)         // user page in HighMem
        XCTAssertEqual(k.phys.zone(of: PFN(frame))?.type, .highmem)
        // The MMU translates through the same entries; the two entries sit in one 64-bit word.
        XCTAssertEqual(try k.access(t, va, .read).get().raw, frame << 12 | 0x123)
        let word = k.phys.contents.readWord(table, 1)
        XCTAssertEqual(word >> 32, pte)
        XCTAssertEqual(try k.load(t, VirtAddr(0xa000_3000), count: 1).get(), [3])
        let lines = k.phys.describeWalk(pgd: mm.pgd, va: va)
        XCTAssertEqual(lines[0], "0xa0003123 on x86-32: PGD 640 | PTE 3 | offset 0x123")
        XCTAssertEqual(lines[2], "  PGD (PDE) table \(mm.pgd)[640] = 0x" + String(pde, radix: 16).leftPad(8) + "  P RW US A D addr=0x" + String(pde & 0xffff_f000, radix: 16))
        XCTAssertEqual(lines[3], "  PTE (PTE) table \(table)[3] = 0x" + String(pte, radix: 16).leftPad(8) + "  P RW US A D addr=0x" + String(pte & 0xffff_f000, radix: 16))
        XCTAssertEqual(lines.last, "=> 0x" + String(frame << 12 | 0x123, radix: 16) + " (4K page, RWX user, dirty, young)")
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // swapper_pg_dir at the image's last frame (0xcff), lowmem's first 4 MiB in the PTE table
    // 0xcfe, 4 MiB PSE pages, the non-aligned tail (0x37400000-0x377fe000, 1022 frames) in 0xcfd,
    // the pkmap table 0xcfc (PGD 1022) and the fixmap table 0xcfb (PGD 1023); every new PGD gets
    // a copy of entries 768-1023.
    func testKernelHalfOfEveryPGD() throws {
        let k = try machine(2 << 30)
        let f = k.phys.paging
        let kt = try XCTUnwrap(k.kernelTables32)
        XCTAssertEqual(kt.swapperPgDir.index, 0xcff)
        XCTAssertEqual(kt.linearTables.map(\.index), [0xcfe, 0xcfd])
        XCTAssertEqual(kt.pkmapTable.index, 0xcfc)
        XCTAssertEqual(kt.fixmapTable.index, 0xcfb)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let pgd = t.mm!.pgd
        XCTAssertEqual(f.readRaw(k.phys.contents, pgd, 768), 0x00cf_e063)
        XCTAssertEqual(f.readRaw(k.phys.contents, pgd, 769), 0x0040_01e3)
        XCTAssertEqual(f.readRaw(k.phys.contents, pgd, 960), 0x3000_01e3)
        XCTAssertEqual(f.readRaw(k.phys.contents, pgd, 989), 0x00cf_d063)
        XCTAssertEqual(f.readRaw(k.phys.contents, pgd, 990), 0)
        XCTAssertEqual(f.readRaw(k.phys.contents, pgd, 1022), 0x00cf_c063)
        XCTAssertEqual(f.readRaw(k.phys.contents, pgd, 1023), 0x00cf_b063)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.linearTables[0], 256), 0x0010_0163)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.linearTables[1], 1021), 0x377f_d163)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.linearTables[1], 1022), 0)
        for i in 768..<1024 {
            XCTAssertEqual(f.readRaw(k.phys.contents, pgd, i), f.readRaw(k.phys.contents, kt.swapperPgDir, i), "PGD entry \(i)")
        }
        XCTAssertEqual(k.phys.describeWalk(pgd: pgd, va: VirtAddr(0xf000_0123)),
                       ["0xf0000123 on x86-32: PGD 960 | PTE 0 | offset 0x123",
                        "CR3 = PGD at PFN \(pgd)",
                        "  PGD (PDE) table \(pgd)[960] = 0x300001e3  P RW A D PS G addr=0x30000000",
                        "=> 0x30000123 (4M page, RWX kernel, dirty, young)"])
        // A forked child's PGD has the same kernel half; user page tables stay in the lower 768.
        let child = try k.fork(t).get()
        XCTAssertEqual(f.readRaw(k.phys.contents, child.mm!.pgd, 1022), 0x00cf_c063)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // kmap of a HighMem frame writes the pkmap PTE in the shared pkmap table (seen through every
    // PGD); the entry stays after kunmap until a wrap flushes it; kmap_atomic's fixmap slot is
    // set and cleared; lowmem needs no mapping; __pa/__va only for lowmem.
    func testKmapWritesRealPTEs() throws {
        let k = try machine(2 << 30)
        let h = try XCTUnwrap(k.highmem32)
        let kt = try XCTUnwrap(k.kernelTables32)
        let f = k.phys.paging
        XCTAssertEqual(h.lastPkmap, 1024)
        XCTAssertEqual(try h.kmap(0x60000).get(), 0xff80_1000)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.pkmapTable, 1), 0x6000_0163)
        XCTAssertNoThrow(try h.kunmap(0x60000).get())
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.pkmapTable, 1), 0x6000_0163)   // lazily unmapped
        XCTAssertEqual(try h.kmap(0x1000).get(), 0xc100_0000)                      // lowmem: page_address
        let slot = try h.kmapAtomic(0x70000).get()
        XCTAssertEqual(slot, 0xffff_f000 - (130 << 12))
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.fixmapTable, Int((slot >> 12) & 1023)), 0x7000_0163)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        XCTAssertEqual(k.phys.describeWalk(pgd: t.mm!.pgd, va: VirtAddr(slot | 0x10)).last, "=> 0x70000010 (4K page, RWX kernel, dirty, young)")
        XCTAssertNoThrow(try h.kunmapAtomic(slot).get())
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.fixmapTable, Int((slot >> 12) & 1023)), 0)
        XCTAssertEqual(h.pa(0xc010_0000), 0x10_0000)
        XCTAssertNil(h.va(0x4000_0000))
        XCTAssertNil(h.pa(0xff80_1000))
    }

    // Spawning, touching and exiting leaves every zone's free count as it was once the CPU is
    // back on init's mm (a dead mm's PGD lives while the CPU still has it loaded, as in Linux).
    func testTeardownRestoresLowAndHighFree() throws {
        let k = try machine(2 << 30)
        let initTask = try k.spawn(ProgramImage(path: "/sbin/init")).get()
        // One round first: the slab pages and vmalloc'd stack of the kernel objects it creates
        // stay cached after it exits (as in Linux), so the baseline is taken after it.
        func round(check before: [Int]?) throws {
            let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
            let a = try k.mmap(t, addr: 0, length: 0x100000, prot: [.read, .write], flags: [.private, .anonymous]).get()
            for i in 0..<256 { XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + UInt64(i) << 12), [1]).get()) }
            if let before { XCTAssertGreaterThan(before[2] - k.phys.zones[2].freePages, 256) }
            k.exitTask(t, status: 0)
            k.switchTo(initTask)
            _ = k.dropCaches(1)
        }
        _ = k.dropCaches(1)
        try round(check: nil)
        let before = k.phys.zones.map(\.freePages)
        let tables0 = k.stat.nrPageTable
        try round(check: before)
        XCTAssertEqual(k.stat.nrPageTable, tables0)
        XCTAssertEqual(k.phys.zones.map(\.freePages), before)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // No CONFIG_VMAP_STACK on x86-32: a task's kernel stack is THREAD_SIZE = 8 KiB of lowmem, an
    // order-1 block from the buddy allocator (GFP_KERNEL: Normal, never HighMem), not a vmalloc
    // area. The vmalloc area itself runs from high_memory + 8 MiB (0xc0000000 + 0x377fe000 +
    // 0x800000 = 0xf7ffe000) to PKMAP_BASE − 2 pages (0xff7fe000), exclusive.
    func testKernelStacksAndVmallocArea() throws {
        let k = try machine(2 << 30)
        XCTAssertEqual(k.vmap.start, 0xf7ff_e000)
        XCTAssertEqual(k.vmap.end, 0xff7f_dfff)
        XCTAssertEqual(k.threadSize, 8192)
        XCTAssertFalse(k.vmapStack)
        let stackKB = k.stat.nrKernelStackKB
        let areas = k.vmap.areas.count
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        XCTAssertEqual(k.stat.nrKernelStackKB - stackKB, 8)
        XCTAssertNil(k.vmap.taskStacks[t.pid])
        XCTAssertEqual(k.vmap.areas.count, areas)
        let p = try XCTUnwrap(k.vmap.taskStackPages[t.pid])
        XCTAssertEqual(p.index % 2, 0)
        XCTAssertEqual(k.phys.zone(of: p)?.type, .normal)
        let area = try k.vmalloc(4096).get()
        XCTAssertGreaterThanOrEqual(area.addr, 0xf7ff_e000)
        XCTAssertLessThan(area.addr, 0xff7f_e000)
        k.exitTask(t, status: 0)
        XCTAssertEqual(k.stat.nrKernelStackKB, stackKB)
        XCTAssertNil(k.vmap.taskStackPages[t.pid])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // PAE (`arch=x86-pae`, alias x86-32-pae): a 4-entry PDPT, PMD and PTE tables of 512 8-byte
    // entries, NX; PDPTEs hold only P and the address. The kernel PMD (0xcfe) is PDPT entry 3 of
    // every PGD; lowmem: the first 2 MiB in the PTE table 0xcfd, 2 MiB pages, the tail
    // (0x37600000-0x377fe000, 510 frames) in 0xcfc; pkmap (512 entries) at PMD 508, fixmap at 511.
    func testPAEMachine() throws {
        var c = MachineConfig(ramBytes: 2 << 30)
        c.arch = Architecture(name: "x86-32-pae")!
        let k = try Kernel(config: c)
        let f = k.phys.paging
        XCTAssertEqual([f.levels, f.entryBytes, f.entries(0), f.entries(1), f.userRootEntries], [3, 8, 4, 512, 3])
        let kt = try XCTUnwrap(k.kernelTables32)
        XCTAssertEqual(kt.swapperPgDir.index, 0xcff)
        XCTAssertEqual(kt.kernelPMD?.index, 0xcfe)
        XCTAssertEqual(kt.linearTables.map(\.index), [0xcfd, 0xcfc])
        let pmd = try XCTUnwrap(kt.kernelPMD)
        XCTAssertEqual(f.readRaw(k.phys.contents, pmd, 0), 0xcfd063)
        XCTAssertEqual(f.readRaw(k.phys.contents, pmd, 2), 0x4001e3)
        XCTAssertEqual(f.readRaw(k.phys.contents, pmd, 443), 0xcfc063)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.linearTables[1], 509), 0x377fd163)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.linearTables[1], 510), 0)
        XCTAssertEqual(f.readRaw(k.phys.contents, pmd, 508), UInt64(kt.pkmapTable.index) << 12 | 0x063)
        XCTAssertEqual(f.readRaw(k.phys.contents, pmd, 511), UInt64(kt.fixmapTable.index) << 12 | 0x063)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let pgd = t.mm!.pgd
        XCTAssertEqual(f.readRaw(k.phys.contents, pgd, 3), 0xcfe001)
        let a = try k.mmap(t, addr: 0xa000_0000, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertNoThrow(try k.store(t, a, [7]).get())
        let pdpte = f.readRaw(k.phys.contents, pgd, 2)
        XCTAssertEqual(pdpte & 0xfff, 0x001)                      // P only
        let pmdUser = PFN(pdpte >> 12)
        let pde = f.readRaw(k.phys.contents, pmdUser, 256)         // 0xa0000000: PDPT 2, PMD index 256
        XCTAssertEqual(pde & 0xfff, 0x067)
        let pte = f.readRaw(k.phys.contents, PFN((pde & 0xffff_f000) >> 12), 0)
        XCTAssertEqual(pte & ~0xffff_f000, 0x8000_0000_0000_0067)  // NX P RW US A D
        XCTAssertEqual(k.phys.zone(of: PFN((pte & 0xffff_f000) >> 12))?.type, .highmem)
        XCTAssertEqual(try k.access(t, VirtAddr(0xa000_0010), .read).get().raw, (pte & 0xffff_f000) | 0x10)
        XCTAssertEqual(k.phys.describeWalk(pgd: pgd, va: VirtAddr(0xc040_0123)).last, "=> 0x400123 (2M page, RWX kernel, dirty, young)")
        let h = try XCTUnwrap(k.highmem32)
        XCTAssertEqual(h.lastPkmap, 512)
        XCTAssertEqual(try h.kmap(0x60000).get(), 0xff80_1000)
        XCTAssertEqual(f.readRaw(k.phys.contents, kt.pkmapTable, 1), 0x6000_0163)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // The entry format: software PTE <-> 4-byte entry, and the 2-level swap layout.
    func testEntryEncoding() {
        let f = PageTableFormat(machine: .x86_32)!
        let pte = PTE(raw: 0x1234_5000 | PTE.present | PTE.rw | PTE.user | PTE.accessed | PTE.dirty | PTE.nx)
        XCTAssertEqual(f.encode(pte, level: 1), 0x1234_5067)   // no NX bit in the 2-level format
        XCTAssertEqual(f.decode(0x1234_5067, level: 1).raw, 0x1234_5067)
        let swap = PTE(swap: SwapEntry(type: 1, offset: 0x1234))
        XCTAssertEqual(f.encode(swap, level: 1), 1 << 1 | 0x1234 << 9)
        XCTAssertEqual(f.decode(1 << 1 | 0x1234 << 9, level: 1).swapEntry, SwapEntry(type: 1, offset: 0x1234))
        XCTAssertEqual(f.linuxName(0), "PGD")
        XCTAssertEqual(f.linuxName(1), "PTE")
        XCTAssertEqual(f.elfEtDynBase, 0x40_0000)
    }
}

private extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

private extension Result {
    var error: Failure? { if case .failure(let e) = self { return e }; return nil }
}
