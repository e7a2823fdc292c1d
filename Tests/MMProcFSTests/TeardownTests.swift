import XCTest
@testable import MMCore
@testable import MMProcFS

/// exit tears a process down completely: once every process but init has exited, the CPU is
/// back on init's mm and the unmapped page cache is dropped, /proc/meminfo and /proc/buddyinfo read exactly as they did before. (While a
/// kernel thread runs on a dead process's mm as its lazy active_mm, that mm's PGD lives on, as in
/// Linux; switching to init drops the last reference.)
final class TeardownTests: XCTestCase {
    func testEveryCounterReturnsToItsBootValue() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 512 << 20))
        let initTask = try k.spawn(ProgramImage(path: "/sbin/init")).get()
        let idle = k.spawnKernelThread("swapper/0")
        let other = k.spawnKernelThread("kworker/0:0")
        // Page-cache pages outlive the processes that read them; drop_caches frees the unmapped
        // ones, so both measurements hold only what address spaces (and the cache init maps) use.
        _ = k.dropCaches(1)
        // The kernel objects (task_struct, mm_struct, vm_area_struct…) leave their slabs behind
        // as Linux's do: one round of the same workload first, so that the caches are warm.
        try workload(k, initTask: initTask, idle: idle, other: other, meminfo0: nil)
        let meminfo0 = ProcFS.meminfo(k), buddy0 = ProcFS.buddyinfo(k), vm0 = k.vmstat.pgalloc, commit0 = k.committedPages

        try workload(k, initTask: initTask, idle: idle, other: other, meminfo0: meminfo0)
        XCTAssertEqual(k.checkInvariants(), [])
        XCTAssertGreaterThan(k.vmstat.pgalloc, vm0)
        XCTAssertEqual(ProcFS.meminfo(k), meminfo0)
        // The same free pages in each zone; how they are split into blocks may differ, since the
        // kernel objects' slabs now sit where the second round's allocations put them.
        XCTAssertEqual(freePagesPerZone(ProcFS.buddyinfo(k)), freePagesPerZone(buddy0))
        XCTAssertEqual(k.committedPages, commit0)
        XCTAssertEqual(k.allTasks.filter { $0.state.isAlive && $0.mm != nil }.map(\.pid), [initTask.pid])
    }
    /// Runs a process with anonymous, shared, locked and malloc'ed memory, a fork child that
    /// copies some pages, a thread and a second unrelated process, then ends them all and puts
    /// the CPU back on init.
    private func workload(_ k: Kernel, initTask: Task, idle: Task, other: Task, meminfo0: String?) throws {
        // A process with anonymous, shared, locked and malloc'ed memory, a fork child that
        // copies some pages, a thread, and a second unrelated process.
        let a = try k.spawn(ProgramImage(path: "/usr/bin/a")).get()
        let anon = try k.mmap(a, addr: 0, length: 1 << 20, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.touch(a, anon, length: 1 << 20, .write).get())
        let shm = try k.mmap(a, addr: 0, length: 64 << 10, prot: [.read, .write], flags: [.shared, .anonymous]).get()
        XCTAssertNoThrow(try k.touch(a, shm, length: 64 << 10, .write).get())
        let locked = try k.mmap(a, addr: 0, length: 32 << 10, prot: [.read, .write], flags: [.private, .anonymous, .locked]).get()
        XCTAssertNoThrow(try k.touch(a, locked, length: 32 << 10, .read).get())
        let p = try XCTUnwrap(k.malloc(a, 300 << 10))
        XCTAssertNoThrow(try k.touch(a, p, length: 300 << 10, .write).get())
        let child = try k.fork(a).get()
        k.switchTo(child)
        XCTAssertNoThrow(try k.touch(child, anon, length: 256 << 10, .write).get())
        let th = try k.cloneThread(a).get()
        k.switchTo(th)
        XCTAssertNoThrow(try k.store(th, shm, [1, 2, 3]).get())
        let b = try k.spawn(ProgramImage(path: "/usr/bin/b", pie: false)).get()
        XCTAssertNoThrow(try k.touch(b, VirtAddr(b.mm!.startBrk), length: 0, .read).get())
        if let m = meminfo0 { XCTAssertNotEqual(ProcFS.meminfo(k), m) }
        XCTAssertEqual(k.checkInvariants(), [])

        for t in [child, th, a, b] where t.state.isAlive { k.switchTo(t); k.exitTask(t, status: 0) }
        // Kernel threads pass the last dead mm along as their active_mm; init's mm replaces it.
        k.switchTo(idle)
        k.switchTo(other)
        if let m = meminfo0 { XCTAssertNotEqual(ProcFS.meminfo(k), m, "the dead mm's PGD is still in use") }
        k.switchTo(initTask)
        _ = k.dropCaches(1)

    }

    /// The free pages of each zone line of /proc/buddyinfo (Σ count × 2^order).
    private func freePagesPerZone(_ text: String) -> [Int] {
        text.split(separator: "\n").map { line in
            let nums = line.split(separator: " ").dropFirst(4).compactMap { Int($0) }
            return nums.enumerated().reduce(0) { $0 + $1.element << $1.offset }
        }
    }
}
