import XCTest
import MMCore
@testable import MMProcFS

/// Buffers:, Cached:, Mapped:, Shmem:, Dirty: and free's shared and buff/cache from the page cache.
final class PageCacheProcTests: XCTestCase {
    /// The meminfo lines named in `names`, in file order.
    func lines(_ k: Kernel, _ names: [String]) -> [String] {
        ProcFS.meminfo(k).split(separator: "\n").map(String.init).filter { l in names.contains { l.hasPrefix($0 + ":") } }
    }

    let fields = ["Buffers", "Cached", "Inactive(anon)", "Inactive(file)", "Dirty", "Mapped", "Shmem"]

    func testMeminfoFieldsFollowThePageCache() throws {
        let k = try bootedKernel()
        XCTAssertEqual(lines(k, fields), [
            "Buffers:               0 kB", "Cached:                0 kB", "Inactive(anon):        0 kB",
            "Inactive(file):        0 kB", "Dirty:                 0 kB", "Mapped:                0 kB", "Shmem:                 0 kB",
        ])
        // 64 KiB on tmpfs (16 shmem pages), 256 KiB on disk read in full (64 file pages).
        _ = try k.createFile(path: "/dev/shm/s", size: 64 << 10, kind: .tmpfs, fill: 1)
        let d = try k.createFile(path: "/data/d", size: 256 << 10)
        k.fileRead(d, offset: 0, length: d.size)
        XCTAssertEqual(lines(k, fields), [
            "Buffers:               0 kB", "Cached:              320 kB", "Inactive(anon):       64 kB",
            "Inactive(file):      256 kB", "Dirty:                 0 kB", "Mapped:                0 kB", "Shmem:                64 kB",
        ])
        // A process (4 program pages cached, 2 mapped; its data and stack pages are anonymous)
        // maps the disk file shared and writes one page: 16 pages mapped by fault-around, 1 dirty.
        let t = try k.spawn(ProgramImage(path: "/bin/t")).get()
        let v = try k.mmap(t, addr: 0x7f00_0000_0000, length: 256 << 10, prot: [.read, .write], flags: [.shared, .fixed],
                           file: d.mappedFile).get()
        _ = try k.load(t, v, count: 1).get()
        XCTAssertNoThrow(try k.store(t, VirtAddr(v.raw + 4096), [1]).get())
        XCTAssertEqual(lines(k, fields), [
            "Buffers:               0 kB", "Cached:              336 kB", "Inactive(anon):       72 kB",
            "Inactive(file):      272 kB", "Dirty:                 4 kB", "Mapped:               72 kB", "Shmem:                64 kB",
        ])
        XCTAssertNoThrow(try k.msync(t, addr: v.raw, length: 256 << 10, flags: .sync).get())
        XCTAssertEqual(lines(k, ["Dirty"]), ["Dirty:                 0 kB"])
        // exit: nothing mapped, everything still cached; drop_caches leaves only the tmpfs pages.
        k.exitTask(t, status: 0)
        XCTAssertEqual(lines(k, fields), [
            "Buffers:               0 kB", "Cached:              336 kB", "Inactive(anon):       64 kB",
            "Inactive(file):      272 kB", "Dirty:                 0 kB", "Mapped:                0 kB", "Shmem:                64 kB",
        ])
        k.dropCaches(3)
        XCTAssertEqual(lines(k, fields), [
            "Buffers:               0 kB", "Cached:               64 kB", "Inactive(anon):       64 kB",
            "Inactive(file):        0 kB", "Dirty:                 0 kB", "Mapped:                0 kB", "Shmem:                64 kB",
        ])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testMemAvailableCountsTheFileLRUButNotShmem() throws {
        let k = try bootedKernel()
        let m0 = Meminfo.gather(k)
        // Shmem pages are swap-backed: they leave MemFree and do not come back in MemAvailable.
        _ = try k.createFile(path: "/dev/shm/s", size: 4 << 20, kind: .tmpfs, fill: 1)
        let m1 = Meminfo.gather(k)
        XCTAssertEqual(m0.memFree - m1.memFree, 4096)
        XCTAssertEqual(m0.memAvailable - m1.memAvailable, 4096)
        // Clean file pages: half of the file LRU (at most the low watermarks) is not counted available.
        let d = try k.createFile(path: "/data/d", size: 4 << 20)
        k.fileRead(d, offset: 0, length: d.size)
        let m2 = Meminfo.gather(k)
        XCTAssertEqual(m1.memFree - m2.memFree, 4096)
        let low = k.phys.totalLowWatermarkPages
        XCTAssertEqual(m1.memAvailable - m2.memAvailable, UInt64(min(1024 / 2, low)) * 4)
    }

    func testFreeSharedAndBuffCache() throws {
        let k = try bootedKernel()
        _ = try k.createFile(path: "/dev/shm/s", size: 1 << 20, kind: .tmpfs, fill: 1)
        let d = try k.createFile(path: "/data/d", size: 3 << 20)
        k.fileRead(d, offset: 0, length: d.size)
        let m = Meminfo.gather(k)
        let out = Free.render(k, unit: .kibi).split(separator: "\n").map(String.init)
        XCTAssertEqual(out[1], "Mem:     " + Fmt.right(String(m.memTotal), 11) + " " + Fmt.right(String(m.memTotal - m.memAvailable), 11)
                       + " " + Fmt.right(String(m.memFree), 11) + "        1024        4096 " + Fmt.right(String(m.memAvailable), 11))
    }
}
