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
}
