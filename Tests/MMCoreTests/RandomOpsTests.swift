import XCTest
@testable import MMCore

/// The tests' seeded generator: the model's own SplitMix64, so random tests are reproducible.
typealias SeededRNG = SplitMix64

/// Long random sequences of memory system calls and accesses, with every invariant checked after
/// each step and every stored value read back against a shadow copy kept by the test.
final class RandomOpsTests: XCTestCase {
    func testRandomSyscallsKeepInvariantsAndValues() throws {
        for seed: UInt64 in [1, 2, 3] { try runSequence(seed: seed, steps: 400) }
    }

    /// The same random sequences on a THP machine (madvise mode): large mappings, half of them
    /// MADV_HUGEPAGE, so stores take huge faults and munmap/mprotect/DONTNEED/mremap split huge
    /// PMDs; khugepaged wakeups collapse ranges back.
    func testRandomSyscallsWithTransparentHugePages() throws {
        var alloc: UInt64 = 0, split: UInt64 = 0, collapse: UInt64 = 0
        for seed: UInt64 in [4, 5, 6] {
            let v = try runSequence(seed: seed, steps: 120, thp: true)
            alloc += v.thpFaultAlloc; split += v.thpSplitPMD; collapse += v.thpCollapseAlloc
        }
        // The sequences did exercise THP: huge faults, PMD splits and collapses.
        XCTAssertGreaterThan(alloc, 0)
        XCTAssertGreaterThan(split, 0)
        XCTAssertGreaterThan(collapse, 0)
    }

    /// Runs one sequence; returns the machine's event counters at its end.
    @discardableResult
    func runSequence(seed: UInt64, steps: Int, thp: Bool = false) throws -> VMStat {
        var rng = SeededRNG(seed: seed)
        let k = try Kernel(config: MachineConfig(ramBytes: 128 << 20, thp: .madvise))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/rand")).get()
        XCTAssertEqual(k.checkInvariants(), [], "after spawn")
        /// Pages this test mapped, with whether they are writable.
        var pages: [UInt64: Bool] = [:]
        /// Bytes this test stored, by virtual address.
        var shadow: [UInt64: UInt8] = [:]
        let mm = t.mm!

        func ourVMAs() -> [VMA] {
            mm.vmas.vmas.filter { v in
                v.isAnonymous && stride(from: v.start.raw, to: v.end.raw, by: Int(MMCore.PAGE_SIZE)).allSatisfy { pages[$0] != nil }
            }
        }
        func dropShadow(_ lo: UInt64, _ hi: UInt64) {
            for a in shadow.keys where a >= lo && a < hi { shadow[a] = nil }
        }

        for step in 0..<steps {
            let op = rng.next() % (thp ? 9 : 8)
            let ctx = "seed \(seed) step \(step) op \(op)"
            switch op {
            case 0: // mmap
                var len = (rng.next() % 32 + 1) * MMCore.PAGE_SIZE
                if thp && rng.next() % 3 == 0 { len = (rng.next() % 1536 + 512) * MMCore.PAGE_SIZE }
                let writable = rng.next() % 4 != 0
                let prot: Prot = writable ? [.read, .write] : .read
                if case .success(let a) = k.mmap(t, addr: 0, length: len, prot: prot, flags: [.private, .anonymous]) {
                    for p in stride(from: a.raw, to: a.raw + len, by: Int(MMCore.PAGE_SIZE)) { pages[p] = writable }
                    if thp && rng.next() % 2 == 0 {
                        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: len, advice: .hugepage).get(), ctx)
                    }
                }
            case 1: // munmap part of one of our VMAs
                guard let v = ourVMAs().randomElement(using: &rng) else { continue }
                let n = UInt64(v.pages)
                let first = rng.next() % n, count = rng.next() % (n - first) + 1
                let lo = v.start.raw + first * MMCore.PAGE_SIZE, hi = lo + count * MMCore.PAGE_SIZE
                XCTAssertNoThrow(try k.munmap(t, addr: lo, length: hi - lo).get(), ctx)
                for p in stride(from: lo, to: hi, by: Int(MMCore.PAGE_SIZE)) { pages[p] = nil }
                dropShadow(lo, hi)
            case 2: // mprotect part of one of our VMAs
                guard let v = ourVMAs().randomElement(using: &rng) else { continue }
                let n = UInt64(v.pages)
                let first = rng.next() % n, count = rng.next() % (n - first) + 1
                let lo = v.start.raw + first * MMCore.PAGE_SIZE, hi = lo + count * MMCore.PAGE_SIZE
                let writable = rng.next() % 2 == 0
                XCTAssertNoThrow(try k.mprotect(t, addr: lo, length: hi - lo, prot: writable ? [.read, .write] : .read).get(), ctx)
                for p in stride(from: lo, to: hi, by: Int(MMCore.PAGE_SIZE)) { pages[p] = writable }
            case 3, 4: // store a u64 in a writable page of ours
                guard let p = pages.filter({ $0.value }).keys.sorted().randomElement(using: &rng) else { continue }
                let off = rng.next() % (MMCore.PAGE_SIZE - 8)
                let value = rng.next()
                let bytes = withUnsafeBytes(of: value.littleEndian, Array.init)
                XCTAssertNoThrow(try k.store(t, VirtAddr(p + off), bytes).get(), ctx)
                for (i, b) in bytes.enumerated() { shadow[p + off + UInt64(i)] = b }
            case 5: // read back a stored byte range
                guard let a = shadow.keys.sorted().randomElement(using: &rng) else { continue }
                let got = try k.load(t, VirtAddr(a), count: 1).get()
                XCTAssertEqual(got, [shadow[a]!], ctx)
            case 8: // THP machines only: a new 4 MiB area written in 4 KiB pages, then MADV_HUGEPAGE
                // and khugepaged wakeups that collapse its aligned 2 MiB blocks.
                let len: UInt64 = 4 << 20
                guard case .success(let a) = k.mmap(t, addr: 0, length: len, prot: [.read, .write], flags: [.private, .anonymous]) else { continue }
                for p in stride(from: a.raw, to: a.raw + len, by: Int(MMCore.PAGE_SIZE)) { pages[p] = true }
                for _ in 0..<3 {
                    let p = a.raw + (rng.next() % 1024) * MMCore.PAGE_SIZE
                    let b = UInt8(truncatingIfNeeded: rng.next())
                    XCTAssertNoThrow(try k.store(t, VirtAddr(p), [b]).get(), ctx)
                    shadow[p] = b
                }
                XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: len, advice: .hugepage).get(), ctx)
                k.khugepagedDoScan()
                k.khugepagedDoScan()
            case 6: // madvise(MADV_DONTNEED): private anonymous memory reads back as zero
                guard let v = ourVMAs().randomElement(using: &rng) else { continue }
                XCTAssertNoThrow(try k.madvise(t, addr: v.start.raw, length: v.length, advice: .dontneed).get(), ctx)
                dropShadow(v.start.raw, v.end.raw)
            default: // mremap a whole VMA of ours, letting it move
                guard let v = ourVMAs().randomElement(using: &rng) else { continue }
                let newLen = (rng.next() % 48 + 1) * MMCore.PAGE_SIZE
                guard case .success(let na) = k.mremap(t, oldAddr: v.start.raw, oldSize: v.length, newSize: newLen, flags: .maymove) else {
                    XCTFail("mremap failed: \(ctx)"); continue
                }
                var moved: [UInt64: UInt8] = [:]
                for (a, b) in shadow where a >= v.start.raw && a < v.end.raw {
                    if a - v.start.raw < newLen { moved[na.raw + (a - v.start.raw)] = b }
                }
                let writable = pages[v.start.raw] ?? false
                dropShadow(v.start.raw, v.end.raw)
                for p in stride(from: v.start.raw, to: v.end.raw, by: Int(MMCore.PAGE_SIZE)) { pages[p] = nil }
                for p in stride(from: na.raw, to: na.raw + newLen, by: Int(MMCore.PAGE_SIZE)) { pages[p] = writable }
                shadow.merge(moved) { $1 }
            }
            let bad = k.checkInvariants()
            XCTAssertEqual(bad, [], ctx)
            if !bad.isEmpty { return k.vmstat }
        }
        // Every stored value reads back.
        for a in shadow.keys.sorted() {
            XCTAssertEqual(try k.load(t, VirtAddr(a), count: 1).get(), [shadow[a]!], "seed \(seed) final read at \(a)")
        }
        k.exitTask(t, status: 0)
        XCTAssertEqual(k.checkInvariants(), [])
        XCTAssertEqual(k.committedPages, 0, "seed \(seed): commit charge released")
        XCTAssertEqual(k.stat.nrPageTable, 1, "only the PGD, still the CPU's active_mm")
        return k.vmstat
    }

    /// Random sequences over several tasks and CPUs: fork, thread, vfork, exit, kernel threads
    /// and context switches mixed with mmap/munmap/mprotect/stores/loads, with every invariant
    /// (including the TLB ones of every CPU) checked after each step and every stored value read
    /// back against a shadow copy kept per address space (copied at fork).
    func testRandomTasksAndCPUsKeepInvariantsAndValues() throws {
        for (seed, pcid) in [(11, false), (12, true), (13, true)] as [(UInt64, Bool)] {
            try runTaskSequence(seed: seed, pcid: pcid, cpus: 3, steps: 200)
        }
    }

    func runTaskSequence(seed: UInt64, pcid: Bool, cpus: Int, steps: Int) throws {
        var rng = SeededRNG(seed: seed)
        var cfg = MachineConfig(ramBytes: 128 << 20, cpus: cpus)
        cfg.tlb.pcid = pcid
        let k = try Kernel(config: cfg)
        /// Per address space: our pages (writable or not) and the bytes stored in them.
        /// (It holds its mm so that no later mm can reuse the object identity.)
        final class Space {
            let mm: MMStruct
            var pages: [UInt64: Bool] = [:], shadow: [UInt64: UInt8] = [:]
            init(_ mm: MMStruct) { self.mm = mm }
        }
        var spaces: [ObjectIdentifier: Space] = [:]
        func space(_ t: Task) -> Space {
            let id = ObjectIdentifier(t.mm!)
            if let s = spaces[id] { return s }
            let s = Space(t.mm!); spaces[id] = s; return s
        }
        var spawned = 0, vforks = 0, execs = 0
        // Programs exec can load: a static ET_EXEC, and a PIE with its interpreter.
        for (path, e) in [("/bin/static", ELFBuilder.staticExec()), ("/bin/pie", ELFBuilder.pie()), ("/lib/ld.so", ELFBuilder.interpreter())] {
            let b = e.bytes()
            try k.fs.create(path: path, size: UInt64(b.count), data: b)
        }
        func spawnOne() throws {
            spawned += 1
            _ = try k.spawn(ProgramImage(path: "/usr/bin/r\(spawned)")).get()
        }
        try spawnOne()
        /// Tasks that can act: alive, with an mm, not waiting in vfork().
        func runnable() -> [Task] { k.allTasks.filter { $0.state.isAlive && $0.mm != nil && $0.vforkChild == nil } }
        /// Puts `t` on a CPU (where it runs, or a random one) and returns false if it cannot run.
        func run(_ t: Task) -> Bool {
            if let c = k.cpuRunning(t) { _ = k.selectCPU(c); return true }
            let c = Int(rng.next() % UInt64(cpus))
            return (try? k.schedule(t, on: c).get()) != nil
        }
        func ours(_ t: Task) -> [VMA] {
            let sp = space(t)
            return t.mm!.vmas.vmas.filter { v in
                v.isAnonymous && stride(from: v.start.raw, to: v.end.raw, by: Int(MMCore.PAGE_SIZE)).allSatisfy { sp.pages[$0] != nil }
            }
        }
        for step in 0..<steps {
            let op = rng.next() % 14
            let ctx = "seed \(seed) step \(step) op \(op)"
            if runnable().isEmpty { try spawnOne() }
            guard let t = runnable().randomElement(using: &rng) else { continue }
            switch op {
            case 0: // mmap
                guard run(t) else { continue }
                let len = (rng.next() % 16 + 1) * MMCore.PAGE_SIZE
                let writable = rng.next() % 4 != 0
                if case .success(let a) = k.mmap(t, addr: 0, length: len, prot: writable ? [.read, .write] : .read, flags: [.private, .anonymous]) {
                    for p in stride(from: a.raw, to: a.raw + len, by: Int(MMCore.PAGE_SIZE)) { space(t).pages[p] = writable }
                }
            case 1, 2: // munmap or mprotect part of one of our VMAs
                guard run(t), let v = ours(t).randomElement(using: &rng) else { continue }
                let n = UInt64(v.pages)
                let first = rng.next() % n, count = rng.next() % (n - first) + 1
                let lo = v.start.raw + first * MMCore.PAGE_SIZE, hi = lo + count * MMCore.PAGE_SIZE
                let sp = space(t)
                if op == 1 {
                    XCTAssertNoThrow(try k.munmap(t, addr: lo, length: hi - lo).get(), ctx)
                    for p in stride(from: lo, to: hi, by: Int(MMCore.PAGE_SIZE)) { sp.pages[p] = nil }
                    for a in sp.shadow.keys where a >= lo && a < hi { sp.shadow[a] = nil }
                } else {
                    let writable = rng.next() % 2 == 0
                    XCTAssertNoThrow(try k.mprotect(t, addr: lo, length: hi - lo, prot: writable ? [.read, .write] : .read).get(), ctx)
                    for p in stride(from: lo, to: hi, by: Int(MMCore.PAGE_SIZE)) { sp.pages[p] = writable }
                }
            case 3, 4: // store
                guard run(t), let p = space(t).pages.filter({ $0.value }).keys.sorted().randomElement(using: &rng) else { continue }
                let off = rng.next() % (MMCore.PAGE_SIZE - 8)
                let bytes = withUnsafeBytes(of: rng.next().littleEndian, Array.init)
                let sp = space(t)
                XCTAssertNoThrow(try k.store(t, VirtAddr(p + off), bytes).get(), ctx)
                for (i, b) in bytes.enumerated() { sp.shadow[p + off + UInt64(i)] = b }
            case 5: // load
                guard run(t), let a = space(t).shadow.keys.sorted().randomElement(using: &rng) else { continue }
                XCTAssertEqual(try k.load(t, VirtAddr(a), count: 1).get(), [space(t).shadow[a]!], ctx)
            case 6: // fork: the child's space starts as a copy
                guard run(t), k.allTasks.count < 40 else { continue }
                let old = space(t)
                if case .success(let c) = k.fork(t) {
                    let s = space(c)
                    s.pages = old.pages; s.shadow = old.shadow
                    for v in c.mm!.vmas.vmas where v.flags.contains(.dontcopy) { XCTFail("no DONTCOPY here: \(ctx)") }
                }
            case 7: // thread
                guard run(t), k.allTasks.count < 40 else { continue }
                _ = k.cloneThread(t)
            case 8: // vfork: the child takes the parent's CPU; the parent waits
                guard run(t), k.allTasks.count < 40 else { continue }
                if case .success(let c) = k.vfork(t) {
                    vforks += 1
                    XCTAssertTrue(t.vforkChild === c, ctx)
                    XCTAssertNil(k.cpuRunning(t), ctx)
                }
            case 9: // exit (or a SIGKILL to the whole group, one time in three)
                if rng.next() % 3 == 0 { k.killTask(t, signal: .SIGKILL) } else { k.exitTask(t, status: 0) }
                XCTAssertNil(t.vforkParent, ctx)
            case 10, 11: // context switch of a random task onto a random CPU
                _ = run(t)
            case 13: // execve: a fresh address space; the old one loses a user (threads end)
                guard run(t) else { continue }
                let path = rng.next() % 2 == 0 ? "/bin/static" : "/bin/pie"
                let parent = t.vforkParent
                XCTAssertNoThrow(try k.execve(t, path: path, argv: [path], envp: []).get(), ctx)
                execs += 1
                XCTAssertNil(t.vforkParent, ctx)
                if let p = parent { XCTAssertNil(p.vforkChild, "exec wakes the vfork parent: \(ctx)") }
                XCTAssertEqual(t.mm?.mmUsers, 1, ctx)
            default: // a kernel thread on a random CPU (lazy TLB)
                let kw = k.spawnKernelThread("kw")
                _ = try? k.schedule(kw, on: Int(rng.next() % UInt64(cpus))).get()
            }
            let bad = k.checkInvariants()
            XCTAssertEqual(bad, [], ctx)
            if !bad.isEmpty { return }
        }
        // Every stored value reads back in every live address space.
        for t in runnable() {
            guard run(t) else { continue }
            for (a, b) in space(t).shadow.sorted(by: { $0.key < $1.key }).prefix(64) {
                XCTAssertEqual(try k.load(t, VirtAddr(a), count: 1).get(), [b], "seed \(seed) final read at \(a)")
            }
        }
        // The sequence exercised the machinery: shootdowns and vfork waits happened.
        XCTAssertGreaterThan(k.cpus.map(\.tlbShootdownsReceived).reduce(0, +), 0, "seed \(seed)")
        XCTAssertGreaterThan(vforks, 0, "seed \(seed)")
        XCTAssertGreaterThan(execs, 0, "seed \(seed)")
        for t in k.allTasks where t.state.isAlive { k.killTask(t, signal: .SIGKILL) }
        XCTAssertEqual(k.checkInvariants(), [])
        XCTAssertEqual(k.committedPages, 0, "seed \(seed): commit charge released")
    }
}

extension RandomOpsTests {
    /// The property test on a machine small enough to swap constantly (64 MiB of RAM, about
    /// 31 MiB usable, and processes touching 70 MiB): random stores, loads, forks, partial
    /// munmaps, MADV_PAGEOUT / COLD / FREE / DONTNEED, mprotect, swapoff and swapon of a second
    /// area, and exits — with every stored value read back and the invariants (LRU membership,
    /// rmap, swap counts and the swap cache included) checked along the way.
    func testRandomOpsOnASwappingMachine() throws {
        for seed: UInt64 in [44, 46] { try runSwapSequence(seed: seed, steps: 4000) }
    }

    func runSwapSequence(seed: UInt64, steps: Int) throws {
        let P = MMCore.PAGE_SIZE
        var rng = SeededRNG(seed: seed)
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 160 << 20))
        struct Proc { var task: Task; var base: UInt64; var pages: UInt64; var shadow: [UInt64: UInt8]; var gone: Set<UInt64> }
        var procs: [Proc] = []
        let len: UInt64 = 6000
        for i in 0..<3 {
            let t = try k.spawn(ProgramImage(path: "/usr/bin/p\(i)")).get()
            let a = try k.mmap(t, addr: 0, length: len * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
            try k.touch(t, a, length: len * P, .write).get()
            procs.append(Proc(task: t, base: a.raw, pages: len, shadow: [:], gone: []))
        }
        var second = false
        for step in 0..<steps {
            let ctx = "seed \(seed) step \(step)"
            let i = Int(rng.next() % UInt64(procs.count))
            var p = procs[i]
            let page = rng.next() % p.pages
            let pva = p.base + page * P
            let va = pva + (rng.next() % 64) * 8
            let op = rng.next() % 100
            if p.gone.contains(pva) && op < 80 { continue }
            switch op {
            case 0..<45:
                let v = UInt8(truncatingIfNeeded: rng.next() | 1)
                XCTAssertNoThrow(try k.store(p.task, VirtAddr(va), [v]).get(), ctx)
                p.shadow[va] = v
            case 45..<80:
                let got = try k.load(p.task, VirtAddr(va), count: 1).get()[0]
                XCTAssertEqual(got, p.shadow[va] ?? 0, "\(ctx) read back")
            case 80..<84:
                if procs.count < 6, case .success(let c) = k.fork(p.task) {
                    procs.append(Proc(task: c, base: p.base, pages: p.pages, shadow: p.shadow, gone: p.gone))
                }
            case 84..<88:
                let n = rng.next() % 16 + 1
                _ = k.madvise(p.task, addr: pva, length: n * P, advice: .pageout)
            case 88..<90:
                _ = k.madvise(p.task, addr: pva, length: 8 * P, advice: .cold)
            case 90..<92:
                // MADV_FREE: the contents become undefined (zero or kept) until written again.
                let n = min(4, p.pages - page)
                _ = k.madvise(p.task, addr: pva, length: n * P, advice: .free)
                for q in 0..<n {
                    let lo = pva + q * P
                    for o in 0..<UInt64(64) where p.shadow[lo + o * 8] != nil {
                        let got = try k.load(p.task, VirtAddr(lo + o * 8), count: 1).get()[0]
                        XCTAssert(got == 0 || got == p.shadow[lo + o * 8], "\(ctx) lazily freed byte")
                        p.shadow[lo + o * 8] = got
                    }
                }
            case 92..<94:
                let n = min(8, p.pages - page)
                XCTAssertNoThrow(try k.munmap(p.task, addr: pva, length: n * P).get(), ctx)
                for q in 0..<n {
                    p.gone.insert(pva + q * P)
                    for o in 0..<UInt64(64) { p.shadow[pva + q * P + o * 8] = nil }
                }
            case 94..<96:
                _ = k.madvise(p.task, addr: pva, length: P, advice: .dontneed)
                if !p.gone.contains(pva) { for o in 0..<UInt64(64) { p.shadow[pva + o * 8] = nil } }
            case 96:
                if !second {
                    XCTAssertNoThrow(try k.swapon(path: "/dev/sdb1", bytes: 32 << 20, priority: 10).get(), ctx)
                } else {
                    _ = k.swapoff(path: "/dev/sdb1")   // ENOMEM is allowed: the area then stays on
                }
                second = k.swapAreas.contains { $0.path == "/dev/sdb1" }
            case 97:
                if procs.count > 2 {
                    for (va, v) in p.shadow { XCTAssertEqual(try k.load(p.task, VirtAddr(va), count: 1).get()[0], v, "\(ctx) before exit") }
                    k.exitTask(p.task, status: 0)
                    procs.remove(at: i)
                    continue
                }
            default:
                k.tick(seconds: 1)
            }
            procs[i] = p
            if step % 1000 == 999 { XCTAssertEqual(k.checkInvariants(), [], ctx) }
        }
        for p in procs {
            for (va, v) in p.shadow { XCTAssertEqual(try k.load(p.task, VirtAddr(va), count: 1).get()[0], v, "seed \(seed) final") }
        }
        XCTAssertGreaterThan(k.vmstat.pswpout, 1000)
        XCTAssertGreaterThan(k.vmstat.pswpin, 100)
        XCTAssertEqual(k.checkInvariants(), [])
        for p in procs { k.exitTask(p.task, status: 0) }
        XCTAssertEqual(k.swapAreas.reduce(0) { $0 + $1.inuse }, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }
}
