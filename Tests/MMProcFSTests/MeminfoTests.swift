import XCTest
import MMCore
@testable import MMProcFS

final class MeminfoTests: XCTestCase {
    /// A 2 GiB Debian 6.12 machine a few minutes after boot.
    static func sampleValues() -> MeminfoValues {
        var v = MeminfoValues()
        v.memTotal = 2013628; v.memFree = 1523456; v.memAvailable = 1702340
        v.buffers = 21504; v.cached = 215040
        v.activeAnon = 12288; v.inactiveAnon = 145408; v.activeFile = 98304; v.inactiveFile = 137216
        v.swapTotal = 1048572; v.swapFree = 1048572
        v.dirty = 128; v.anonPages = 157696; v.mapped = 65536; v.shmem = 4096
        v.sReclaimable = 28672; v.sUnreclaim = 34816; v.kernelStack = 2688; v.pageTables = 3072
        v.commitLimit = 2055384; v.committedAS = 612345; v.vmallocUsed = 9876; v.percpu = 1024
        v.directMap4k = 2048; v.directMap2M = 1046528; v.directMap1G = 1048576
        return v
    }

    func testFormatIsByteExact() {
        let expected = text([
            "MemTotal:        2013628 kB",
            "MemFree:         1523456 kB",
            "MemAvailable:    1702340 kB",
            "Buffers:           21504 kB",
            "Cached:           215040 kB",
            "SwapCached:            0 kB",
            "Active:           110592 kB",
            "Inactive:         282624 kB",
            "Active(anon):      12288 kB",
            "Inactive(anon):   145408 kB",
            "Active(file):      98304 kB",
            "Inactive(file):   137216 kB",
            "Unevictable:           0 kB",
            "Mlocked:               0 kB",
            "SwapTotal:       1048572 kB",
            "SwapFree:        1048572 kB",
            "Zswap:                 0 kB",
            "Zswapped:              0 kB",
            "Dirty:               128 kB",
            "Writeback:             0 kB",
            "AnonPages:        157696 kB",
            "Mapped:            65536 kB",
            "Shmem:              4096 kB",
            "KReclaimable:      28672 kB",
            "Slab:              63488 kB",
            "SReclaimable:      28672 kB",
            "SUnreclaim:        34816 kB",
            "KernelStack:        2688 kB",
            "PageTables:         3072 kB",
            "SecPageTables:         0 kB",
            "NFS_Unstable:          0 kB",
            "Bounce:                0 kB",
            "WritebackTmp:          0 kB",
            "CommitLimit:     2055384 kB",
            "Committed_AS:     612345 kB",
            "VmallocTotal:   34359738367 kB",
            "VmallocUsed:        9876 kB",
            "VmallocChunk:          0 kB",
            "Percpu:             1024 kB",
            "HardwareCorrupted:     0 kB",
            "AnonHugePages:         0 kB",
            "ShmemHugePages:        0 kB",
            "ShmemPmdMapped:        0 kB",
            "FileHugePages:         0 kB",
            "FilePmdMapped:         0 kB",
            "Unaccepted:            0 kB",
            "HugePages_Total:       0",
            "HugePages_Free:        0",
            "HugePages_Rsvd:        0",
            "HugePages_Surp:        0",
            "Hugepagesize:       2048 kB",
            "Hugetlb:               0 kB",
            "DirectMap4k:        2048 kB",
            "DirectMap2M:     1046528 kB",
            "DirectMap1G:     1048576 kB",
        ])
        XCTAssertEqual(Meminfo.format(Self.sampleValues()), expected)
    }

    func testWideValuesPushTheColumnWithoutTruncating() {
        var v = MeminfoValues()
        v.memTotal = 1_073_741_824  // 1 TiB in kB: 10 digits, wider than the 8-column field
        v.hardwareCorrupted = 123456
        let out = Meminfo.format(v)
        XCTAssertTrue(out.hasPrefix("MemTotal:       1073741824 kB\n"))
        XCTAssertTrue(out.contains("\nHardwareCorrupted: 123456 kB\n"))
    }

    func testSiMemAvailable() {
        // free - reserve + (file LRU - min(half, low wmark)) + (slab - min(half, low wmark))
        XCTAssertEqual(Meminfo.siMemAvailable(freePages: 1000, totalReservePages: 100, lowWatermarkPages: 50,
                                              activeFile: 300, inactiveFile: 100, slabReclaimable: 60), 1280)
        XCTAssertEqual(Meminfo.siMemAvailable(freePages: 1000, totalReservePages: 100, lowWatermarkPages: 300,
                                              activeFile: 300, inactiveFile: 100, slabReclaimable: 60), 1130)
        XCTAssertEqual(Meminfo.siMemAvailable(freePages: 1000, totalReservePages: 100, lowWatermarkPages: 300,
                                              activeFile: 300, inactiveFile: 100, slabReclaimable: 60,
                                              kernelMiscReclaimable: 40), 1150)
        XCTAssertEqual(Meminfo.siMemAvailable(freePages: 10, totalReservePages: 100, lowWatermarkPages: 5,
                                              activeFile: 0, inactiveFile: 0, slabReclaimable: 0), 0)
    }

    func testDirectMapSplit() {
        func split(_ ram: UInt64) -> [UInt64] { let d = Meminfo.directMap(ramBytes: ram); return [d.k4, d.m2, d.g1] }
        XCTAssertEqual(split(2 << 30), [2048, 1046528, 1048576])
        XCTAssertEqual(split(1 << 30), [2048, 1046528, 0])
        XCTAssertEqual(split(64 << 20), [2048, 63488, 0])
        XCTAssertEqual(split((3 << 30) + (3 << 20)), [3072, 1048576, 2097152])
    }

    func testGatherOnBootedMachine() throws {
        let k = try bootedKernel()
        let v = Meminfo.gather(k)
        XCTAssertEqual(v.memTotal, UInt64(k.phys.totalManagedPages) * 4)
        XCTAssertEqual(v.memFree, UInt64(k.phys.freePageCount) * 4)
        XCTAssertLessThanOrEqual(v.memAvailable, v.memFree)
        XCTAssertEqual(v.vmallocTotal, 34359738367)
        XCTAssertEqual(v.directMap4k + v.directMap2M + v.directMap1G, 2 << 20)
        XCTAssertEqual(v.hugepagesize, 2048)
        let out = ProcFS.meminfo(k)
        XCTAssertEqual(out.split(separator: "\n").count, 55)
        XCTAssertTrue(out.hasPrefix("MemTotal:       " + Fmt.dec(v.memTotal, 8) + " kB\n"))
    }
}
