import XCTest
@testable import MMCore

/// mprotect, brk, mremap and stack growth.
final class MprotectBrkMremapTests: VMTestCase {

    // MARK: mprotect

    func testMprotectSplitAndRemerge() {
        //   0x10000000                            0x10003000
        //   |------------------ A rw- -------------|
        map(F, 0x3000)
        XCTAssertEqual(k.committedPages, 3)
        //   after mprotect(0x10001000, 0x1000, PROT_READ):
        //   |-- A rw- --|-- A' r-- --|-- A'' rw- --|
        XCTAssertNil(errno(k.mprotect(t, addr: F + 0x1000, length: 0x1000, prot: PROT_RO)))
        XCTAssertEqual(layout, ["0x10000000-0x10001000", "0x10001000-0x10002000", "0x10002000-0x10003000"])
        XCTAssertEqual(perms, ["rw-p", "r--p", "rw-p"])
        XCTAssertEqual(mm.vmas.vmas.map(\.pgoff), [F >> 12, (F >> 12) + 1, (F >> 12) + 2])
        // Never faulted (no anon_vma): the read-only part gives its charge back.
        XCTAssertEqual(k.committedPages, 2)
        XCTAssertEqual(mm.dataVM, 2)
        XCTAssertEqual(mm.totalVM, 3)
        //   after mprotect(0x10001000, 0x1000, PROT_READ|PROT_WRITE): one VMA again
        //   |------------------ A rw- -------------|
        XCTAssertNil(errno(k.mprotect(t, addr: F + 0x1000, length: 0x1000, prot: PROT_RW)))
        XCTAssertEqual(layout, ["0x10000000-0x10003000"])
        XCTAssertEqual(k.committedPages, 3)
        XCTAssertEqual(mm.dataVM, 3)
    }

    func testMprotectMergesWithNeighbourPartially() {
        //   |-- A r-- --|------ B rw- ------|
        //   after mprotect(start of B, 1 page, PROT_READ): the page joins A
        //   |---- A r-- ----|--- B rw- ----|
        map(F, 0x1000, PROT_RO)
        map(F + 0x1000, 0x2000, PROT_RW)
        XCTAssertNil(errno(k.mprotect(t, addr: F + 0x1000, length: 0x1000, prot: PROT_RO)))
        XCTAssertEqual(layout, ["0x10000000-0x10002000", "0x10002000-0x10003000"])
        XCTAssertEqual(perms, ["r--p", "rw-p"])
        XCTAssertEqual(mm.vmas[1].pgoff, (F >> 12) + 2)
    }

    func testMprotectHoleAppliesUpToIt() {
        //   |-- A rw- --|  hole  |-- B rw- --|
        //   mprotect over all: A becomes r--, then the hole gives ENOMEM, B untouched.
        map(F, 0x1000)
        map(F + 0x2000, 0x1000)
        XCTAssertEqual(errno(k.mprotect(t, addr: F, length: 0x3000, prot: PROT_RO)), .ENOMEM)
        XCTAssertEqual(perms, ["r--p", "rw-p"])
        // Unmapped start: ENOMEM, nothing changes.
        XCTAssertEqual(errno(k.mprotect(t, addr: F + 0x1000, length: 0x2000, prot: PROT_RO)), .ENOMEM)
        XCTAssertEqual(errno(k.mprotect(t, addr: F + 0x100000, length: 0x1000, prot: PROT_RO)), .ENOMEM)
        XCTAssertEqual(perms, ["r--p", "rw-p"])
    }

    func testMprotectErrnos() {
        map(F, 0x2000)
        XCTAssertEqual(errno(k.mprotect(t, addr: F + 1, length: 0x1000, prot: PROT_RO)), .EINVAL)
        XCTAssertNil(errno(k.mprotect(t, addr: F, length: 0, prot: PROT_RO)))
        XCTAssertEqual(errno(k.mprotect(t, addr: F, length: UInt64.max, prot: PROT_RO)), .ENOMEM)
        XCTAssertEqual(errno(k.mprotect(t, addr: 0xffff_ffff_ffff_f000, length: 0x2000, prot: PROT_RO)), .ENOMEM)
        XCTAssertEqual(errno(k.mprotect(t, addr: F, length: 0x1000, prot: [.read, .growsdown, .growsup])), .EINVAL)
        XCTAssertEqual(errno(k.mprotect(t, addr: F, length: 0x1000, prot: [.read, .growsdown])), .EINVAL)
        XCTAssertEqual(errno(k.mprotect(t, addr: F, length: 0x1000, prot: [.read, .growsup])), .EINVAL)
        XCTAssertEqual(errno(k.mprotect(t, addr: F, length: 0x1000, prot: Prot(rawValue: 0x40))), .EINVAL)
        // EACCES: a VMA without VM_MAYWRITE (like a read-only special mapping) refuses PROT_WRITE.
        XCTAssertNil(errno(k.insertVMA(mm, VMA(start: VirtAddr(F + 0x10000), end: VirtAddr(F + 0x11000),
                                                 flags: [.read, .mayread]))))
        XCTAssertEqual(errno(k.mprotect(t, addr: F + 0x10000, length: 0x1000, prot: PROT_RW)), .EACCES)
        XCTAssertNil(errno(k.mprotect(t, addr: F + 0x10000, length: 0x1000, prot: [])))
        XCTAssertEqual(perms, ["rw-p", "---p"])
    }

    func testMprotectSplitRespectsMaxMapCount() {
        map(F, 0x3000)
        k.sysctl.maxMapCount = 1
        XCTAssertEqual(errno(k.mprotect(t, addr: F + 0x1000, length: 0x1000, prot: PROT_RO)), .ENOMEM)
        XCTAssertEqual(layout, ["0x10000000-0x10003000"])
        XCTAssertEqual(k.committedPages, 3)
    }

    // MARK: brk

    func setUpHeap() -> UInt64 {
        let start: UInt64 = 0x5555_5556_0000
        mm.startBrk = start
        mm.brk = start
        return start
    }

    func testBrkGrowShrinkAndRefusal() {
        let s = setUpHeap()
        // brk(0) and anything below start_brk: refused, returns the current break.
        XCTAssertEqual(k.brk(t, 0), s)
        XCTAssertEqual(k.brk(t, s - 0x1000), s)
        //   0x555555560000        0x555555581000
        //   |------- [heap] -------|
        XCTAssertEqual(k.brk(t, s + 0x21000), s + 0x21000)
        XCTAssertEqual(layout, ["0x555555560000-0x555555581000"])
        XCTAssertEqual(perms, ["rw-p"])
        XCTAssertEqual(mm.totalVM, 0x21)
        XCTAssertEqual(mm.dataVM, 0x21)
        XCTAssertEqual(k.committedPages, 0x21)
        XCTAssertTrue(mm.vmaIsHeap(mm.vmas[0]))
        // Growing by a few bytes extends the VMA to the next page; the break is exact.
        //   |------- [heap] --------|+|
        XCTAssertEqual(k.brk(t, s + 0x21010), s + 0x21010)
        XCTAssertEqual(layout, ["0x555555560000-0x555555582000"])
        XCTAssertEqual(mm.brk, s + 0x21010)
        // Within the same page: only mm.brk moves.
        XCTAssertEqual(k.brk(t, s + 0x21800), s + 0x21800)
        XCTAssertEqual(mm.vmas.count, 1)
        // Shrinking unmaps the pages above the new break.
        //   |--- [heap] ---|
        XCTAssertEqual(k.brk(t, s + 0x10000), s + 0x10000)
        XCTAssertEqual(layout, ["0x555555560000-0x555555570000"])
        XCTAssertEqual(k.committedPages, 0x10)
        // Shrinking to start_brk removes the VMA.
        XCTAssertEqual(k.brk(t, s), s)
        XCTAssertEqual(mm.vmas.count, 0)
        XCTAssertEqual(mm.totalVM, 0)
    }

    func testBrkCollisionWithNextVMA() {
        let s = setUpHeap()
        //   s                    s+0x40000
        //   |[heap] ...|  >=1 page |-- M --|
        map(s + 0x40000, 0x1000, PROT_RO)
        XCTAssertEqual(k.brk(t, s + 0x40000), s)          // would leave no free page: refused
        XCTAssertEqual(k.brk(t, s + 0x3f001), s)
        XCTAssertEqual(k.brk(t, s + 0x3f000), s + 0x3f000) // exactly one free page left
        XCTAssertEqual(mm.brk, s + 0x3f000)
        // Hostile values are refused, never trap.
        XCTAssertEqual(k.brk(t, UInt64.max), s + 0x3f000)
        XCTAssertEqual(k.brk(t, 0xffff_ffff_ffff_f000), s + 0x3f000)
    }

    func testBrkKeepsStackGuardGap() {
        let s = setUpHeap()
        //   s          s+0x200000                 s+0x300000
        //   |[heap]..  <------- 1 MiB guard ----->|-- stack (growsdown) --|
        map(s + 0x300000, 0x10000, PROT_RW, [.private, .anonymous, .fixed, .growsdown])
        XCTAssertEqual(k.brk(t, s + 0x200000), s)
        XCTAssertEqual(k.brk(t, s + 0x1ff000), s + 0x1ff000)
    }

    func testBrkRlimitData() {
        let s = setUpHeap()
        mm.dataRlimit = 0x10000
        XCTAssertEqual(k.brk(t, s + 0x20000), s)
        XCTAssertEqual(k.brk(t, s + 0x10000), s + 0x10000)
    }

    // MARK: mremap

    func testMremapGrowInPlace() throws {
        //   F        F+0x2000          F+0x4000
        //   |-- A --|    (free)    |
        //   after mremap(F, 0x2000, 0x4000, 0):
        //   |---------- A ----------|
        map(F, 0x2000)
        XCTAssertEqual(try k.mremap(t, oldAddr: F, oldSize: 0x2000, newSize: 0x4000, flags: []).get().raw, F)
        XCTAssertEqual(layout, ["0x10000000-0x10004000"])
        XCTAssertEqual(mm.totalVM, 4)
        XCTAssertEqual(k.committedPages, 4)
    }

    func testMremapGrowInPlaceJoinsNext() throws {
        //   |-- A --|  (2 free)  |-- B --|
        //   after mremap(A, 2 pages -> 4 pages): A reaches B and they merge
        //   |------------- A+B -----------|
        map(F, 0x2000)
        map(F + 0x4000, 0x2000)
        XCTAssertEqual(try k.mremap(t, oldAddr: F, oldSize: 0x2000, newSize: 0x4000, flags: []).get().raw, F)
        XCTAssertEqual(layout, ["0x10000000-0x10006000"])
        XCTAssertEqual(k.committedPages, 6)
    }

    func testMremapMoveWhenBlocked() throws {
        //   |-- A rw (2) --|-- B r-- --|
        //   after mremap(A, 2 -> 4 pages, MREMAP_MAYMOVE):
        //   (hole)         |-- B r-- --|   ...   |---- A rw (4) ----| below mmap_base
        map(F, 0x2000)
        map(F + 0x2000, 0x1000, PROT_RO)
        XCTAssertEqual(errno(k.mremap(t, oldAddr: F, oldSize: 0x2000, newSize: 0x4000, flags: [])), .ENOMEM)
        let moved = try k.mremap(t, oldAddr: F, oldSize: 0x2000, newSize: 0x4000, flags: [.maymove]).get()
        XCTAssertEqual(moved.description, "0x7ffff7ffb000")
        XCTAssertEqual(layout, ["0x10002000-0x10003000", "0x7ffff7ffb000-0x7ffff7fff000"])
        // Never faulted anonymous memory gets a pgoff for its new place.
        XCTAssertEqual(mm.vmas[1].pgoff, 0x7ffff7ffb)
        XCTAssertEqual(mm.totalVM, 5)
        XCTAssertEqual(k.committedPages, 4)
        XCTAssertTrue(mm.vmas[1].flags.contains(.account))
    }

    func testMremapShrinkAndFixed() throws {
        //   |------ A (4) ------|  -> shrink to 1 page ->  |A|
        map(F, 0x4000)
        XCTAssertEqual(try k.mremap(t, oldAddr: F, oldSize: 0x4000, newSize: 0x1000, flags: []).get().raw, F)
        XCTAssertEqual(layout, ["0x10000000-0x10001000"])
        XCTAssertEqual(k.committedPages, 1)
        // MREMAP_FIXED moves to the given address, replacing what was there.
        //   |A|      ...      |-- X r-- --|   ->   (hole) ... |-- A (2) --|
        map(F + 0x100000, 0x2000, PROT_RO)
        let r = try k.mremap(t, oldAddr: F, oldSize: 0x1000, newSize: 0x2000, flags: [.maymove, .fixed], newAddr: F + 0x100000).get()
        XCTAssertEqual(r.raw, F + 0x100000)
        XCTAssertEqual(layout, ["0x10100000-0x10102000"])
        XCTAssertEqual(perms, ["rw-p"])
        XCTAssertEqual(k.committedPages, 2)
        XCTAssertEqual(mm.totalVM, 2)
    }

    func testMremapMovePartOfVMAKeepsAccounting() throws {
        //   |----------- A (4) -----------|
        //   move the middle two pages away with MREMAP_FIXED:
        //   |A|  (hole)  |A'|     ...     |-- M (2) --|
        map(F, 0x4000)
        _ = try k.mremap(t, oldAddr: F + 0x1000, oldSize: 0x2000, newSize: 0x2000, flags: [.maymove, .fixed],
                         newAddr: F + 0x100000).get()
        XCTAssertEqual(layout, ["0x10000000-0x10001000", "0x10003000-0x10004000", "0x10100000-0x10102000"])
        XCTAssertTrue(mm.vmas.vmas.allSatisfy { $0.flags.contains(.account) })
        XCTAssertEqual(k.committedPages, 4)
        XCTAssertEqual(mm.totalVM, 4)
    }

    func testMremapErrnos() {
        map(F, 0x2000)
        map(F + 0x2000, 0x1000, PROT_RO)
        func e(_ old: UInt64, _ os: UInt64, _ ns: UInt64, _ f: MremapFlags, _ na: UInt64 = 0) -> Errno? {
            errno(k.mremap(t, oldAddr: old, oldSize: os, newSize: ns, flags: f, newAddr: na))
        }
        XCTAssertEqual(e(F + 1, 0x1000, 0x2000, [.maymove]), .EINVAL)          // unaligned
        XCTAssertEqual(e(F, 0x1000, 0, [.maymove]), .EINVAL)                   // new size 0
        XCTAssertEqual(e(F, 0x1000, 0x2000, [.fixed], F + 0x10000), .EINVAL)   // FIXED without MAYMOVE
        XCTAssertEqual(e(F, 0x1000, 0x2000, [.maymove, .dontunmap]), .EINVAL)  // DONTUNMAP resizing
        XCTAssertEqual(e(F, 0x1000, 0x1000, [.dontunmap]), .EINVAL)            // DONTUNMAP without MAYMOVE
        XCTAssertEqual(e(F, 0x1000, 0x2000, MremapFlags(rawValue: 8)), .EINVAL)
        XCTAssertEqual(e(F, 0x3000, 0x4000, [.maymove]), .EFAULT)              // spans two VMAs
        XCTAssertEqual(e(F + 0x10000, 0x1000, 0x2000, [.maymove]), .EFAULT)    // nothing mapped
        XCTAssertEqual(e(F, 0, 0x2000, [.maymove]), .EINVAL)                   // duplicating a private mapping
        XCTAssertEqual(e(F, UInt64.max, 0x2000, [.maymove]), .EINVAL)          // hostile sizes
        XCTAssertEqual(e(F, 0x1000, UInt64.max, [.maymove]), .EINVAL)
        XCTAssertEqual(e(F, 0x1000, 0xffff_ffff_ffff_f000, [.maymove]), .ENOMEM)
        XCTAssertEqual(e(0xffff_ffff_ffff_f000, 0x1000, 0x2000, [.maymove]), .EFAULT)
        XCTAssertEqual(e(F, 0x1000, 0x2000, [.maymove, .fixed], F), .EINVAL)          // overlapping
        XCTAssertEqual(e(F, 0x1000, 0x2000, [.maymove, .fixed], F + 0x10010), .EINVAL)  // unaligned new
        XCTAssertEqual(e(F, 0x1000, 0x2000, [.maymove, .fixed], 0x7ffffffff000), .EINVAL) // beyond TASK_SIZE
        XCTAssertEqual(layout, ["0x10000000-0x10002000", "0x10002000-0x10003000"])
    }

    func testMremapDontUnmap() throws {
        //   |-- A (2) --|   ->   |-- A (2, kept) --|  ...  |-- A' (2) --|
        map(F, 0x2000)
        let r = try k.mremap(t, oldAddr: F, oldSize: 0x2000, newSize: 0x2000, flags: [.maymove, .dontunmap]).get()
        XCTAssertEqual(r.description, "0x7ffff7ffd000")
        XCTAssertEqual(mm.vmas.count, 2)
        XCTAssertEqual(mm.totalVM, 4)
        XCTAssertEqual(k.committedPages, 4)
    }

    // MARK: stack

    func testExpandStack() {
        //   0x7ffffffde000                 0x7ffffffff000
        //   |----------- stack (33 pages) ------|
        XCTAssertNil(errno(k.insertVMA(mm, VMA(start: VirtAddr(0x7ffffffde000), end: VirtAddr(0x7ffffffff000),
                                                 flags: .stackDefault))))
        XCTAssertEqual(mm.stackVM, 33)
        XCTAssertEqual(k.committedPages, 33)
        // A fault one page below grows it by one page:
        //   0x7ffffffdd000
        //   |+|----------- stack (34 pages) ----|
        XCTAssertTrue(k.expandStack(mm, VirtAddr(0x7ffffffdd010)))
        XCTAssertEqual(hex(mm.vmas[0].start.raw), "0x7ffffffdd000")
        XCTAssertEqual(mm.stackVM, 34)
        XCTAssertEqual(mm.totalVM, 34)
        XCTAssertEqual(k.committedPages, 34)
        XCTAssertEqual(mm.vmas[0].pgoff, 0x7ffffffdd)
        XCTAssertTrue(k.expandStack(mm, VirtAddr(0x7ffffffe0000)))   // already inside
        // RLIMIT_STACK: at most 36 pages.
        mm.stackRlimit = 36 * 0x1000
        XCTAssertTrue(k.expandStack(mm, VirtAddr(0x7ffffffdb000)))   // 36 pages
        XCTAssertFalse(k.expandStack(mm, VirtAddr(0x7ffffffda000)))  // 37 pages
        XCTAssertEqual(mm.stackVM, 36)
    }

    func testExpandStackRespectsGuardGap() {
        //   P_end            (1 MiB guard)        stack_start
        //   |-- P rw --|<--------------------------->|-- stack --|
        let top: UInt64 = 0x7ffffffff000, start = top - 0x10000
        XCTAssertNil(errno(k.insertVMA(mm, VMA(start: VirtAddr(start), end: VirtAddr(top), flags: .stackDefault))))
        map(start - 0x102000, 0x1000)                          // P ends 1 MiB + 1 page below the stack
        XCTAssertTrue(k.expandStack(mm, VirtAddr(start - 0x1000)))   // leaves exactly 1 MiB
        XCTAssertFalse(k.expandStack(mm, VirtAddr(start - 0x2000)))  // would come closer
        // A PROT_NONE neighbour does not count (it is a guard itself).
        XCTAssertNil(errno(k.mprotect(t, addr: start - 0x102000, length: 0x1000, prot: [])))
        XCTAssertTrue(k.expandStack(mm, VirtAddr(start - 0x2000)))
        // No VMA above, or one that does not grow down: no expansion.
        XCTAssertFalse(k.expandStack(mm, VirtAddr(top + 0x1000)))
        XCTAssertFalse(k.expandStack(mm, VirtAddr(start - 0x103000)))
    }
}
