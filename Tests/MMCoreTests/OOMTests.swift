import XCTest
@testable import MMCore

final class OOMTests: XCTestCase {
    var k: Kernel!

    override func setUpWithError() throws {
        k = try Kernel(config: MachineConfig(ramBytes: 2 << 30))
    }

    /// A hand-built process with the given counters (its pgd is a real frame, so teardown works).
    @discardableResult
    func task(_ comm: String, anon: Int, file: Int = 0, totalVM: Int, pgtables: Int = 0, adj: Int = 0,
              swap: Int = 0) -> Task {
        let mm = MMStruct(pgd: k.phys.allocPages(order: 0, gfp: [.zero])!)
        mm.rss.anon = anon
        mm.rss.file = file
        mm.rss.swapents = swap
        mm.totalVM = totalVM
        mm.pgtablesBytes = pgtables
        let t = k.addTask(comm: comm, mm: mm)
        t.oomScoreAdj = adj
        return t
    }

    func testBadness() {
        let a = task("a", anon: 1000, file: 24, totalVM: 5000, pgtables: 49152, swap: 6)
        XCTAssertEqual(k.oomBadness(a, totalPages: 520_192), 1000 + 24 + 6 + 12)
        a.oomScoreAdj = 500       // 500 * (520192 / 1000) = 500 * 520
        XCTAssertEqual(k.oomBadness(a, totalPages: 520_192), 1042 + 260_000)
        a.oomScoreAdj = -999      // not clamped: negative badness
        XCTAssertEqual(k.oomBadness(a, totalPages: 520_192), 1042 - 519_480)
        a.oomScoreAdj = OOM_SCORE_ADJ_MIN
        XCTAssertNil(k.oomBadness(a, totalPages: 520_192))
        let kthread = k.addTask(comm: "kthreadd", mm: nil)
        XCTAssertNil(k.oomBadness(kthread, totalPages: 520_192))
    }

    func testOOMScore() {
        let t = task("t", anon: 0, totalVM: 0)
        let total = Int64(k.oomTotalPages)
        XCTAssertEqual(k.oomScore(t), 666, "(1000 + 0) * 2 / 3")
        t.mm!.rss.anon = Int(total / 2)
        XCTAssertEqual(k.oomScore(t), Int((1000 + (total / 2) * 1000 / total) * 2 / 3))
        t.oomScoreAdj = 1000
        XCTAssertEqual(k.oomScore(t), Int((1000 + (total / 2 + 1000 * (total / 1000)) * 1000 / total) * 2 / 3))
        t.oomScoreAdj = OOM_SCORE_ADJ_MIN
        XCTAssertEqual(k.oomScore(t), 0)
    }

    func testSelection() {
        let small = task("small", anon: 10, totalVM: 100, adj: 1000)
        let big = task("big", anon: 400_000, totalVM: 500_000)
        let immune = task("immune", anon: 500_000, totalVM: 600_000, adj: OOM_SCORE_ADJ_MIN)
        XCTAssertTrue(k.selectBadProcess(totalPages: 520_192)?.task === small, "+1000 goes first")
        small.oomScoreAdj = 0
        XCTAssertTrue(k.selectBadProcess(totalPages: 520_192)?.task === big, "-1000 is never chosen")
        XCTAssertNotNil(immune.mm)
        let twin = task("twin", anon: 400_000, totalVM: 1)
        XCTAssertTrue(k.selectBadProcess(totalPages: 520_192)?.task === twin, "ties go to the last one found")
        XCTAssertEqual(k.selectBadProcess(totalPages: 520_192)?.points, 400_000)
    }

    func testGFPRendering() {
        XCTAssertEqual(formatGFPMask([.highuserMovable, .comp]), "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)")
        XCTAssertEqual(formatGFPMask(.highuserMovable), "0x100cca(GFP_HIGHUSER_MOVABLE)")
        XCTAssertEqual(formatGFPMask(.kernel), "0xcc0(GFP_KERNEL)")
        XCTAssertEqual(formatGFPMask([.kernel, .zero]), "0xdc0(GFP_KERNEL|__GFP_ZERO)")
        XCTAssertEqual(formatGFPMask(.kernelAccount), "0x400cc0(GFP_KERNEL_ACCOUNT)")
        XCTAssertEqual(formatGFPMask(.atomic), "0x820(GFP_ATOMIC)")
        XCTAssertEqual(formatGFPMask([]), "0x0()")
        XCTAssertEqual(formatGFPMask(GFP(rawValue: 0x1000_0000 | GFP.kernel.rawValue)), "0x10000cc0(GFP_KERNEL|0x10000000)")
    }

    func testReport() {
        let bash = task("bash", anon: 100, file: 50, totalVM: 2000, pgtables: 32768)
        task("hog", anon: 50_000, file: 10, totalVM: 60_000, pgtables: 245_760)
        task("sshd", anon: 80_000, totalVM: 90_000, pgtables: 4096, adj: OOM_SCORE_ADJ_MIN)
        k.addTask(comm: "kthreadd", mm: nil)
        let before = k.log.count
        XCTAssertTrue(k.outOfMemory(task: bash, gfp: [.highuserMovable, .comp], order: 0))
        let lines = k.log[before...].map(\.text)
        XCTAssertEqual(Array(lines.prefix(8)), [
            "bash invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
            "Tasks state (memory values in pages):",
            "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
            "[   1000]  1000  1000     2000      150      100       50         0    32768        0             0 bash",
            "[   1001]  1000  1001    60000    50010    50000       10         0   245760        0             0 hog",
            "[   1002]  1000  1002    90000    80000    80000        0         0     4096        0         -1000 sshd",
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=hog,pid=1001,uid=1000",
            "Out of memory: Killed process 1001 (hog) total-vm:240000kB, anon-rss:200000kB, file-rss:40kB, shmem-rss:0kB, UID:1000 pgtables:240kB oom_score_adj:0",
        ])
        XCTAssertEqual(lines.count, 9)
        XCTAssertTrue(lines[8].hasPrefix("oom_reaper: reaped process 1001 (hog), now anon-rss:"), lines[8])
        XCTAssertEqual(k.vmstat.oomKill, 1)
        XCTAssertNil(k.panicMessage)
    }

    func testKillAllocatingTask() {
        let bash = task("bash", anon: 100, totalVM: 2000)
        task("hog", anon: 50_000, totalVM: 60_000)
        k.sysctl.oomKillAllocatingTask = 1
        XCTAssertTrue(k.outOfMemory(task: bash, gfp: .highuserMovable, order: 0))
        XCTAssertTrue(k.log.contains { $0.text.hasPrefix("Out of memory (oom_kill_allocating_task): Killed process 1000 (bash) total-vm:8000kB, anon-rss:400kB,") })
    }

    func testPanicOnOOM() {
        let bash = task("bash", anon: 100, totalVM: 2000)
        k.sysctl.panicOnOOM = 1
        XCTAssertFalse(k.outOfMemory(task: bash, gfp: .highuserMovable, order: 0))
        XCTAssertEqual(k.panicMessage, "Out of memory: system-wide panic_on_oom is enabled")
        XCTAssertEqual(k.log.suffix(2).map(\.text), [
            "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled",
            "---[ end Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled ]---",
        ])
        XCTAssertTrue(k.log.contains { $0.text.hasPrefix("bash invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE)") })
        XCTAssertEqual(k.vmstat.oomKill, 0)
        XCTAssertFalse(k.outOfMemory(task: bash, gfp: .highuserMovable, order: 0), "nothing runs after a panic")

        let k2 = try! Kernel(config: MachineConfig(ramBytes: 2 << 30))
        k2.sysctl.panicOnOOM = 2
        XCTAssertFalse(k2.outOfMemory(task: nil, gfp: .kernel, order: 1))
        XCTAssertEqual(k2.panicMessage, "Out of memory: compulsory panic_on_oom is enabled")
        XCTAssertEqual(k2.log.first?.text, "swapper/0 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=1, oom_score_adj=0")
    }

    func testNoKillableProcess() {
        let sshd = task("sshd", anon: 80_000, totalVM: 90_000, adj: OOM_SCORE_ADJ_MIN)
        XCTAssertFalse(k.outOfMemory(task: sshd, gfp: .highuserMovable, order: 0))
        XCTAssertEqual(k.log.suffix(3).map(\.text), [
            "Out of memory and no killable processes...",
            "Kernel panic - not syncing: System is deadlocked on memory",
            "---[ end Kernel panic - not syncing: System is deadlocked on memory ]---",
        ])
        XCTAssertEqual(k.panicMessage, "System is deadlocked on memory")
    }

    func testNoFSAllocationDoesNotKill() {
        let bash = task("bash", anon: 100, totalVM: 2000)
        XCTAssertFalse(k.outOfMemory(task: bash, gfp: .nofs, order: 0))
        XCTAssertTrue(k.log.isEmpty)
    }

    /// Writes to /proc/PID/oom_score_adj: range check, the unprivileged floor, a root write moving
    /// the floor, and the whole thread group changing together.
    /// The errno of a failed call, nil on success.
    func errno(_ r: Result<Void, Errno>) -> Errno? {
        if case .failure(let e) = r { return e }
        return nil
    }

    func testSetOomScoreAdj() throws {
        let p = try k.spawn(ProgramImage(path: "/bin/app")).get()
        let th = try k.cloneThread(p).get()
        XCTAssertEqual(errno(k.setOomScoreAdj(p, 1001, writerUID: 0)), .EINVAL)
        XCTAssertEqual(errno(k.setOomScoreAdj(p, -1001, writerUID: 0)), .EINVAL)
        // Unprivileged: anything at or above oom_score_adj_min (0) is allowed, lowering below is not.
        XCTAssertNil(errno(k.setOomScoreAdj(p, 300, writerUID: 1000)))
        XCTAssertEqual(th.oomScoreAdj, 300)
        XCTAssertNil(errno(k.setOomScoreAdj(p, 0, writerUID: 1000)))
        XCTAssertEqual(errno(k.setOomScoreAdj(p, -1, writerUID: 1000)), .EACCES)
        XCTAssertEqual(p.oomScoreAdj, 0)
        // Root sets -500 and with it the floor; an unprivileged writer may then go back to -500 but not below.
        XCTAssertNil(errno(k.setOomScoreAdj(p, -500, writerUID: 0)))
        XCTAssertEqual([p.oomScoreAdjMin, th.oomScoreAdjMin], [-500, -500])
        XCTAssertNil(errno(k.setOomScoreAdj(p, 100, writerUID: 1000)))
        XCTAssertNil(errno(k.setOomScoreAdj(p, -500, writerUID: 1000)))
        XCTAssertEqual(errno(k.setOomScoreAdj(p, -501, writerUID: 1000)), .EACCES)
        // oom_score follows: (1000 + badness * 1000 / totalpages) * 2 / 3.
        let total = Int64(k.oomTotalPages)
        let badness = try XCTUnwrap(k.oomBadness(p, totalPages: Int(total)))
        XCTAssertEqual(k.oomScore(p), Int((1000 + badness * 1000 / total) * 2 / 3))
        XCTAssertNil(errno(k.setOomScoreAdj(p, -1000, writerUID: 0)))
        XCTAssertEqual(k.oomScore(p), 0)
        k.exitTask(p, status: 0)
        XCTAssertEqual(errno(k.setOomScoreAdj(p, 0, writerUID: 0)), .ESRCH)
    }
}
