import XCTest
@testable import MMCore

final class OvercommitTests: XCTestCase {
    func machine(swap: UInt64 = 0) throws -> Kernel {
        try Kernel(config: MachineConfig(ramBytes: 2 << 30, swapBytes: swap))
    }

    func testCommitLimitFromRatioKbytesAndSwap() throws {
        let k = try machine()
        XCTAssertEqual(k.totalSwapPages, 0)
        XCTAssertEqual(k.vmCommitLimit(), k.totalRAMPages * 50 / 100)
        k.sysctl.overcommitRatio = 100
        XCTAssertEqual(k.vmCommitLimit(), k.totalRAMPages)
        k.sysctl.overcommitKbytes = 1 << 20          // 1 GiB
        XCTAssertEqual(k.vmCommitLimit(), 262_144)
        let s = try machine(swap: 1 << 30)
        XCTAssertEqual(s.vmCommitLimit(), s.totalRAMPages / 2 + 262_143)   // the swap header page is not usable
        s.sysctl.overcommitKbytes = 4096
        XCTAssertEqual(s.vmCommitLimit(), 1024 + 262_143)
    }

    func testNeverRefusesAtTheLimit() throws {
        let k = try machine()
        k.sysctl.overcommitMemory = OVERCOMMIT_NEVER
        k.sysctl.overcommitKbytes = 1 << 20          // CommitLimit = 262144 pages, independent of RAM accounting
        let adminReserve = k.sysctl.adminReserveKbytes >> 2
        let allowed = 262_144 - adminReserve
        let base = k.committedPages
        // committed (after adding) must stay strictly below the allowance.
        XCTAssertFalse(k.vmEnoughMemory(nil, pages: allowed - base, capSysAdmin: false))
        XCTAssertEqual(k.committedPages, base, "a refusal uncommits")
        XCTAssertTrue(k.vmEnoughMemory(nil, pages: allowed - base - 1, capSysAdmin: false))
        XCTAssertEqual(k.committedPages, allowed - 1)
        XCTAssertFalse(k.vmEnoughMemory(nil, pages: 1, capSysAdmin: false))
        // Root may dip into the admin reserve.
        XCTAssertTrue(k.vmEnoughMemory(nil, pages: 1, capSysAdmin: true))
        XCTAssertEqual(k.committedPages, allowed)
        k.vmUnacctMemory(pages: allowed - base)
        XCTAssertEqual(k.committedPages, base)
    }

    func testNeverKeepsUserReserveForLargeProcesses() throws {
        let k = try machine()
        k.sysctl.overcommitMemory = OVERCOMMIT_NEVER
        k.sysctl.overcommitKbytes = 1 << 20
        let mm = MMStruct(pgd: PFN(0))
        mm.totalVM = 3200                              // reserve = min(3200 / 32, user_reserve) = 100
        let allowed = 262_144 - 100                    // as root: no admin reserve
        let base = k.committedPages
        XCTAssertFalse(k.vmEnoughMemory(mm, pages: allowed - base, capSysAdmin: true))
        XCTAssertTrue(k.vmEnoughMemory(mm, pages: allowed - base - 1, capSysAdmin: true))
        // A huge mm is capped at user_reserve_kbytes.
        k.vmUnacctMemory(pages: allowed - base - 1)
        mm.totalVM = 1 << 30
        let cap = k.sysctl.userReserveKbytes >> 2
        XCTAssertFalse(k.vmEnoughMemory(mm, pages: 262_144 - cap - base, capSysAdmin: true))
        XCTAssertTrue(k.vmEnoughMemory(mm, pages: 262_144 - cap - base - 1, capSysAdmin: true))
    }

    func testGuessRefusesOnlyImpossibleSingleRequests() throws {
        let k = try machine()
        XCTAssertEqual(k.sysctl.overcommitMemory, OVERCOMMIT_GUESS)
        let base = k.committedPages
        let fourGiB = 1 << 20
        XCTAssertFalse(k.vmEnoughMemory(nil, pages: fourGiB, capSysAdmin: false))
        XCTAssertEqual(k.committedPages, base)
        XCTAssertFalse(k.vmEnoughMemory(nil, pages: k.totalRAMPages + 1, capSysAdmin: true))
        XCTAssertTrue(k.vmEnoughMemory(nil, pages: k.totalRAMPages, capSysAdmin: false))
        XCTAssertTrue(k.vmEnoughMemory(nil, pages: k.totalRAMPages, capSysAdmin: false), "no running total")
        XCTAssertEqual(k.committedPages, base + 2 * k.totalRAMPages)
    }

    func testAlwaysAcceptsEverything() throws {
        let k = try machine()
        k.sysctl.overcommitMemory = OVERCOMMIT_ALWAYS
        let base = k.committedPages
        XCTAssertTrue(k.vmEnoughMemory(nil, pages: 1 << 20, capSysAdmin: false))
        XCTAssertEqual(k.committedPages, base + (1 << 20))
    }

    func testRefusalIsLogged() throws {
        let k = try machine()
        let mm = MMStruct(pgd: PFN(0))
        let t = k.addTask(comm: "a.out", mm: mm)
        XCTAssertFalse(k.vmEnoughMemory(mm, pages: 1 << 20, capSysAdmin: false))
        XCTAssertEqual(k.log.last?.text,
                       "__vm_enough_memory: pid: \(t.pid), comm: a.out, bytes: 4294967296 not enough memory for the allocation")
        t.uid = 0
        k.sysctl.overcommitMemory = OVERCOMMIT_NEVER
        k.sysctl.overcommitKbytes = 4096
        XCTAssertTrue(k.securityVMEnoughMemoryMM(mm, pages: 1000))   // root: 1024 - 0 reserve
        XCTAssertFalse(k.securityVMEnoughMemoryMM(mm, pages: 100))
    }
}
