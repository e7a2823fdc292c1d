import XCTest
import MMCore
@testable import MMScenario

/// Runner tests whose output does not depend on the memory model.
final class RunnerTests: XCTestCase {
    /// Returns (stdout, stderr, status) of running `src`.
    func run(_ src: String, _ options: RunOptions = RunOptions()) throws -> (String, String, Int32) {
        let s = try Parser.parse(src, file: "t.mmsim")
        var out = "", err = ""
        let status = Runner(scenario: s, options: options).run(out: { out += $0 }, err: { err += $0 })
        return (out, err, status)
    }

    func testNotesInterpolateConstants() throws {
        let (out, err, status) = try run("note \"size = ${100M}; pages = ${100M-0:d}\\nnext\"")
        XCTAssertEqual(out, "==> size = 0x6400000; pages = 104857600\n==> next\n")
        XCTAssertEqual(err, "")
        XCTAssertEqual(status, 0)
    }

    func testSysctlSetsAndPrints() throws {
        let s = try Parser.parse("sysctl vm.overcommit_memory=2 vm.overcommit_ratio=80\nsysctl vm.overcommit_ratio", file: "t")
        var out = ""
        let r = Runner(scenario: s)
        XCTAssertEqual(r.run(out: { out += $0 }, err: { _ in }), 0)
        XCTAssertEqual(out, "vm.overcommit_memory = 2\nvm.overcommit_ratio = 80\nvm.overcommit_ratio = 80\n")
        XCTAssertEqual(r.kernel?.sysctl.overcommitMemory, 2)
        XCTAssertEqual(r.kernel?.sysctl.overcommitRatio, 80)
    }

    func testMachineConfigReachesTheKernel() throws {
        let s = try Parser.parse("machine ram=256M tlb.l1d=32x2 pcid=on\nshow tlb", file: "t")
        var out = ""
        let r = Runner(scenario: s)
        XCTAssertEqual(r.run(out: { out += $0 }, err: { _ in }), 0)
        XCTAssertEqual(r.kernel?.config.ramBytes, 256 << 20)
        XCTAssertEqual(out, """
        L1 dTLB (4K): 32 entries, 2-way, 16 sets
        L1 iTLB (4K): 128 entries, 8-way, 16 sets
        STLB:         1536 entries, 12-way, 128 sets
        PCID:         on
        dTLB hits 0, misses 0 (hit rate -)
        iTLB hits 0, misses 0 (hit rate -)
        STLB hits 0, misses 0 (hit rate -)
        page walks 0, walk memory references 0, A/D updates 0
        page faults 0, flushes: full 0, single-page 0, CR3 loads 0

        """)
    }

    func testGrepFiltersShowOutput() throws {
        let (out, _, _) = try run("show tlb | grep PCID")
        XCTAssertEqual(out, "PCID:         off\n")
    }

    func testExplainPrintsAStepHeader() throws {
        let (out, _, status) = try run("note \"hi\"", RunOptions(explain: true))
        XCTAssertEqual(out, "== line 1: note \"hi\"\n==> hi\n")
        XCTAssertEqual(status, 0)
    }

    func testJSONIsDeterministicAndValid() throws {
        let src = "machine ram=128M\nnote \"a\\\"b\"\nsysctl vm.panic_on_oom=1\nshow tlb | grep PCID"
        let (a, _, s1) = try run(src, RunOptions(json: true))
        let (b, _, s2) = try run(src, RunOptions(json: true))
        XCTAssertEqual(a, b)
        XCTAssertEqual(s1, 0); XCTAssertEqual(s2, 0)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(a.utf8)) as? [String: Any])
        let steps = try XCTUnwrap(obj["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.count, 3)
        XCTAssertEqual(steps[0]["output"] as? [String], ["==> a\"b"])
        XCTAssertEqual(steps[0]["line"] as? Int, 2)
        XCTAssertEqual(steps[2]["output"] as? [String], ["PCID:         off"])
        let summary = try XCTUnwrap(obj["summary"] as? [String: Any])
        XCTAssertEqual(summary["exit_status"] as? Int, 0)
        XCTAssertTrue(a.hasPrefix("{\n  \"file\": \"t.mmsim\",\n  \"machine\": {"))
    }

    func testJSONQuotesControlCharacters() {
        XCTAssertEqual(JSON.quote("a\u{1}\n\"\\é"), "\"a\\u0001\\n\\\"\\\\é\"")
    }

    func testProcessStepsAreSkippedWithoutARunningProcess() throws {
        // Placeholder-independent: whatever spawn returns, a process that is not running prints nothing.
        let s = try Parser.parse("spawn a\nexit 0\necho \"after exit\"\nmalloc 1\n", file: "t")
        var out = ""
        _ = Runner(scenario: s).run(out: { out += $0 }, err: { _ in })
        XCTAssertFalse(out.contains("after exit"))
        XCTAssertFalse(out.contains("malloc("))
    }

    func testVforkParentWaitsUntilTheChildExits() throws {
        let src = "machine ram=256M cpus=2\nspawn /bin/sh as sh\nvfork as child\ncat /proc/sh/status | grep State\nexit 0\nuse sh\ncat /proc/sh/status | grep State"
        let (out, err, status) = try run(src)
        XCTAssertEqual(out, """
        [pid 1000] execve("/bin/sh", ["/bin/sh"], 0x7fffffffee48 /* 3 vars */) = 0
        [pid 1000] vfork( <unfinished ...>
        State:\tD (disk sleep)
        [pid 1001] +++ exited with 0 +++
        [pid 1000] <... vfork resumed>) = 1001
        State:\tR (running)

        """)
        XCTAssertEqual(err, "")
        XCTAssertEqual(status, 0)
    }

    func testUsingAVforkParentIsARuntimeError() throws {
        let (out, err, status) = try run("spawn /bin/sh as sh\nvfork as child\nuse sh\necho never")
        XCTAssertEqual(out, "[pid 1000] execve(\"/bin/sh\", [\"/bin/sh\"], 0x7fffffffee48 /* 3 vars */) = 0\n[pid 1000] vfork( <unfinished ...>\n")
        XCTAssertEqual(err, """
        t.mmsim:3:1: error: cannot run 'sh' on CPU0: pid 1000 is waiting in vfork() until its child 1001 exits or execs
        use sh
        ^

        """)
        XCTAssertEqual(status, 1)
    }

    func testATaskCannotRunOnTwoCPUs() throws {
        let (_, err, status) = try run("machine cpus=2\nspawn /bin/a as a\nuse a on cpu 1")
        XCTAssertEqual(err, """
        t.mmsim:3:1: error: cannot run 'a' on CPU1: pid 1000 is running on CPU0; a task runs on one CPU at a time (switch CPU0 to another task first)
        use a on cpu 1
        ^

        """)
        XCTAssertEqual(status, 1)
    }

    func testShowPsAndInterruptsAcrossCPUs() throws {
        let src = "machine ram=256M cpus=2\nspawn /bin/app as app\nthread as worker\nkthread kworker\nuse worker on cpu 1\ncpu 0\nmmap NULL 4K rw- private,anonymous as p\nwrite p 1\nmunmap p 4K\nshow ps\ncat /proc/interrupts"
        let (out, _, status) = try run(src)
        XCTAssertEqual(status, 0)
        let tail = out.split(separator: "\n", omittingEmptySubsequences: false).suffix(7).joined(separator: "\n")
        XCTAssertEqual(tail, """
            PID     LWP    PPID PSR STAT    VSZ   RSS         MM USERS COUNT COMMAND
           1000    1000       0   0 Rl    10532    16     0x3001     2     1 /bin/app
           1000    1001       0   1 Rl    10532    16     0x3001     2     1 /bin/app
           1002    1002       0   0 I         0     0          -     -     - [kworker]
                   CPU0       CPU1       
        TLB:          0          1   TLB shootdowns

        """)
    }
}
