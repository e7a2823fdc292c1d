import XCTest
@testable import MMCore

/// Kernel.spawnEmpty and Kernel.residentPages, the two calls trace replay adds to the kernel.
final class ReplaySupportTests: XCTestCase {
    func testSpawnEmptyHasOnlyItsPGD() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let tables0 = k.stat.nrPageTable
        let t = try k.spawnEmpty(comm: "replayed-program-name", argv: ["prog", "-x"]).get()
        let mm = try XCTUnwrap(t.mm)
        XCTAssertEqual(mm.vmas.count, 0)
        XCTAssertEqual(mm.rss.total, 0)
        XCTAssertEqual(mm.pgtablesBytes, 0)
        XCTAssertEqual(k.stat.nrPageTable, tables0 + 1)      // the PGD
        XCTAssertEqual(t.comm, "replayed-progra")            // TASK_COMM_LEN - 1
        XCTAssertEqual(t.cmdline, ["prog", "-x"])
        XCTAssertTrue(k.current === t)
        XCTAssertEqual(k.vmstat.pgfault, 0)
        // A recorded layout maps with MAP_FIXED anywhere below TASK_SIZE.
        let a = try k.mmap(t, addr: 0x10_8000, length: 3 * MMCore.PAGE_SIZE, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertEqual(a.raw, 0x10_8000)
        XCTAssertEqual(k.residentPages(mm, VirtAddr(0x10_8000), VirtAddr(0x10_b000)), 0)
        _ = try k.access(t, VirtAddr(0x10_8000), .write).get()
        _ = try k.access(t, VirtAddr(0x10_a000), .read).get()      // the zero page: resident, not RSS
        XCTAssertEqual(k.residentPages(mm, VirtAddr(0x10_8000), VirtAddr(0x10_b000)), 2)
        XCTAssertEqual(k.residentPages(mm, VirtAddr(0x10_9000), VirtAddr(0x10_a000)), 0)
        XCTAssertEqual(mm.rss.anon, 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testSpawnEmptyFailsWhenThePGDCannotBeAllocated() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        k.panicMessage = "test"
        guard case .failure(let e) = k.spawnEmpty(comm: "x") else { return XCTFail("spawned after panic") }
        XCTAssertEqual(e, .ENOMEM)
    }
}
