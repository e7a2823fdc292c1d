import XCTest
@testable import MMCore

/// VMA merging as Linux decides it, and munmap splitting.
final class VMAMergeTests: VMTestCase {

    func testMergeWithPrev() {
        //   F          F+0x3000     F+0x6000
        //   |---- A ----|
        //   after mmap(F+0x3000, 0x3000):
        //   |---------- A+B ----------|
        map(F, 0x3000)
        map(F + 0x3000, 0x3000)
        XCTAssertEqual(layout, ["0x10000000-0x10006000"])
        XCTAssertEqual(mm.vmas[0].pgoff, F >> 12)
    }

    func testMergeWithNext() {
        //   F          F+0x3000     F+0x6000
        //                |---- B ----|
        //   after mmap(F, 0x3000):
        //   |---------- A+B ----------|   (B's pgoff becomes A's)
        map(F + 0x3000, 0x3000)
        map(F, 0x3000)
        XCTAssertEqual(layout, ["0x10000000-0x10006000"])
        XCTAssertEqual(mm.vmas[0].pgoff, F >> 12)
    }

    func testMergeWithBoth() {
        //   F        F+0x1000  F+0x2000  F+0x3000
        //   |-- A --|          |-- C --|
        //   after mmap(F+0x1000, 0x1000):
        //   |------------ A+B+C ---------|
        map(F, 0x1000)
        map(F + 0x2000, 0x1000)
        XCTAssertEqual(mm.vmas.count, 2)
        map(F + 0x1000, 0x1000)
        XCTAssertEqual(layout, ["0x10000000-0x10003000"])
        XCTAssertEqual(mm.totalVM, 3)
    }

    func testNoMergeWhenFlagsDiffer() {
        //   |-- A rw- --|-- B r-- --|-- C rwx --|
        map(F, 0x1000, PROT_RW)
        map(F + 0x1000, 0x1000, PROT_RO)
        map(F + 0x2000, 0x1000, [.read, .write, .exec])
        XCTAssertEqual(perms, ["rw-p", "r--p", "rwxp"])
        // MAP_PRIVATE next to MAP_SHARED anonymous: VM_SHARED differs.
        map(F + 0x3000, 0x1000, [.read, .write, .exec], [.shared, .anonymous, .fixed])
        XCTAssertEqual(mm.vmas.count, 4)
        XCTAssertEqual(mm.execVM, 0)   // rwx is writable: data, not exec
        XCTAssertEqual(mm.dataVM, 2)
    }

    func testSharedAnonymousMappingsNeverMerge() {
        //   F              F+0x2000       F+0x3000
        //   |---- S1 rw-s ----|-- S2 rw-s --|   two shmem objects: no merge
        let shared: MapFlags = [.shared, .anonymous, .fixed]
        map(F, 0x2000, PROT_RW, shared)
        map(F + 0x2000, 0x1000, PROT_RW, shared)
        XCTAssertEqual(mm.vmas.count, 2)
        XCTAssertNotEqual(mm.vmas[0].shmemObject, mm.vmas[1].shmemObject)
        XCTAssertEqual(mm.vmas.vmas.map(\.pgoff), [0, 0])
        // Pieces of one object do re-merge:
        //   after mprotect(F+0x1000, 0x1000, PROT_READ):  |S1|S1' r--|S2|
        XCTAssertNil(errno(k.mprotect(t, addr: F + 0x1000, length: 0x1000, prot: PROT_RO)))
        XCTAssertEqual(perms, ["rw-s", "r--s", "rw-s"])
        //   after mprotect(F+0x1000, 0x1000, PROT_READ|PROT_WRITE):  |-- S1 --|S2|
        XCTAssertNil(errno(k.mprotect(t, addr: F + 0x1000, length: 0x1000, prot: PROT_RW)))
        XCTAssertEqual(layout, ["0x10000000-0x10002000", "0x10002000-0x10003000"])
        XCTAssertEqual(k.committedPages, 0)
    }

    func testAnonVMACompatibility() {
        //   F        F+0x1000  F+0x2000  F+0x3000
        //   |A av=1 |          |C av=2 |
        map(F, 0x1000)
        map(F + 0x2000, 0x1000)
        mm.vmas[0].anonVMA = 1
        mm.vmas[1].anonVMA = 2
        // B (no anon_vma yet) is compatible with each but A and C are not compatible with each
        // other: B merges with prev only.
        //   |---- A+B av=1 ---|C av=2 |
        map(F + 0x1000, 0x1000)
        XCTAssertEqual(layout, ["0x10000000-0x10002000", "0x10002000-0x10003000"])
        XCTAssertEqual(mm.vmas.vmas.map(\.anonVMA), [1, 2])
    }

    func testNewAnonymousVMAMergesWithFaultedNeighbour() {
        //   |A av=7 |   then B (no anon_vma) after it:   |--A+B av=7--|
        map(F, 0x1000)
        mm.vmas[0].anonVMA = 7
        map(F + 0x1000, 0x1000)
        XCTAssertEqual(layout, ["0x10000000-0x10002000"])
        XCTAssertEqual(mm.vmas[0].anonVMA, 7)
        //   F+0x4000  F+0x5000  F+0x6000
        //             |C av=9 |      then D before it:   |--D+C av=9--|
        map(F + 0x5000, 0x1000)
        mm.vmas[1].anonVMA = 9
        map(F + 0x4000, 0x1000)
        XCTAssertEqual(layout, ["0x10000000-0x10002000", "0x10004000-0x10006000"])
        XCTAssertEqual(mm.vmas.vmas.map(\.anonVMA), [7, 9])
        XCTAssertEqual(mm.vmas[1].pgoff, (F + 0x4000) >> 12)
    }

    func testMovedAnonymousAreaDoesNotMergeByPgoff() {
        // An anonymous VMA whose pgoff is not contiguous (it came from elsewhere by mremap
        // after being faulted) does not merge although flags match:
        //   F       F+0x1000
        //   |-- A --|-- B (pgoff 5) --|
        map(F + 0x10000, 0x1000)
        mm.vmas[0].anonVMA = 3
        XCTAssertEqual(k.anonVMAPrepare(mm, VirtAddr(F + 0x10000)), 3)
        XCTAssertEqual(try k.mremap(t, oldAddr: F + 0x10000, oldSize: 0x1000, newSize: 0x1000,
                                    flags: [.maymove, .fixed], newAddr: F + 0x1000).get().raw, F + 0x1000)
        XCTAssertEqual(mm.vmas[0].pgoff, (F + 0x10000) >> 12)
        map(F, 0x1000)
        XCTAssertEqual(mm.vmas.count, 2)
    }

    func testHeapNamingFollowsAddresses() {
        mm.startBrk = F
        mm.brk = F
        XCTAssertEqual(k.brk(t, F + 0x2000), F + 0x2000)
        //   F (start_brk)     F+0x2000 (brk)  F+0x3000
        //   |---- brk area ----|-- anon mmap --|    same flags: they merge, and maps then
        //   shows the whole VMA as [heap] (show_map_vma() compares addresses, not flags).
        map(F + 0x2000, 0x1000)
        XCTAssertEqual(layout, ["0x10000000-0x10003000"])
        XCTAssertTrue(mm.vmaIsHeap(mm.vmas[0]))
    }

    // MARK: munmap

    func testMunmapMiddleSplitsInThree() {
        //   F                                 F+0x6000
        //   |--------------- A ---------------|
        //   after munmap(F+0x2000, 0x2000):
        //   |--- A ---|   (hole)   |--- A'' --|
        map(F, 0x6000)
        XCTAssertNil(errno(k.munmap(t, addr: F + 0x2000, length: 0x2000)))
        XCTAssertEqual(layout, ["0x10000000-0x10002000", "0x10004000-0x10006000"])
        XCTAssertEqual(mm.vmas.vmas.map(\.pgoff), [F >> 12, (F >> 12) + 4])
        XCTAssertEqual(mm.totalVM, 4)
        XCTAssertEqual(mm.dataVM, 4)
        XCTAssertEqual(k.committedPages, 4)
        // Unmapping across the hole and parts of both sides.
        //   |A|                         |A''|
        XCTAssertNil(errno(k.munmap(t, addr: F + 0x1000, length: 0x4000)))
        XCTAssertEqual(layout, ["0x10000000-0x10001000", "0x10005000-0x10006000"])
        XCTAssertEqual(k.committedPages, 2)
        // Nothing mapped there: success.
        XCTAssertNil(errno(k.munmap(t, addr: F + 0x100000, length: 0x1000)))
        // An unaligned length is rounded up.
        XCTAssertNil(errno(k.munmap(t, addr: F, length: 1)))
        XCTAssertEqual(layout, ["0x10005000-0x10006000"])
    }

    func testMunmapErrnos() {
        map(F, 0x2000)
        XCTAssertEqual(errno(k.munmap(t, addr: F + 1, length: 0x1000)), .EINVAL)
        XCTAssertEqual(errno(k.munmap(t, addr: F, length: 0)), .EINVAL)
        XCTAssertEqual(errno(k.munmap(t, addr: F, length: UInt64.max)), .EINVAL)
        XCTAssertEqual(errno(k.munmap(t, addr: 0xffff_ffff_ffff_f000, length: 0x1000)), .EINVAL)
        XCTAssertEqual(errno(k.munmap(t, addr: 0x7ffffffff000, length: 0x2000)), .EINVAL)
        XCTAssertEqual(layout, ["0x10000000-0x10002000"])
    }

    func testMunmapSplitRespectsMaxMapCount() {
        //   |------ A (3 pages) ------|  with max_map_count 1
        map(F, 0x3000)
        k.sysctl.maxMapCount = 1
        // Splitting A in three would leave two VMAs: refused.
        XCTAssertEqual(errno(k.munmap(t, addr: F + 0x1000, length: 0x1000)), .ENOMEM)
        // Cutting off the head leaves one VMA: allowed.
        //   (hole)|---- A' ----|
        XCTAssertNil(errno(k.munmap(t, addr: F, length: 0x1000)))
        XCTAssertEqual(layout, ["0x10001000-0x10003000"])
    }
}
