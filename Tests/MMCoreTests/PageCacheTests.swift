import XCTest
@testable import MMCore

/// Files, the page cache, file-backed and shared anonymous mappings, msync and drop_caches.
final class PageCacheTests: XCTestCase {
    /// A 2 MiB-aligned address: PTE index = page index within the mapping.
    let fixedBase: UInt64 = 0x7f00_0000_0000

    func boot(faultAroundPages: Int = 16) throws -> Kernel {
        var c = MachineConfig(ramBytes: 256 << 20)
        c.faultAroundPages = faultAroundPages
        return try Kernel(config: c)
    }

    /// Whether `va` has a present PTE in `t`'s page tables.
    func present(_ k: Kernel, _ t: Task, _ va: UInt64) -> Bool {
        guard let s = k.phys.walk(t.mm!.pgd, VirtAddr(va)) else { return false }
        return k.phys.readPTE(s).isPresent
    }

    func mapFile(_ k: Kernel, _ t: Task, _ inode: Inode, at addr: UInt64, pages: UInt64, prot: Prot = .read,
                 flags: MapFlags = .private, offset: UInt64 = 0) throws -> VirtAddr {
        try k.mmap(t, addr: addr, length: pages << MMCore.PAGE_SHIFT, prot: prot, flags: flags.union(.fixed),
                   file: inode.mappedFile, offset: offset).get()
    }

    //   file /data/f: 256 pages of 0x5a, cold cache
    //   A reads page 40: miss → major fault, read-around [24, 56) = 32 pages cached, 1 page mapped
    //   B reads page 40: hit → minor fault, fault-around maps PTEs 32...47 (16 cached pages)
    func testReadFaultIsMajorThenMinorInAnotherProcess() throws {
        let k = try boot()
        let f = try k.createFile(path: "/data/f", size: 1 << 20, fill: 0x5a)
        let a = try k.spawn(ProgramImage(path: "/bin/a")).get()
        let b = try k.spawn(ProgramImage(path: "/bin/a")).get()
        let cached0 = k.stat.nrFilePages
        let majA = a.majFlt, majVM = k.vmstat.pgmajfault
        let pa = try mapFile(k, a, f, at: fixedBase, pages: 256)
        let fileA = a.mm!.rss.file
        XCTAssertEqual(try k.load(a, VirtAddr(pa.raw + 40 * 4096 + 7), count: 1).get(), [0x5a])
        XCTAssertEqual(a.majFlt, majA + 1)
        XCTAssertEqual(k.vmstat.pgmajfault, majVM + 1)
        XCTAssertEqual(k.stat.nrFilePages - cached0, 32)
        XCTAssertEqual(f.cachedIndices, Array(24..<56))
        XCTAssertEqual(a.mm!.rss.file - fileA, 1)

        let pb = try mapFile(k, b, f, at: fixedBase, pages: 256)
        let majB = b.majFlt, minB = b.minFlt, fileB = b.mm!.rss.file
        XCTAssertEqual(try k.load(b, VirtAddr(pb.raw + 40 * 4096), count: 1).get(), [0x5a])
        XCTAssertEqual(b.majFlt, majB)
        XCTAssertEqual(b.minFlt, minB + 1)
        XCTAssertEqual(k.vmstat.pgmajfault, majVM + 1)
        XCTAssertEqual(b.mm!.rss.file - fileB, 16)
        XCTAssertEqual(k.stat.nrFilePages - cached0, 32)
        // Page 40 is mapped by both (mapcount 2, page cache + 2 references).
        let pfn = f.pages[40]!
        XCTAssertEqual(k.phys.memMap.mapcount[pfn.index], 2)
        XCTAssertEqual(k.phys.memMap.refcount[pfn.index], 3)
        // The next 16 pages of B were mapped by fault-around: no fault to read them.
        let faults = k.vmstat.pgfault
        XCTAssertEqual(try k.load(b, VirtAddr(pb.raw + 47 * 4096), count: 1).get(), [0x5a])
        XCTAssertEqual(k.vmstat.pgfault, faults)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testFaultAroundWindowIsClippedToTheVMAAndThePageTable() throws {
        let k = try boot()
        let f = try k.createFile(path: "/data/g", size: 64 << 12)
        k.fileRead(f, offset: 0, length: f.size)
        XCTAssertEqual(f.pages.count, 64)
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        // VMA of 8 pages at PTE 5...12: a fault on its second page maps exactly the VMA.
        var r0 = t.mm!.rss.file
        let v = try mapFile(k, t, f, at: fixedBase + 5 * 4096, pages: 8)
        _ = try k.load(t, VirtAddr(v.raw + 4096), count: 1).get()
        XCTAssertEqual(t.mm!.rss.file - r0, 8)
        // VMA of 4 pages at PTEs 510, 511 | 0, 1 of the next table: each fault maps 2 pages.
        r0 = t.mm!.rss.file
        let w = try mapFile(k, t, f, at: fixedBase + 0x20_0000 + 510 * 4096, pages: 4, offset: 16 << 12)
        _ = try k.load(t, VirtAddr(w.raw + 4096), count: 1).get()
        XCTAssertEqual(t.mm!.rss.file - r0, 2)
        _ = try k.load(t, VirtAddr(w.raw + 2 * 4096), count: 1).get()
        XCTAssertEqual(t.mm!.rss.file - r0, 4)
        // A fault in the middle of a large VMA maps the aligned 16-page window around it.
        r0 = t.mm!.rss.file
        let x = try mapFile(k, t, f, at: fixedBase + 0x60_0000, pages: 64)
        _ = try k.load(t, VirtAddr(x.raw + 37 * 4096), count: 1).get()
        XCTAssertEqual(t.mm!.rss.file - r0, 16)
        for i in 32..<48 { XCTAssertTrue(present(k, t, x.raw + UInt64(i) * 4096)) }
        XCTAssertFalse(present(k, t, x.raw + 31 * 4096))
        XCTAssertFalse(present(k, t, x.raw + 48 * 4096))
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testFaultAroundBytesOfOnePageMapsOnlyTheFaultingPage() throws {
        let k = try boot(faultAroundPages: 1)
        let f = try k.createFile(path: "/dev/shm/x", size: 1 << 20, kind: .tmpfs, fill: 3)
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        let v = try mapFile(k, t, f, at: fixedBase, pages: 256, flags: .shared)
        _ = try k.load(t, v, count: 1).get()
        XCTAssertEqual(t.mm!.rss.shmem, 1)
        XCTAssertEqual(MachineConfig.faultAroundPages(bytes: 65536), 16)
        XCTAssertEqual(MachineConfig.faultAroundPages(bytes: 0), 1)
        XCTAssertEqual(MachineConfig.faultAroundPages(bytes: 100_000), 16)
        XCTAssertEqual(MachineConfig.faultAroundPages(bytes: 2 << 20), 512)
        XCTAssertNil(MachineConfig.faultAroundPages(bytes: (2 << 20) + 4096))
    }

    //   The reference machine: a tmpfs file written in full, mmap'ed, one byte read → 16 pages mapped.
    func testTmpfsReadFaultMapsSixteenPagesAndCountsAsShmem() throws {
        let k = try boot()
        let f = try k.createFile(path: "/dev/shm/data", size: 1 << 20, kind: .tmpfs, fill: 7)
        XCTAssertEqual(k.stat.nrShmem, 256)
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        let maj = t.majFlt
        let v = try k.mmap(t, addr: 0, length: 1 << 20, prot: .read, flags: .shared, file: f.mappedFile).get()
        XCTAssertEqual(try k.load(t, v, count: 1).get(), [7])
        XCTAssertEqual(t.mm!.rss.shmem, 16)
        XCTAssertEqual(t.majFlt, maj)
        // drop_caches never frees tmpfs pages.
        k.dropCaches(3)
        XCTAssertEqual(k.stat.nrShmem, 256)
        k.exitTask(t, status: 0)
        XCTAssertEqual(k.stat.nrShmem, 256)
        XCTAssertEqual(k.stat.nrFileMapped, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testPrivateWriteCopiesThePageAndLeavesTheFileUnchanged() throws {
        let k = try boot()
        let f = try k.createFile(path: "/data/p", size: 8192, fill: 0x11)
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        let v = try mapFile(k, t, f, at: fixedBase, pages: 2, prot: [.read, .write])
        let anon0 = t.mm!.rss.anon
        XCTAssertNoThrow(try k.store(t, VirtAddr(v.raw + 5), [0x99]).get())
        XCTAssertEqual(t.mm!.rss.anon - anon0, 1)
        XCTAssertEqual(t.mm!.rss.file, 2, "only the program's header and text pages are file pages")
        let pte = k.phys.readPTE(k.phys.walk(t.mm!.pgd, v)!)
        XCTAssertTrue(k.phys.memMap.flags[pte.pfn.index].contains(.anon))
        XCTAssertNotEqual(pte.pfn, f.pages[0])
        XCTAssertEqual(k.stat.nrDirty, 0)
        XCTAssertEqual(try k.load(t, VirtAddr(v.raw + 4), count: 3).get(), [0x11, 0x99, 0x11])
        // The cached page and a second, shared mapping still see the file's bytes.
        let w = try mapFile(k, t, f, at: fixedBase + 0x10000, pages: 2, flags: .shared)
        XCTAssertEqual(try k.load(t, VirtAddr(w.raw + 5), count: 1).get(), [0x11])
        XCTAssertEqual(f.storedByte(5), 0x11)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testSharedWriteDirtiesAndMsyncWritesBack() throws {
        let k = try boot()
        let f = try k.createFile(path: "/data/s", size: 4 << 12)
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        let v = try mapFile(k, t, f, at: fixedBase, pages: 4, prot: [.read, .write], flags: .shared)
        XCTAssertNoThrow(try k.store(t, VirtAddr(v.raw + 0x1008), [0xcd, 0xab]).get())
        XCTAssertEqual(k.stat.nrDirty, 1)
        XCTAssertTrue(k.phys.memMap.flags[f.pages[1]!.index].contains(.dirty))
        // MS_ASYNC writes nothing back.
        XCTAssertNoThrow(try k.msync(t, addr: v.raw, length: 4 << 12, flags: .async).get())
        XCTAssertEqual(k.stat.nrDirty, 1)
        XCTAssertNoThrow(try k.msync(t, addr: v.raw, length: 4 << 12, flags: .sync).get())
        XCTAssertEqual(k.stat.nrDirty, 0)
        XCTAssertEqual(k.vmstat.nrWritten, 1)
        XCTAssertEqual(f.storedByte(0x1008), 0xcd)
        XCTAssertEqual(f.storedByte(0x1009), 0xab)
        // Writeback write-protected the PTE: the next write faults and dirties the page again.
        let slot = k.phys.walk(t.mm!.pgd, VirtAddr(v.raw + 0x1000))!
        XCTAssertFalse(k.phys.readPTE(slot).isWritable)
        let faults = k.vmstat.pgfault
        XCTAssertNoThrow(try k.store(t, VirtAddr(v.raw + 0x1000), [1]).get())
        XCTAssertEqual(k.vmstat.pgfault, faults + 1)
        XCTAssertEqual(k.stat.nrDirty, 1)
        XCTAssertEqual(k.sync(), 1)
        XCTAssertEqual(k.stat.nrDirty, 0)
        // Unmap, drop the cache: a fresh mapping in another process reads the data back from "disk".
        XCTAssertNoThrow(try k.munmap(t, addr: v.raw, length: 4 << 12).get())
        k.dropCaches(1)
        XCTAssertEqual(f.pages.count, 0)
        let u = try k.spawn(ProgramImage(path: "/bin/u")).get()
        let maj = u.majFlt
        let w = try k.mmap(u, addr: 0, length: 4 << 12, prot: .read, flags: .shared, file: f.mappedFile).get()
        XCTAssertEqual(try k.load(u, VirtAddr(w.raw + 0x1000), count: 10).get(), [1, 0, 0, 0, 0, 0, 0, 0, 0xcd, 0xab])
        XCTAssertEqual(u.majFlt, maj + 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testMsyncErrnos() throws {
        let k = try boot()
        let f = try k.createFile(path: "/data/m", size: 4 << 12)
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        let v = try mapFile(k, t, f, at: fixedBase, pages: 2, prot: [.read, .write], flags: .shared)
        func err(_ addr: UInt64, _ len: UInt64, _ fl: MsyncFlags) -> Errno? {
            if case .failure(let e) = k.msync(t, addr: addr, length: len, flags: fl) { return e }
            return nil
        }
        XCTAssertEqual(err(v.raw + 1, 4096, .sync), .EINVAL)
        XCTAssertEqual(err(v.raw, 4096, [.sync, .async]), .EINVAL)
        XCTAssertEqual(err(v.raw, 4096, MsyncFlags(rawValue: 8)), .EINVAL)
        XCTAssertEqual(err(v.raw, UInt64.max - 0x10000, .sync), .ENOMEM)
        XCTAssertNil(err(v.raw, UInt64.max, .sync), "PAGE_ALIGN(len) wraps to 0: nothing to do")
        XCTAssertNil(err(v.raw, 0, .sync))
        XCTAssertNil(err(v.raw, 1, .sync))
        // A range running past the mapping: what is mapped is synced, then ENOMEM.
        XCTAssertNoThrow(try k.store(t, v, [5]).get())
        XCTAssertEqual(err(v.raw, 3 << 12, .sync), .ENOMEM)
        XCTAssertEqual(k.stat.nrDirty, 0)
        // A range starting in a hole: ENOMEM (MS_ASYNC stops at once).
        XCTAssertEqual(err(v.raw - 4096, 2 << 12, .async), .ENOMEM)
        XCTAssertEqual(err(v.raw - 4096, 2 << 12, .sync), .ENOMEM)
        // MS_INVALIDATE on locked memory.
        t.uid = 0
        XCTAssertNoThrow(try k.mlock(t, addr: v.raw, length: 4096).get())
        XCTAssertEqual(err(v.raw, 4096, .invalidate), .EBUSY)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    //   parent: mmap(4 pages, MAP_SHARED|MAP_ANONYMOUS), writes page 0; fork; the child sees it,
    //   writes page 1, the parent sees that; both exit → the shmem object and its pages are freed.
    func testSharedAnonymousMemoryIsShmemSharedWithAForkChild() throws {
        let k = try boot()
        let p = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let base = k.stat.nrShmem
        let a = try k.mmap(p, addr: 0, length: 4 << 12, prot: [.read, .write], flags: [.shared, .anonymous]).get()
        XCTAssertNoThrow(try k.store(p, a, [42]).get())
        XCTAssertEqual(k.stat.nrShmem - base, 1)
        XCTAssertEqual(p.mm!.rss.shmem, 1)
        let c = try k.fork(p).get()
        XCTAssertEqual(try k.load(c, a, count: 1).get(), [42])
        XCTAssertNoThrow(try k.store(c, VirtAddr(a.raw + 4096), [7]).get())
        XCTAssertEqual(try k.load(p, VirtAddr(a.raw + 4096), count: 1).get(), [7])
        XCTAssertEqual(k.stat.nrShmem - base, 2)
        // A read of an untouched page allocates a zeroed shmem page (no zero page for shared memory).
        XCTAssertEqual(try k.load(p, VirtAddr(a.raw + 2 * 4096), count: 1).get(), [0])
        XCTAssertEqual(k.stat.nrShmem - base, 3)
        XCTAssertEqual(k.stat.nrAnonMapped, 2, "the parent's data and stack pages, shared with the child")
        XCTAssertEqual(k.fs.shmemObjects.count, 1)
        XCTAssertEqual(k.checkInvariants(), [])
        k.exitTask(c, status: 0)
        XCTAssertEqual(k.stat.nrShmem - base, 3)
        k.exitTask(p, status: 0)
        XCTAssertEqual(k.stat.nrShmem, base)
        XCTAssertEqual(k.fs.shmemObjects.count, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testMunmapOfTheLastSharedAnonymousMappingFreesItsPages() throws {
        let k = try boot()
        let p = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(p, addr: 0, length: 4 << 12, prot: [.read, .write], flags: [.shared, .anonymous]).get()
        XCTAssertNoThrow(try k.touch(p, a, length: 4 << 12, .write).get())
        XCTAssertEqual(k.stat.nrShmem, 4)
        let free0 = k.phys.freePageCount, tables0 = k.stat.nrPageTable
        XCTAssertNoThrow(try k.munmap(p, addr: a.raw, length: 2 << 12).get())
        XCTAssertEqual(k.stat.nrShmem, 4, "half of the object is still mapped")
        XCTAssertNoThrow(try k.munmap(p, addr: a.raw + (2 << 12), length: 2 << 12).get())
        XCTAssertEqual(k.stat.nrShmem, 0)
        XCTAssertEqual(k.phys.freePageCount - free0, 4 + (tables0 - k.stat.nrPageTable))
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testDropCachesFreesOnlyCleanUnmappedPages() throws {
        let k = try boot()
        let f = try k.createFile(path: "/data/d", size: 64 << 12, fill: 1)
        XCTAssertEqual(k.fileRead(f, offset: 0, length: f.size), 64)
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        let v = try mapFile(k, t, f, at: fixedBase, pages: 16, prot: [.read, .write], flags: .shared)
        _ = try k.load(t, v, count: 1).get()
        XCTAssertNoThrow(try k.store(t, VirtAddr(v.raw + 4096), [2]).get())
        XCTAssertEqual(k.stat.nrFileMapped, 16 + 2)
        XCTAssertEqual(k.stat.nrDirty, 1)
        let exePages = 4
        XCTAssertEqual(k.dropCaches(1), 48 + exePages - 2)
        XCTAssertEqual(f.pages.count, 16)
        XCTAssertNoThrow(try k.munmap(t, addr: v.raw, length: 16 << 12).get())
        XCTAssertEqual(f.pages.count, 16, "munmap leaves the pages cached")
        XCTAssertEqual(k.dropCaches(1), 15, "the dirty page stays")
        XCTAssertEqual(k.sync(), 1)
        XCTAssertEqual(k.dropCaches(3), 1)
        XCTAssertEqual(f.pages.count, 0)
        XCTAssertEqual(k.vmstat.dropPagecache, 3)
        XCTAssertEqual(k.vmstat.dropSlab, 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testExitLeavesFilePagesCachedAndEveryOtherCounterBack() throws {
        let k = try boot()
        let f = try k.createFile(path: "/data/e", size: 32 << 12, fill: 9)
        // The kernel objects' slabs and the kernel stack outlive a process (as in Linux): warm
        // them with one process first; its program pages stay cached and are counted in st0.
        let warm = try k.spawn(ProgramImage(path: "/bin/warm")).get()
        k.exitTask(warm, status: 0)
        let free0 = k.phys.freePageCount, st0 = k.stat, committed0 = k.committedPages
        let t = try k.spawn(ProgramImage(path: "/bin/e")).get()
        let v = try k.mmap(t, addr: 0, length: 32 << 12, prot: [.read, .write], flags: .private, file: f.mappedFile).get()
        _ = try k.load(t, v, count: 1).get()
        XCTAssertNoThrow(try k.store(t, VirtAddr(v.raw + 3 * 4096), [1]).get())
        let s = try k.mmap(t, addr: 0, length: 8192, prot: [.read, .write], flags: [.shared, .anonymous]).get()
        XCTAssertNoThrow(try k.store(t, s, [1]).get())
        k.exitTask(t, status: 0)
        // The program's 4 pages and the file's 32 pages stay in the page cache; the exited task,
        // still current, keeps its PGD as active_mm until the CPU switches away (lazy TLB), while
        // the warm-up process's PGD went when the CPU switched to this one.
        XCTAssertEqual(k.stat.nrFilePages, st0.nrFilePages + 36)
        XCTAssertEqual(k.stat.nrInactiveFile, st0.nrInactiveFile + 36)
        XCTAssertEqual(free0 - k.phys.freePageCount, 36 + 1 - 1)
        var st = k.stat
        st.nrFilePages = st0.nrFilePages; st.nrInactiveFile = st0.nrInactiveFile
        XCTAssertEqual(st.nrPageTable, st0.nrPageTable)
        XCTAssertEqual(st, st0)
        XCTAssertEqual(k.committedPages, committed0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testReadBeyondEndOfFileIsSigbusAndUnknownPathsAreRefused() throws {
        let k = try boot()
        let f = try k.createFile(path: "/data/short", size: 100)
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        let v = try k.mmap(t, addr: 0, length: 2 << 12, prot: .read, flags: .private, file: f.mappedFile).get()
        XCTAssertEqual(try k.load(t, VirtAddr(v.raw + 99), count: 1).get(), [0])
        if case .failure(let e) = k.load(t, VirtAddr(v.raw + 4096), count: 1) {
            XCTAssertEqual(e, .signal(.SIGBUS, VirtAddr(v.raw + 4096)))
        } else { XCTFail("expected SIGBUS") }
        XCTAssertThrowsError(try k.createFile(path: "relative", size: 1))
        XCTAssertThrowsError(try k.createFile(path: "/data/short", size: 1))
        XCTAssertThrowsError(try k.createFile(path: "/data/huge", size: FileSystem.maxFileSize + 1))
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testFileWriteGoesThroughTheCacheAndMlockedFilePagesAreUnlockedOnUnmap() throws {
        let k = try boot()
        let f = try k.createFile(path: "/data/w", size: 4096)
        XCTAssertNoThrow(try k.fileWrite(f, offset: 4000, Array(repeating: 0xee, count: 200)).get())
        XCTAssertEqual(f.size, 4200)
        XCTAssertEqual(f.pages.count, 2)
        XCTAssertEqual(k.stat.nrDirty, 2)
        if case .failure(let e) = k.fileWrite(f, offset: FileSystem.maxFileSize, [1]) { XCTAssertEqual(e, .EFBIG) } else { XCTFail("expected EFBIG") }
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        t.uid = 0
        let v = try k.mmap(t, addr: 0, length: 8192, prot: .read, flags: [.shared, .locked], file: f.mappedFile).get()
        XCTAssertEqual(k.stat.nrMlock, 2)
        XCTAssertEqual(try k.load(t, VirtAddr(v.raw + 4095), count: 2).get(), [0xee, 0xee])
        XCTAssertNoThrow(try k.munmap(t, addr: v.raw, length: 8192).get())
        XCTAssertEqual(k.stat.nrMlock, 0)
        XCTAssertEqual(k.stat.nrUnevictable, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testTmpfsHoldsAtMostHalfOfRAM() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 64 << 20))
        let half = k.phys.totalManagedPages / 2
        XCTAssertThrowsError(try k.createFile(path: "/dev/shm/big", size: 64 << 20, kind: .tmpfs, fill: 1)) { e in
            XCTAssertEqual(e as? Errno, .ENOSPC)
        }
        let f = try XCTUnwrap(k.fs.lookup("/dev/shm/big"))
        XCTAssertEqual(f.pages.count, half)
        XCTAssertEqual(k.stat.nrShmem, half)
        let g = try k.createFile(path: "/dev/shm/more", size: 4096, kind: .tmpfs)
        if case .failure(let e) = k.fileWrite(g, offset: 0, [1]) { XCTAssertEqual(e, .ENOSPC) } else { XCTFail("expected ENOSPC") }
        // Shared anonymous memory lives on the internal shm mount, which has no such limit.
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        let a = try k.mmap(t, addr: 0, length: 8192, prot: [.read, .write], flags: [.shared, .anonymous]).get()
        XCTAssertNoThrow(try k.store(t, a, [1]).get())
        XCTAssertEqual(k.stat.nrShmem, half + 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    //   MADV_REMOVE punches a hole: every mapping of the range loses its pages (not private
    //   copies), the pages leave the cache and the range reads as zeros.
    func testMadvRemovePunchesAHoleForEveryMapping() throws {
        let k = try boot()
        let p = try k.spawn(ProgramImage(path: "/bin/p")).get()
        let a = try k.mmap(p, addr: 0, length: 4 << 12, prot: [.read, .write], flags: [.shared, .anonymous]).get()
        XCTAssertNoThrow(try k.touch(p, a, length: 4 << 12, .write).get())
        XCTAssertNoThrow(try k.store(p, VirtAddr(a.raw + 4096), [5]).get())
        let c = try k.fork(p).get()
        XCTAssertEqual(k.stat.nrShmem, 4)
        XCTAssertNoThrow(try k.madvise(c, addr: a.raw + 4096, length: 2 << 12, advice: .remove).get())
        XCTAssertEqual(k.stat.nrShmem, 2)
        XCTAssertFalse(present(k, p, a.raw + 4096), "the parent's mapping lost the page too")
        XCTAssertTrue(present(k, p, a.raw))
        XCTAssertEqual(try k.load(p, VirtAddr(a.raw + 4096), count: 1).get(), [0])
        XCTAssertEqual(k.checkInvariants(), [])

        // A filled disk file: the hole reads as zeros from the cache and, after drop_caches, from "disk";
        // a private copy made before the punch keeps its bytes.
        let f = try k.createFile(path: "/data/h", size: 8 << 12, fill: 0x33)
        let s = try mapFile(k, p, f, at: fixedBase, pages: 8, prot: [.read, .write], flags: .shared)
        let q = try mapFile(k, c, f, at: fixedBase, pages: 8, prot: [.read, .write])
        XCTAssertNoThrow(try k.store(c, VirtAddr(q.raw + 2 * 4096), [0x44]).get())
        XCTAssertEqual(try k.load(p, VirtAddr(s.raw + 2 * 4096), count: 2).get(), [0x33, 0x33])
        XCTAssertNoThrow(try k.madvise(p, addr: s.raw + 4096, length: 3 << 12, advice: .remove).get())
        XCTAssertEqual(try k.load(p, VirtAddr(s.raw + 2 * 4096), count: 2).get(), [0, 0])
        XCTAssertEqual(try k.load(c, VirtAddr(q.raw + 2 * 4096), count: 2).get(), [0x44, 0x33])
        XCTAssertEqual(try k.load(c, VirtAddr(q.raw + 3 * 4096), count: 1).get(), [0])
        XCTAssertNoThrow(try k.munmap(p, addr: s.raw, length: 8 << 12).get())
        XCTAssertNoThrow(try k.munmap(c, addr: q.raw, length: 8 << 12).get())
        k.dropCaches(1)
        XCTAssertEqual(f.storedByte(4095), 0x33)
        XCTAssertEqual(f.storedByte(4096), 0)
        XCTAssertEqual(f.storedByte(4 * 4096 - 1), 0)
        XCTAssertEqual(f.storedByte(4 * 4096), 0x33)
        let t = try mapFile(k, p, f, at: fixedBase, pages: 8)
        XCTAssertEqual(try k.load(p, VirtAddr(t.raw + 4095), count: 2).get(), [0x33, 0])
        XCTAssertEqual(try k.load(p, VirtAddr(t.raw + 4 * 4096 - 1), count: 2).get(), [0, 0x33])
        XCTAssertEqual(k.checkInvariants(), [])
    }
}
