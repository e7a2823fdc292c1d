import XCTest
@testable import MMCore

/// Transparent huge pages and hugetlbfs on every machine format: the huge leaf is written in
/// that format's encoding (x86 PS, ARM64 block descriptor, RISC-V megapage/gigapage), the MMU
/// translates through it, and fault counts, data and invariants are the same as on x86-64.
final class HugePagesArchTests: XCTestCase {
    static let archs = ["x86-64", "x86-64-la57", "arm64-4k-39", "arm64-4k-48", "sv39", "sv48", "sv57"]
    let rw: Prot = [.read, .write]

    func machine(_ name: String) throws -> (Kernel, Task) {
        var c = MachineConfig(ramBytes: 4 << 30, thp: .madvise)
        c.arch = try XCTUnwrap(Architecture(name: name))
        let k = try Kernel(config: c)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        return (k, t)
    }

    /// Asserts that the raw entry at `slot` is a huge leaf in the machine's own encoding.
    func assertHugeLeaf(_ k: Kernel, _ slot: PTESlot, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let raw = k.phys.paging.readRaw(k.phys.contents, slot.table, slot.index)
        switch k.phys.paging.encoding {
        case .arm64: XCTAssertEqual(raw & 3, 1, "\(name): an ARM64 block descriptor has bits 1:0 = 01", file: file, line: line)
        case .riscv: XCTAssertEqual(raw & 3, 3, "\(name): a RISC-V leaf is valid and readable", file: file, line: line)
        default: XCTAssertNotEqual(raw & PTE.pse, 0, "\(name): an x86 huge leaf has PS", file: file, line: line)
        }
    }

    func testTHPOnEveryArchitecture() throws {
        for name in Self.archs {
            let (k, t) = try machine(name)
            let a = try k.mmap(t, addr: 0x4000_0000, length: 4 << 20, prot: rw, flags: [.private, .anonymous, .fixed]).get()
            XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 4 << 20, advice: .hugepage).get())
            let flt0 = t.minFlt
            XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + 0x1234), [0xab]).get(), name)
            XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + (3 << 20)), [0xcd]).get(), name)
            XCTAssertEqual(t.minFlt - flt0, 2, name)
            XCTAssertEqual(k.vmstat.thpFaultAlloc, 2, name)
            let slot = try XCTUnwrap(k.pmdLookup(t.mm!, a), name)
            assertHugeLeaf(k, slot, name)
            XCTAssertTrue(k.phys.readPMD(slot).isHuge, name)
            // The rest of the 2 MiB page translates through the same leaf: no more faults.
            XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x1234), count: 1).get(), [0xab], name)
            XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x1f_0000), count: 1).get(), [0], name)
            XCTAssertEqual(t.minFlt - flt0, 2, name)
            // A partial munmap splits the PMD; the data stays.
            XCTAssertNoThrow(try k.munmap(t, addr: a.raw + (1 << 20), length: 1 << 20).get())
            XCTAssertEqual(k.vmstat.thpSplitPMD, 1, name)
            XCTAssertFalse(k.phys.readPMD(slot).isHuge, name)
            XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x1234), count: 1).get(), [0xab], name)
            XCTAssertEqual(try k.load(t, VirtAddr(a.raw + (3 << 20)), count: 1).get(), [0xcd], name)
            XCTAssertEqual(k.checkInvariants(), [], name)
        }
    }

    func testHugetlbOnEveryArchitecture() throws {
        let huge1G = MapFlags(rawValue: 30 << MMCore.MAP_HUGE_SHIFT)
        for name in Self.archs {
            let (k, parent) = try machine(name)
            XCTAssertEqual(k.setMaxHugePages(1, 1), 1, name)
            XCTAssertEqual(k.setMaxHugePages(0, 2), 2, name)
            let a = try k.mmap(parent, addr: 0, length: 2 << 20, prot: rw, flags: [.private, .anonymous, .hugetlb]).get()
            XCTAssertNoThrow(try k.store(parent, VirtAddr(a.raw + 8), [0x55]).get(), name)
            assertHugeLeaf(k, try XCTUnwrap(k.pmdLookup(parent.mm!, a), name), name)
            let child = try k.fork(parent).get()
            XCTAssertEqual(try k.load(child, VirtAddr(a.raw + 8), count: 1).get(), [0x55], name)
            // The child's write copies the whole 2 MiB page (hugetlb_wp).
            XCTAssertNoThrow(try k.store(child, VirtAddr(a.raw + 8), [0x66]).get(), name)
            XCTAssertEqual(k.hugetlb.hstates[0].free, 0, name)
            XCTAssertEqual(try k.load(parent, VirtAddr(a.raw + 8), count: 1).get(), [0x55], name)
            // A 1 GiB page: one leaf one level above the PMD.
            let g = try k.mmap(parent, addr: 0, length: 1 << 30, prot: rw, flags: MapFlags([.private, .anonymous, .hugetlb]).union(huge1G)).get()
            let flt0 = parent.minFlt
            XCTAssertNoThrow(try k.store(parent, VirtAddr(g.raw + (512 << 20)), [7]).get(), name)
            XCTAssertEqual(try k.load(parent, VirtAddr(g.raw + (1 << 30) - 1), count: 1).get(), [0], name)
            XCTAssertEqual(parent.minFlt - flt0, 1, name)
            let f = k.phys.paging
            let table = try XCTUnwrap(k.phys.tableAt(parent.mm!.pgd, g, level: f.pmdLevel - 1), name)
            assertHugeLeaf(k, PTESlot(table: table, index: f.index(g, level: f.pmdLevel - 1)), name)
            XCTAssertEqual(k.checkInvariants(), [], name)
            k.exitTask(child, status: 0)
            XCTAssertNoThrow(try k.munmap(parent, addr: g.raw, length: 1 << 30).get())
            XCTAssertEqual(k.hugetlb.hstates[1].free, 1, name)
            XCTAssertEqual(k.hugetlb.hstates[0].free, 1, name)
            XCTAssertEqual(k.checkInvariants(), [], name)
        }
    }
}
