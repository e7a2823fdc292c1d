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

    func testHugetlbPoolsThroughSysctlAndSysfs() throws {
        let (out, err, status) = try run("""
        machine ram=512M hugepages=2M:4
        sysctl vm.nr_hugepages
        echo 6 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
        echo 2 > /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages
        echo x > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
        echo 1 > /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_overcommit_hugepages
        spawn /bin/app
        mmap 0 3M rw- shared,anonymous,hugetlb as m
        cat /sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages
        touch m 3M write
        cat /proc/meminfo | grep Huge
        cat /proc/self/smaps | grep Shared_Hugetlb
        cat /proc/self/status | grep HugetlbPages
        echo 1 > /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
        cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
        """)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(4)), [
            "vm.nr_hugepages = 4",
            "bash: /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages: Permission denied",
            "bash: echo: write error: Invalid argument",
            "bash: echo: write error: Invalid argument",
        ])
        XCTAssertTrue(lines.contains("2"), out)
        XCTAssertEqual(lines.filter { $0.hasPrefix("HugePages_") || $0.hasPrefix("Hugepagesize") || $0.hasPrefix("Hugetlb:") }, [
            "HugePages_Total:       6",
            "HugePages_Free:        4",
            "HugePages_Rsvd:        0",
            "HugePages_Surp:        0",
            "Hugepagesize:       2048 kB",
            "Hugetlb:           12288 kB",
        ])
        XCTAssertTrue(lines.contains("HugetlbPages:\t    4096 kB"), out)
        // One mapping: the pages count as private even in a shared mapping (mapcount 1).
        XCTAssertEqual(lines.filter { $0.hasPrefix("Shared_Hugetlb") }.count, lines.filter { $0 == "Shared_Hugetlb:        0 kB" }.count)
        // 512 MiB of RAM has no free, aligned 1 GiB range: the pool stays empty.
        XCTAssertEqual(lines.last, "0")
        XCTAssertEqual(err, "")
        XCTAssertEqual(status, 0)
    }

    func testTHPSysfsWritesAndReads() throws {
        let (out, err, status) = try run("""
        machine ram=256M thp=never
        cat /sys/kernel/mm/transparent_hugepage/enabled
        echo always > /sys/kernel/mm/transparent_hugepage/enabled
        echo defer > /sys/kernel/mm/transparent_hugepage/defrag
        cat /sys/kernel/mm/transparent_hugepage/enabled
        cat /sys/kernel/mm/transparent_hugepage/defrag
        echo 0 > /sys/kernel/mm/transparent_hugepage/khugepaged/pages_to_scan
        echo 7 > /sys/kernel/mm/transparent_hugepage/khugepaged/full_scans
        cat /sys/kernel/mm/transparent_hugepage/hpage_pmd_size
        khugepaged 2
        """)
        XCTAssertEqual(out, """
        always madvise [never]
        [always] madvise never
        always [defer] defer+madvise madvise never
        bash: echo: write error: Invalid argument
        bash: /sys/kernel/mm/transparent_hugepage/khugepaged/full_scans: Permission denied
        2097152
        khugepaged: scanned 0 pages, collapsed 0
        khugepaged: scanned 0 pages, collapsed 0
        pages_collapsed 0, full_scans 0

        """)
        XCTAssertEqual(err, "")
        XCTAssertEqual(status, 0)
    }

    func testMachineConfigReachesTheKernel() throws {
        let s = try Parser.parse("machine ram=256M tlb.l1d=32x2 tlb.l1d2m=16x4 tlb.stlb1g=8x8 pwc.pde=0 pcid=on\nshow tlb", file: "t")
        var out = ""
        let r = Runner(scenario: s)
        XCTAssertEqual(r.run(out: { out += $0 }, err: { _ in }), 0)
        XCTAssertEqual(r.kernel?.config.ramBytes, 256 << 20)
        XCTAssertEqual(r.kernel?.mmu.l1d2M.geometry, TLBGeometry(entries: 16, ways: 4))
        XCTAssertEqual(r.kernel?.mmu.pdeCache.capacity, 0)
        XCTAssertEqual(out, """
        L1 dTLB (4K): 32 entries, 2-way, 16 sets
        L1 dTLB (2M): 16 entries, 4-way, 4 sets
        L1 dTLB (1G): 4 entries, 4-way, 1 sets
        L1 iTLB (4K): 128 entries, 8-way, 16 sets
        L1 iTLB (2M): 8 entries, 8-way, 1 sets
        STLB (4K/2M): 1536 entries, 12-way, 128 sets
        STLB (1G):    8 entries, 8-way, 1 sets
        walk caches:  PML4E 2, PDPTE 4, PDE 0 entries
        PCID:         on
        dTLB hits 0 (4K 0, 2M 0, 1G 0), misses 0 (hit rate -)
        iTLB hits 0 (4K 0, 2M 0), misses 0 (hit rate -)
        STLB hits 0 (4K 0, 2M 0, 1G 0), misses 0 (hit rate -)
        page walks 0, walk memory references 0, A/D updates 0
        walk-cache hits: PML4E 0, PDPTE 0, PDE 0
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

    /// A tiny static ET_EXEC: r-- page at 0x400000, then rw- 0x10 file bytes + bss up to 0x403000.
    static func tinyELF() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 0x1010)
        func put(_ off: Int, _ v: UInt64, _ n: Int) { for i in 0..<n { b[off + i] = UInt8((v >> UInt64(8 * i)) & 0xff) } }
        b[0] = 0x7f; b[1] = 0x45; b[2] = 0x4c; b[3] = 0x46; b[4] = 2; b[5] = 1; b[6] = 1
        put(16, 2, 2); put(18, 62, 2); put(24, 0x400100, 8); put(32, 64, 8); put(54, 56, 2); put(56, 2, 2)
        let ph: [(UInt32, UInt64, UInt64, UInt64, UInt64)] = [(4, 0, 0x400000, 0x1000, 0x1000), (6, 0x1000, 0x401000, 0x10, 0x2000)]
        for (i, p) in ph.enumerated() {
            let o = 64 + i * 56
            put(o, 1, 4); put(o + 4, UInt64(p.0), 4); put(o + 8, p.1, 8); put(o + 16, p.2, 8)
            put(o + 32, p.3, 8); put(o + 40, p.4, 8); put(o + 48, 0x1000, 8)
        }
        return b
    }

    /// Writes `bytes` to a fresh temporary file and returns its path.
    func tempFile(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-runner-\(UUID().uuidString)")
        try Data(bytes).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func testImportSpawnExecAndShowAuxv() throws {
        let host = try tempFile(Self.tinyELF())
        let text = try tempFile(Array("#!/bin/sh\n".utf8))
        let src = """
        import \(host) as /bin/tiny
        import \(text) as /bin/script
        spawn /home/user/old
        exec /bin/tiny one
        show vmas
        show auxv | grep AT_E
        exec /bin/script
        """
        let (out, err, status) = try run(src, RunOptions(check: true, allowHostFiles: true))
        XCTAssertEqual(out, """
        imported /bin/tiny (4112 bytes, ELF64 x86-64 ET_EXEC, static)
        imported /bin/script (10 bytes, not loadable: not an ELF file (bad magic))
        [pid 1000] execve("/home/user/old", ["/home/user/old"], 0x7fffffffee38 /* 3 vars */) = 0
        execve("/bin/tiny", ["/bin/tiny", "one"], 0x7fffffffee38 /* 3 vars */) = 0
        0x400000-0x401000 r--p 4 kB /bin/tiny
        0x401000-0x402000 rw-p 4 kB /bin/tiny [account]
        0x402000-0x403000 rw-p 4 kB anonymous [account]
        0x7ffff7ff7000-0x7ffff7ffb000 r--p 16 kB [vvar]
        0x7ffff7ffb000-0x7ffff7ffd000 r--p 8 kB [vvar_vclock]
        0x7ffff7ffd000-0x7ffff7fff000 r-xp 8 kB [vdso]
        0x7ffffffde000-0x7ffffffff000 rw-p 132 kB anonymous [account,growsdown]
        AT_ENTRY:             0x400100
        AT_EUID:              1000
        AT_EGID:              1000
        AT_EXECFN:            /bin/tiny
        execve("/bin/script", ["/bin/script"], 0x7fffffffedf0 /* 3 vars */) = -1 ENOEXEC

        """)
        XCTAssertEqual(err, """
        t.mmsim:7:1: error: exec: ENOEXEC: '/bin/script': not an ELF file (bad magic)
        exec /bin/script
        ^

        """)
        XCTAssertEqual(status, 1)
    }

    func testImportErrorsAndPermission() throws {
        let host = try tempFile(Self.tinyELF())
        var (_, err, status) = try run("import \(host)")
        XCTAssertEqual(err.split(separator: "\n").first.map(String.init),
                       "t.mmsim:1:1: error: importing host files is disabled here (mmsim run allows it unless --no-host-files is given)")
        XCTAssertEqual(status, 1)
        (_, err, status) = try run("  import /no/such/file", RunOptions(allowHostFiles: true))
        XCTAssertEqual(err.split(separator: "\n").first.map(String.init), "t.mmsim:1:3: error: cannot import '/no/such/file': No such file or directory")
        (_, err, status) = try run("import \(host) as /a\nimport \(host) as /a", RunOptions(allowHostFiles: true))
        XCTAssertEqual(err.split(separator: "\n").first.map(String.init), "t.mmsim:2:1: error: import: '/a' already exists")
        (_, err, status) = try run("import \(host) as /a\nspawn /a nopie", RunOptions(allowHostFiles: true))
        XCTAssertEqual(err.split(separator: "\n").first.map(String.init), "t.mmsim:2:10: error: '/a' is an imported file: its layout comes from its ELF headers, so pie, nopie, text=, rodata=, data= and bss= do not apply")
        (_, err, status) = try run("spawn /bin/x\nshow auxv", RunOptions(allowHostFiles: true))
        XCTAssertEqual(err.split(separator: "\n").first.map(String.init), "t.mmsim:2:1: error: process 1000 (x) runs a synthetic image (spawn without an imported ELF file): it has no auxiliary vector")
        XCTAssertEqual(status, 1)
    }

    /// kernel.randomize_va_space and the seed: same seed, same layout; another seed, another.
    func testASLRFromSysctlAndSeed() throws {
        let host = try tempFile(Self.tinyELF())
        let src = "machine seed=7\nsysctl kernel.randomize_va_space=2\nimport \(host) as /bin/tiny\nspawn /bin/tiny\nshow vmas\nshow status | grep VmStk"
        let a = try run(src, RunOptions(allowHostFiles: true))
        let b = try run(src, RunOptions(allowHostFiles: true))
        let c = try run(src, RunOptions(allowHostFiles: true, seed: 8))
        XCTAssertEqual(a.0, b.0)
        XCTAssertNotEqual(a.0, c.0)
        XCTAssertEqual(a.2, 0)
        // ET_EXEC segments stay; the vDSO and the stack move.
        XCTAssertTrue(a.0.contains("0x400000-0x401000 r--p 4 kB /bin/tiny"))
        XCTAssertFalse(a.0.contains("0x7ffffffde000-0x7ffffffff000"))
        XCTAssertFalse(a.0.contains("[vdso]\n0x7ffff7ff"))
        let off = try run(src.replacingOccurrences(of: "=2", with: "=0"), RunOptions(allowHostFiles: true, seed: 8))
        XCTAssertTrue(off.0.contains("0x7ffff7ffd000-0x7ffff7fff000 r-xp 8 kB [vdso]"))
        XCTAssertTrue(off.0.contains("0x7ffffffde000-0x7ffffffff000 rw-p 132 kB anonymous"))
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
           1000    1000       0   0 Rl    10532    16     0x3004     2     1 /bin/app
           1000    1001       0   1 Rl    10532    16     0x3004     2     1 /bin/app
           1002    1002       0   0 I         0     0          -     -     - [kworker]
                   CPU0       CPU1       
        TLB:          0          1   TLB shootdowns

        """)
    }
}
