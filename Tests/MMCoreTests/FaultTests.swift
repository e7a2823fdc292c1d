import XCTest
@testable import MMCore

/// The handle_mm_fault ladder on hand-built address spaces.
final class FaultTests: XCTestCase {
    /// A machine with one process whose mm holds the given VMAs (no program image).
    func makeTask(_ vmas: [VMA], ram: UInt64 = 256 << 20) throws -> (Kernel, Task) {
        let k = try Kernel(config: MachineConfig(ramBytes: ram))
        let pgd = k.phys.allocPages(order: 0, gfp: [.zero])!
        k.phys.memMap.flags[pgd.index].insert(.pageTable)
        k.stat.nrPageTable += 1
        let mm = MMStruct(pgd: pgd)
        let t = k.addTask(comm: "t", mm: mm)
        for v in vmas { _ = k.insertVMA(mm, v) }
        return (k, t)
    }

    /// The failure of a store, or nil when it succeeded.
    func storeFailure(_ k: Kernel, _ t: Task, _ va: UInt64, _ b: [UInt8]) -> AccessFailure? {
        if case .failure(let f) = k.store(t, VirtAddr(va), b) { return f }
        return nil
    }

    let rw: VMFlags = [.read, .write, .mayread, .maywrite, .mayexec]

    //   0x10000          0x14000
    //   |---- anon rw ----|
    func testReadMapsZeroPageThenWriteReplacesIt() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x10000), end: VirtAddr(0x14000), flags: rw)])
        let free0 = k.phys.freePageCount
        XCTAssertEqual(try k.load(t, VirtAddr(0x10008), count: 8).get(), [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(k.vmstat.pgfault, 1)
        XCTAssertEqual(k.vmstat.zeroPageMaps, 1)
        XCTAssertEqual(t.mm!.rss.anon, 0)
        // PUD, PMD and PTE tables were allocated; no data page.
        XCTAssertEqual(free0 - k.phys.freePageCount, 3)
        XCTAssertEqual(t.mm!.pgtablesBytes, 3 * 4096)
        let slot = k.phys.walk(t.mm!.pgd, VirtAddr(0x10000))!
        XCTAssertEqual(k.phys.readPTE(slot).pfn, k.zeroPFN)
        XCTAssertFalse(k.phys.readPTE(slot).isWritable)

        XCTAssertNoThrow(try k.store(t, VirtAddr(0x10008), [1, 2, 3]).get())
        XCTAssertEqual(k.vmstat.pgfault, 2)
        XCTAssertEqual(t.mm!.rss.anon, 1)
        let pte = k.phys.readPTE(slot)
        XCTAssertNotEqual(pte.pfn, k.zeroPFN)
        XCTAssertTrue(pte.isWritable && pte.isDirty && pte.isNX)
        XCTAssertEqual(try k.load(t, VirtAddr(0x10007), count: 5).get(), [0, 1, 2, 3, 0])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testWriteFaultAllocatesOnePagePerPage() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x400000), end: VirtAddr(0x800000), flags: rw)])
        XCTAssertNoThrow(try k.touch(t, VirtAddr(0x400000), length: 0x400000, .write).get())
        XCTAssertEqual(k.vmstat.pgfault, 1024)
        XCTAssertEqual(t.mm!.rss.anon, 1024)
        XCTAssertEqual(k.stat.nrAnonMapped, 1024)
        // Touching again takes no fault.
        XCTAssertNoThrow(try k.touch(t, VirtAddr(0x400000), length: 0x400000, .write).get())
        XCTAssertEqual(k.vmstat.pgfault, 1024)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    //   0x0 (NULL)       0x10000    0x11000
    //   |  no VMA        |-- r-- ---|
    func testSegfaultsLogTheKernelLine() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x10000), end: VirtAddr(0x11000), flags: [.read, .mayread])])
        t.ip = 0x555555555139; t.sp = 0x7fffffffe3f0
        XCTAssertEqual(storeFailure(k, t, 0, [0]), (.signal(.SIGSEGV, VirtAddr(0))))
        XCTAssertEqual(t.state, .killed(.SIGSEGV))
        XCTAssertEqual(t.fatalSegvCode, .mapErr)
        XCTAssertEqual(k.log.last?.text, "t[1000]: segfault at 0 ip 0000555555555139 sp 00007fffffffe3f0 error 6 likely on CPU 0 (core 0, socket 0)")
        XCTAssertNil(t.mm)
        XCTAssertEqual(storeFailure(k, t, 0x10000, [0]), .notRunning)
    }

    func testWriteToReadOnlyVMAIsAccessError() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x10000), end: VirtAddr(0x11000), flags: [.read, .mayread])])
        XCTAssertNoThrow(try k.load(t, VirtAddr(0x10000), count: 1).get())
        XCTAssertEqual(storeFailure(k, t, 0x10000, [1]), (.signal(.SIGSEGV, VirtAddr(0x10000))))
        XCTAssertEqual(t.fatalSegvCode, .accErr)
        // present page, write, user: error 7
        XCTAssertTrue(k.log.last!.text.contains("error 7"))
    }

    func testTeardownFreesEverything() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x7f0000000000), end: VirtAddr(0x7f0000100000), flags: rw)])
        let free0 = k.phys.freePageCount
        XCTAssertNoThrow(try k.touch(t, VirtAddr(0x7f0000000000), length: 0x100000, .write).get())
        XCTAssertEqual(free0 - k.phys.freePageCount, 256 + 3)
        k.exitTask(t, status: 0)
        XCTAssertEqual(k.phys.freePageCount, free0 + 1) // the PGD too
        XCTAssertEqual(k.stat.nrPageTable, 0)
        XCTAssertEqual(k.stat.nrAnonMapped, 0)
    }
}
