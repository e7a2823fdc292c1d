import XCTest
@testable import MMCore

/// The kernel on every 64-bit paging format (`MachineConfig.arch`): exact entries in the simulated
/// frames, the layout constants, and a random property test of MMU translations against the VMAs.
final class ArchMachineTests: XCTestCase {
    static let machineArchs: [Architecture] = [.x86_64(la57: false), .x86_64(la57: true), .arm64(granuleShift: 12, vaBits: 39),
                                               .arm64(granuleShift: 12, vaBits: 48), .riscv(vaBits: 39), .riscv(vaBits: 48), .riscv(vaBits: 57), .x86_32, .x86PAE, .arm32(ttbcrN: 0)]

    func kernel(_ arch: Architecture, ram: UInt64 = 256 << 20) throws -> Kernel {
        var c = MachineConfig(ramBytes: ram)
        c.arch = arch
        return try Kernel(config: c)
    }

    /// The raw leaf entry for `va` as the frame holds it.
    func rawLeaf(_ k: Kernel, _ mm: MMStruct, _ va: VirtAddr) -> UInt64 {
        let s = k.phys.walk(mm.pgd, va)!
        return k.phys.paging.readRaw(k.phys.contents, s.table, s.index, level: k.phys.paging.pteLevel)
    }

    // Entries worked out by hand from the architecture manuals:
    //   ARM64 page descriptor, written anonymous page: bits 1:0 = 11, AP[1] (EL0) 0x40, SH 0x300,
    //   AF 0x400, nG 0x800 -> 0xf43; DBM (PTE_WRITE) bit 51, PXN 53, UXN 54 -> 0x0068_0000_0000_0000.
    //   After fork's write-protect: DBM clear, AP[2] (RDONLY) 0x80, PTE_DIRTY bit 55 -> 0x00e0...0fc3.
    //   The zero page after a read fault: RDONLY, clean, no DBM -> 0x0060...0fc3.
    //   A table descriptor: next-table address | 0b11.
    func testARM64EntriesInFrames() throws {
        for v in [39, 48] {
            let k = try kernel(.arm64(granuleShift: 12, vaBits: v))
            let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
            let mm = t.mm!
            let a = try k.mmap(t, addr: 0, length: 0x2000, prot: [.read, .write], flags: [.private, .anonymous]).get()
            try k.store(t, a, [1]).get()
            let pfn = k.phys.readPTE(k.phys.walk(mm.pgd, a)!).pfn.raw
            XCTAssertEqual(rawLeaf(k, mm, a), 0x0068_0000_0000_0f43 | pfn << 12, "VA \(v)")
            _ = try k.load(t, VirtAddr(a.raw + 0x1000), count: 1).get()
            XCTAssertEqual(rawLeaf(k, mm, VirtAddr(a.raw + 0x1000)), 0x0060_0000_0000_0fc3 | k.zeroPFN.raw << 12, "VA \(v)")
            _ = try k.fork(t).get()
            XCTAssertEqual(rawLeaf(k, mm, a), 0x00e0_0000_0000_0fc3 | pfn << 12, "VA \(v)")
            // The PGD entry: a table descriptor to the next level.
            let f = k.phys.paging
            let i0 = f.index(a, level: 0)
            let raw0 = f.readRaw(k.phys.contents, mm.pgd, i0)
            XCTAssertEqual(raw0 & 0xfff, 0x003)
            XCTAssertEqual(raw0 & ~0xfff, k.phys.readEntry(mm.pgd, i0, level: 0).pfn.raw << 12)
            XCTAssertEqual(f.levels, v == 39 ? 3 : 4)
            XCTAssertEqual(k.checkInvariants(), [])
        }
    }

    // RISC-V: PPN << 10 | D A U W R V = 0xd7 for a written page; after fork W is clear (0xd3);
    // the zero page V R U A = 0x53; a pointer to the next table PPN << 10 | V.
    func testRISCVEntriesInFrames() throws {
        for v in [39, 48, 57] {
            let k = try kernel(.riscv(vaBits: v))
            let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
            let mm = t.mm!
            let a = try k.mmap(t, addr: 0, length: 0x2000, prot: [.read, .write], flags: [.private, .anonymous]).get()
            try k.store(t, a, [1]).get()
            let pfn = k.phys.readPTE(k.phys.walk(mm.pgd, a)!).pfn.raw
            XCTAssertEqual(rawLeaf(k, mm, a), pfn << 10 | 0xd7, "Sv\(v)")
            _ = try k.load(t, VirtAddr(a.raw + 0x1000), count: 1).get()
            XCTAssertEqual(rawLeaf(k, mm, VirtAddr(a.raw + 0x1000)), k.zeroPFN.raw << 10 | 0x53, "Sv\(v)")
            _ = try k.fork(t).get()
            XCTAssertEqual(rawLeaf(k, mm, a), pfn << 10 | 0xd3, "Sv\(v)")
            let f = k.phys.paging
            let i0 = f.index(a, level: 0)
            XCTAssertEqual(f.readRaw(k.phys.contents, mm.pgd, i0), k.phys.readEntry(mm.pgd, i0, level: 0).pfn.raw << 10 | 1)
            XCTAssertEqual(f.levels, (v - 12) / 9)
            XCTAssertEqual(k.checkInvariants(), [])
        }
    }

    // x86-64 LA57: the same entries as 4-level (P RW US A D NX = 0x8000_0000_0000_0067), five levels.
    func testLA57EntriesAndFiveLevels() throws {
        let k = try kernel(.x86_64(la57: true))
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(t, addr: 0, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.store(t, a, [1]).get()
        let pfn = k.phys.readPTE(k.phys.walk(t.mm!.pgd, a)!).pfn.raw
        XCTAssertEqual(rawLeaf(k, t.mm!, a), 0x8000_0000_0000_0067 | pfn << 12)
        XCTAssertEqual(k.phys.paging.levels, 5)
        XCTAssertEqual(k.phys.paging.shift(0), 48)
        // A hint above the 47-bit window is honoured (TASK_SIZE = 2^56 - 4K); without it mmap stays below.
        let high = try k.mmap(t, addr: 0x0080_0000_0000_0000, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertEqual(high.raw, 0x0080_0000_0000_0000)
        try k.store(t, high, [5]).get()
        XCTAssertEqual(try k.load(t, high, count: 1).get(), [5])
        XCTAssertEqual(t.mm!.taskSize, 0x00ff_ffff_ffff_f000)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // Swap entries in each format: arm64 type << 3 | offset << 8; RISC-V type << 7 | offset << 12.
    func testSwapEntryLayouts() throws {
        let e = PTE(swap: SwapEntry(type: 1, offset: 0x1234))
        let a = PageTableFormat(machine: .arm64(granuleShift: 12, vaBits: 48))!
        let r = PageTableFormat(machine: .riscv(vaBits: 39))!
        XCTAssertEqual(a.encode(e, level: a.pteLevel), 0x12_3408)
        XCTAssertEqual(r.encode(e, level: r.pteLevel), 0x123_4080)
        XCTAssertEqual(a.decode(0x12_3408, level: a.pteLevel), e)
        // ARM 2-level: type in bits 7:3, offset from bit 8 in the Linux word; the hardware word is 0.
        let arm = PageTableFormat(machine: .arm32(ttbcrN: 0))!
        XCTAssertEqual(arm.encode(e, level: 1), 0x12_3408)
        XCTAssertEqual(arm.decode(0x12_3408, level: 1), e)
        XCTAssertFalse(arm.hardwareValid(0x12_3408, level: 1))
        XCTAssertEqual(r.decode(0x123_4080, level: r.pteLevel), e)
        XCTAssertEqual(PageTableFormat.x86_64.encode(e, level: 3), e.raw)
        XCTAssertFalse(a.hardwareValid(0x12_3408, level: a.pteLevel))
        XCTAssertFalse(r.hardwareValid(0x123_4080, level: r.pteLevel))
        // Huge leaves: an ARM64 block descriptor (bits 1:0 = 01) and a RISC-V megapage at the PMD level.
        let huge = PTE(pfn: PFN(0x200), flags: PTE.present | PTE.rw | PTE.user | PTE.accessed | PTE.dirty | PTE.pse | PTE.nx)
        XCTAssertEqual(a.encode(huge, level: a.pmdLevel), 0x0068_0000_0020_0f41)
        XCTAssertEqual(r.encode(huge, level: r.pmdLevel), 0x200 << 10 | 0xd7)
        XCTAssertEqual(a.decode(a.encode(huge, level: a.pmdLevel), level: a.pmdLevel), huge)
        XCTAssertEqual(r.decode(r.encode(huge, level: r.pmdLevel), level: r.pmdLevel), huge)
    }

    func testLayoutConstantsPerArch() throws {
        func f(_ n: String) -> PageTableFormat { PageTableFormat(machine: Architecture(name: n)!)! }
        XCTAssertEqual(f("x86-64").taskSize, 0x7fff_ffff_f000)
        XCTAssertEqual(f("x86-64").elfEtDynBase, 0x5555_5555_4000)
        XCTAssertEqual(f("x86-64-la57").taskSize, 0x00ff_ffff_ffff_f000)
        XCTAssertEqual(f("x86-64-la57").mapWindow, 0x7fff_ffff_f000)
        XCTAssertEqual(f("arm64-4k-48").taskSize, 0x1_0000_0000_0000)
        XCTAssertEqual(f("arm64-4k-48").elfEtDynBase, 0xaaaa_aaaa_a000)
        XCTAssertEqual(f("arm64-4k-39").taskSize, 0x80_0000_0000)
        XCTAssertEqual(f("sv39").taskSize, 0x40_0000_0000)
        XCTAssertEqual(f("sv39").elfEtDynBase, 0x2a_aaaa_a000)
        XCTAssertEqual(f("sv48").taskSize, 0x8000_0000_0000)
        XCTAssertEqual(f("sv57").taskSize, 0x0100_0000_0000_0000)
        XCTAssertEqual(f("sv57").mapWindow, 0x8000_0000_0000)
        XCTAssertNil(PageTableFormat(machine: Architecture(name: "arm64-64k-42")!))
        XCTAssertEqual(f("x86-32").taskSize, 0xc000_0000)   // the 32-bit machine (branch m32)
        XCTAssertEqual(f("x86-32").elfEtDynBase, 0x40_0000)
        XCTAssertEqual(f("x86-pae").levels, 3)
        // 32-bit ARM: TASK_SIZE = PAGE_OFFSET - 16 MiB, ELF_ET_DYN_BASE = TASK_SIZE / 3 * 2 page aligned.
        XCTAssertEqual(f("arm32").taskSize, 0xbf00_0000)
        XCTAssertEqual(f("arm32").mapWindow, 0xbf00_0000)
        XCTAssertEqual(f("arm32").elfEtDynBase, 0x7f55_5000)
        XCTAssertEqual([f("arm32").levels, f("arm32").entries(0), f("arm32").entries(1), f("arm32").userRootEntries, f("arm32").rootFrames], [2, 2048, 512, 1528, 4])
        XCTAssertNil(PageTableFormat(machine: Architecture(name: "arm32-ttbcr2")!))
        XCTAssertThrowsError(try kernel(Architecture(name: "arm64-16k-47")!))
    }

    /// Random mmap/munmap/mprotect/store/fork on every architecture: after each step every page of
    /// ours translates through a fresh MMU exactly as the VMAs and the stored bytes say (a page
    /// outside every VMA faults; a read of a present page reaches the frame the kernel's PTE
    /// names, holding the stored byte; a write succeeds only in a writable VMA), invariants hold,
    /// and the fault counts and RSS after each step are the same on every architecture.
    func testRandomAddressSpaceTranslatesAlikeOnEveryArch() throws {
        var reference: [String]? = nil
        for arch in Self.machineArchs {
            let log = try runProperty(arch, seed: 7, steps: 100)
            if let r = reference { XCTAssertEqual(log, r, "\(arch) differs from x86-64") } else { reference = log }
        }
    }

    func runProperty(_ arch: Architecture, seed: UInt64, steps: Int) throws -> [String] {
        var rng = SplitMix64(seed: seed)
        let k = try kernel(arch, ram: 128 << 20)
        let t = try k.spawn(ProgramImage(path: "/bin/prop")).get()
        var child: Task? = nil
        var regions: [(start: UInt64, pages: UInt64)] = []
        var shadow: [UInt64: UInt8] = [:]
        var log: [String] = []
        let ps = MMCore.PAGE_SIZE
        for step in 0..<steps {
            let ctx = "\(arch) step \(step)"
            let op = rng.next() % 7
            switch op {
            case 0:
                let n = rng.next() % 16 + 1
                if case .success(let a) = k.mmap(t, addr: 0, length: n * ps, prot: [.read, .write], flags: [.private, .anonymous]) {
                    regions.append((a.raw, n))
                }
            case 1:
                guard !regions.isEmpty else { continue }
                let i = Int(rng.next() % UInt64(regions.count))
                let r = regions.remove(at: i)
                try k.munmap(t, addr: r.start, length: r.pages * ps).get()
                for a in shadow.keys where a >= r.start && a < r.start + r.pages * ps { shadow[a] = nil }
            case 2:
                guard let r = regions.randomElement(using: &rng) else { continue }
                let prot: Prot = rng.next() % 2 == 0 ? .read : [.read, .write]
                try k.mprotect(t, addr: r.start, length: r.pages * ps, prot: prot).get()
            case 3, 4:
                guard let r = regions.randomElement(using: &rng) else { continue }
                let a = r.start + (rng.next() % (r.pages * ps))
                let b = UInt8(truncatingIfNeeded: rng.next() | 1)
                if t.mm!.vmas.vmaLookup(VirtAddr(a))?.flags.contains(.write) == true {
                    try k.store(t, VirtAddr(a), [b]).get()
                    shadow[a] = b
                }
            case 5:
                if let c = child { k.exitTask(c, status: 0); child = nil } else { child = try k.fork(t).get() }
            default:
                // The child writes into a page it shares: copy-on-write must leave the parent's byte.
                guard let c = child, let a = shadow.keys.sorted().randomElement(using: &rng) else { continue }
                if c.mm!.vmas.vmaLookup(VirtAddr(a))?.flags.contains(.write) == true { try k.store(c, VirtAddr(a), [0]).get() }
            }
            XCTAssertEqual(k.checkInvariants(), [], ctx)
            try checkTranslations(k, t, regions: regions, shadow: shadow, ctx: ctx)
            log.append("\(k.vmstat.pgfault) \(t.mm!.rss.total) \(t.mm!.rss.anon) \(child?.mm?.rss.anon ?? -1)")
        }
        return log
    }

    func checkTranslations(_ k: Kernel, _ t: Task, regions: [(start: UInt64, pages: UInt64)], shadow: [UInt64: UInt8], ctx: String) throws {
        let mm = t.mm!
        let probe = MMU(config: TLBConfig())
        probe.usePaging(k.phys.paging)
        probe.loadCR3(mm.pgd)
        let ps = MMCore.PAGE_SIZE
        for r in regions {
            for p in stride(from: r.start, to: r.start + r.pages * ps, by: Int(ps)) {
                let vma = mm.vmas.vmaLookup(VirtAddr(p))
                XCTAssertNotNil(vma, ctx)
                let pte = k.phys.walk(mm.pgd, VirtAddr(p)).map { k.phys.readPTE($0) } ?? PTE(raw: 0)
                let rd = probe.translate(VirtAddr(p), .read, user: true, mem: k.phys)
                if pte.isPresent {
                    guard case .ok(let pa) = rd else { XCTFail("\(ctx): present page \(VirtAddr(p)) does not translate"); continue }
                    XCTAssertEqual(pa.pfn, pte.pfn, ctx)
                    for (a, b) in shadow where a >= p && a < p + ps {
                        XCTAssertEqual(k.phys.contents.readByte(PhysAddr(pa.raw + (a - p))), b, "\(ctx) byte at \(VirtAddr(a))")
                    }
                } else {
                    if case .ok = rd { XCTFail("\(ctx): absent page \(VirtAddr(p)) translates") }
                }
                if case .ok = probe.translate(VirtAddr(p), .write, user: true, mem: k.phys) {
                    XCTAssertTrue(vma?.flags.contains(.write) == true, "\(ctx): write allowed in a read-only VMA at \(VirtAddr(p))")
                }
            }
        }
        // Holes between our regions and below the first VMA fault.
        for a: UInt64 in [0, 0x1000, 0x10_0000] where mm.vmas.vmaLookup(VirtAddr(a)) == nil {
            if case .ok = probe.translate(VirtAddr(a), .read, user: true, mem: k.phys) { XCTFail("\(ctx): \(VirtAddr(a)) translates") }
        }
    }
}
