import XCTest
@testable import MMCore
@testable import MMProcFS

final class SwapsMonitorTests: XCTestCase {
    func testProcSwapsLayout() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20))
        XCTAssertEqual(ProcFS.swaps(k), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
        _ = try k.swapon(path: "/swapfile", bytes: 16 << 20).get()
        _ = try k.swapon(path: "/dev/sdb1", bytes: 8 << 20, priority: 5).get()
        let pad = String(repeating: " ", count: 31)
        XCTAssertEqual(ProcFS.swaps(k), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
            + "/swapfile" + pad + "file\t16380\t\t0\t\t-2\n"
            + "/dev/sdb1" + pad + "partition\t8188\t\t0\t\t5\n")
        let m = Meminfo.gather(k)
        XCTAssertEqual(m.swapTotal, 16380 + 8188)
        XCTAssertEqual(m.swapFree, 16380 + 8188)
        XCTAssertEqual(k.log.last?.text, "Adding 8188k swap on /dev/sdb1.  Priority:5 extents:1 across:8188k")
    }

    func testMeminfoSwapLinesAfterSwapping() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/s")).get()
        let a = try k.mmap(t, addr: 0, length: MMCore.PAGE_SIZE, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.store(t, a, [1]).get()
        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: MMCore.PAGE_SIZE, advice: .pageout).get())
        var m = Meminfo.gather(k)
        XCTAssertEqual(m.swapTotal, 65532)
        XCTAssertEqual(m.swapFree, 65528)
        XCTAssertEqual(m.swapCached, 0)
        XCTAssertTrue(ProcFS.meminfo(k).contains("SwapFree:          65528 kB\n"))
        XCTAssertEqual(try k.load(t, a, count: 1).get(), [1])   // read back: the page stays in the swap cache
        m = Meminfo.gather(k)
        XCTAssertEqual(m.swapCached, 4)
        XCTAssertEqual(m.swapFree, 65528)
        let status = ProcFS.status(k, t)
        XCTAssertTrue(status.contains("VmSwap:\t       0 kB\n"), status)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testVmstatHeaderAndBootRow() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20))
        XCTAssertEqual(VmstatTool.header,
            "procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----\n"
            + " r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st\n")
        // free: MemFree at boot (the three boot slab pages of SLUB's caches included).
        let s0 = MonitorSample.take(k)
        XCTAssertEqual(VmstatTool.row(k, from: nil, to: s0), " 0  0      0  31916      0      0    0    0     0     0    0    0  0 100  0  0  0\n")
        k.tick(seconds: 3)
        let s1 = MonitorSample.take(k)
        XCTAssertEqual(VmstatTool.row(k, from: s0, to: s1), " 0  0      0  31916      0      0    0    0     0     0    0    0  0  0 100  0  0\n")
        // Over both intervals: 1 s of boot (kernel) and 3 s idle.
        XCTAssertEqual(VmstatTool.row(k, from: nil, to: s1), " 0  0      0  31916      0      0    0    0     0     0    0    0  0 25 75  0  0\n")
    }

    func testSarRowLayout() {
        var v = SarTool.Values()
        v.free = 2144; v.avail = 0; v.used = 29772; v.buffers = 0; v.cached = 16; v.commit = 102628
        v.active = 0; v.inact = 29552; v.dirty = 0; v.total = 31932; v.swapTotal = 131068
        XCTAssertEqual(SarTool.headerLine(2_000_000_000),
            "00:00:02    kbmemfree   kbavail kbmemused  %memused kbbuffers  kbcached  kbcommit   %commit  kbactive   kbinact   kbdirty\n")
        XCTAssertEqual(SarTool.row("00:00:02", v),
            "00:00:02         2144         0     29772     93.24         0        16    102628     62.96         0     29552         0\n")
        var w = v
        w.free = 2145
        XCTAssertEqual(SarTool.average([v, w]),
            "Average:         2144         0     29772     93.24         0        16    102628     62.96         0     29552         0\n")
        XCTAssertEqual(SarTool.time(3_725_000_000_000), "01:02:05")
    }
}

extension SwapsMonitorTests {
    func testSmapsSwapAndSwapPssAfterFork() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/sm")).get()
        let P = MMCore.PAGE_SIZE
        let a = try k.mmap(t, addr: 0, length: 2 * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.touch(t, a, length: 2 * P, .write).get()
        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 2 * P, advice: .pageout).get())
        _ = try k.fork(t).get()
        let vma = t.mm!.vmas.vmaLookup(a)!
        let c = Smaps.gatherCounts(k, t.mm!, vma)
        XCTAssertEqual(c.swap, 2 * P)
        XCTAssertEqual(c.swapPss >> SmapsCounts.pssShift, P)   // each slot is shared with the child
        XCTAssertTrue(ProcFS.status(k, t).contains("VmSwap:\t       8 kB\n"))
    }
}
