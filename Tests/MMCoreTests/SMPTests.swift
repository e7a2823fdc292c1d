import XCTest
@testable import MMCore

/// Several CPUs: context switches with and without PCID, TLB shootdowns, lazy TLB, vfork and
/// mm reference counts.
final class SMPTests: XCTestCase {
    /// A 2-CPU machine running `app` on CPU0 with a populated 16 KiB buffer, and its thread
    /// `worker` on CPU1 having read the first two pages (so CPU1's TLB caches them).
    func twoThreads(pcid: Bool) throws -> (Kernel, Task, Task, VirtAddr) {
        var cfg = MachineConfig(ramBytes: 256 << 20, cpus: 2)
        cfg.tlb.pcid = pcid
        let k = try Kernel(config: cfg)
        let app = try k.spawn(ProgramImage(path: "/bin/app")).get()
        let buf = try k.mmap(app, addr: 0, length: 0x4000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.touch(app, buf, length: 0x4000, .write).get())
        let worker = try k.cloneThread(app).get()
        XCTAssertNoThrow(try k.schedule(worker, on: 1).get())
        XCTAssertEqual(try k.load(worker, buf, count: 1).get(), [0])
        XCTAssertEqual(try k.load(worker, VirtAddr(buf.raw + 0x1000), count: 1).get(), [0])
        XCTAssertEqual(k.checkInvariants(), [])
        return (k, app, worker, buf)
    }

    /// Whether `cpu`'s dTLB or STLB holds an entry for the page of `va`.
    func cached(_ k: Kernel, cpu: Int, _ va: VirtAddr) -> Bool {
        let m = k.cpus[cpu].mmu
        return (m.l1d.entries() + m.stlb.entries()).contains { $0.page.raw == va.raw & PAGE_MASK }
    }

    func testMunmapOnCPU0ShootsDownTheThreadOnCPU1() throws {
        for pcid in [false, true] {
            let (k, app, worker, buf) = try twoThreads(pcid: pcid)
            XCTAssertTrue(cached(k, cpu: 1, buf))
            let before = k.cpus[1].mmu.stats
            XCTAssertNoThrow(try k.schedule(app, on: 0).get())
            XCTAssertNoThrow(try k.munmap(app, addr: buf.raw, length: 0x1000).get())
            XCTAssertEqual(k.cpus[0].tlbShootdownsSent, 1, "pcid \(pcid)")
            XCTAssertEqual(k.cpus[0].tlbShootdownsReceived, 0)
            XCTAssertEqual(k.cpus[1].tlbShootdownsReceived, 1)
            XCTAssertEqual(k.cpus[1].tlbShootdownsSent, 0)
            // CPU1 ran one INVLPG for the page, nothing else.
            XCTAssertEqual(k.cpus[1].mmu.stats.singlePageFlushes - before.singlePageFlushes, 1)
            XCTAssertEqual(k.cpus[1].mmu.stats.fullFlushes, before.fullFlushes)
            XCTAssertFalse(cached(k, cpu: 1, buf), "the stale entry is gone")
            XCTAssertTrue(cached(k, cpu: 1, VirtAddr(buf.raw + 0x1000)), "the neighbour stays cached")
            XCTAssertEqual(k.checkInvariants(), [])
            XCTAssertEqual(ProcFS_interruptsTLBRow(k), [0, 1])
            // mprotect read-only: one more IPI; then the worker's write faults (SEGV_ACCERR).
            XCTAssertNoThrow(try k.mprotect(app, addr: buf.raw + 0x1000, length: 0x1000, prot: .read).get())
            XCTAssertEqual(k.cpus[1].tlbShootdownsReceived, 2)
            XCTAssertEqual(k.checkInvariants(), [])
            guard case .failure(.signal(.SIGSEGV, let va)) = k.store(worker, VirtAddr(buf.raw + 0x1000), [1]) else {
                return XCTFail("write to the read-only page must fault")
            }
            XCTAssertEqual(va.raw, buf.raw + 0x1000)
            XCTAssertEqual(worker.fatalSegvCode, .accErr)
        }
    }

    /// The TLB row of /proc/interrupts as numbers (checks the counters the file prints).
    func ProcFS_interruptsTLBRow(_ k: Kernel) -> [Int] { k.cpus.map(\.tlbShootdownsReceived) }

    func testAccessAfterShootdownFaultsOnTheOtherCPU() throws {
        let (k, app, worker, buf) = try twoThreads(pcid: true)
        _ = try k.schedule(app, on: 0).get()
        XCTAssertNoThrow(try k.munmap(app, addr: buf.raw, length: 0x1000).get())
        guard case .failure(.signal(.SIGSEGV, _)) = k.load(worker, buf, count: 1) else {
            return XCTFail("the unmapped page must not translate through a stale entry")
        }
        XCTAssertEqual(worker.fatalSegvCode, .mapErr)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testInvariantCatchesAStaleEntryWithoutShootdown() throws {
        let (k, _, _, buf) = try twoThreads(pcid: false)
        // Change the PTE behind the kernel's back (no flush): CPU1 now caches a stale translation.
        let slot = k.phys.walk(k.cpus[1].loadedMM.pgd, buf)!
        k.phys.writePTE(slot, PTE(raw: 0))
        let bad = k.tlbInvariantViolations()
        XCTAssertFalse(bad.isEmpty)
        XCTAssertTrue(bad.allSatisfy { $0.hasPrefix("CPU") })
        XCTAssertTrue(bad.contains { $0.hasPrefix("CPU1") })
    }

    /// A and B on one CPU: A caches a page, B runs, A runs again.
    func switchRoundTrip(pcid: Bool) throws -> (before: TLBStats, after: TLBStats, survived: Bool, k: Kernel) {
        var cfg = MachineConfig(ramBytes: 256 << 20)
        cfg.tlb.pcid = pcid
        let k = try Kernel(config: cfg)
        let a = try k.spawn(ProgramImage(path: "/bin/a")).get()
        let buf = try k.mmap(a, addr: 0, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.store(a, buf, [7]).get())
        let b = try k.spawn(ProgramImage(path: "/bin/b")).get()
        XCTAssertTrue(k.current === b)
        let before = k.mmu.stats
        k.switchTo(a)
        let survived = cached(k, cpu: 0, buf)
        XCTAssertEqual(try k.load(a, buf, count: 1).get(), [7])
        XCTAssertEqual(k.checkInvariants(), [])
        return (before, k.mmu.stats, survived, k)
    }

    func testPCIDKeepsEntriesAcrossASwitchAndBack() throws {
        let r = try switchRoundTrip(pcid: true)
        XCTAssertTrue(r.survived)
        XCTAssertEqual(r.after.cr3Loads - r.before.cr3Loads, 1)
        XCTAssertEqual(r.after.fullFlushes - r.before.fullFlushes, 0, "CR3 written with the no-flush bit")
        XCTAssertEqual(r.after.l1dHits - r.before.l1dHits, 1)
        XCTAssertEqual(r.after.pageWalks - r.before.pageWalks, 0)
        // The two processes sit in ASID slots 1 and 2 (PCIDs 2 and 3); slot 0 holds init_mm.
        XCTAssertEqual(r.k.cpus[0].loadedASID, 1)
        XCTAssertEqual(r.k.mmu.pcid, 2)
        XCTAssertTrue(r.k.cpus[0].ctxs[0].mm === r.k.initMM)
    }

    func testWithoutPCIDASwitchFlushes() throws {
        let r = try switchRoundTrip(pcid: false)
        XCTAssertFalse(r.survived)
        XCTAssertEqual(r.after.cr3Loads - r.before.cr3Loads, 1)
        XCTAssertEqual(r.after.fullFlushes - r.before.fullFlushes, 1)
        XCTAssertEqual(r.after.l1dHits - r.before.l1dHits, 0)
        XCTAssertEqual(r.after.l1dMisses - r.before.l1dMisses, 1)
        XCTAssertEqual(r.after.pageWalks - r.before.pageWalks, 1)
    }

    func testPCIDFlushesAtTheSwitchBackWhenTheMMChangedMeanwhile() throws {
        // CPU1 ran the worker, then another process: CPU1 left the mm's cpumask, so a flush of
        // the mm sends it no IPI; switching back finds the slot behind the mm's tlb_gen: flush.
        let (k, app, worker, buf) = try twoThreads(pcid: true)
        let other = try k.spawn(ProgramImage(path: "/bin/other")).get()   // spawned on CPU1
        XCTAssertEqual(k.cpuRunning(other), 1)
        XCTAssertEqual(app.mm!.cpumask, 0b01)
        _ = try k.schedule(app, on: 0).get()
        XCTAssertNoThrow(try k.mprotect(app, addr: buf.raw, length: 0x1000, prot: .read).get())
        XCTAssertEqual(k.cpus[1].tlbShootdownsReceived, 0)
        XCTAssertTrue(cached(k, cpu: 1, buf), "the old entry is still tagged on CPU1 (never used)")
        XCTAssertEqual(k.checkInvariants(), [], "a slot behind the mm's generation is allowed")
        let before = k.cpus[1].mmu.stats
        XCTAssertNoThrow(try k.schedule(worker, on: 1).get())
        XCTAssertEqual(k.cpus[1].mmu.stats.fullFlushes - before.fullFlushes, 1)
        XCTAssertFalse(cached(k, cpu: 1, buf))
        XCTAssertEqual(k.cpus[1].ctxs[k.cpus[1].loadedASID].tlbGen, app.mm!.tlbGen)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testLazyKernelThreadGetsNoIPIForAFlushButFlushesAtItsSwitch() throws {
        let (k, app, worker, buf) = try twoThreads(pcid: false)
        let kw = k.spawnKernelThread("kworker")
        XCTAssertNoThrow(try k.schedule(kw, on: 1).get())
        XCTAssertTrue(k.cpus[1].isLazy)
        XCTAssertTrue(k.cpus[1].loadedMM === app.mm)
        XCTAssertEqual(app.mm!.cpumask, 0b11, "a lazy CPU stays in the cpumask")
        _ = try k.schedule(app, on: 0).get()
        XCTAssertNoThrow(try k.mprotect(app, addr: buf.raw, length: 0x1000, prot: .read).get())
        XCTAssertEqual(k.cpus[1].tlbShootdownsReceived, 0, "lazy CPUs are skipped")
        XCTAssertEqual(k.cpus[0].tlbShootdownsSent, 0)
        XCTAssertEqual(k.checkInvariants(), [])
        let before = k.cpus[1].mmu.stats
        XCTAssertNoThrow(try k.schedule(worker, on: 1).get())
        XCTAssertFalse(k.cpus[1].isLazy)
        XCTAssertEqual(k.cpus[1].mmu.stats.cr3Loads - before.cr3Loads, 1)
        XCTAssertEqual(k.cpus[1].mmu.stats.fullFlushes - before.fullFlushes, 1)
        XCTAssertFalse(cached(k, cpu: 1, buf))
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testFreeingPageTablesIPIsALazyCPUWhichSwitchesToInitMM() throws {
        var cfg = MachineConfig(ramBytes: 256 << 20, cpus: 2)
        cfg.tlb.pcid = true
        let k = try Kernel(config: cfg)
        let app = try k.spawn(ProgramImage(path: "/bin/app")).get()
        // A 2 MiB-aligned area of its own: unmapping it frees its PTE table.
        let area = try k.mmap(app, addr: 0x6000_0000_0000, length: 0x20_0000, prot: [.read, .write], flags: [.private, .anonymous, .fixed]).get()
        XCTAssertNoThrow(try k.touch(app, area, length: 0x2000, .write).get())
        let worker = try k.cloneThread(app).get()
        XCTAssertNoThrow(try k.schedule(worker, on: 1).get())
        let kw = k.spawnKernelThread("kworker")
        XCTAssertNoThrow(try k.schedule(kw, on: 1).get())
        _ = try k.schedule(app, on: 0).get()
        XCTAssertNoThrow(try k.munmap(app, addr: area.raw, length: 0x20_0000).get())
        XCTAssertEqual(k.cpus[1].tlbShootdownsReceived, 1, "page tables freed: lazy CPUs are told")
        XCTAssertTrue(k.cpus[1].loadedMM === k.initMM)
        XCTAssertFalse(k.cpus[1].isLazy)
        XCTAssertEqual(app.mm!.cpumask, 0b01)
        XCTAssertNil(k.cpus[1].mmu.cr3)
        XCTAssertTrue(kw.activeMM === app.mm, "the kernel thread still holds its borrowed mm")
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testATaskRunsOnOneCPUAtATime() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20, cpus: 2))
        let app = try k.spawn(ProgramImage(path: "/bin/app")).get()
        XCTAssertEqual(k.cpuRunning(app), 0)
        guard case .failure(let e) = k.schedule(app, on: 1) else { return XCTFail("must be refused") }
        XCTAssertEqual(e, .runningElsewhere(pid: app.pid, cpu: 0))
        guard case .failure(let e2) = k.schedule(app, on: 2) else { return XCTFail("no CPU 2") }
        XCTAssertEqual(e2.description, "no CPU 2: the machine has 2 CPUs (0...1)")
        XCTAssertThrowsError(try Kernel(config: MachineConfig(ramBytes: 256 << 20, cpus: 65)))
    }

    func testVforkBlocksTheParentUntilTheChildExits() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20, cpus: 2))
        let sh = try k.spawn(ProgramImage(path: "/bin/sh")).get()
        let mm = sh.mm!
        let child = try k.vfork(sh).get()
        XCTAssertTrue(child.mm === mm)
        XCTAssertEqual(mm.mmUsers, 2)
        XCTAssertEqual(mm.mmCount, 1)
        XCTAssertTrue(sh.vforkChild === child)
        XCTAssertEqual(k.cpuRunning(child), 0, "the child takes the parent's CPU")
        XCTAssertNil(k.cpuRunning(sh))
        XCTAssertEqual(child.ppid, sh.pid)
        guard case .failure(let e) = k.schedule(sh, on: 1) else { return XCTFail("the parent waits") }
        XCTAssertEqual(e, .vforkWaiting(pid: sh.pid, child: child.pid))
        guard case .failure(.notRunning) = k.load(sh, VirtAddr(mm.startStack), count: 1) else { return XCTFail("the parent cannot run") }
        // The child writes into the shared address space; the parent sees it after it wakes.
        XCTAssertNoThrow(try k.store(child, VirtAddr(mm.startData), [0x5a]).get())
        k.exitTask(child, status: 0)
        XCTAssertNil(sh.vforkChild)
        XCTAssertNil(child.vforkParent)
        XCTAssertEqual(mm.mmUsers, 1)
        XCTAssertEqual(mm.mmCount, 2, "the exited child is still on CPU0 with the mm as active_mm")
        XCTAssertNoThrow(try k.schedule(sh, on: 0).get())
        XCTAssertEqual(mm.mmCount, 1)
        XCTAssertEqual(try k.load(sh, VirtAddr(mm.startData), count: 1).get(), [0x5a])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testCloneFlags() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let p = try k.spawn(ProgramImage(path: "/bin/p")).get()
        guard case .failure(.EINVAL) = k.kernelClone(p, flags: .thread) else { return XCTFail("CLONE_THREAD needs CLONE_VM") }
        let shared = try k.kernelClone(p, flags: .vm).get()
        XCTAssertTrue(shared.mm === p.mm)
        XCTAssertEqual(shared.tgid, shared.pid, "CLONE_VM alone makes a process")
        XCTAssertEqual(p.mm!.mmUsers, 2)
        let t = try k.kernelClone(p, flags: [.vm, .thread]).get()
        XCTAssertEqual(t.tgid, p.pid)
        XCTAssertEqual(p.mm!.mmUsers, 3)
        // CLONE_VFORK without CLONE_VM: a copy, and the parent still waits.
        k.switchTo(p)
        let c = try k.kernelClone(p, flags: .vfork).get()
        XCTAssertFalse(c.mm === p.mm)
        XCTAssertTrue(p.vforkChild === c)
        k.killTask(c, signal: .SIGKILL)
        XCTAssertNil(p.vforkChild, "a killed child releases the parent too")
        XCTAssertEqual(CloneFlags([.vm, .vfork]).straceText, "CLONE_VM|CLONE_VFORK|SIGCHLD")
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testRefcountsAfterForkThreadAndExit() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20, cpus: 2))
        let p = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let child = try k.fork(p).get()
        XCTAssertEqual([child.mm!.mmUsers, child.mm!.mmCount], [1, 1])
        XCTAssertEqual([p.mm!.mmUsers, p.mm!.mmCount], [1, 1])
        let t = try k.cloneThread(p).get()
        let mm = p.mm!
        XCTAssertEqual([mm.mmUsers, mm.mmCount], [2, 1])
        XCTAssertNoThrow(try k.schedule(t, on: 1).get())
        let tables = k.stat.nrPageTable
        // The thread exits on CPU1: the mm stays (one user left); CPU1 goes lazy on it.
        k.exitTask(t, status: 0)
        XCTAssertEqual([mm.mmUsers, mm.mmCount], [1, 2])
        XCTAssertTrue(k.cpus[1].isLazy)
        XCTAssertEqual(k.stat.nrPageTable, tables)
        XCTAssertEqual(k.checkInvariants(), [])
        // The leader exits on CPU0: exit_mmap tears the tables down, CPU1 gets the freed-tables
        // IPI and leaves the mm; the PGD lives while exited tasks still hold it as active_mm.
        _ = try k.schedule(p, on: 0).get()
        k.exitTask(p, status: 0)
        XCTAssertEqual([mm.mmUsers, mm.mmCount], [0, 2])
        XCTAssertEqual(k.cpus[1].tlbShootdownsReceived, 1)
        XCTAssertTrue(k.cpus[0].loadedMM === k.initMM)
        XCTAssertTrue(k.cpus[1].loadedMM === k.initMM)
        XCTAssertEqual(k.checkInvariants(), [])
        _ = try k.schedule(child, on: 0).get()
        XCTAssertEqual(mm.mmCount, 1)
        _ = k.selectCPU(1)
        let q = try k.spawn(ProgramImage(path: "/bin/q")).get()
        XCTAssertEqual(k.cpuRunning(q), 1)
        XCTAssertEqual(mm.mmCount, 0, "both CPUs switched away: the last mmdrop freed the PGD")
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testExecOfAVforkChildWakesTheParentAndLoadsTheNewMM() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20, cpus: 2))
        let sh = try k.spawn(ProgramImage(path: "/bin/sh")).get()
        let old = sh.mm!
        let child = try k.vfork(sh).get()
        // A new, empty address space as execve builds it (here: just its PGD).
        let pgd = k.phys.allocPages(order: 0, gfp: [.zero])!
        k.phys.memMap.flags[pgd.index].insert(.pageTable)
        k.stat.nrPageTable += 1
        let mm = MMStruct(pgd: pgd)
        k.execMmap(child, mm)
        XCTAssertNil(sh.vforkChild, "exec releases the vfork parent")
        XCTAssertEqual([old.mmUsers, old.mmCount], [1, 1])
        XCTAssertTrue(k.cpus[0].loadedMM === mm)
        XCTAssertEqual(k.mmu.cr3, pgd)
        XCTAssertEqual(mm.cpumask, 0b01)
        XCTAssertEqual(old.cpumask, 0)
        XCTAssertNoThrow(try k.schedule(sh, on: 1).get())
        XCTAssertEqual(k.checkInvariants(), [])
    }
}
