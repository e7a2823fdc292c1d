import XCTest
import MMCore
import MMProcFS
@testable import MMScenario

/// Parser unit tests: every command, every error with its exact position, hostile numbers.
final class ParserTests: XCTestCase {
    /// Returns the parsed scenario, failing the test on an error.
    func parse(_ src: String, file: StaticString = #filePath, line: UInt = #line) -> Scenario? {
        do { return try Parser.parse(src, file: "t.mmsim") } catch {
            XCTFail("unexpected error: \(error)", file: file, line: line); return nil
        }
    }

    func testEveryCommandParses() throws {
        let src = """
        machine ram=1G swap=512M min_free_kbytes=16384 tlb.l1d=32x4 tlb.l1i=64x4 tlb.stlb=1024x8 pcid=on
        # a comment
        sysctl vm.overcommit_memory=1 vm.overcommit_ratio=80
        sysctl -w vm.panic_on_oom=0
        sysctl vm.max_map_count
        spawn ./a.out as first nopie text=8K rodata=4K data=4K bss=16K oom_score_adj=-500 uid=0
        spawn b.out
        use first
        echo "hello ${4K:d}"   # trailing comment
        note "heading"
        mmap 100M rw- private,anonymous as buf
        mmap 0x10000000 4K read|write MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED as fixedbuf
        munmap buf 4K
        mprotect buf+4K 4K r--
        brk NULL as top
        brk top+8K
        sbrk -4K as old
        mremap buf 8K 16K maymove as moved
        mremap moved 16K 16K maymove fixed 0x20000000
        madvise moved 16K dontneed
        mlock moved 16K onfault
        munlock moved 16K
        malloc 100 as p
        calloc 10 8 as q
        realloc p 200
        free q
        write p 42 u32
        write p "string"
        read p u32 expect 42 as v
        touch p 200 read
        getpagesize
        show maps
        show status for first
        show meminfo | grep MemFree
        cat /proc/self/smaps
        cat /proc/b.out/status
        cat /proc/1000/maps
        free -h
        free
        exit 3
        """
        let s = try XCTUnwrap(parse(src))
        XCTAssertEqual(s.stepCount, 38)
        XCTAssertEqual(s.machine.ramBytes, 1 << 30)
        XCTAssertEqual(s.machine.swapBytes, 512 << 20)
        XCTAssertEqual(s.machine.minFreeKbytes, 16384)
        XCTAssertEqual(s.machine.tlb, TLBConfig(l1d: .init(entries: 32, ways: 4), l1i: .init(entries: 64, ways: 4),
                                                stlb: .init(entries: 1024, ways: 8), pcid: true))
        let st = s.statements
        guard case .spawn(let spec) = st[3].command else { return XCTFail("spawn") }
        XCTAssertEqual(spec.name, "first")
        XCTAssertEqual(spec.image, ProgramImage(path: "./a.out", pie: false, textBytes: 8192, rodataBytes: 4096, dataBytes: 4096, bssBytes: 16384))
        XCTAssertEqual(spec.oomScoreAdj, -500)
        XCTAssertEqual(spec.uid, 0)
        guard case .spawn(let spec2) = st[4].command else { return XCTFail("spawn") }
        XCTAssertEqual(spec2.name, "b.out")
        XCTAssertEqual(st[6].text, "echo \"hello ${4K:d}\"")
        guard case .mmap(nil, let len, let prot, let flags, "buf") = st[8].command else { return XCTFail("mmap") }
        XCTAssertEqual(len.constantValue, 100 << 20)
        XCTAssertEqual(prot, [.read, .write])
        XCTAssertEqual(flags, [.private, .anonymous])
        guard case .mmap(let a?, _, _, let f2, _) = st[9].command else { return XCTFail("mmap fixed") }
        XCTAssertEqual(a.constantValue, 0x1000_0000)
        XCTAssertEqual(f2, [.private, .anonymous, .fixed])
        guard case .sbrk(-4096, "old") = st[14].command else { return XCTFail("sbrk") }
        guard case .mremap(_, _, _, let mf, let na?, nil) = st[16].command else { return XCTFail("mremap") }
        XCTAssertEqual(mf, [.maymove, .fixed]); XCTAssertEqual(na.constantValue, 0x2000_0000)
        guard case .madvise(_, _, .dontneed) = st[17].command else { return XCTFail("madvise") }
        guard case .mlock(_, _, .onfault) = st[18].command else { return XCTFail("mlock") }
        guard case .realloc(_, _, "p") = st[22].command else { return XCTFail("realloc rebinds its variable") }
        guard case .freePointer = st[23].command else { return XCTFail("free(3)") }
        guard case .write(_, .integer(_, .u32)) = st[24].command else { return XCTFail("write") }
        guard case .write(_, .bytes(let b)) = st[25].command else { return XCTFail("write string") }
        XCTAssertEqual(b, Array("string".utf8) + [0])
        guard case .read(_, .u32, let ex?, "v") = st[26].command else { return XCTFail("read") }
        XCTAssertEqual(ex.constantValue, 42)
        guard case .touch(_, _, .read) = st[27].command else { return XCTFail("touch") }
        guard case .show(.status, .named("first"), nil) = st[30].command else { return XCTFail("show for") }
        XCTAssertEqual(st[31].filter, "MemFree")
        guard case .show(.smaps, .current, "/proc/self/smaps") = st[32].command else { return XCTFail("cat self") }
        guard case .show(.status, .named("b.out"), _) = st[33].command else { return XCTFail("cat name") }
        guard case .show(.maps, .pid(1000), _) = st[34].command else { return XCTFail("cat pid") }
        guard case .freeCommand(.human, _) = st[35].command else { return XCTFail("free -h") }
        guard case .freeCommand(.kibi, _) = st[36].command else { return XCTFail("free") }
        guard case .exit(3) = st[37].command else { return XCTFail("exit") }
    }

    func testNumbers() throws {
        XCTAssertEqual(try Values.number("42", column: 1), 42)
        XCTAssertEqual(try Values.number("0x2A", column: 1), 42)
        XCTAssertEqual(try Values.number("0x00000000000000000000ff", column: 1), 255)
        XCTAssertEqual(try Values.number("4K", column: 1), 4096)
        XCTAssertEqual(try Values.number("2g", column: 1), 2 << 30)
        XCTAssertEqual(try Values.number("15E", column: 1), 15 << 60)
        XCTAssertEqual(try Values.number("NULL", column: 1), 0)
        XCTAssertEqual(try Values.number("18446744073709551615", column: 1), UInt64.max)
        XCTAssertEqual(try Values.expression("0xffffffffffffffff-1+1", column: 1).constantValue, UInt64.max)
    }

    func testHostileNumbers() {
        assertError("spawn a\nmalloc 0xffffffffffffffff+1", 2, 8, "'0xffffffffffffffff+1' overflows 64 bits")
        assertError("spawn a\nmalloc 99999999999999999999", 2, 8, "number '99999999999999999999' does not fit in 64 bits")
        assertError("spawn a\nmalloc 16E", 2, 8, "number '16E' does not fit in 64 bits")
        assertError("spawn a\nmalloc 18446744073709551616", 2, 8, "number '18446744073709551616' does not fit in 64 bits")
        assertError("spawn a\nmalloc 0x10000000000000000", 2, 8, "number '0x10000000000000000' does not fit in 64 bits")
        assertError("spawn a\nmalloc 0x", 2, 8, "invalid hexadecimal number '0x'")
        assertError("spawn a\nmalloc 0xfg", 2, 8, "invalid hexadecimal number '0xfg'")
        assertError("spawn a\nmalloc 12Q", 2, 8, "invalid number '12Q' (expected decimal, 0x hex, a K/M/G/T/P/E size or NULL)")
        assertError("spawn a\nmalloc ４K", 2, 8, "invalid number '４K' (expected decimal, 0x hex, a K/M/G/T/P/E size or NULL)")
        assertError("spawn a\nmalloc 4K-8K", 2, 8, "'4K-8K' is negative (values are unsigned 64-bit)")
        assertError("spawn a\nmalloc -1", 2, 8, "expected a value before '-' (negative values are not allowed here)")
        assertError("spawn a\nmalloc 1+", 2, 10, "expected a value after '+'")
        assertError("spawn a\nsbrk -9223372036854775809", 2, 6, "increment -9223372036854775809 is out of range (-70368744177664...70368744177664)")
        assertError("spawn a\nsbrk 1P", 2, 6, "increment 1P is out of range (-70368744177664...70368744177664)")
        assertError("spawn a\nexit 256", 2, 6, "exit status 256 is out of range (0...255)")
        assertError("spawn a\nexit -1", 2, 6, "exit status -1 is out of range (0...255)")
        assertError("spawn a oom_score_adj=1001", 1, 23, "oom_score_adj 1001 is out of range (-1000...1000)")
        assertError("spawn a oom_score_adj=-99999999999999999999", 1, 23, "number '99999999999999999999' does not fit in 64 bits")
        assertError("spawn a\nwrite 0 256 u8", 2, 9, "value 256 does not fit in u8")
        assertError("spawn a\nread 0 u16 expect 0x10000", 2, 19, "expected value 0x10000 does not fit in u16")
        assertError("note \"${0xffffffffffffffff+1}\"", 1, 9, "'0xffffffffffffffff+1' overflows 64 bits")
    }

    func testFileCommandsParse() throws {
        let src = """
        machine fault_around_bytes=4096
        file create /data/f size 1M fill 0x41
        file create /dev/shm/t size 64K tmpfs
        file write /data/f offset 8 0x1234 u16
        file write /data/f offset 4097 "text"
        file read /data/f
        file read /data/f 4K 8K
        spawn /bin/p
        mmap 1M r-- private file /data/f as a
        mmap 0x7f0000000000 4K rw- shared,fixed file /dev/shm/t offset 0 as b
        mmap 8K r-x private file /bin/p offset 4K
        mmap 4K r-- private file /usr/lib/x86_64-linux-gnu/libc.so.6
        msync a 4K
        msync a 4K async|invalidate
        msync a 4K MS_SYNC
        sync
        show cache
        sysctl vm.drop_caches=3
        """
        let s = try XCTUnwrap(parse(src))
        XCTAssertEqual(s.stepCount, 17)
        XCTAssertEqual(s.machine.faultAroundPages, 1)
        guard case .fileCreate(let path, let size, let kind, let fill) = s.statements[0].command else { return XCTFail() }
        XCTAssertEqual(path, "/data/f"); XCTAssertEqual(size, 1 << 20); XCTAssertEqual(kind, .disk); XCTAssertEqual(fill, 0x41)
        guard case .fileCreate(_, _, .tmpfs, nil) = s.statements[1].command else { return XCTFail() }
        guard case .mmapFile(_, _, _, let flags, "/dev/shm/t", 0, "b") = s.statements[8].command else { return XCTFail() }
        XCTAssertEqual(flags, [.shared, .fixed])
        guard case .mmapFile(_, _, _, _, "/bin/p", 4096, nil) = s.statements[9].command else { return XCTFail() }
        guard case .msync(_, _, let mf) = s.statements[12].command else { return XCTFail() }
        XCTAssertEqual(mf, [.async, .invalidate])
    }

    func testFileCommandErrors() {
        assertError("file create data size 4K", 1, 13, "file path 'data' must be absolute")
        assertError("file create /d size 4K\nfile create /d size 4K", 2, 13, "file '/d' already exists")
        assertError("file create /d size 2T", 1, 21, "size 2T is beyond the model's maximum file size (1099511627776 bytes)")
        assertError("file create /d 4K", 1, 18, "'file create' needs PATH size N")
        assertError("file create /d size 4K fill 256", 1, 29, "fill byte 256 does not fit in u8")
        assertError("file create /d size 4K ramfs", 1, 24, "unknown 'file create' option 'ramfs' (known: tmpfs, fill BYTE)")
        assertError("file write /nope offset 0 1", 1, 12, "unknown file '/nope' (create it with 'file create PATH size N')")
        assertError("file create /d size 4K\nfile write /d offset 0 256 u8", 2, 24, "value 256 does not fit in u8")
        assertError("file create /d size 4K\nfile write /d offset 2T 1", 2, 22, "offset 2T is beyond the model's maximum file size (1099511627776 bytes)")
        assertError("file delete /d", 1, 6, "unknown 'file' command 'delete' (known: create, write, read)")
        assertError("spawn p\nmmap 4K r-- private file /nope", 2, 26, "unknown file '/nope' (create it with 'file create PATH size N')")
        assertError("file create /d size 4K\nspawn p\nmmap 4K r-- private file /d offset 100", 3, 36, "offset 100 is not a multiple of the page size (4096)")
        assertError("file create /d size 4K\nspawn p\nmmap 4K r-- private file /d at 0", 3, 29, "expected 'offset N' after the file path, found 'at'")
        assertError("file create /d size 4K\nspawn p\nmmap 4K r-- private,anonymous file /d", 3, 13, "'mmap … file' cannot be MAP_ANONYMOUS")
        assertError("spawn p\nmsync 0 4K flush", 2, 12, "unknown msync flag 'flush' (known: sync, async, invalidate)")
        assertError("msync 0 4K", 1, 1, "'msync' needs a running process; 'spawn' one first")
        assertError("sync now", 1, 6, "unexpected 'now' after 'sync' arguments")
        assertError("sysctl vm.drop_caches=0", 1, 23, "vm.drop_caches 0 is out of range (1...4)")
        assertError("machine fault_around_bytes=4M", 1, 28, "fault_around_bytes=4M is out of range (0...2M, one page table)")
    }

    func testMachineErrors() {
        assertError("machine ram=32M", 1, 13, "ram=32M is out of range (64M...1T)")
        assertError("machine ram=2T", 1, 13, "ram=2T is out of range (64M...1T)")
        assertError("machine ram=16E", 1, 13, "number '16E' does not fit in 64 bits")
        assertError("machine ram=1G min_free_kbytes=1G", 1, 32, "min_free_kbytes=1G is out of range (128...524288, half of RAM in KiB)")
        assertError("machine tlb.l1d=64x3", 1, 17, "tlb.l1d=64x3 is out of range (1 ≤ ways ≤ entries ≤ 65536, entries a multiple of ways)")
        assertError("machine tlb.stlb=64", 1, 18, "tlb.stlb must be ENTRIESxWAYS, e.g. 64x4")
        assertError("machine pcid=yes", 1, 14, "pcid must be 'on' or 'off', found 'yes'")
        assertError("machine ram=1G ram=2G", 1, 16, "'ram' given twice")
        assertError("machine cpus=65", 1, 14, "cpus=65 is out of range (1...64)")
        assertError("machine cpus=0", 1, 14, "cpus=0 is out of range (1...64)")
        assertError("machine cores=4", 1, 9, "unknown machine setting 'cores' (known: ram, swap, min_free_kbytes, tlb.l1d, tlb.l1d2m, tlb.l1d1g, tlb.l1i, tlb.l1i2m, tlb.stlb, tlb.stlb1g, pwc.pml4e, pwc.pdpte, pwc.pde, pcid, seed, cpus, fault_around_bytes, slab, thp, arch, hugepages)")
        assertError("machine tlb.l1d2m=30x4", 1, 19, "tlb.l1d2m=30x4 is out of range (1 ≤ ways ≤ entries ≤ 65536, entries a multiple of ways)")
        assertError("machine ram=1G tlb.stlb1g=16", 1, 27, "tlb.stlb1g must be ENTRIESxWAYS, e.g. 64x4")
        assertError("machine pwc.pde=2000", 1, 17, "pwc.pde=2000 is out of range (0...1024 entries, 0 = off)")
        assertError("machine ram", 1, 9, "expected KEY=VALUE, found 'ram'")
        assertError("machine thp=sometimes", 1, 13, "thp must be 'always', 'madvise' or 'never', found 'sometimes'")
        assertError("sysctl vm.overcommit_memory=1\nmachine ram=1G", 2, 1, "'machine' must come before every other command")
        assertError("machine\nmachine", 2, 1, "'machine' may appear only once")
    }

    func testTHPSysfsAndKhugepagedErrors() {
        let files = "enabled, defrag, use_zero_page, hpage_pmd_size, khugepaged/defrag, khugepaged/pages_to_scan, khugepaged/max_ptes_none, khugepaged/max_ptes_swap, khugepaged/max_ptes_shared, khugepaged/pages_collapsed, khugepaged/full_scans, khugepaged/scan_sleep_millisecs, khugepaged/alloc_sleep_millisecs"
        assertError("echo always > /sys/kernel/mm/transparent_hugepage/enable", 1, 15, "echo: no such file '/sys/kernel/mm/transparent_hugepage/enable' (files: \(files))")
        assertError("cat /sys/kernel/mm/transparent_hugepage/khugepaged/x", 1, 5, "cat: no such file '/sys/kernel/mm/transparent_hugepage/khugepaged/x' (files: \(files))")
        let hdirs = "directories: hugepages-2048kB, hugepages-1048576kB; files: nr_hugepages, free_hugepages, resv_hugepages, surplus_hugepages, nr_overcommit_hugepages"
        assertError("cat /sys/kernel/mm/hugepages/hugepages-4096kB/nr_hugepages", 1, 5, "no such file '/sys/kernel/mm/hugepages/hugepages-4096kB/nr_hugepages' (\(hdirs))")
        assertError("echo 3 > /sys/kernel/mm/hugepages/hugepages-2048kB/foo", 1, 10, "no such file '/sys/kernel/mm/hugepages/hugepages-2048kB/foo' (\(hdirs))")
        assertError("machine hugepages=3M:1", 1, 19, "hugepages must be 2M:N,1G:M (either part optional), found '3M:1'")
        assertError("sysctl vm.nr_hugepages=-1", 1, 24, "vm.nr_hugepages -1 is out of range (0...1073741824)")
        assertError("echo 1 > /sys/kernel/mm/ksm/run", 1, 10, "echo: only /proc/PID/oom_score_adj, /sys/kernel/mm/transparent_hugepage/* and /sys/kernel/mm/hugepages/* can be written, not '/sys/kernel/mm/ksm/run'")
        assertError("khugepaged 0", 1, 12, "khugepaged: '0' is not a number of wakeups in 1...10000")
        assertError("khugepaged 2 3", 1, 14, "unexpected '3' after 'khugepaged' arguments")
    }

    func testCPUVforkAndCloneErrors() {
        assertError("cpu 2", 1, 5, "no CPU 2: the machine has 1 CPU (set 'machine cpus=N')")
        assertError("machine cpus=2\ncpu 2", 2, 5, "no CPU 2: the machine has 2 CPUs (set 'machine cpus=N')")
        assertError("machine cpus=2\ncpu x", 2, 5, "invalid CPU number 'x' (expected a number)")
        assertError("spawn a\nuse a on cpu 1", 2, 14, "no CPU 1: the machine has 1 CPU (set 'machine cpus=N')")
        assertError("spawn a\nuse a on 1", 2, 10, "expected 'cpu K' after 'on'")
        assertError("vfork as c", 1, 1, "'vfork' needs a running process; 'spawn' one first")
        assertError("spawn a\nvfork", 2, 6, "'vfork' needs 'as NAME' to name the child")
        assertError("spawn a\nvfork as a", 2, 10, "redefinition of process 'a'")
        assertError("spawn a\nclone vm,bogus as c", 2, 10, "unknown clone flag 'bogus' (known: vm, vfork, thread)")
        assertError("spawn a\nclone thread as c", 2, 7, "CLONE_THREAD needs CLONE_VM (clone() would fail with EINVAL)")
        assertError("spawn a\nclone vm", 2, 9, "'clone' needs 'as NAME' to name the child")
    }

    func testCPUVforkAndCloneParse() throws {
        let s = try Parser.parse("machine cpus=4\nspawn a\nvfork as v\nclone vm|CLONE_VFORK as w\nclone vm,thread as t\nuse a on cpu 3\ncpu 1\nshow ps\ncat /proc/interrupts", file: "t")
        XCTAssertEqual(s.machine.cpus, 4)
        let st = s.statements
        guard case .vfork("v") = st[1].command else { return XCTFail("vfork") }
        guard case .clone("w", let f) = st[2].command, f == [.vm, .vfork] else { return XCTFail("clone vm|vfork") }
        guard case .clone("t", let g) = st[3].command, g == [.vm, .thread] else { return XCTFail("clone vm,thread") }
        guard case .use("a", cpu: 3) = st[4].command else { return XCTFail("use on cpu") }
        guard case .cpu(1) = st[5].command else { return XCTFail("cpu") }
        guard case .show(.ps, _, nil) = st[6].command else { return XCTFail("show ps") }
        guard case .show(.interrupts, _, "/proc/interrupts") = st[7].command else { return XCTFail("cat /proc/interrupts") }
        XCTAssertEqual(try Parser.parse("spawn a", file: "t").machine.cpus, 1, "one CPU by default")
    }

    func testCommandErrors() {
        assertError("frobnicate 1", 1, 1, "unknown command 'frobnicate'")
        assertError("fork as c", 1, 1, "'fork' needs a running process; 'spawn' one first")
        assertError("spawn a\nfork", 2, 5, "'fork' needs 'as NAME' to name the child")
        assertError("spawn a\nfork as a", 2, 9, "redefinition of process 'a'")
        assertError("spawn a\nfork as c extra", 2, 11, "unexpected 'extra' after 'fork' arguments")
        assertError("spawn a\nthread", 2, 7, "'thread' needs 'as NAME' to name the thread")
        assertError("kthread", 1, 8, "missing kernel thread name for 'kthread'")
        assertError("spawn a\nkthread a", 2, 9, "redefinition of process 'a'")
        assertError("thread as t", 1, 1, "'thread' needs a running process; 'spawn' one first")
        assertError("  mmap 4K rw- private,anonymous", 1, 3, "'mmap' needs a running process; 'spawn' one first")
        assertError("spawn a\nmmap 4K rw-", 2, 12, "'mmap' needs [ADDR] LENGTH PROT FLAGS")
        assertError("spawn a\nmmap 4K rw- private,anonymouse", 2, 21, "unknown mmap flag 'anonymouse' (known: shared, private, anonymous, fixed, fixed_noreplace, populate, noreserve, locked, growsdown, stack, hugetlb, huge_2mb, huge_1gb, nonblock)")
        assertError("spawn a\nmmap 4K rwz private", 2, 9, "unknown protection 'rwz' (use letters like rw- or read|write|exec|none)")
        assertError("spawn a\nmmap 4K rr- private", 2, 10, "'r' repeated in protection 'rr-'")
        assertError("spawn a\nmunmap 0x1000", 2, 14, "missing length for 'munmap'")
        assertError("spawn a\nmunmap 0x1000 4K 5", 2, 18, "unexpected '5' after 'munmap' arguments")
        assertError("spawn a\nfree p", 2, 6, "unknown variable 'p'")
        assertError("spawn a\nmalloc 1 as p\nmalloc 2 as p", 3, 13, "redefinition of variable 'p' (first bound on line 2)")
        assertError("spawn a\nmalloc 1 as 1p", 2, 13, "invalid variable name '1p' (letters, digits and _, not starting with a digit)")
        assertError("spawn a\nmalloc 1 as", 2, 12, "missing variable name after 'as'")
        assertError("spawn a as x\nspawn b as x", 2, 12, "redefinition of process 'x'")
        assertError("spawn a as 12", 1, 12, "invalid process name '12' (no '/', not a number, not 'self')")
        assertError("spawn a colour=red", 1, 9, "unknown spawn option 'colour' (known: as NAME, pie, nopie, text=, rodata=, data=, bss=, oom_score_adj=, uid=)")
        assertError("spawn a text=2G", 1, 14, "text=2G is out of range (0...1G)")
        assertError("spawn /", 1, 7, "cannot derive a process name from '/'; add 'as NAME'")
        assertError("use nobody", 1, 5, "unknown process 'nobody'")
        assertError("spawn a\nshow maps for nobody", 2, 15, "unknown process 'nobody'")
        assertError("show meminfo for a", 1, 14, "'show meminfo' is system-wide; 'for' is not allowed")
        assertError("show everything", 1, 6, "unknown 'show' item 'everything' (known: maps, smaps, status, vmas, meminfo, buddyinfo, vmstat, dmesg, tlb, mm, auxv, ps, interrupts, cache, swaps, smaps_rollup, oom_score, oom_score_adj, pmap, pmap-x, slabinfo, slabtop, vmallocinfo, pagetypeinfo, unusable_index, extfrag_index)")
        assertError("show maps", 1, 1, "'show' needs a running process; 'spawn' one first")
        assertError("cat /etc/passwd", 1, 5, "cat: unsupported file '/etc/passwd' (supported: /proc/meminfo, /proc/buddyinfo, /proc/vmstat, /proc/swaps, /proc/interrupts, /proc/slabinfo, /proc/vmallocinfo, /proc/pagetypeinfo, /sys/kernel/debug/extfrag/unusable_index, /sys/kernel/debug/extfrag/extfrag_index, /sys/kernel/mm/transparent_hugepage/*, /sys/kernel/mm/hugepages/*/*, /proc/PID/maps, /proc/PID/smaps, /proc/PID/smaps_rollup, /proc/PID/status, /proc/PID/oom_score, /proc/PID/oom_score_adj (PID = self, a number or a process name))")
        assertError("cat /proc/ghost/maps", 1, 11, "unknown process 'ghost'")
        assertError("policy", 1, 7, "missing policy name for 'policy' (known: fifo, lru, opt, mru, clock, rand, lfu, linux)")
        assertError("policy fifo,nru frames 3 refs 1", 1, 13, "unknown policy 'nru' (known: fifo, lru, opt, mru, clock, rand, lfu, linux)")
        assertError("policy lru frames 3,0 refs 1", 1, 21, "'0' is not a frame count in 1...4096")
        assertError("policy lru frames 3 refs 1,2,zz", 1, 30, "'zz' is not a page number (a decimal or 0x-hex integer below 2^64)")
        assertError("policy lru refs 1", 1, 18, "'policy' needs 'frames N'")
        assertError("policy lru frames 2", 1, 20, "'policy' needs 'refs P,P,…'")
        assertError("policy lru frames 2 refs 1 fast", 1, 28, "unexpected 'fast' in 'policy' (expected frames, refs, seed or compare)")
        assertError("policy lru frames", 1, 19, "missing value after 'frames'")
        assertError("pmap", 1, 1, "'pmap' needs a running process; 'spawn' one first")
        assertError("spawn a\npmap -x ghost", 2, 9, "unknown process 'ghost'")
        assertError("spawn a\npmap a b", 2, 8, "unexpected 'b' after 'pmap' arguments")
        assertError("spawn a\necho 1 > /proc/self/maps", 2, 10, "echo: only /proc/PID/oom_score_adj, /sys/kernel/mm/transparent_hugepage/* and /sys/kernel/mm/hugepages/* can be written, not '/proc/self/maps'")
        assertError("spawn a\necho x > /proc/a/oom_score_adj", 2, 6, "oom_score_adj must be an integer, found 'x'")
        assertError("spawn a\necho 1 > /proc/ghost/oom_score_adj", 2, 16, "unknown process 'ghost'")
        assertError("echo 1 > /proc/1000/oom_score_adj", 1, 1, "'echo' needs a running process; 'spawn' one first")
        assertError("sysctl vm.dirty_ratio=20", 1, 8, "unknown sysctl 'vm.dirty_ratio' (known: vm.overcommit_memory, vm.overcommit_ratio, vm.overcommit_kbytes, vm.panic_on_oom, vm.admin_reserve_kbytes, vm.user_reserve_kbytes, vm.max_map_count, vm.oom_kill_allocating_task, kernel.randomize_va_space, vm.drop_caches, vm.swappiness, vm.page-cluster, vm.nr_hugepages, vm.nr_overcommit_hugepages)")
        assertError("sysctl vm.overcommit_memory=3", 1, 29, "vm.overcommit_memory 3 is out of range (0...2)")
        assertError("sysctl", 1, 7, "missing vm.NAME or vm.NAME=VALUE for 'sysctl'")
        assertError("free -x", 1, 6, "unknown free option '-x' (use -b, -k, -m, -g or -h, and -l)")
        assertError("spawn a\nmalloc 1 | grep x", 2, 10, "'| grep' may only follow show, cat or free")
        assertError("free | sort", 1, 8, "expected 'grep PATTERN' after '|'")
        assertError("free | grep", 1, 12, "missing pattern after 'grep'")
        assertError("spawn a\ntouch 0 4K execute", 2, 12, "expected 'read' or 'write', found 'execute'")
        assertError("spawn a\nread 0 u12", 2, 8, "expected a width u8, u16, u32 or u64, found 'u12'")
        assertError("spawn a\nmadvise 0 4K sometimes", 2, 14, "unknown madvise advice 'sometimes' (known: normal, random, sequential, willneed, dontneed, free, remove, dontfork, dofork, mergeable, unmergeable, hugepage, nohugepage, dontdump, dodump, wipeonfork, keeponfork, cold, pageout)")
        assertError("spawn a\nmremap 0 4K 8K sideways", 2, 16, "unknown mremap option 'sideways' (known: maymove, dontunmap, fixed ADDR)")
        assertError("\"mmap\"", 1, 1, "expected a command, found a string")
    }

    func testExecCommandsParseAndReportErrors() throws {
        let s = try XCTUnwrap(parse("machine seed=0x2a\nsysctl kernel.randomize_va_space=2\nimport /usr/bin/ls\nimport ./a.out as /bin/a\nspawn /bin/a\nexec /usr/bin/ls -l \"two words\"\nshow auxv for a"))
        XCTAssertEqual(s.machine.seed, 42)
        XCTAssertEqual(s.stepCount, 6)
        guard case .importFile(let h, let a) = s.statements[2].command else { return XCTFail() }
        XCTAssertEqual(h, "./a.out"); XCTAssertEqual(a, "/bin/a")
        guard case .exec(let p, let argv) = s.statements[4].command else { return XCTFail() }
        XCTAssertEqual(p, "/usr/bin/ls"); XCTAssertEqual(argv, ["/usr/bin/ls", "-l", "two words"])
        guard case .spawn(let spec) = s.statements[3].command else { return XCTFail() }
        XCTAssertNil(spec.syntheticOptionColumn)
        guard case .spawn(let spec2) = try Parser.parse("spawn /bin/a as x uid=0 text=8K", file: "t").statements[0].command else { return XCTFail() }
        XCTAssertEqual(spec2.syntheticOptionColumn, 25)
        assertError("import", 1, 7, "missing host file path for 'import'")
        assertError("import /a as", 1, 13, "missing simulated path after 'as' for 'import'")
        assertError("import /a as b", 1, 14, "the simulated path 'b' must be absolute")
        assertError("import /a /b", 1, 11, "unexpected '/b' after 'import' arguments")
        assertError("exec /bin/ls", 1, 1, "'exec' needs a running process; 'spawn' one first")
        assertError("spawn a\nexec", 2, 5, "missing program path for 'exec'")
        assertError("spawn a\nexec ls", 2, 6, "the program path 'ls' must be absolute")
        assertError("sysctl kernel.randomize_va_space=3", 1, 34, "kernel.randomize_va_space 3 is out of range (0...2)")
        assertError("machine seed=-1", 1, 14, "invalid number '-1' (expected decimal, 0x hex, a K/M/G/T/P/E size or NULL)")
        assertError("show auxv", 1, 1, "'show' needs a running process; 'spawn' one first")
    }

    func testLexerAndTextErrors() {
        assertError("spawn a\necho \"unterminated", 2, 6, "unterminated string")
        assertError("spawn a\necho \"bad \\q escape\"", 2, 11, "unknown escape sequence '\\q' (use \\n, \\t, \\\\, \\\" or \\$)")
        assertError("spawn a\necho \"a\"b", 2, 9, "expected a space after the closing quote")
        assertError("spawn a\necho a\"b\"", 2, 7, "unexpected '\"' inside a word")
        assertError("spawn a\necho \"${nothing}\"", 2, 9, "unknown variable 'nothing'")
        assertError("spawn a\necho \"x ${4K:q}\"", 2, 9, "unknown format ':q' in '${…}' (use :d or :x)")
        assertError("spawn a\necho \"x ${4K\"", 2, 9, "unterminated '${' (expected '}')")
        assertError("spawn a\necho \"x ${}\"", 2, 9, "empty '${}'")
    }

    func testTextSegmentsAndEscapes() throws {
        let s = try XCTUnwrap(parse("note \"a\\tb \\$x ${4K:d}/${0x10}\" more"))
        guard case .note(let segs) = s.statements[0].command else { return XCTFail() }
        XCTAssertEqual(segs.count, 5)
        XCTAssertEqual(segs[0], .text("a\tb $x "))
        guard case .value(let e, .decimal) = segs[1] else { return XCTFail() }
        XCTAssertEqual(e.constantValue, 4096)
        XCTAssertEqual(segs[2], .text("/"))
        XCTAssertEqual(segs[4], .text(" more"))
    }

    func testRenderedDiagnosticHasCaretUnderTheColumn() {
        let e = ScenarioError(file: "f.mmsim", line: 3, column: 7, message: "boom", sourceLine: "\tab cd ef")
        XCTAssertEqual(e.rendered, "f.mmsim:3:7: error: boom\n\tab cd ef\n\t     ^\n")
    }

    func testCommentsBlankLinesAndCRLF() throws {
        let s = try XCTUnwrap(parse("# only comments\r\n\r\n   \r\nsysctl vm.overcommit_memory=2 # set\r\n"))
        XCTAssertEqual(s.stepCount, 1)
        XCTAssertEqual(s.statements[0].line, 4)
        XCTAssertEqual(s.statements[0].text, "sysctl vm.overcommit_memory=2")
    }

    func testBuiltInExamplesParse() throws {
        let all = Examples.all()
        XCTAssertEqual(all.map(\.name), ["arm32-machine", "arm64-48bit", "arm64-machine", "belady", "buddy", "cache-reclaim", "demo", "exec-ls", "fork-cow", "free", "highmem-arm32", "highmem", "hugetlb", "kmalloc-sizes", "kthread", "la57", "layout-arm32", "lazy-malloc", "mmap-100mb", "multilevel-walk", "no-mmu", "null-write", "oom-killer", "pagetable-cost", "panic-on-oom", "riscv-machine", "segmentation", "slab", "swap-storm", "thp", "threads", "toy-pagetable", "two-copies", "two-cpus", "vmalloc-vs-kmalloc"])
        for e in all {
            XCTAssertFalse(e.summary.isEmpty, e.name)
            XCTAssertNoThrow(try Parser.parse(e.source, file: e.name), e.name)
        }
    }
}
