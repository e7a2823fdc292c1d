import XCTest
import MMCore
@testable import MMProcFS

/// The procfs view of transparent huge pages: meminfo's AnonHugePages, the per-VMA smaps lines,
/// smaps_rollup, status RssAnon and the vmstat thp lines, exactly.
final class THPProcFSTests: XCTestCase {
    func lines(_ text: String, _ prefix: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    func testAnonHugePagesEverywhere() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20, thp: .madvise))
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(t, addr: 0x4000_0000, length: 4 << 20, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 4 << 20, advice: .hugepage).get())
        let anon0 = lines(ProcFS.status(k, t), "RssAnon:")
        XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
        XCTAssertEqual(lines(ProcFS.meminfo(k), "AnonHugePages:"), ["AnonHugePages:      4096 kB"])
        XCTAssertEqual(lines(ProcFS.meminfo(k), "ShmemHugePages:"), ["ShmemHugePages:        0 kB"])
        XCTAssertEqual(lines(ProcFS.meminfo(k), "FileHugePages:"), ["FileHugePages:         0 kB"])
        // The VMA's smaps block (the first lines after its header): 4 MiB resident, all of it in PMD-mapped THPs.
        let smaps = ProcFS.smaps(k, t)
        let block = smaps.components(separatedBy: "40000000-40400000 rw-p").dropFirst().first ?? ""
        XCTAssertEqual(lines(String(block), "Rss:").first, "Rss:                4096 kB")
        XCTAssertEqual(lines(String(block), "Anonymous:").first, "Anonymous:          4096 kB")
        XCTAssertEqual(lines(String(block), "AnonHugePages:").first, "AnonHugePages:      4096 kB")
        XCTAssertEqual(lines(String(block), "THPeligible:").first, "THPeligible:           1")
        XCTAssertEqual(lines(ProcFS.smapsRollup(k, t), "AnonHugePages:"), ["AnonHugePages:      4096 kB"])
        // RssAnon grew by 4096 kB: a THP counts as 512 pages.
        let kb = { (s: [String]) in Int(s.first!.split(separator: " ").dropFirst().first!)! }
        XCTAssertEqual(kb(lines(ProcFS.status(k, t), "RssAnon:")) - kb(anon0), 4096)
        let vm = ProcFS.vmstat(k)
        XCTAssertEqual(lines(vm, "nr_anon_transparent_hugepages"), ["nr_anon_transparent_hugepages 2"])
        XCTAssertEqual(lines(vm, "thp_").prefix(5), ["thp_fault_alloc 2", "thp_fault_fallback 0", "thp_fault_fallback_charge 0",
                                                    "thp_collapse_alloc 0", "thp_collapse_alloc_failed 0"])
        XCTAssertEqual(lines(vm, "thp_").count, 22)
        // A partial munmap: one THP is left, the split one's remaining 1 MiB is in 4 KiB pages.
        XCTAssertNoThrow(try k.munmap(t, addr: a.raw, length: 1 << 20).get())
        XCTAssertEqual(lines(ProcFS.meminfo(k), "AnonHugePages:"), ["AnonHugePages:      2048 kB"])
        let block2 = ProcFS.smaps(k, t).components(separatedBy: "40100000-40400000 rw-p").dropFirst().first ?? ""
        XCTAssertEqual(lines(String(block2), "Rss:").first, "Rss:                3072 kB")
        XCTAssertEqual(lines(String(block2), "AnonHugePages:").first, "AnonHugePages:      2048 kB")
        XCTAssertEqual(lines(ProcFS.vmstat(k), "thp_split_pmd"), ["thp_split_pmd 1"])
        XCTAssertEqual(lines(ProcFS.vmstat(k), "thp_deferred_split_page"), ["thp_deferred_split_page 1"])
        XCTAssertEqual(k.checkInvariants(), [])
    }
}
