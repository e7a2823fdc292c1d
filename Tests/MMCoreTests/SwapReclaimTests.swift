import XCTest
@testable import MMCore

final class SwapReclaimTests: XCTestCase {
    let P = MMCore.PAGE_SIZE

    func testSwapPTEEncodingIsX86() {
        let e = SwapEntry(type: 1, offset: 5)
        let pte = PTE(swap: e)
        // type in bits 59..63, offset inverted in bits 9..58, present bit clear.
        XCTAssertEqual(pte.raw, (1 << 59) | (((~UInt64(5)) << 14) >> 5))
        XCTAssertFalse(pte.isPresent)
        XCTAssertTrue(pte.isSwap)
        XCTAssertEqual(pte.swapEntry, e)
    }

    func testSwapRoundTripKeepsEveryValueAndCountsMajorFaults() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 256 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/big")).get()
        let pages: UInt64 = 20_000   // 78 MiB: more than RAM
        let a = try k.mmap(t, addr: 0, length: pages * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        for i in 0..<pages { XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + i * P + 8), [UInt8(i & 0xff), UInt8(i >> 8)]).get()) }
        XCTAssertEqual(k.checkInvariants(), [])
        XCTAssertGreaterThan(k.vmstat.pswpout, 0)
        XCTAssertGreaterThan(k.vmstat.pgstealKswapd + k.vmstat.pgstealDirect, 0)
        XCTAssertGreaterThan(t.mm!.rss.swapents, 0)
        for i in 0..<pages {
            let b = try k.load(t, VirtAddr(a.raw + i * P + 8), count: 2).get()
            XCTAssertEqual(b, [UInt8(i & 0xff), UInt8(i >> 8)], "page \(i)")
        }
        XCTAssertGreaterThan(k.vmstat.pswpin, 0)
        XCTAssertGreaterThan(k.vmstat.pgmajfault, 0)
        XCTAssertEqual(UInt64(t.majFlt), k.vmstat.pgmajfault)   // the image's first read is major too
        XCTAssertEqual(k.checkInvariants(), [])
        // munmap frees every slot.
        XCTAssertNoThrow(try k.munmap(t, addr: a.raw, length: pages * P).get())
        // What is left in swap belongs to the program's other areas (its image, heap and stack).
        XCTAssertEqual(k.swapAreas[0].inuse, t.mm!.rss.swapents + k.swapCachePages)
        XCTAssertEqual(k.nrSwapPages, k.totalSwapPages - k.swapAreas[0].inuse)
        k.exitTask(t, status: 0)
        XCTAssertEqual(k.swapAreas[0].inuse, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testSecondChanceAndActivation() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/lru")).get()
        let a = try k.mmap(t, addr: 0, length: 2 * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.touch(t, a, length: 2 * P, .write).get()
        let p0 = try k.access(t, a, .read).get().pfn
        let p1 = try k.access(t, VirtAddr(a.raw + P), .read).get().pfn
        // Both new pages sit at the inactive anon head, newest first.
        XCTAssertEqual(Array(k.reclaim.pages(on: .inactiveAnon).prefix(2)), [p1, p0])
        // Scan them: their PTEs are young (from the faults), so they get a second chance.
        for p in [p0, p1] { k.lruAdd(p, tail: true) }
        let scanned = k.vmstat.pgscanDirect
        XCTAssertEqual(k.shrinkInactiveList(.inactiveAnon, 2, kswapd: false), 0)
        XCTAssertEqual(k.vmstat.pgscanDirect - scanned, 2)
        XCTAssertTrue(k.phys.memMap.flags[p0.index].contains(.referenced))
        XCTAssertEqual(k.reclaim.list(of: p0), .inactiveAnon)
        // Touch p0 again (a new TLB fill sets the accessed bit): the next scan activates it,
        // and the untouched p1 is swapped out.
        _ = try k.access(t, a, .read).get()
        for p in [p0, p1] { k.lruAdd(p, tail: true) }
        let act = k.vmstat.pgactivate
        XCTAssertEqual(k.shrinkInactiveList(.inactiveAnon, 2, kswapd: false), 1)
        XCTAssertEqual(k.vmstat.pgactivate - act, 1)
        XCTAssertEqual(k.reclaim.list(of: p0), .activeAnon)
        XCTAssertEqual(k.vmstat.pswpout, 1)
        XCTAssertEqual(t.mm!.rss.swapents, 1)
        XCTAssertEqual(k.checkInvariants(), [])
        // The swapped page faults back in: a major fault, the value survives.
        let maj0 = t.majFlt
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + P), count: 1).get(), [0])
        XCTAssertEqual(k.vmstat.pswpin, 1)
        XCTAssertEqual(t.majFlt - maj0, 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testForkSharesSwapSlotsAndSwapCacheHitIsMinor() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/par")).get()
        let a = try k.mmap(t, addr: 0, length: P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.store(t, a, [42]).get()
        let pfn = try k.access(t, a, .read).get().pfn
        // Age it out: two scans without access (the first clears the young bit).
        k.lruAdd(pfn, tail: true); _ = k.shrinkInactiveList(.inactiveAnon, 1, kswapd: false)
        k.lruAdd(pfn, tail: true); XCTAssertEqual(k.shrinkInactiveList(.inactiveAnon, 1, kswapd: false), 1)
        let slot = k.phys.walk(t.mm!.pgd, a)!
        let e = k.phys.readPTE(slot).swapEntry
        XCTAssertEqual(k.swapCount(e), 1)
        let c = try k.fork(t).get()
        XCTAssertEqual(k.swapCount(e), 2)
        XCTAssertEqual(c.mm!.rss.swapents, 1)
        XCTAssertEqual(k.checkInvariants(), [])
        // The parent reads it: major; the page stays in the swap cache for the child.
        let pmaj = t.majFlt, cmaj = c.majFlt
        XCTAssertEqual(try k.load(t, a, count: 1).get(), [42])
        XCTAssertEqual(t.majFlt - pmaj, 1)
        XCTAssertEqual(k.swapCachePages, 1)
        XCTAssertEqual(k.swapCount(e), 1)
        // The child finds it in the swap cache: minor.
        XCTAssertEqual(try k.load(c, a, count: 1).get(), [42])
        XCTAssertEqual(c.majFlt - cmaj, 0)
        XCTAssertEqual(k.swapCount(e), 0)
        XCTAssertEqual(k.checkInvariants(), [])
        k.exitTask(c, status: 0)
        k.exitTask(t, status: 0)
        XCTAssertEqual(k.swapAreas[0].inuse, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testReadaheadReadsTheAlignedCluster() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/ra")).get()
        let a = try k.mmap(t, addr: 0, length: 8 * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        for i in 0..<UInt64(8) { try k.store(t, VirtAddr(a.raw + i * P), [UInt8(i + 1)]).get() }
        var pfns: [PFN] = []
        for i in 0..<UInt64(8) { pfns.append(try k.access(t, VirtAddr(a.raw + i * P), .read).get().pfn) }
        for _ in 0..<2 {
            for p in pfns where k.reclaim.list(of: p) != nil { k.lruAdd(p, tail: true) }
            _ = k.shrinkInactiveList(.inactiveAnon, 8, kswapd: false)
        }
        XCTAssertEqual(k.vmstat.pswpout, 8)
        // Reclaim takes the list from its tail: page 7 went first, to slot 1; page i is in slot 8 - i.
        for i in 0..<UInt64(8) {
            XCTAssertEqual(k.phys.readPTE(k.phys.walk(t.mm!.pgd, VirtAddr(a.raw + i * P))!).swapEntry, SwapEntry(type: 0, offset: 8 - Int(i)))
        }
        let maj0 = t.majFlt
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 2 * P), count: 1).get(), [3])
        // Slot 6's window is slots 0...7 (page-cluster 3): 1...7 are read, the header is not.
        XCTAssertEqual(k.vmstat.pswpin, 7)
        XCTAssertEqual(k.vmstat.swapRa, 6)
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 3 * P), count: 1).get(), [4])
        XCTAssertEqual(k.vmstat.swapRaHit, 1)
        XCTAssertEqual(t.majFlt - maj0, 1)
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 7 * P), count: 1).get(), [8])   // slot 1: in the cache
        XCTAssertEqual(t.majFlt - maj0, 1)
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw), count: 1).get(), [1])   // slot 8: a new window
        XCTAssertEqual(t.majFlt - maj0, 2)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testSwaponPrioritiesAndSwapoff() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20))
        XCTAssertEqual(k.totalSwapPages, 0)
        let s1 = try k.swapon(path: "/swapfile", bytes: 16 << 20).get()
        let s2 = try k.swapon(path: "/dev/sdb1", bytes: 8 << 20, priority: 5).get()
        XCTAssertEqual(s1.priority, -2)
        XCTAssertEqual(s2.priority, 5)
        XCTAssertEqual(k.swapon(path: "/swapfile", bytes: 16 << 20).map { _ in 0 }, .failure(.busy("/swapfile")))
        XCTAssertEqual(k.totalSwapPages, 4095 + 2047)
        let t = try k.spawn(ProgramImage(path: "/usr/bin/so")).get()
        let a = try k.mmap(t, addr: 0, length: P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.store(t, a, [7]).get()
        let pfn = try k.access(t, a, .read).get().pfn
        k.lruAdd(pfn, tail: true); _ = k.shrinkInactiveList(.inactiveAnon, 1, kswapd: false)
        k.lruAdd(pfn, tail: true); _ = k.shrinkInactiveList(.inactiveAnon, 1, kswapd: false)
        XCTAssertEqual(k.phys.readPTE(k.phys.walk(t.mm!.pgd, a)!).swapEntry, SwapEntry(type: 1, offset: 1))   // the higher priority first
        XCTAssertNoThrow(try k.swapoff(path: "/dev/sdb1").get())
        XCTAssertTrue(k.phys.readPTE(k.phys.walk(t.mm!.pgd, a)!).isPresent)
        XCTAssertEqual(try k.load(t, a, count: 1).get(), [7])
        XCTAssertEqual(k.totalSwapPages, 4095)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    /// The property test on a machine small enough to swap constantly: random stores, reads,
    /// forks, munmaps and exits with every stored value read back.
    func testRandomOpsOnASwappingMachine() throws {
        var rng = SeededRNG(seed: 44)
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 128 << 20))
        var procs: [(Task, UInt64, [UInt64: UInt8])] = []
        let len: UInt64 = 6000   // pages per process: three of them exceed RAM
        for i in 0..<3 {
            let t = try k.spawn(ProgramImage(path: "/usr/bin/p\(i)")).get()
            let a = try k.mmap(t, addr: 0, length: len * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
            try k.touch(t, a, length: len * P, .write).get()
            procs.append((t, a.raw, [:]))
        }
        for step in 0..<6000 {
            let i = Int(rng.next() % UInt64(procs.count))
            var (t, base, shadow) = procs[i]
            let page = rng.next() % len
            let va = base + page * P + (rng.next() % 64) * 8
            switch rng.next() % 10 {
            case 0..<6:
                let v = UInt8(truncatingIfNeeded: rng.next() | 1)
                XCTAssertNoThrow(try k.store(t, VirtAddr(va), [v]).get(), "step \(step)")
                shadow[va] = v
            case 6..<9:
                let got = try k.load(t, VirtAddr(va), count: 1).get()[0]
                XCTAssertEqual(got, shadow[va] ?? 0, "step \(step) read back")
            default:
                if procs.count < 5, case .success(let c) = k.fork(t) { procs.append((c, base, shadow)) }
            }
            procs[i] = (t, base, shadow)
            if step % 1000 == 999 { XCTAssertEqual(k.checkInvariants(), [], "step \(step)") }
        }
        for (t, _, shadow) in procs {
            for (va, v) in shadow { XCTAssertEqual(try k.load(t, VirtAddr(va), count: 1).get()[0], v) }
        }
        XCTAssertGreaterThan(k.vmstat.pswpout, 1000)
        XCTAssertGreaterThan(k.vmstat.pswpin, 100)
        XCTAssertEqual(k.checkInvariants(), [])
        for (t, _, _) in procs { k.exitTask(t, status: 0) }
        XCTAssertEqual(k.swapAreas[0].inuse, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }
}
