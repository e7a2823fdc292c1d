import XCTest
import MMCore
@testable import MMScenario

/// The page-cache commands end to end: `--explain` narrates each mechanism in one line.
final class PageCacheRunnerTests: XCTestCase {
    func testExplainNarratesThePageCacheSteps() throws {
        let src = """
        machine ram=256M
        file create /data/f size 256K fill 1
        spawn /bin/r
        mmap 0x7f0000000000 256K rw- shared,fixed file /data/f as p
        read p+0x10000 u8
        read p+0x11000 u8
        write p+0x11000 5 u8
        mmap 0x7f0000100000 64K rw- private,fixed file /data/f as q
        write q 7 u8
        msync p 256K
        munmap p 256K
        sysctl vm.drop_caches=1
        """
        let s = try Parser.parse(src, file: "t.mmsim")
        var out = ""
        XCTAssertEqual(Runner(scenario: s, options: RunOptions(explain: true, check: true)).run(out: { out += $0 }, err: { out += $0 }), 0)
        let mechanisms = out.split(separator: "\n").filter {
            ["    do_", "    filemap", "    msync:", "    drop_caches"].contains(where: $0.hasPrefix)
        }
        XCTAssertEqual(mechanisms.joined(separator: "\n"), """
            do_fault_around: PTEs 16-31 of table PFN 0x302e (file pages 16-31): 0 cached page(s) mapped
            filemap_fault: page 16 of /data/f is not cached: read from disk into PFN 0x2ed7 with 31 more page(s) of read-around [0, 32) — a major fault
            do_read_fault: page cache page PFN 0x2ed7 mapped; PTE[16] in table PFN 0x302e = P US A NX pfn=0x2ed7
            do_fault_around: PTEs 16-31 of table PFN 0x302e (file pages 16-31): 15 cached page(s) mapped, the faulting one among them
            do_wp_page: shared page cache page PFN 0x2ee8 marked dirty and made writable (wp_page_shared)
            filemap_fault: page 0 of /data/f is in the page cache (PFN 0x2ed8): minor fault
            do_cow_fault: page cache page PFN 0x2ed8 copied into new anonymous page PFN 0x2ef7 (the file is unchanged); PTE = P RW US A D NX pfn=0x2ef7
            msync: 1 dirty page(s) written back
            drop_caches 1: 34 clean unmapped page-cache page(s) freed
        """)
    }

    func testFileCommandsPrintTheirResults() throws {
        let src = """
        machine ram=64M
        file create /data/f size 10000
        file write /data/f offset 9999 "ab"
        file read /data/f
        sync
        file create /dev/shm/big size 64M tmpfs fill 1
        """
        let s = try Parser.parse(src, file: "t.mmsim")
        var out = ""
        XCTAssertEqual(Runner(scenario: s, options: RunOptions(check: true)).run(out: { out += $0 }, err: { out += $0 }), 0)
        XCTAssertEqual(out, """
        file /data/f: 10000 bytes on disk, inode 2000001
        pwrite(/data/f, 2, 9999) = 2
        read /data/f [0, +10001): 2 pages read from disk into the page cache
        sync: 1 dirty page written back
        file /dev/shm/big: -1 ENOSPC (No space left on device) after 3991 pages

        """)
    }
}
