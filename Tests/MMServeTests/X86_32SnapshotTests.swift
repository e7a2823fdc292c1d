import XCTest
import MMCore
@testable import MMServe

/// The visualizer's copied page tables of an x86-32 machine: 4-byte entries read as halves of
/// the copied words, 1024 entries per table, 4 MiB kernel pages.
final class X86_32SnapshotTests: XCTestCase {
    func testWalkOfCopiedTwoLevelTables() throws {
        var c = MachineConfig(ramBytes: 2 << 30)
        c.arch = .x86_32
        let k = try Kernel(config: c)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let pgd = t.mm!.pgd
        let f = k.phys.paging
        let stackTable = PFN(f.readRaw(k.phys.contents, pgd, 767) >> 12)
        let copy = PageTableCopy.take(k, frames: [pgd, stackTable], previous: nil)
        let stackPTE = f.readRaw(k.phys.contents, stackTable, 1023)
        let w = copy.walk(pid: t.pid, pgd: pgd.raw, va: 0xbfff_f010)
        XCTAssertEqual(w.levels.map(\.index), [767, 1023])
        XCTAssertEqual(w.levels.map(\.entry), [f.readRaw(k.phys.contents, pgd, 767), stackPTE])
        XCTAssertEqual(w.physAddr, (stackPTE & 0xffff_f000) | 0x10)
        let kernel = copy.walk(pid: t.pid, pgd: pgd.raw, va: 0xc040_0123)
        XCTAssertEqual(kernel.levels.map(\.entry), [0x0040_01e3])
        XCTAssertEqual(kernel.physAddr, 0x40_0123)
        XCTAssertEqual(kernel.lines.last, "=> 0x400123 (4M page, RWX kernel)")
    }
}
