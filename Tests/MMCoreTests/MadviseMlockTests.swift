import XCTest
@testable import MMCore

/// madvise, mlock/munlock, mlockall/munlockall.
final class MadviseMlockTests: VMTestCase {

    // MARK: madvise

    func testMadviseFlagSplitAndMerge() {
        //   |---------- A (3) ----------|
        //   after madvise(F+0x1000, 0x1000, MADV_DONTFORK):
        //   |-- A --|-- A' dontcopy --|-- A'' --|
        map(F, 0x3000)
        XCTAssertNil(errno(k.madvise(t, addr: F + 0x1000, length: 0x1000, advice: .dontfork)))
        XCTAssertEqual(mm.vmas.count, 3)
        XCTAssertTrue(mm.vmas[1].flags.contains(.dontcopy))
        //   after MADV_DOFORK on the same page: one VMA again
        XCTAssertNil(errno(k.madvise(t, addr: F + 0x1000, length: 0x1000, advice: .dofork)))
        XCTAssertEqual(layout, ["0x10000000-0x10003000"])
        // Advice pairs set and clear their flags.
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .sequential)))
        XCTAssertTrue(mm.vmas[0].flags.contains(.seqRead))
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .random)))
        XCTAssertEqual(mm.vmas[0].flags.intersection([.seqRead, .randRead]), .randRead)
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .normal)))
        XCTAssertEqual(mm.vmas[0].flags.intersection([.seqRead, .randRead]), [])
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .hugepage)))
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .nohugepage)))
        XCTAssertEqual(mm.vmas[0].flags.intersection([.hugepage, .nohugepage]), .nohugepage)
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .dontdump)))
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .wipeonfork)))
        XCTAssertTrue(mm.vmas[0].flags.isSuperset(of: [.dontdump, .wipeonfork]))
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .dodump)))
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .keeponfork)))
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .mergeable)))
        XCTAssertTrue(mm.vmas[0].flags.contains(.mergeable))
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: .unmergeable)))
        XCTAssertEqual(mm.vmas[0].flags, [.read, .write, .mayread, .maywrite, .mayexec, .account, .softdirty, .nohugepage])
        for a in [Advice.willneed, .dontneed, .free, .cold, .pageout] {
            XCTAssertNil(errno(k.madvise(t, addr: F, length: 0x3000, advice: a)), "\(a)")
        }
        XCTAssertEqual(mm.vmas.count, 1)
    }

    func testMadviseHoleStillAppliesThenENOMEM() {
        //   |-- A --|  hole  |-- B --|
        //   madvise over all three: both A and B get VM_DONTCOPY, the call returns ENOMEM.
        map(F, 0x1000)
        map(F + 0x2000, 0x1000)
        XCTAssertEqual(errno(k.madvise(t, addr: F, length: 0x3000, advice: .dontfork)), .ENOMEM)
        XCTAssertTrue(mm.vmas.vmas.allSatisfy { $0.flags.contains(.dontcopy) })
        // A range running past the last VMA: applied to the mapped part, then ENOMEM.
        XCTAssertEqual(errno(k.madvise(t, addr: F + 0x2000, length: 0x10000, advice: .dofork)), .ENOMEM)
        XCTAssertFalse(mm.vmas[1].flags.contains(.dontcopy))
        // Nothing mapped at all.
        XCTAssertEqual(errno(k.madvise(t, addr: 0x7000_0000_0000, length: 0x1000, advice: .dontneed)), .ENOMEM)
    }

    func testMadviseErrnos() {
        map(F, 0x2000)
        map(F + 0x10000, 0x1000, PROT_RW, [.shared, .anonymous, .fixed])
        XCTAssertEqual(errno(k.madvise(t, addr: F, length: 0x1000, behavior: 99)), .EINVAL)
        XCTAssertEqual(errno(k.madvise(t, addr: F + 1, length: 0x1000, advice: .dontneed)), .EINVAL)
        XCTAssertEqual(errno(k.madvise(t, addr: F, length: UInt64.max, advice: .dontneed)), .EINVAL)
        XCTAssertEqual(errno(k.madvise(t, addr: 0xffff_ffff_ffff_f000, length: 0x2000, advice: .dontneed)), .EINVAL)
        XCTAssertNil(errno(k.madvise(t, addr: F, length: 0, advice: .dontneed)))
        // Advice a VMA does not allow.
        XCTAssertEqual(errno(k.madvise(t, addr: F + 0x10000, length: 0x1000, advice: .wipeonfork)), .EINVAL)
        XCTAssertEqual(errno(k.madvise(t, addr: F, length: 0x1000, advice: .remove)), .EINVAL)
        XCTAssertNil(errno(k.madvise(t, addr: F + 0x10000, length: 0x1000, advice: .remove)))
        XCTAssertNil(errno(k.madvise(t, addr: F + 0x10000, length: 0x1000, advice: .mergeable))) // ignored
        XCTAssertFalse(mm.vmas[1].flags.contains(.mergeable))
        let file = MappedFile(path: "/f", inode: 3)
        map(F + 0x20000, 0x1000, PROT_RO, [.private, .fixed], file: file)
        XCTAssertEqual(errno(k.madvise(t, addr: F + 0x20000, length: 0x1000, advice: .free)), .EINVAL)
        XCTAssertNil(errno(k.madvise(t, addr: F + 0x20000, length: 0x1000, advice: .dontneed)))
        // VM_LOCKED areas refuse DONTNEED/FREE/COLD/PAGEOUT.
        XCTAssertNil(errno(k.mlock(t, addr: F, length: 0x1000)))
        for a in [Advice.dontneed, .free, .cold, .pageout, .remove] {
            XCTAssertEqual(errno(k.madvise(t, addr: F, length: 0x1000, advice: a)), .EINVAL, "\(a)")
        }
        // A split that would exceed max_map_count: EAGAIN.
        map(F + 0x30000, 0x3000)
        k.sysctl.maxMapCount = mm.vmas.count
        XCTAssertEqual(errno(k.madvise(t, addr: F + 0x31000, length: 0x1000, advice: .dontdump)), .EAGAIN)
    }

    // MARK: mlock

    func testMlockSplitMergeAndLockedVM() {
        //   |---------- A (3) ----------|
        //   after mlock(F+0x1000, 0x1000):
        //   |-- A --|-- A' locked --|-- A'' --|
        map(F, 0x3000)
        XCTAssertNil(errno(k.mlock(t, addr: F + 0x1000, length: 0x1000)))
        XCTAssertEqual(mm.vmas.count, 3)
        XCTAssertTrue(mm.vmas[1].flags.contains(.locked))
        XCTAssertEqual(mm.lockedVM, 1)
        // mlock of an unaligned range covers whole pages; locking twice does not count twice.
        //   |-- A --|------ A' locked ------|
        XCTAssertNil(errno(k.mlock(t, addr: F + 0x1800, length: 0x1000)))
        XCTAssertEqual(layout, ["0x10000000-0x10001000", "0x10001000-0x10003000"])
        XCTAssertEqual(mm.lockedVM, 2)
        //   after munlock(F, 0x3000): one VMA again
        XCTAssertNil(errno(k.munlock(t, addr: F, length: 0x3000)))
        XCTAssertEqual(layout, ["0x10000000-0x10003000"])
        XCTAssertEqual(mm.lockedVM, 0)
        // MLOCK_ONFAULT sets VM_LOCKONFAULT too.
        XCTAssertNil(errno(k.mlock(t, addr: F, length: 0x3000, flags: .onfault)))
        XCTAssertTrue(mm.vmas[0].flags.isSuperset(of: VMFlags.lockedMask))
        XCTAssertEqual(mm.lockedVM, 3)
    }

    func testMlockErrnos() {
        map(F, 0x2000)
        map(F + 0x3000, 0x1000)
        XCTAssertEqual(errno(k.mlock(t, addr: F, length: 0x1000, flags: MlockFlags(rawValue: 2))), .EINVAL)
        // A hole: the part before it is locked, then ENOMEM.
        XCTAssertEqual(errno(k.mlock(t, addr: F, length: 0x4000)), .ENOMEM)
        XCTAssertEqual(mm.lockedVM, 2)
        XCTAssertEqual(errno(k.munlock(t, addr: F, length: 0x4000)), .ENOMEM)
        XCTAssertEqual(mm.lockedVM, 0)
        XCTAssertEqual(errno(k.mlock(t, addr: F + 0x100000, length: 0x1000)), .ENOMEM)
        // Hostile lengths.
        XCTAssertEqual(errno(k.mlock(t, addr: F, length: UInt64.max)), .EINVAL)
        XCTAssertEqual(errno(k.mlock(t, addr: UInt64.max, length: UInt64.max)), .EINVAL)
        XCTAssertEqual(errno(k.munlock(t, addr: 0xffff_ffff_ffff_f000, length: 0x2000)), .EINVAL)
        // RLIMIT_MEMLOCK: 0 -> EPERM, too small -> ENOMEM, root is exempt.
        mm.memlockRlimit = 0
        XCTAssertEqual(errno(k.mlock(t, addr: F, length: 0x1000)), .EPERM)
        mm.memlockRlimit = 0x1000
        XCTAssertEqual(errno(k.mlock(t, addr: F, length: 0x2000)), .ENOMEM)
        XCTAssertNil(errno(k.mlock(t, addr: F, length: 0x1000)))
        // Re-locking the locked page is not charged twice.
        XCTAssertNil(errno(k.mlock(t, addr: F, length: 0x1000)))
        t.uid = 0
        XCTAssertNil(errno(k.mlock(t, addr: F, length: 0x2000)))
        XCTAssertEqual(mm.lockedVM, 2)
    }

    func testMlockallAndMunlockall() {
        map(F, 0x2000)
        map(F + 0x10000, 0x1000, PROT_RO)
        XCTAssertEqual(errno(k.mlockall(t, flags: [])), .EINVAL)
        XCTAssertEqual(errno(k.mlockall(t, flags: .onfault)), .EINVAL)
        XCTAssertEqual(errno(k.mlockall(t, flags: MlockallFlags(rawValue: 8))), .EINVAL)
        XCTAssertNil(errno(k.mlockall(t, flags: [.current, .future])))
        XCTAssertEqual(mm.lockedVM, 3)
        XCTAssertTrue(mm.defFlags.contains(.locked))
        // MCL_FUTURE: new mappings and brk areas come locked.
        map(F + 0x20000, 0x1000)
        XCTAssertTrue(mm.vmas[2].flags.contains(.locked))
        XCTAssertEqual(mm.lockedVM, 4)
        XCTAssertNil(errno(k.munlockall(t)))
        XCTAssertEqual(mm.lockedVM, 0)
        XCTAssertTrue(mm.defFlags.isDisjoint(with: VMFlags.lockedMask))
        XCTAssertTrue(mm.vmas.vmas.allSatisfy { !$0.flags.contains(.locked) })
        // MCL_CURRENT with total_vm over RLIMIT_MEMLOCK: ENOMEM for non-root.
        mm.memlockRlimit = 0x1000
        XCTAssertEqual(errno(k.mlockall(t, flags: .current)), .ENOMEM)
        mm.memlockRlimit = 0
        XCTAssertEqual(errno(k.mlockall(t, flags: .future)), .EPERM)
    }
}
