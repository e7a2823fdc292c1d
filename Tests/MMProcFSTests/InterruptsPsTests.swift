import XCTest
@testable import MMCore
@testable import MMProcFS

/// /proc/interrupts' TLB row and the ps-style task list.
final class InterruptsPsTests: XCTestCase {
    func testInterruptsHeaderAndTLBRowLayout() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20, cpus: 3))
        XCTAssertEqual(ProcFS.interrupts(k), text([
            "           CPU0       CPU1       CPU2       ",
            "TLB:          0          0          0   TLB shootdowns",
        ]))
    }

    func testPsShowsThreadsVforkAndKernelThreads() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20, cpus: 2))
        let app = try k.spawn(ProgramImage(path: "/usr/bin/app", argv: ["app", "-v"])).get()
        let worker = try k.cloneThread(app).get()
        XCTAssertNoThrow(try k.schedule(worker, on: 1).get())
        let kw = k.spawnKernelThread("kworker/1:0")
        XCTAssertNoThrow(try k.schedule(kw, on: 1).get())   // borrows the worker's mm (lazy TLB)
        let sh = try { () throws -> Task in _ = k.selectCPU(0); return try k.spawn(ProgramImage(path: "/bin/sh")).get() }()
        let child = try k.vfork(sh).get()
        XCTAssertEqual(child.pid, 1004)
        XCTAssertEqual(ProcFS.ps(k), text([
            "    PID     LWP    PPID PSR STAT    VSZ   RSS         MM USERS COUNT COMMAND",
            "   1000    1000       0   0 Sl    10532    16     0x3004     2     2 app -v",
            "   1000    1001       0   1 Sl    10532    16     0x3004     2     2 app -v",
            "   1002    1002       0   1 R         0     0   (0x3004)     2     2 [kworker/1:0]",
            "   1003    1003       0   0 D      2336    16     0x303a     2     1 /bin/sh",
            "   1004    1004    1003   0 R      2336    16     0x303a     2     1 /bin/sh",
        ]))
    }
}
