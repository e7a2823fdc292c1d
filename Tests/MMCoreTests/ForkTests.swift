import XCTest
@testable import MMCore

/// fork and copy-on-write.
final class ForkTests: XCTestCase {
    //   parent and child after fork:   0x7ffff7xxx000 [ anon rw-p, 2 pages ]
    //   page 0: written before fork (shared read-only by both until a write)
    //   page 1: never touched (no PTE copied)
    func testForkSharesPagesUntilAWriteCopiesThem() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let parent = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(parent, addr: 0, length: 0x2000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.store(parent, a, [1, 2, 3]).get())
        let pslot = k.phys.walk(parent.mm!.pgd, a)!
        let frame = k.phys.readPTE(pslot).pfn
        let committed = k.committedPages

        let child = try k.fork(parent).get()
        XCTAssertEqual(k.checkInvariants(), [])
        let cslot = k.phys.walk(child.mm!.pgd, a)!
        // One frame, two read-only mappings.
        XCTAssertEqual(k.phys.readPTE(cslot).pfn, frame)
        XCTAssertFalse(k.phys.readPTE(pslot).isWritable)
        XCTAssertFalse(k.phys.readPTE(cslot).isWritable)
        XCTAssertEqual(k.phys.memMap.mapcount[frame.index], 2)
        XCTAssertEqual(k.phys.memMap.refcount[frame.index], 2)
        // The child's VM_ACCOUNT areas were charged again.
        XCTAssertGreaterThan(k.committedPages, committed)
        XCTAssertEqual(child.mm!.totalVM, parent.mm!.totalVM)
        XCTAssertEqual(try k.load(child, a, count: 3).get(), [1, 2, 3])

        // The child writes: copy-on-write gives it its own frame; the parent keeps the old value.
        let free0 = k.phys.freePageCount
        XCTAssertNoThrow(try k.store(child, a, [9]).get())
        XCTAssertEqual(free0 - k.phys.freePageCount, 1)
        XCTAssertNotEqual(k.phys.readPTE(cslot).pfn, frame)
        XCTAssertEqual(try k.load(child, a, count: 3).get(), [9, 2, 3])
        XCTAssertEqual(try k.load(parent, a, count: 3).get(), [1, 2, 3])
        XCTAssertEqual(k.phys.memMap.mapcount[frame.index], 1)

        // The parent is now the page's only user: its write reuses the frame (no allocation).
        let free1 = k.phys.freePageCount
        XCTAssertNoThrow(try k.store(parent, a, [7]).get())
        XCTAssertEqual(k.phys.freePageCount, free1)
        XCTAssertEqual(k.phys.readPTE(pslot).pfn, frame)
        XCTAssertEqual(try k.load(parent, a, count: 1).get(), [7])
        XCTAssertEqual(k.checkInvariants(), [])

        // Exit of the child releases its frames and its commit charge.
        k.exitTask(child, status: 0)
        XCTAssertEqual(k.committedPages, committed)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testLockedAreasAreNotInheritedAndDontcopyIsSkipped() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let parent = try k.spawn(ProgramImage(path: "/bin/p")).get()
        parent.uid = 0
        let a = try k.mmap(parent, addr: 0, length: 0x4000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.mlock(parent, addr: a.raw, length: 0x4000).get())
        let b = try k.mmap(parent, addr: 0x10000000, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertNoThrow(try k.madvise(parent, addr: b.raw, length: 0x1000, advice: .dontfork).get())
        let child = try k.fork(parent).get()
        XCTAssertEqual(parent.mm!.lockedVM, 4)
        XCTAssertEqual(child.mm!.lockedVM, 0)
        XCTAssertFalse(child.mm!.vmas.vmaLookup(a)!.flags.contains(.locked))
        XCTAssertNil(child.mm!.vmas.vmaLookup(b))
        XCTAssertEqual(child.mm!.totalVM, parent.mm!.totalVM - 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }
}

/// MAP_POPULATE and mlock through the real fault path.
final class PopulateMlockTests: XCTestCase {
    func testPopulateFaultsEveryPageInAndMlockCountsThem() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        t.uid = 0
        let faults = k.vmstat.pgfault
        let a = try k.mmap(t, addr: 0, length: 16 << 12, prot: [.read, .write], flags: [.private, .anonymous, .populate]).get()
        XCTAssertEqual(k.vmstat.pgfault - faults, 16, "one write fault per page")
        XCTAssertEqual(t.mm!.rss.anon, 16 + 2)
        XCTAssertEqual(k.stat.nrMlock, 0)
        // mlock of pages already present: they become mlocked and unevictable.
        XCTAssertNoThrow(try k.mlock(t, addr: a.raw, length: 8 << 12).get())
        XCTAssertEqual(k.stat.nrMlock, 8)
        XCTAssertEqual(k.stat.nrUnevictable, 8)
        XCTAssertEqual(k.vmstat.pgfault - faults, 16, "nothing left to fault in")
        XCTAssertNoThrow(try k.munlock(t, addr: a.raw, length: 4 << 12).get())
        XCTAssertEqual(k.stat.nrMlock, 4)
        // Unmapping the rest of the locked pages unaccounts them.
        XCTAssertNoThrow(try k.munmap(t, addr: a.raw, length: 16 << 12).get())
        XCTAssertEqual(k.stat.nrMlock, 0)
        XCTAssertEqual(k.stat.nrUnevictable, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }
}

/// Threads: clone with CLONE_VM.
final class ThreadTests: XCTestCase {
    func testThreadsShareTheMMUntilTheLastUserExits() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let main = try k.spawn(ProgramImage(path: "/bin/srv")).get()
        let mm = main.mm!
        let vmas = mm.vmas.count
        let worker = try k.cloneThread(main).get()
        XCTAssertTrue(worker.mm === mm)
        XCTAssertEqual(mm.mmUsers, 2)
        XCTAssertEqual(worker.tgid, main.pid)
        // pthread_create mapped an 8 MiB stack plus a PROT_NONE guard page.
        XCTAssertEqual(mm.vmas.count, vmas + 2)
        let a = try k.mmap(worker, addr: 0, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.store(worker, a, [5]).get())
        XCTAssertEqual(try k.load(main, a, count: 1).get(), [5])
        // The thread exits: the mm stays for the main thread.
        k.exitTask(worker, status: 0)
        XCTAssertEqual(mm.mmUsers, 1)
        XCTAssertTrue(main.mm === mm)
        XCTAssertEqual(try k.load(main, a, count: 1).get(), [5])
        XCTAssertEqual(k.checkInvariants(), [])
        // The last user exits: everything is freed but the PGD, which stays the CPU's active_mm
        // until it switches to another task.
        k.exitTask(main, status: 0)
        XCTAssertEqual(k.stat.nrPageTable, 1)
        XCTAssertEqual(mm.mmCount, 1)
        XCTAssertEqual(k.committedPages, 0)
    }

    func testAFatalSignalInOneThreadKillsTheGroup() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let main = try k.spawn(ProgramImage(path: "/bin/srv")).get()
        let other = try k.spawn(ProgramImage(path: "/bin/other")).get()
        let worker = try k.cloneThread(main).get()
        if case .success = k.store(worker, VirtAddr(0), [1]) { XCTFail("NULL write succeeded") }
        XCTAssertEqual(worker.state, .killed(.SIGSEGV))
        XCTAssertEqual(main.state, .killed(.SIGSEGV))
        XCTAssertEqual(other.state, .running)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testKernelThreadBorrowsActiveMMAndKeepsThePGDAlive() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let app = try k.spawn(ProgramImage(path: "/bin/app")).get()
        let mm = app.mm!
        let kworker = k.spawnKernelThread("kworker/0:1")
        XCTAssertNil(kworker.mm)
        let cr3Loads = k.mmu.stats.cr3Loads
        k.switchTo(kworker)
        XCTAssertTrue(kworker.activeMM === mm)
        XCTAssertEqual(mm.mmCount, 2)
        XCTAssertEqual(k.mmu.stats.cr3Loads, cr3Loads, "lazy TLB: CR3 is not reloaded")
        k.switchTo(app)
        XCTAssertNil(kworker.activeMM)
        XCTAssertEqual(mm.mmCount, 1)
        XCTAssertEqual(k.mmu.stats.cr3Loads, cr3Loads, "back to the same mm: no reload")
        // The app exits while running; the kernel thread then runs on its mm: the VMAs and pages
        // are gone but the PGD stays until the kernel thread switches away.
        let pageTables = k.stat.nrPageTable
        k.exitTask(app, status: 0)
        k.switchTo(kworker)
        XCTAssertTrue(kworker.activeMM === mm)
        XCTAssertEqual(mm.mmUsers, 0)
        XCTAssertEqual(mm.mmCount, 1)
        XCTAssertEqual(k.stat.nrPageTable, 1)
        XCTAssertLessThan(k.stat.nrPageTable, pageTables)
        XCTAssertEqual(k.checkInvariants(), [])
        let other = try k.spawn(ProgramImage(path: "/bin/other")).get()
        k.switchTo(other)
        XCTAssertEqual(mm.mmCount, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }
}
