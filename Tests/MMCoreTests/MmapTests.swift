import XCTest
@testable import MMCore

/// mmap layout, placement, merging on creation, accounting and every mmap errno.
final class MmapTests: VMTestCase {

    func testMmapBaseOfFreshMM() {
        // TASK_SIZE 0x7ffffffff000; gap = 8 MiB stack rlimit + 1 MiB guard gap = 9 MiB,
        // clamped up to 128 MiB:
        //   0x7ffff7fff000                      0x7ffffffff000
        //   | mmap_base   <---- 128 MiB gap ---->| TASK_SIZE
        XCTAssertTrue(mm.topDown)
        XCTAssertEqual(hex(mm.mmapBase), "0x7ffff7fff000")
        // TASK_UNMAPPED_BASE = PAGE_ALIGN(TASK_SIZE / 3)
        XCTAssertEqual(hex(mm.mmapLegacyBase), "0x2aaaaaaab000")
    }

    func testMmapBaseForOtherStackLimits() {
        // 1 GiB rlimit: gap = 1 GiB + 1 MiB.
        XCTAssertEqual(hex(Kernel.mmapBase(taskSize: X86_64.taskSize, stackRlimit: 1 << 30)), "0x7fffbfeff000")
        // RLIM_INFINITY: the pad would overflow and is skipped; the gap clamps to TASK_SIZE/6*5.
        XCTAssertEqual(hex(Kernel.mmapBase(taskSize: X86_64.taskSize, stackRlimit: RLIM_INFINITY)), "0x155555556000")
        // rlimit 0: the gap clamps up to 128 MiB.
        XCTAssertEqual(hex(Kernel.mmapBase(taskSize: X86_64.taskSize, stackRlimit: 0)), "0x7ffff7fff000")
    }

    func testFirstTopDownAddresses() {
        //                          0x7ffff7ffe000 0x7ffff7fff000 (mmap_base)
        //                          |--- A ------|
        XCTAssertEqual(hex(map(0, 0x1000, PROT_RW, PA)), "0x7ffff7ffe000")
        //           0x7ffff7ffc000               0x7ffff7fff000
        //           |--- B ----|--- A ------|   B merges with its next neighbour A
        XCTAssertEqual(hex(map(0, 0x2000, PROT_RW, PA)), "0x7ffff7ffc000")
        XCTAssertEqual(layout, ["0x7ffff7ffc000-0x7ffff7fff000"])
        //   0x7ffff7ffb000
        //   |C r--|------ A+B rw- ------|       different flags: no merge
        XCTAssertEqual(hex(map(0, 0x1000, PROT_RO, PA)), "0x7ffff7ffb000")
        XCTAssertEqual(layout, ["0x7ffff7ffb000-0x7ffff7ffc000", "0x7ffff7ffc000-0x7ffff7fff000"])
        XCTAssertEqual(perms, ["r--p", "rw-p"])
        XCTAssertEqual(mm.totalVM, 4)
        XCTAssertEqual(mm.dataVM, 3)
    }

    func testHundredMiBMergesWithVMAAbove() {
        // The seed example: an existing 4-page rw-p anonymous VMA right below mmap_base; the
        // next top-down mapping (100 MiB) ends exactly where it starts, so the two merge:
        //   before:                         0x7ffff7ffb000 0x7ffff7fff000
        //                                   |-- 4 pages --|
        //   after:  0x7ffff1bfb000                         0x7ffff7fff000
        //           |------------- 100 MiB + 4 pages -----|
        let small = map(0, 4 * 0x1000, PROT_RW, PA)
        XCTAssertEqual(hex(small), "0x7ffff7ffb000")
        let before = mm.vmas.vmas[0].length
        let big = map(0, 100 * 1024 * 1024, PROT_RW, PA)
        XCTAssertEqual(hex(big), "0x7ffff1bfb000")
        XCTAssertEqual(mm.vmas.count, 1)
        XCTAssertEqual(layout, ["0x7ffff1bfb000-0x7ffff7fff000"])
        XCTAssertEqual(mm.vmas.vmas[0].length - before, 104_857_600)
        XCTAssertEqual(mm.vmas.vmas[0].pgoff, 0x7ffff1bfb)
        XCTAssertEqual(mm.totalVM, 4 + 25_600)
        XCTAssertEqual(k.committedPages, 4 + 25_600)
    }

    func testLegacyBottomUpLayout() throws {
        let m2 = MMStruct(pgd: k.phys.allocPages(order: 0, gfp: [.zero])!)
        m2.legacyVALayout = true
        k.archPickMmapLayout(m2)
        let t2 = k.addTask(comm: "legacy", mm: m2)
        // 0x2aaaaaaab000
        // |-- A --|-- B --| ...  bottom-up, merging with the previous VMA
        XCTAssertFalse(m2.topDown)
        XCTAssertEqual(hex(m2.mmapBase), "0x2aaaaaaab000")
        let a = try k.mmap(t2, addr: 0, length: 0x1000, prot: PROT_RW, flags: PA).get()
        let b = try k.mmap(t2, addr: 0, length: 0x1000, prot: PROT_RW, flags: PA).get()
        XCTAssertEqual(a.description, "0x2aaaaaaab000")
        XCTAssertEqual(b.description, "0x2aaaaaaac000")
        XCTAssertEqual(m2.vmas.count, 1)
        XCTAssertEqual(m2.invariantViolations(), [])
    }

    func testAddressHints() {
        // A free hint is used as is:
        //   0x20000000  0x20002000
        //   |--- A ----|
        XCTAssertEqual(hex(map(0x2000_0000, 0x2000, PROT_RW, PA)), "0x20000000")
        // An occupied hint falls back to the top-down search below mmap_base.
        XCTAssertEqual(hex(map(0x2000_1000, 0x1000, PROT_RW, PA)), "0x7ffff7ffe000")
        // An unaligned hint is rounded down (x86 top-down).
        XCTAssertEqual(hex(map(0x3000_0123, 0x1000, PROT_RW, PA)), "0x30000000")
        // A hint below mmap_min_addr (64 KiB) is raised to it.
        XCTAssertEqual(hex(map(0x1000, 0x1000, PROT_RW, PA)), "0x10000")
        // A hint whose range would cross TASK_SIZE, or lies near 2^64, is ignored.
        XCTAssertEqual(hex(map(0x7ffffffff000, 0x2000, PROT_RO, PA)), "0x7ffff7ffc000")
        XCTAssertEqual(hex(map(0xffff_ffff_ffff_f000, 0x1000, [.exec], PA)), "0x7ffff7ffb000")
    }

    func testTopDownKeepsStackGuardGap() {
        // A 16-page VM_GROWSDOWN area right below mmap_base; the next mapping must stay
        // stack_guard_gap (1 MiB) below it:
        //   0x7ffff7eee000 0x7ffff7eef000     0x7ffff7fef000     0x7ffff7fff000
        //   |---- new ----|<---- 1 MiB gap --->|---- stack ------|
        let base = mm.mmapBase
        XCTAssertEqual(hex(map(base - 0x10000, 0x10000, PROT_RW, [.private, .anonymous, .fixed, .growsdown])), "0x7ffff7fef000")
        XCTAssertEqual(mm.stackVM, 16)
        XCTAssertEqual(hex(map(0, 0x1000, PROT_RW, PA)), "0x7ffff7eee000")
        // A hint inside the guard gap is refused too.
        XCTAssertEqual(hex(map(base - 0x10000 - 0x1000, 0x1000, PROT_RO, PA)), "0x7ffff7eed000")
    }

    func testMapFixedReplaces() {
        //   F          F+0x4000
        //   |--- A rw- ---|
        map(F, 0x4000)
        // after mmap(F+0x1000, 0x1000, PROT_READ, MAP_FIXED):
        //   |A|B r--|--A'--|
        map(F + 0x1000, 0x1000, PROT_RO)
        XCTAssertEqual(layout, ["0x10000000-0x10001000", "0x10001000-0x10002000", "0x10002000-0x10004000"])
        XCTAssertEqual(perms, ["rw-p", "r--p", "rw-p"])
        XCTAssertEqual(mm.totalVM, 4)
        XCTAssertEqual(mm.dataVM, 3)
        XCTAssertEqual(k.committedPages, 3)
        // MAP_FIXED rw over the r-- page: the three pieces merge back into one VMA.
        //   |------ A rw- ------|
        map(F + 0x1000, 0x1000, PROT_RW)
        XCTAssertEqual(layout, ["0x10000000-0x10004000"])
        XCTAssertEqual(k.committedPages, 4)
    }

    func testMapFixedNoreplace() {
        //   F      F+0x2000
        //   |-- A --|
        map(F, 0x2000)
        let over = k.mmap(t, addr: F + 0x1000, length: 0x2000, prot: PROT_RW, flags: [.private, .anonymous, .fixedNoreplace])
        XCTAssertEqual(errno(over), .EEXIST)
        // Free range: behaves like MAP_FIXED (and merges with A).
        //   |-- A --|-- B --|
        map(F + 0x2000, 0x1000, PROT_RW, [.private, .anonymous, .fixedNoreplace])
        XCTAssertEqual(layout, ["0x10000000-0x10003000"])
    }

    func testMmapErrnos() {
        func e(_ addr: UInt64, _ len: UInt64, _ prot: Prot = PROT_RW, _ flags: MapFlags = PA,
               file: MappedFile? = nil, offset: UInt64 = 0) -> Errno? {
            errno(k.mmap(t, addr: addr, length: len, prot: prot, flags: flags, file: file, offset: offset))
        }
        XCTAssertEqual(e(0, 0), .EINVAL)                                    // length 0
        XCTAssertEqual(e(0, UInt64.max), .ENOMEM)                           // PAGE_ALIGN overflows
        XCTAssertEqual(e(0, 0xffff_ffff_ffff_f000), .ENOMEM)                // longer than TASK_SIZE
        XCTAssertEqual(e(0, 0x1000, offset: 0x123), .EINVAL)                // offset not aligned
        XCTAssertEqual(e(0, 0x1000, PROT_RW, [.anonymous]), .EINVAL)             // neither SHARED nor PRIVATE
        XCTAssertEqual(e(0, 0x1000, PROT_RW, [.shared, .private, .anonymous]), .EINVAL) // both (= SHARED_VALIDATE)
        XCTAssertEqual(e(F + 0x10, 0x1000, PROT_RW, PAF), .EINVAL)               // MAP_FIXED unaligned
        XCTAssertEqual(e(0x7ffffffff000, 0x1000, PROT_RW, PAF), .ENOMEM)         // beyond TASK_SIZE
        XCTAssertEqual(e(0x7fffffffe000, 0x2000, PROT_RW, PAF), .ENOMEM)         // ends past TASK_SIZE
        XCTAssertEqual(e(0xffff_ffff_ffff_f000, 0x1000, PROT_RW, PAF), .ENOMEM)  // near 2^64
        XCTAssertEqual(e(UInt64.max, UInt64.max, PROT_RW, PAF), .ENOMEM)
        XCTAssertEqual(e(0x1000, 0x1000, PROT_RW, PAF), .EPERM)                  // below mmap_min_addr
        XCTAssertEqual(e(0, 0x1000, PROT_RW, [.private]), .EBADF)                // no file, not anonymous
        XCTAssertEqual(e(0, 0x200000, PROT_RW, [.private, .anonymous, .hugetlb]), .ENOMEM) // no huge pages
        let file = MappedFile(path: "/data", devMajor: 8, devMinor: 1, inode: 42)
        XCTAssertEqual(e(0, 0x2000, PROT_RW, [.private, .hugetlb], file: file), .EINVAL) // not hugetlbfs
        XCTAssertEqual(e(0, 0x1000, PROT_RW, [.shared, .anonymous, .growsdown]), .EINVAL)
        XCTAssertEqual(mm.vmas.count, 0)
        // root may map below mmap_min_addr.
        t.uid = 0
        XCTAssertNil(e(0x1000, 0x1000, PROT_RW, PAF))
    }

    func testMaxMapCount() {
        // max_map_count 3: do_mmap refuses only when map_count > max, so a 4th VMA is allowed:
        //   |A rw|  |B r-|  |C rw|  |D r-|   (not adjacent, no merges)
        k.sysctl.maxMapCount = 3
        for i in 0..<4 { map(F + UInt64(i) * 0x10000, 0x1000, i % 2 == 0 ? PROT_RW : PROT_RO) }
        XCTAssertEqual(mm.vmas.count, 4)
        XCTAssertEqual(errno(k.mmap(t, addr: F + 0x80000, length: 0x1000, prot: PROT_RW, flags: PAF)), .ENOMEM)
        // Even a mapping that would merge is refused: the check comes first.
        XCTAssertEqual(errno(k.mmap(t, addr: F + 0x1000, length: 0x1000, prot: PROT_RW, flags: PAF)), .ENOMEM)
        XCTAssertEqual(mm.vmas.count, 4)
    }

    func testAccountingAndFlags() {
        // Private writable: VM_ACCOUNT and charged; read-only, shared and NORESERVE are not.
        let a = map(F, 0x4000)
        XCTAssertTrue(mm.vmas.findVMA(VirtAddr(a))!.flags.contains(.account))
        XCTAssertEqual(k.committedPages, 4)
        map(F + 0x10000, 0x1000, PROT_RO)
        map(F + 0x20000, 0x1000, PROT_RW, [.shared, .anonymous, .fixed])
        map(F + 0x30000, 0x1000, PROT_RW, [.private, .anonymous, .fixed, .noreserve])
        XCTAssertEqual(k.committedPages, 4)
        XCTAssertEqual(perms, ["rw-p", "r--p", "rw-s", "rw-p"])
        let flags = mm.vmas.vmas.map(\.flags)
        XCTAssertEqual(flags[0], [.read, .write, .mayread, .maywrite, .mayexec, .account, .softdirty])
        XCTAssertEqual(flags[2], [.read, .write, .shared, .mayread, .maywrite, .mayexec, .mayshare, .softdirty])
        XCTAssertTrue(flags[3].contains(.noreserve))
        // Shared anonymous memory is not a data mapping.
        XCTAssertEqual(mm.totalVM, 7)
        XCTAssertEqual(mm.dataVM, 5)
        // Under overcommit_memory = 2 MAP_NORESERVE is ignored: the mapping is charged.
        k.sysctl.overcommitMemory = 2
        map(F + 0x40000, 0x1000, PROT_RW, [.private, .anonymous, .fixed, .noreserve])
        XCTAssertEqual(k.committedPages, 5)
        // munmap gives the charge back.
        XCTAssertNil(errno(k.munmap(t, addr: F, length: 0x50000)))
        XCTAssertEqual(k.committedPages, 0)
        XCTAssertEqual(mm.totalVM, 0)
    }

    func testRlimitASRefuses() {
        mm.asRlimit = 0x3000
        map(F, 0x2000)
        XCTAssertEqual(errno(k.mmap(t, addr: F + 0x2000, length: 0x2000, prot: PROT_RW, flags: PAF)), .ENOMEM)
        // Replacing mapped pages with MAP_FIXED does not grow total_vm: allowed.
        map(F, 0x3000)
        XCTAssertEqual(mm.totalVM, 3)
    }

    func testMapPopulateAndLockedAreAccepted() {
        map(F, 0x2000, PROT_RW, [.private, .anonymous, .fixed, .populate])
        map(F + 0x10000, 0x2000, PROT_RW, [.private, .anonymous, .fixed, .locked])
        XCTAssertEqual(mm.lockedVM, 2)
        XCTAssertTrue(mm.vmas.vmas[1].flags.contains(.locked))
        // MAP_LOCKED with RLIMIT_MEMLOCK 0 (non-root): EPERM; over the limit: EAGAIN.
        mm.memlockRlimit = 0
        XCTAssertEqual(errno(k.mmap(t, addr: 0, length: 0x1000, prot: PROT_RW, flags: [.private, .anonymous, .locked])), .EPERM)
        mm.memlockRlimit = 0x2000
        XCTAssertEqual(errno(k.mmap(t, addr: 0, length: 0x1000, prot: PROT_RW, flags: [.private, .anonymous, .locked])), .EAGAIN)
    }

    func testFileMappings() {
        let file = MappedFile(path: "/usr/lib/libc.so.6", devMajor: 8, devMinor: 1, inode: 1234)
        // Two pieces of the same file at contiguous offsets merge; a gap in the offsets does not.
        //   F            F+0x2000      F+0x3000
        //   |-- off 0 --|-- off 2 --|-- off 9 --|
        map(F, 0x2000, PROT_RO, [.private, .fixed], file: file, offset: 0)
        map(F + 0x2000, 0x1000, PROT_RO, [.private, .fixed], file: file, offset: 0x2000)
        map(F + 0x3000, 0x1000, PROT_RO, [.private, .fixed], file: file, offset: 0x9000)
        XCTAssertEqual(layout, ["0x10000000-0x10003000", "0x10003000-0x10004000"])
        XCTAssertEqual(mm.vmas.vmas.map(\.pgoff), [0, 9])
        // Shared file mapping: VM_SHARED | VM_MAYSHARE, pgoff from the offset.
        map(F + 0x10000, 0x1000, PROT_RW, [.shared, .fixed], file: file, offset: 0x5000)
        XCTAssertEqual(perms.last, "rw-s")
        XCTAssertEqual(mm.vmas.vmas.last?.pgoff, 5)
        // MAP_SHARED_VALIDATE is valid for files.
        map(F + 0x20000, 0x1000, PROT_RO, [.sharedValidate, .fixed], file: file)
        XCTAssertEqual(k.committedPages, 0)
    }
}
