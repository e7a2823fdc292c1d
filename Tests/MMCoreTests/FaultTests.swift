import XCTest
@testable import MMCore

/// The handle_mm_fault ladder on hand-built address spaces.
final class FaultTests: XCTestCase {
    /// A machine with one process whose mm holds the given VMAs (no program image).
    func makeTask(_ vmas: [VMA], ram: UInt64 = 256 << 20) throws -> (Kernel, Task) {
        let k = try Kernel(config: MachineConfig(ramBytes: ram))
        let pgd = k.phys.allocPages(order: 0, gfp: [.zero])!
        k.phys.memMap.flags[pgd.index].insert(.pageTable)
        k.stat.nrPageTable += 1
        let mm = MMStruct(pgd: pgd)
        let t = k.addTask(comm: "t", mm: mm)
        for v in vmas { _ = k.insertVMA(mm, v) }
        return (k, t)
    }

    /// The failure of a store, or nil when it succeeded.
    func storeFailure(_ k: Kernel, _ t: Task, _ va: UInt64, _ b: [UInt8]) -> AccessFailure? {
        if case .failure(let f) = k.store(t, VirtAddr(va), b) { return f }
        return nil
    }

    let rw: VMFlags = [.read, .write, .mayread, .maywrite, .mayexec]

    //   0x10000          0x14000
    //   |---- anon rw ----|
    func testReadMapsZeroPageThenWriteReplacesIt() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x10000), end: VirtAddr(0x14000), flags: rw)])
        let free0 = k.phys.freePageCount
        XCTAssertEqual(try k.load(t, VirtAddr(0x10008), count: 8).get(), [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(k.vmstat.pgfault, 1)
        XCTAssertEqual(k.vmstat.zeroPageMaps, 1)
        XCTAssertEqual(t.mm!.rss.anon, 0)
        // PUD, PMD and PTE tables were allocated; no data page.
        XCTAssertEqual(free0 - k.phys.freePageCount, 3)
        XCTAssertEqual(t.mm!.pgtablesBytes, 3 * 4096)
        let slot = k.phys.walk(t.mm!.pgd, VirtAddr(0x10000))!
        XCTAssertEqual(k.phys.readPTE(slot).pfn, k.zeroPFN)
        XCTAssertFalse(k.phys.readPTE(slot).isWritable)

        XCTAssertNoThrow(try k.store(t, VirtAddr(0x10008), [1, 2, 3]).get())
        XCTAssertEqual(k.vmstat.pgfault, 2)
        XCTAssertEqual(t.mm!.rss.anon, 1)
        let pte = k.phys.readPTE(slot)
        XCTAssertNotEqual(pte.pfn, k.zeroPFN)
        XCTAssertTrue(pte.isWritable && pte.isDirty && pte.isNX)
        XCTAssertEqual(try k.load(t, VirtAddr(0x10007), count: 5).get(), [0, 1, 2, 3, 0])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testWriteFaultAllocatesOnePagePerPage() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x400000), end: VirtAddr(0x800000), flags: rw)])
        XCTAssertNoThrow(try k.touch(t, VirtAddr(0x400000), length: 0x400000, .write).get())
        XCTAssertEqual(k.vmstat.pgfault, 1024)
        XCTAssertEqual(t.mm!.rss.anon, 1024)
        XCTAssertEqual(k.stat.nrAnonMapped, 1024)
        // Touching again takes no fault.
        XCTAssertNoThrow(try k.touch(t, VirtAddr(0x400000), length: 0x400000, .write).get())
        XCTAssertEqual(k.vmstat.pgfault, 1024)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    //   0x0 (NULL)       0x10000    0x11000
    //   |  no VMA        |-- r-- ---|
    func testSegfaultsLogTheKernelLine() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x10000), end: VirtAddr(0x11000), flags: [.read, .mayread])])
        t.ip = 0x555555555139; t.sp = 0x7fffffffe3f0
        XCTAssertEqual(storeFailure(k, t, 0, [0]), (.signal(.SIGSEGV, VirtAddr(0))))
        XCTAssertEqual(t.state, .killed(.SIGSEGV))
        XCTAssertEqual(t.fatalSegvCode, .mapErr)
        XCTAssertEqual(k.log.last?.text, "t[1000]: segfault at 0 ip 0000555555555139 sp 00007fffffffe3f0 error 6 likely on CPU 0 (core 0, socket 0)")
        XCTAssertNil(t.mm)
        XCTAssertEqual(storeFailure(k, t, 0x10000, [0]), .notRunning)
    }

    func testWriteToReadOnlyVMAIsAccessError() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x10000), end: VirtAddr(0x11000), flags: [.read, .mayread])])
        XCTAssertNoThrow(try k.load(t, VirtAddr(0x10000), count: 1).get())
        XCTAssertEqual(storeFailure(k, t, 0x10000, [1]), (.signal(.SIGSEGV, VirtAddr(0x10000))))
        XCTAssertEqual(t.fatalSegvCode, .accErr)
        // present page, write, user: error 7
        XCTAssertTrue(k.log.last!.text.contains("error 7"))
    }

    func testTeardownFreesEverything() throws {
        let (k, t) = try makeTask([VMA(start: VirtAddr(0x7f0000000000), end: VirtAddr(0x7f0000100000), flags: rw)])
        let free0 = k.phys.freePageCount
        XCTAssertNoThrow(try k.touch(t, VirtAddr(0x7f0000000000), length: 0x100000, .write).get())
        // 256 pages, 3 page tables and the first slab of the anon_vma cache (anon_vma_prepare).
        XCTAssertEqual(free0 - k.phys.freePageCount, 256 + 3 + 1)
        k.exitTask(t, status: 0)
        // Everything but the PGD, which stays the CPU's active_mm until it switches away, and the
        // anon_vma slab (an empty CPU slab stays, as in SLUB).
        XCTAssertEqual(k.phys.freePageCount, free0 - 1)
        XCTAssertEqual(k.stat.nrPageTable, 1)
        XCTAssertEqual(k.stat.nrAnonMapped, 0)
        let next = k.addTask(comm: "next", mm: MMStruct(pgd: k.phys.allocPages(order: 0, gfp: [.zero])!))
        k.switchTo(next)
        XCTAssertEqual(k.phys.freePageCount, free0 - 1) // the old PGD freed, the new one allocated
        XCTAssertEqual(k.stat.nrPageTable, 0)
    }

    //   0x7fffff7ff000 (8 MiB below the top)     0x7ffffffde000        0x7ffffffff000
    //   |<-------- room to grow (RLIMIT_STACK) -------->|------ [stack] ------|
    func testStackGrowsDownOnAccessWithinTheRlimit() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let t = try k.spawn(ProgramImage(path: "/bin/s")).get()
        let mm = t.mm!
        let stack = mm.vmas.vmaLookup(VirtAddr(0x7ffffffde000))!
        XCTAssertEqual(stack.start.raw, 0x7ffffffde000)
        // A push 64 KiB below the stack VMA: the VMA grows down to that page.
        XCTAssertNoThrow(try k.store(t, VirtAddr(0x7ffffffce008), [7]).get())
        XCTAssertEqual(mm.vmas.vmaLookup(VirtAddr(0x7ffffffce008))?.start.raw, 0x7ffffffce000)
        XCTAssertEqual(mm.vmas.vmaLookup(VirtAddr(0x7ffffffce008))?.end.raw, 0x7ffffffff000)
        XCTAssertEqual(mm.stackVM, (0x7ffffffff000 - 0x7ffffffce000) >> 12)
        XCTAssertEqual(k.checkInvariants(), [])
        // An access beyond the 8 MiB limit is a SIGSEGV (SEGV_MAPERR), and the stack did not grow.
        XCTAssertEqual(storeFailure(k, t, 0x7fffff700000, [1]), .signal(.SIGSEGV, VirtAddr(0x7fffff700000)))
        XCTAssertEqual(t.fatalSegvCode, .mapErr)
    }

    //   0x10000   0x11000
    //   |- rw- -|   written, then mprotect(PROT_READ), then mprotect(PROT_READ|PROT_WRITE)
    func testMprotectKeepsValuesAndWritableExclusivePages() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(t, addr: 0, length: 0x1000, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.store(t, a, [1, 2, 3]).get())
        let faults = k.vmstat.pgfault
        XCTAssertNoThrow(try k.mprotect(t, addr: a.raw, length: 0x1000, prot: .read).get())
        XCTAssertEqual(try k.load(t, a, count: 3).get(), [1, 2, 3])
        XCTAssertNoThrow(try k.mprotect(t, addr: a.raw, length: 0x1000, prot: [.read, .write]).get())
        // The page is anonymous and exclusive: mprotect makes the PTE writable again, no fault.
        XCTAssertNoThrow(try k.store(t, a, [9]).get())
        XCTAssertEqual(k.vmstat.pgfault, faults)
        XCTAssertEqual(try k.load(t, a, count: 3).get(), [9, 2, 3])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testOOMKillerPicksTheBiggestTaskAndTheAccessIsRetried() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 128 << 20))
        k.sysctl.overcommitMemory = 1
        let small = try k.spawn(ProgramImage(path: "/bin/small")).get()
        let big = try k.spawn(ProgramImage(path: "/bin/big")).get()
        let b = try k.mmap(big, addr: 0, length: 256 << 20, prot: [.read, .write], flags: [.private, .anonymous]).get()
        // big fills memory; the OOM killer picks big itself (highest badness).
        if case .failure(let f) = k.touch(big, b, length: 256 << 20, .write) { XCTAssertEqual(f, .oomKilled) } else { XCTFail("big survived") }
        XCTAssertEqual(big.state, .killed(.SIGKILL))
        XCTAssertEqual(k.vmstat.oomKill, 1)
        XCTAssertTrue(k.log.contains { $0.text.hasPrefix("Out of memory: Killed process \(big.pid) (big)") })
        // Memory is back: small can fault pages in.
        let s = try k.mmap(small, addr: 0, length: 1 << 20, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.touch(small, s, length: 1 << 20, .write).get())
        XCTAssertEqual(k.checkInvariants(), [])
    }

    /// The first-touch fast path (handleAnonymousFaultFast, taken when --explain is off) leaves
    /// exactly what the general path (taken for every fault while a narration is requested)
    /// leaves: the same faults, pages, PTEs, reverse-map keys, LRU order and counters.
    func testFirstTouchFastPathMatchesTheGeneralPath() throws {
        let locked: VMFlags = [.read, .write, .mayread, .maywrite, .locked]
        func run(narrated: Bool) throws -> [String] {
            let (k, t) = try makeTask([VMA(start: VirtAddr(0x400000), end: VirtAddr(0x900000), flags: rw),
                                       VMA(start: VirtAddr(0xa00000), end: VirtAddr(0xa40000), flags: locked),
                                       VMA(start: VirtAddr(0xb00000), end: VirtAddr(0xb10000), flags: [.read, .mayread])])
            if narrated {
                k.explain = { _ in }
                k.explainFaultsLeft = Int.max
            }
            var out: [String] = []
            // Reads map the zero page, writes replace it or allocate; both cross PMD boundaries.
            try k.touch(t, VirtAddr(0x5ff000), length: 0x3000, .read).get()
            try k.touch(t, VirtAddr(0x400000), length: 0x500000, .write).get()
            try k.touch(t, VirtAddr(0xa00000), length: 0x40000, .write).get()
            try k.touch(t, VirtAddr(0xb00000), length: 0x10000, .read).get()
            for va in stride(from: UInt64(0x400000), to: 0xb10000, by: 0x1000) {
                guard let slot = k.phys.walk(t.mm!.pgd, VirtAddr(va)) else { continue }
                let pte = k.phys.readPTE(slot)
                guard pte.isPresent else { continue }
                let i = pte.pfn.index
                out.append("\(va) \(pte.raw) \(k.reclaim.rmapAnonVMA[i]) \(k.reclaim.rmapIndex[i]) \(k.phys.memMap.flags[i].rawValue)")
            }
            out.append("lru \(k.reclaim.pages(on: .inactiveAnon)) \(k.reclaim.pages(on: .unevictable))")
            out.append("vmstat \(k.vmstat.pgfault) \(k.vmstat.pgalloc) \(k.vmstat.zeroPageMaps) \(t.minFlt) \(t.majFlt) \(k.clockNs)")
            out.append("rss \(t.mm!.rss.anon) \(k.stat.nrAnonMapped) \(k.stat.nrMlock) \(k.phys.freePageCount)")
            let violations = k.checkInvariants()
            XCTAssertTrue(violations.isEmpty, "\(violations.count) violations, first: \(violations.first ?? "")")
            return out
        }
        let fast = try run(narrated: false), general = try run(narrated: true)
        XCTAssertEqual(fast.count, general.count)
        if let i = fast.indices.first(where: { $0 < general.count && fast[$0] != general[$0] }) {
            XCTFail("first difference, line \(i): fast path \(fast[i]), general path \(general[i])")
        }
        XCTAssertGreaterThan(fast.count, 1300)
    }
}
