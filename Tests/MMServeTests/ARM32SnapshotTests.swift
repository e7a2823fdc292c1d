import XCTest
import MMCore
@testable import MMServe

/// The visualizer's copied page tables of a 32-bit ARM machine: the PGD is a four-frame table of
/// 8-byte pairs, a PTE is its Linux word with the hardware word at +2048, kernel lowmem is in
/// 1 MiB sections (the odd MiB decoded from the pair's second word).
final class ARM32SnapshotTests: XCTestCase {
    func testWalkOfCopiedARMTables() throws {
        var c = MachineConfig(ramBytes: 2 << 30)
        c.arch = .arm32(ttbcrN: 0)
        let k = try Kernel(config: c)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let pgd = t.mm!.pgd
        let f = k.phys.paging
        // The stack's last page: 0xbefff000 is PGD 1527, PTE 511.
        let pair = f.readRaw(k.phys.contents, pgd, 1527, level: 0)
        let stackTable = PFN((pair & 0xffff_f000) >> 12)
        let copy = PageTableCopy.take(k, frames: (0..<4).map { pgd.advanced(by: $0) } + [stackTable], previous: nil)
        let stackPTE = f.readRaw(k.phys.contents, stackTable, 511, level: 1)
        XCTAssertEqual(stackPTE & 0xfff, 0x75f)
        XCTAssertEqual(stackPTE >> 32 & 0xfff, 0xc7f)
        let w = copy.walk(pid: t.pid, pgd: pgd.raw, va: 0xbeff_f010)
        XCTAssertEqual(w.levels.map(\.index), [1527, 511])
        XCTAssertEqual(w.levels.map(\.entry), [pair, stackPTE])
        XCTAssertEqual(w.physAddr, (stackPTE & 0xffff_f000) | 0x10)
        let kernel = copy.walk(pid: t.pid, pgd: pgd.raw, va: 0xc040_0123)
        XCTAssertEqual(kernel.levels.map(\.entry), [0x0051_140e_0041_140e])
        XCTAssertEqual(kernel.physAddr, 0x40_0123)
        XCTAssertEqual(kernel.lines.last, "=> 0x400123 (1M section, RWX kernel)")
        let odd = copy.walk(pid: t.pid, pgd: pgd.raw, va: 0xc0d0_0123)
        XCTAssertEqual(odd.physAddr, 0xd0_0123)
        XCTAssertEqual(odd.lines.last, "=> 0xd00123 (1M section, RW kernel)")
    }
}
