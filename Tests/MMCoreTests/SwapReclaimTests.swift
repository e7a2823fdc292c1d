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

    func testKswapdWakesBelowLowAndStopsAtHigh() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/kw")).get()
        let n: UInt64 = 12_000
        let a = try k.mmap(t, addr: 0, length: n * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        var runs = 0, productive = 0
        for i in 0..<n {
            let free0 = k.phys.freePageCount, alloc0 = k.vmstat.pgalloc, steal0 = k.vmstat.pgstealKswapd
            let runs0 = k.reclaim.kswapdRuns
            try k.store(t, VirtAddr(a.raw + i * P), [1]).get()
            let stolen = Int(k.vmstat.pgstealKswapd - steal0), allocated = Int(k.vmstat.pgalloc - alloc0)
            if k.reclaim.kswapdRuns == runs0 {
                XCTAssertEqual(stolen, 0)
                continue
            }
            // kswapd ran once, when the fault that woke it returned: its allocations had left
            // every zone below the low watermark.
            runs += 1
            XCTAssertEqual(k.reclaim.kswapdRuns, runs0 + 1)
            XCTAssertFalse(k.reclaim.kswapdWoken)
            XCTAssertEqual(k.phys.freePageCount, free0 - allocated + stolen, "every page kswapd stole is free")
            if stolen > 0 {
                productive += 1
                XCTAssertTrue(k.pgdatBalanced(), "a run that reclaims stops at the high watermark")
            }
        }
        // The first run finds every page young (second chance) and frees nothing; later ones do.
        XCTAssertGreaterThan(runs, 1)
        XCTAssertGreaterThan(productive, 0)
        XCTAssertEqual(k.reclaim.kswapdRuns, runs)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testKswapdIsWokenExactlyWhenEveryZoneIsBelowLow() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        _ = try k.spawn(ProgramImage(path: "/usr/bin/w")).get()   // puts its file pages on the LRU
        var held: [PFN] = []
        while !k.reclaim.kswapdWoken {
            let belowLow = k.allZonesBelowLow()
            guard let p = k.allocPageOrOOM(gfp: .highuserMovable, task: nil) else { return XCTFail("no page") }
            held.append(p)
            // wakeup_kswapd() runs before each allocation: woken exactly when it found every zone below low.
            XCTAssertEqual(k.reclaim.kswapdWoken, belowLow)
        }
        XCTAssertTrue(k.allZonesBelowLow())
        XCTAssertGreaterThan(held.count, 1000)
        for p in held { k.phys.putPage(p) }
        // Above the high watermark again, a woken kswapd has nothing to do.
        XCTAssertTrue(k.pgdatBalanced())
        XCTAssertEqual(k.kswapdRunIfWoken(), 0)
        XCTAssertEqual(k.reclaim.kswapdRuns, 1)
        XCTAssertFalse(k.reclaim.kswapdWoken)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testMadviseFreeDropsCleanPagesWithoutSwap() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/lf")).get()
        let a = try k.mmap(t, addr: 0, length: 2 * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.store(t, a, [5]).get()
        try k.store(t, VirtAddr(a.raw + P), [6]).get()
        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 2 * P, advice: .free).get())
        XCTAssertEqual(k.vmstat.pglazyfree, 2)
        let p0 = try k.access(t, a, .read).get().pfn
        XCTAssertEqual(k.reclaim.list(of: p0), .inactiveFile)    // lazily freed pages sit on the file list
        try k.store(t, VirtAddr(a.raw + P), [7]).get()               // written again: it must survive
        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 2 * P, advice: .pageout).get())
        XCTAssertEqual(k.vmstat.pglazyfreed, 1)
        XCTAssertEqual(k.vmstat.pswpout, 0)                          // nothing went to swap
        XCTAssertEqual(try k.load(t, a, count: 1).get(), [0])         // freed: reads as zero
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + P), count: 1).get(), [7])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testActiveListAgingAndInactiveIsLow() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/act")).get()
        let a = try k.mmap(t, addr: 0, length: 4 * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.touch(t, a, length: 4 * P, .write).get()
        var pfns: [PFN] = []
        for i in 0..<UInt64(4) { pfns.append(try k.access(t, VirtAddr(a.raw + i * P), .read).get().pfn) }
        // Activate all four by hand (as a second young scan would).
        for p in pfns { k.phys.memMap.flags[p.index].insert(.active); k.lruAdd(p) }
        XCTAssertEqual(Array(k.reclaim.pages(on: .activeAnon).prefix(4)), pfns.reversed())
        let inactive = k.reclaim.lruSize[LRUList.inactiveAnon.rawValue], active = k.reclaim.lruSize[LRUList.activeAnon.rawValue]
        XCTAssertEqual(k.inactiveIsLow(file: false), inactive < active)   // ratio 1 below 1 GiB
        // Two pages from the tail (the oldest: pfns[0], pfns[1]) move to the inactive head, young or not.
        let r0 = k.vmstat.pgrefill, d0 = k.vmstat.pgdeactivate
        k.shrinkActiveList(.activeAnon, 2)
        XCTAssertEqual(k.vmstat.pgrefill - r0, 2)
        XCTAssertEqual(k.vmstat.pgdeactivate - d0, 2)
        XCTAssertEqual(Array(k.reclaim.pages(on: .inactiveAnon).prefix(2)), [pfns[1], pfns[0]])
        XCTAssertEqual(k.reclaim.list(of: pfns[2]), .activeAnon)
        // Their accessed bits were cleared on the way (folio_referenced).
        XCTAssertFalse(k.phys.readPTE(k.phys.walk(t.mm!.pgd, a)!).isAccessed)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testSwappinessZeroScansOnlyFileAndDirtyFilePagesAreWrittenBack() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let f = try k.createFile(path: "/data/f", size: 4 * P, fill: 0x41)
        let t = try k.spawn(ProgramImage(path: "/usr/bin/sw")).get()
        let m = try k.mmap(t, addr: 0, length: 4 * P, prot: [.read, .write], flags: .shared, file: f.mappedFile).get()
        try k.store(t, m, [0x42]).get()                       // a dirty shared file page
        let a = try k.mmap(t, addr: 0, length: 64 * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.touch(t, a, length: 64 * P, .write).get()
        k.reclaim.swappiness = 0
        let anon0 = k.vmstat.pgscanAnon
        _ = k.shrinkNode(priority: 0, nrToReclaim: 1 << 20, kswapd: false)
        XCTAssertEqual(k.vmstat.pgscanAnon, anon0, "swappiness 0: anonymous pages are not scanned while file pages exist")
        XCTAssertGreaterThan(k.vmstat.pgscanFile, 0)
        XCTAssertEqual(k.vmstat.pswpout, 0)
        // Reclaim the dirty page: it is written back first (nr_written), then freed; the file keeps 0x42.
        let pfn = try k.access(t, m, .read).get().pfn
        let w0 = k.vmstat.nrWritten
        XCTAssertNoThrow(try k.madvise(t, addr: m.raw, length: P, advice: .pageout).get())
        XCTAssertEqual(k.vmstat.nrWritten - w0, 1)
        XCTAssertNil(f.pages[0], "PFN \(pfn) left the page cache")
        XCTAssertEqual(try k.load(t, m, count: 2).get(), [0x42, 0x41])   // read back from the file
        // All four pages of /data/f were evicted (three by the scan, page 0 by pageout) and left
        // shadows: read-around brings all four back, four refaults.
        XCTAssertEqual(k.vmstat.workingsetRefaultFile, 4)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testMlockedPagesStayOnTheUnevictableList() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20, swapBytes: 64 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/ml")).get()
        let a = try k.mmap(t, addr: 0, length: 2 * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        try k.touch(t, a, length: 2 * P, .write).get()
        XCTAssertNoThrow(try k.mlock(t, addr: a.raw, length: 2 * P).get())
        let p = try k.access(t, a, .read).get().pfn
        XCTAssertEqual(k.reclaim.list(of: p), .unevictable)
        XCTAssertEqual(k.stat.nrUnevictable, 2)
        // A scan that meets it (e.g. just before mlock moved it) sends it back to the unevictable list.
        XCTAssertFalse(k.shrinkFolio(p))
        XCTAssertEqual(k.reclaim.list(of: p), .unevictable)
        XCTAssertNoThrow(try k.munlock(t, addr: a.raw, length: 2 * P).get())
        XCTAssertEqual(k.reclaim.list(of: p), .inactiveAnon)
        XCTAssertEqual(k.stat.nrUnevictable, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }
}

extension SwapReclaimTests {
    func testKswapdGivesUpAfterSixteenFruitlessRuns() throws {
        // No swap: anonymous memory cannot be reclaimed, so kswapd frees nothing once the cache is gone.
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20))
        k.sysctl.overcommitMemory = OVERCOMMIT_ALWAYS
        let t = try k.spawn(ProgramImage(path: "/usr/bin/nf")).get()
        let n: UInt64 = 8_000
        let a = try k.mmap(t, addr: 0, length: n * P, prot: [.read, .write], flags: [.private, .anonymous]).get()
        var i: UInt64 = 0
        while k.reclaim.kswapdFailures < Kernel.maxReclaimRetries && i < n && t.state.isAlive {
            _ = k.store(t, VirtAddr(a.raw + i * P), [1])
            i += 1
        }
        XCTAssertTrue(t.state.isAlive)
        XCTAssertEqual(k.reclaim.kswapdFailures, Kernel.maxReclaimRetries)
        let runs = k.reclaim.kswapdRuns
        XCTAssertGreaterThanOrEqual(runs, Kernel.maxReclaimRetries)
        // Hopeless: further allocations below low no longer wake it.
        _ = k.allocPageOrOOM(gfp: .highuserMovable, task: nil).map { k.phys.putPage($0) }
        XCTAssertFalse(k.reclaim.kswapdWoken)
        XCTAssertEqual(k.reclaim.kswapdRuns, runs)
    }
}
