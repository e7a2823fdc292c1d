import XCTest
@testable import MMCore

/// Transparent huge pages (mm/huge_memory.c): huge faults, the huge zero page, splits, fork,
/// zap, mprotect, reclaim and the counters behind AnonHugePages and /proc/vmstat.
final class HugeMemoryTests: XCTestCase {
    /// A machine with 256 MiB, THP in `mode`, and a process with a 2 MiB-aligned 4 MiB
    /// anonymous private mapping at 0x7fff_f740_0000 (MADV_HUGEPAGE when `madvise`).
    func setUpTHP(_ mode: THPMode = .madvise, madvise: Bool = true, swap: UInt64 = 0) throws -> (Kernel, Task, VirtAddr) {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20, swapBytes: swap, thp: mode))
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(t, addr: 0x7fff_f740_0000, length: 4 << 20, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertEqual(a.raw & (HPAGE_PMD_SIZE - 1), 0)
        if madvise { XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 4 << 20, advice: .hugepage).get()) }
        return (k, t, a)
    }

    func pmd(_ k: Kernel, _ t: Task, _ va: VirtAddr) -> PTE {
        k.phys.readPTE(k.pmdLookup(t.mm!, va)!)
    }

    func testWriteFaultMapsATHPWithADepositedTable() throws {
        let (k, t, a) = try setUpTHP()
        let flt0 = t.minFlt, tables0 = k.stat.nrPageTable, rss0 = t.mm!.rss.anon, free0 = k.phys.freePageCount
        XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
        // Two faults for 4 MiB: one per 2 MiB block.
        XCTAssertEqual(t.minFlt - flt0, 2)
        XCTAssertEqual(k.vmstat.thpFaultAlloc, 2)
        XCTAssertEqual(k.vmstat.thpFaultFallback, 0)
        XCTAssertEqual(k.stat.nrAnonTHPs, 2)
        XCTAssertEqual(t.mm!.rss.anon - rss0, 1024)
        // PMD table (the PUD level existed for the stack? no: new PUD+PMD for this range) + 2 deposits.
        XCTAssertEqual(t.mm!.hugePMDDeposits.count, 2)
        let e = pmd(k, t, a)
        XCTAssertTrue(e.isHuge && e.isWritable && e.isDirty)
        XCTAssertEqual(e.pfn.index % 512, 0)
        XCTAssertEqual(k.phys.memMap.mapcount[e.pfn.index + 17], 1)
        XCTAssertTrue(k.phys.memMap.flags[e.pfn.index + 511].contains(.transHuge))
        XCTAssertEqual(free0 - k.phys.freePageCount, 1024 + (k.stat.nrPageTable - tables0))
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x1234), count: 1).get(), [0])
        XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + 0x1234), [7]).get())
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x1234), count: 1).get(), [7])
        XCTAssertEqual(t.minFlt - flt0, 2)
        XCTAssertEqual(k.checkInvariants(), [])
        k.exitTask(t, status: 0)
        XCTAssertEqual(k.stat.nrAnonTHPs, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testReadFaultMapsTheHugeZeroPageAndAWriteSplitsIt() throws {
        let (k, t, a) = try setUpTHP()
        let flt0 = t.minFlt, rss0 = t.mm!.rss.anon
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x5000), count: 1).get(), [0])
        let z = pmd(k, t, a)
        XCTAssertTrue(z.isHuge)
        XCTAssertFalse(z.isWritable)
        XCTAssertEqual(z.pfn, k.thp.hugeZeroPFN)
        XCTAssertEqual(k.vmstat.thpZeroPageAlloc, 1)
        XCTAssertEqual(k.vmstat.thpFaultAlloc, 0)
        XCTAssertEqual(t.mm!.rss.anon, rss0)
        XCTAssertEqual(k.stat.nrAnonTHPs, 0)
        // The whole 2 MiB reads as zero without another fault.
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x1f_f000), count: 1).get(), [0])
        XCTAssertEqual(t.minFlt - flt0, 1)
        // A write: do_huge_pmd_wp_page splits the PMD into 512 zero-page PTEs, then the PTE
        // fault copies one zero page (two faults: the huge one falls back, the retry is counted once).
        XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + 0x5000), [3]).get())
        XCTAssertEqual(k.vmstat.thpSplitPMD, 1)
        XCTAssertEqual(t.mm!.rss.anon, rss0 + 1)
        XCTAssertEqual(t.mm!.hugePMDDeposits.count, 0)
        let slot = k.phys.walk(t.mm!.pgd, a)!
        XCTAssertEqual(k.phys.readPTE(slot).pfn, k.zeroPFN)
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x5000), count: 1).get(), [3])
        // A second read fault in the other 2 MiB block reuses the huge zero page.
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + (2 << 20)), count: 1).get(), [0])
        XCTAssertEqual(k.vmstat.thpZeroPageAlloc, 1)
        XCTAssertEqual(k.checkInvariants(), [])
        // use_zero_page 0: a read allocates a THP.
        k.thp.useZeroPage = false
        let b = try k.mmap(t, addr: 0x7fff_f780_0000, length: 2 << 20, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertNoThrow(try k.madvise(t, addr: b.raw, length: 2 << 20, advice: .hugepage).get())
        XCTAssertEqual(try k.load(t, b, count: 1).get(), [0])
        XCTAssertEqual(k.vmstat.thpFaultAlloc, 1)
        // maybe_pmd_mkwrite(pmd_mkdirty()): writable and dirty even for a read.
        XCTAssertTrue(pmd(k, t, b).isWritable && pmd(k, t, b).isDirty)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testModesAndEligibility() throws {
        // madvise mode without MADV_HUGEPAGE: 4 KiB pages.
        do {
            let (k, t, a) = try setUpTHP(.madvise, madvise: false)
            let flt0 = t.minFlt
            XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
            XCTAssertEqual(t.minFlt - flt0, 1024)
            XCTAssertEqual(k.vmstat.thpFaultAlloc, 0)
            XCTAssertFalse(t.mm!.khugepagedRegistered)
        }
        // always: every aligned block of an anonymous private VMA.
        do {
            let (k, t, a) = try setUpTHP(.always, madvise: false)
            XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
            XCTAssertEqual(k.vmstat.thpFaultAlloc, 2)
            XCTAssertTrue(t.mm!.khugepagedRegistered)
            // MADV_NOHUGEPAGE opts out.
            let b = try k.mmap(t, addr: 0x7fff_f780_0000, length: 2 << 20, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
            XCTAssertNoThrow(try k.madvise(t, addr: b.raw, length: 2 << 20, advice: .nohugepage).get())
            XCTAssertNoThrow(try k.touch(t, b, length: 2 << 20, .write).get())
            XCTAssertEqual(k.vmstat.thpFaultAlloc, 2)
        }
        // never, even with MADV_HUGEPAGE.
        do {
            let (k, t, a) = try setUpTHP(.never)
            XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
            XCTAssertEqual(k.vmstat.thpFaultAlloc, 0)
            XCTAssertEqual(k.stat.nrAnonTHPs, 0)
        }
        // A block that does not fit inside the VMA: the unaligned 3 MiB mapping has one aligned block.
        do {
            let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20, thp: .always))
            let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
            let a = try k.mmap(t, addr: 0x7fff_f730_0000, length: 3 << 20, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
            let flt0 = t.minFlt
            XCTAssertNoThrow(try k.touch(t, a, length: 3 << 20, .write).get())
            // [0x7ffff7300000, 0x7ffff7400000): 256 pages; [0x7ffff7400000, 0x7ffff7600000): one THP.
            XCTAssertEqual(k.vmstat.thpFaultAlloc, 1)
            XCTAssertEqual(t.minFlt - flt0, 256 + 1)
            XCTAssertEqual(k.checkInvariants(), [])
        }
    }

    func testFallbackWhenNoOrder9BlockIsFree() throws {
        let (k, t, a) = try setUpTHP()
        // Take every free block of order >= 9 away (as fragmentation would).
        var held: [PFN] = []
        while let p = k.phys.allocPages(order: 9, gfp: [.nowarn]) { held.append(p) }
        k.thp.defrag = .never
        let flt0 = t.minFlt
        XCTAssertNoThrow(try k.touch(t, a, length: 2 << 20, .write).get())
        XCTAssertEqual(k.vmstat.thpFaultAlloc, 0)
        // Only the first fault tries a THP: after the fallback the PMD points to a PTE table.
        XCTAssertEqual(k.vmstat.thpFaultFallback, 1)
        XCTAssertEqual(t.minFlt - flt0, 512)
        XCTAssertEqual(k.checkInvariants(), [])
        for p in held { k.phys.freePages(p, order: 9) }
    }

    func testPartialMunmapSplitsThePMDAndDefersTheSplit() throws {
        let (k, t, a) = try setUpTHP()
        XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
        let head = pmd(k, t, a).pfn
        let free0 = k.phys.freePageCount, rss0 = t.mm!.rss.anon
        // Unmap the first 1 MiB: the first PMD is split (its deposited table now maps the other
        // 256 pages), the second stays huge.
        XCTAssertNoThrow(try k.munmap(t, addr: a.raw, length: 1 << 20).get())
        XCTAssertEqual(k.vmstat.thpSplitPMD, 1)
        XCTAssertEqual(k.vmstat.thpDeferredSplitPage, 1)
        XCTAssertEqual(k.vmstat.thpSplitPage, 0)
        XCTAssertEqual(k.stat.nrAnonTHPs, 1)
        XCTAssertEqual(rss0 - t.mm!.rss.anon, 256)
        XCTAssertEqual(k.phys.freePageCount - free0, 256)
        XCTAssertFalse(k.phys.memMap.flags[head.index + 300].contains(.transHuge))
        XCTAssertTrue(pmd(k, t, VirtAddr(a.raw + (2 << 20))).isHuge)
        XCTAssertFalse(pmd(k, t, a).isHuge)
        XCTAssertEqual(k.checkInvariants(), [])
        // Unmapping a whole huge PMD zaps it and frees its deposited table.
        let tables = k.stat.nrPageTable
        XCTAssertNoThrow(try k.munmap(t, addr: a.raw + (2 << 20), length: 2 << 20).get())
        XCTAssertEqual(k.stat.nrAnonTHPs, 0)
        XCTAssertEqual(k.stat.nrPageTable, tables - 1)
        XCTAssertEqual(k.vmstat.thpSplitPMD, 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testPartialMprotectSplitsOnlyThePMD() throws {
        let (k, t, a) = try setUpTHP()
        XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
        let rss0 = t.mm!.rss.anon
        XCTAssertNoThrow(try k.mprotect(t, addr: a.raw + 0x1000, length: 0x1000, prot: [.read]).get())
        XCTAssertEqual(k.vmstat.thpSplitPMD, 1)
        XCTAssertEqual(k.vmstat.thpDeferredSplitPage, 0)
        XCTAssertEqual(t.mm!.rss.anon, rss0)
        XCTAssertEqual(k.stat.nrAnonTHPs, 1)
        // A whole-PMD mprotect keeps the PMD huge and read-only.
        XCTAssertNoThrow(try k.mprotect(t, addr: a.raw + (2 << 20), length: 2 << 20, prot: [.read]).get())
        let e = pmd(k, t, VirtAddr(a.raw + (2 << 20)))
        XCTAssertTrue(e.isHuge)
        XCTAssertFalse(e.isWritable)
        XCTAssertNoThrow(try k.mprotect(t, addr: a.raw + (2 << 20), length: 2 << 20, prot: [.read, .write]).get())
        XCTAssertTrue(pmd(k, t, VirtAddr(a.raw + (2 << 20))).isWritable)
        XCTAssertEqual(k.vmstat.thpSplitPMD, 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testForkSharesTheTHPAndAWriteSplitsAndCopiesOnePage() throws {
        let (k, t, a) = try setUpTHP()
        XCTAssertNoThrow(try k.touch(t, a, length: 2 << 20, .write).get())
        XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + 0x3000), [5]).get())
        let head = pmd(k, t, a).pfn
        let c = try k.fork(t).get()
        XCTAssertEqual(k.checkInvariants(), [])
        XCTAssertEqual(pmd(k, c, a).pfn, head)
        XCTAssertFalse(pmd(k, t, a).isWritable)
        XCTAssertFalse(pmd(k, c, a).isWritable)
        XCTAssertEqual(k.phys.memMap.mapcount[head.index + 3], 2)
        XCTAssertEqual(k.thp.entireMapcount[head.index], 2)
        XCTAssertEqual(c.mm!.rss.anon, t.mm!.rss.anon)
        XCTAssertEqual(c.mm!.hugePMDDeposits.count, 1)
        XCTAssertEqual(k.stat.nrAnonTHPs, 1)
        // The child writes: its PMD is split, one 4 KiB page is copied; the parent keeps the THP.
        let free0 = k.phys.freePageCount
        XCTAssertNoThrow(try k.store(c, VirtAddr(a.raw + 0x3000), [9]).get())
        XCTAssertEqual(k.vmstat.thpSplitPMD, 1)
        XCTAssertEqual(free0 - k.phys.freePageCount, 1)
        XCTAssertEqual(try k.load(c, VirtAddr(a.raw + 0x3000), count: 1).get(), [9])
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x3000), count: 1).get(), [5])
        XCTAssertTrue(pmd(k, t, a).isHuge)
        XCTAssertEqual(k.thp.entireMapcount[head.index], 1)
        XCTAssertEqual(k.checkInvariants(), [])
        // The child exits: the parent's THP is exclusive again and its write reuses it.
        k.exitTask(c, status: 0)
        XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + 0x3000), [6]).get())
        XCTAssertTrue(pmd(k, t, a).isWritable)
        XCTAssertEqual(pmd(k, t, a).pfn, head)
        XCTAssertEqual(k.vmstat.thpSplitPMD, 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testReclaimSplitsATHPBeforeSwappingIt() throws {
        let (k, t, a) = try setUpTHP(swap: 64 << 20)
        let rss0 = t.mm!.rss.anon
        XCTAssertNoThrow(try k.touch(t, a, length: 2 << 20, .write).get())
        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 2 << 20, advice: .pageout).get())
        // MADV_PAGEOUT works on PTEs: the PMD is split first, then the 512 pages are swapped.
        XCTAssertEqual(k.vmstat.thpSplitPMD, 1)
        XCTAssertEqual(k.vmstat.pswpout, 512)
        XCTAssertEqual(t.mm!.rss.anon, rss0)
        XCTAssertEqual(t.mm!.rss.swapents, 512)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testMemoryPressureSplitsTHPs() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 128 << 20, thp: .always))
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(t, addr: 0x7fff_f000_0000, length: 96 << 20, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertNoThrow(try k.touch(t, a, length: 96 << 20, .write).get())
        XCTAssertGreaterThan(k.vmstat.thpFaultAlloc, 0)
        XCTAssertGreaterThan(k.vmstat.thpSwpoutFallback, 0)
        XCTAssertEqual(k.vmstat.thpSwpoutFallback, k.vmstat.thpSplitPage)
        XCTAssertEqual(k.vmstat.thpSwpout, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testKhugepagedCollapsesARangeAndHonoursMaxPtesNone() throws {
        let (k, t, a) = try setUpTHP(madvise: false)
        // 4 KiB pages first: the VMA is not madvised. Touch 100 pages of the first 2 MiB and
        // the whole second 2 MiB, with values to check after the copy.
        XCTAssertNoThrow(try k.touch(t, a, length: 100 << 12, .write).get())
        XCTAssertNoThrow(try k.touch(t, VirtAddr(a.raw + (2 << 20)), length: 2 << 20, .write).get())
        XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + 0x2000), [0xab]).get())
        XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + (3 << 20)), [0xcd]).get())
        XCTAssertFalse(t.mm!.khugepagedRegistered)
        XCTAssertEqual(k.khugepagedDoScan().progress, 0)   // nothing registered
        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 4 << 20, advice: .hugepage).get())
        XCTAssertTrue(t.mm!.khugepagedRegistered)
        // max_ptes_none 400: the first range has 412 empty PTEs and is refused.
        XCTAssertNil(k.thpSysfsWrite("khugepaged/max_ptes_none", "400"))
        let rss0 = t.mm!.rss.anon, tables0 = k.stat.nrPageTable, free0 = k.phys.freePageCount
        let r = k.khugepagedDoScan()
        XCTAssertEqual(r.ranges.map(\.1), [.exceedNonePTE, .succeed])
        XCTAssertEqual(r.collapsed, 1)
        XCTAssertEqual(k.vmstat.thpScanExceedNonePTE, 1)
        XCTAssertEqual(k.vmstat.thpCollapseAlloc, 1)
        XCTAssertEqual(k.thp.pagesCollapsed, 1)
        XCTAssertEqual(k.thp.fullScans, 1)
        XCTAssertEqual(k.stat.nrAnonTHPs, 1)
        XCTAssertTrue(pmd(k, t, VirtAddr(a.raw + (2 << 20))).isHuge)
        // The PTE table became the deposit: page tables and RSS are unchanged, and the 512 old
        // frames were freed for the 512 of the THP.
        XCTAssertEqual(k.stat.nrPageTable, tables0)
        XCTAssertEqual(t.mm!.rss.anon, rss0)
        XCTAssertEqual(k.phys.freePageCount, free0)
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + (3 << 20)), count: 1).get(), [0xcd])
        XCTAssertEqual(k.checkInvariants(), [])
        // With the default max_ptes_none (511) the first range collapses too; its 412 empty
        // PTEs become zeroed pages, so RSS grows by 412.
        XCTAssertNil(k.thpSysfsWrite("khugepaged/max_ptes_none", "511"))
        let r2 = k.khugepagedDoScan()
        XCTAssertEqual(r2.ranges.map(\.1), [.succeed, .pmdMapped])
        XCTAssertEqual(t.mm!.rss.anon, rss0 + 412)
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x2000), count: 1).get(), [0xab])
        XCTAssertEqual(k.thp.pagesCollapsed, 2)
        XCTAssertEqual(k.thp.fullScans, 2)
        XCTAssertEqual(k.checkInvariants(), [])
        XCTAssertEqual(k.thpSysfsRead("khugepaged/pages_collapsed"), "2\n")
    }

    func testKhugepagedSkipsSharedAndReadOnlyRanges() throws {
        let (k, t, a) = try setUpTHP(madvise: false)
        XCTAssertNoThrow(try k.touch(t, a, length: 300 << 12, .write).get())
        let c = try k.fork(t).get()
        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 4 << 20, advice: .hugepage).get())
        // The 300 pages are shared with the child (mapcount 2 > max_ptes_shared 256) and
        // read-only after fork.
        let r = k.khugepagedDoScan()
        XCTAssertEqual(r.ranges.first?.1, .exceedSharedPTE)
        XCTAssertEqual(k.vmstat.thpScanExceedSharedPTE, 1)
        XCTAssertNil(k.thpSysfsWrite("khugepaged/max_ptes_shared", "511"))
        XCTAssertEqual(k.khugepagedDoScan().ranges.first?.1, .pageRO)
        k.exitTask(c, status: 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testSysfsFiles() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        XCTAssertEqual(k.thpSysfsRead("enabled"), "always [madvise] never\n")
        XCTAssertEqual(k.thpSysfsRead("defrag"), "always defer defer+madvise [madvise] never\n")
        XCTAssertEqual(k.thpSysfsRead("hpage_pmd_size"), "2097152\n")
        XCTAssertEqual(k.thpSysfsRead("khugepaged/pages_to_scan"), "4096\n")
        XCTAssertEqual(k.thpSysfsRead("khugepaged/max_ptes_none"), "511\n")
        XCTAssertEqual(k.thpSysfsRead("khugepaged/max_ptes_swap"), "64\n")
        XCTAssertEqual(k.thpSysfsRead("khugepaged/max_ptes_shared"), "256\n")
        XCTAssertNil(k.thpSysfsRead("nonexistent"))
        XCTAssertNil(k.thpSysfsWrite("enabled", "always"))
        XCTAssertEqual(k.thpSysfsRead("enabled"), "[always] madvise never\n")
        XCTAssertNil(k.thpSysfsWrite("defrag", "defer+madvise"))
        XCTAssertEqual(k.thpSysfsRead("defrag"), "always defer [defer+madvise] madvise never\n")
        XCTAssertEqual(k.thpSysfsWrite("enabled", "[always]"), .EINVAL)
        XCTAssertEqual(k.thpSysfsWrite("khugepaged/pages_to_scan", "0"), .EINVAL)
        XCTAssertEqual(k.thpSysfsWrite("khugepaged/max_ptes_none", "512"), .EINVAL)
        XCTAssertEqual(k.thpSysfsWrite("khugepaged/max_ptes_swap", "-1"), .EINVAL)
        XCTAssertEqual(k.thpSysfsWrite("hpage_pmd_size", "4096"), .EACCES)
        XCTAssertEqual(k.thpSysfsWrite("nonexistent", "1"), .ENOENT)
    }

    func testDefragDecidesDirectCompactionPerVMA() throws {
        let (k, t, a) = try setUpTHP(.always, madvise: false)
        let plain = t.mm!.vmas.vmaLookup(a)!
        var madvised = plain
        madvised.flags.insert(.hugepage)
        // (defrag, plain VMA may direct-compact, madvised VMA may, plain wakes kswapd, madvised wakes kswapd)
        let expected: [(THPDefrag, Bool, Bool, Bool, Bool)] = [
            (.always, true, true, false, false),
            (.defer, false, false, true, true),
            (.deferMadvise, false, true, true, false),
            (.madvise, false, true, false, false),
            (.never, false, false, false, false),
        ]
        for (d, p, m, pk, mk) in expected {
            k.thp.defrag = d
            XCTAssertEqual(k.thpGFPMask(plain).contains(.directReclaim), p, d.rawValue)
            XCTAssertEqual(k.thpGFPMask(madvised).contains(.directReclaim), m, d.rawValue)
            XCTAssertEqual(k.thpGFPMask(plain).contains(.kswapdReclaim), pk, d.rawValue)
            XCTAssertEqual(k.thpGFPMask(madvised).contains(.kswapdReclaim), mk, d.rawValue)
            // __GFP_NORETRY only for a VMA that is not madvised under `always`.
            XCTAssertEqual(k.thpGFPMask(plain).contains(.noretry), d == .always, d.rawValue)
            XCTAssertFalse(k.thpGFPMask(madvised).contains(.noretry), d.rawValue)
        }
    }
}
