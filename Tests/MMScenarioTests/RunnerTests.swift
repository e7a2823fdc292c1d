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
}
