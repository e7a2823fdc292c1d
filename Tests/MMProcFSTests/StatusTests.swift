import XCTest
import MMCore
@testable import MMProcFS

final class StatusTests: XCTestCase {
    static let mems = String(repeating: "00000000,", count: 31) + "00000001"

    static func sampleMM(_ pgd: PFN) -> MMStruct {
        let mm = MMStruct(pgd: pgd)
        mm.totalVM = 2000; mm.hiwaterVM = 2100
        mm.rss.anon = 100; mm.rss.file = 300; mm.hiwaterRSS = 450
        mm.dataVM = 150; mm.stackVM = 33; mm.execVM = 500
        mm.startCode = 0x555555555000; mm.endCode = 0x555555556234
        mm.pgtablesBytes = 12 * 4096
        return mm
    }

    static func expected(name: String = "demo", state: String = "S (sleeping)", sigQ: String = "0/7865") -> [String] {
        [
            "Name:\t\(name)",
            "Umask:\t0022",
            "State:\t\(state)",
            "Tgid:\t1000",
            "Ngid:\t0",
            "Pid:\t1000",
            "PPid:\t1",
            "TracerPid:\t0",
            "Uid:\t1000\t1000\t1000\t1000",
            "Gid:\t1000\t1000\t1000\t1000",
            "FDSize:\t64",
            "Groups:\t1000 ",
            "NStgid:\t1000",
            "NSpid:\t1000",
            "NSpgid:\t1000",
            "NSsid:\t1000",
            "Kthread:\t0",
            "VmPeak:\t    8400 kB",
            "VmSize:\t    8000 kB",
            "VmLck:\t       0 kB",
            "VmPin:\t       0 kB",
            "VmHWM:\t    1800 kB",
            "VmRSS:\t    1600 kB",
            "RssAnon:\t     400 kB",
            "RssFile:\t    1200 kB",
            "RssShmem:\t       0 kB",
            "VmData:\t     600 kB",
            "VmStk:\t     132 kB",
            "VmExe:\t       8 kB",
            "VmLib:\t    1992 kB",
            "VmPTE:\t      48 kB",
            "VmSwap:\t       0 kB",
            "HugetlbPages:\t       0 kB",
            "CoreDumping:\t0",
            "THP_enabled:\t1",
            "untag_mask:\t0xffffffffffffffff",
            "Threads:\t1",
            "SigQ:\t\(sigQ)",
            "SigPnd:\t0000000000000000",
            "ShdPnd:\t0000000000000000",
            "SigBlk:\t0000000000000000",
            "SigIgn:\t0000000000000000",
            "SigCgt:\t0000000000000000",
            "CapInh:\t0000000000000000",
            "CapPrm:\t0000000000000000",
            "CapEff:\t0000000000000000",
            "CapBnd:\t000001ffffffffff",
            "CapAmb:\t0000000000000000",
            "NoNewPrivs:\t0",
            "Seccomp:\t0",
            "Seccomp_filters:\t0",
            "Speculation_Store_Bypass:\tthread vulnerable",
            "SpeculationIndirectBranch:\tconditional enabled",
            "Cpus_allowed:\t3",
            "Cpus_allowed_list:\t0-1",
            "Mems_allowed:\t\(mems)",
            "Mems_allowed_list:\t0",
            "voluntary_ctxt_switches:\t0",
            "nonvoluntary_ctxt_switches:\t0",
            "x86_Thread_features:\t",
            "x86_Thread_features_locked:\t",
        ]
    }

    func testFormatterIsByteExact() {
        var v = StatusValues(name: "demo", pid: 1000)
        v.mem = StatusMem(Self.sampleMM(PFN(1)))
        v.sigQueueLimit = 7865
        XCTAssertEqual(Status.format(v), text(Self.expected()))
    }

    func testTaskMemArithmetic() {
        let m = StatusMem(Self.sampleMM(PFN(1)))
        XCTAssertEqual(m.vmExe, 8)        // PAGE_ALIGN(end_code) - start_code = 2 pages
        XCTAssertEqual(m.vmLib, 2000 - 8) // the other executable pages
        let mm = Self.sampleMM(PFN(1))
        mm.execVM = 1                     // fewer exec pages than the code range: VmExe is capped
        XCTAssertEqual(StatusMem(mm).vmExe, 4)
        XCTAssertEqual(StatusMem(mm).vmLib, 0)
        mm.hiwaterVM = 0; mm.hiwaterRSS = 0
        XCTAssertEqual(StatusMem(mm).vmPeak, 8000)
        XCTAssertEqual(StatusMem(mm).vmHWM, 1600)
    }

    func testOtherFieldsAndEscaping() {
        var v = StatusValues(name: "a\\b\nc", pid: 7)
        v.umask = 0o077
        v.uid = [0, 0, 0, 0]; v.gid = [0, 0, 0, 0]; v.groups = [0, 4, 24]
        v.nrCPUs = 40; v.cpusAllowed = Array(0..<8) + [10, 12, 13, 14, 39]
        v.maxNumNodes = 4; v.memsAllowed = [0, 1]
        v.sigCgt = 1 << 1 | 1 << 16   // SIGINT (2) and SIGCHLD (17): bit n-1 is signal n
        let out = Status.format(v)
        XCTAssertTrue(out.hasPrefix("Name:\ta\\\\b\\nc\nUmask:\t0077\n"))
        XCTAssertTrue(out.contains("\nGroups:\t0 4 24 \n"))
        XCTAssertTrue(out.contains("\nCpus_allowed:\t80,000074ff\nCpus_allowed_list:\t0-7,10,12-14,39\n"))
        XCTAssertTrue(out.contains("\nMems_allowed:\t3\nMems_allowed_list:\t0-1\n"))
        XCTAssertTrue(out.contains("\nSigCgt:\t0000000000010002\n"))
        XCTAssertFalse(out.contains("VmPeak"))  // no mm: no memory lines
        v.umask = 0
        XCTAssertTrue(Status.format(v).contains("\nUmask:\t0000\n"))
    }

    func testSigPendingLimit() {
        // 2 GiB minus 16 MiB reserved: 520192 pages -> 16256 threads -> 8128 signals.
        XCTAssertEqual(Status.sigPendingLimit(totalRAMPages: 520192), 8128)
        XCTAssertEqual(Status.sigPendingLimit(totalRAMPages: 1), 10)
    }

    func testGatherFromTask() throws {
        let k = try bootedKernel()
        let mm = Self.sampleMM(k.phys.allocPages(order: 0, gfp: [.zero])!)
        let t = k.addTask(comm: "demo", mm: mm)
        let limit = Status.sigPendingLimit(totalRAMPages: k.phys.totalManagedPages)
        XCTAssertEqual(ProcFS.status(k, t), text(Self.expected(sigQ: "0/\(limit)")))
        k.switchTo(t)
        XCTAssertTrue(ProcFS.status(k, t).contains("\nState:\tR (running)\n"))
        t.state = .exited(0)
        t.mm = nil
        let z = ProcFS.status(k, t)
        XCTAssertTrue(z.hasPrefix("Name:\tdemo\nState:\tZ (zombie)\n"))
        XCTAssertTrue(z.contains("\nFDSize:\t0\n"))
        XCTAssertFalse(z.contains("VmRSS"))
        t.oomScoreAdj = -500
        XCTAssertEqual(ProcFS.oomScoreAdj(t), "-500\n")
    }
}
