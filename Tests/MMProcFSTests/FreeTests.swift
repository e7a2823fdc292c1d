import XCTest
import MMCore
@testable import MMProcFS

final class FreeTests: XCTestCase {
    let v = FreeValues(memTotal: 2013628, memFree: 1523456, memAvailable: 1702340, buffers: 21504, cached: 215040,
                       sReclaimable: 28672, shmem: 4096, swapTotal: 1048572, swapFree: 1048572)
    let header = "               total        used        free      shared  buff/cache   available"

    func testDerivedColumns() {
        XCTAssertEqual(v.used, 2013628 - 1702340)       // total - available (procps-ng 4.x)
        XCTAssertEqual(v.buffCache, 21504 + 215040 + 28672)
        XCTAssertEqual(v.swapUsed, 0)
        // MemAvailable missing or above MemTotal: procps falls back to MemFree.
        XCTAssertEqual(FreeValues(memTotal: 100, memFree: 30, memAvailable: 0).used, 70)
        XCTAssertEqual(FreeValues(memTotal: 100, memFree: 30, memAvailable: 500).used, 70)
    }

    func testDefaultKibibytes() {
        XCTAssertEqual(Free.format(v), text([
            header,
            "Mem:         2013628      311288     1523456        4096      265216     1702340",
            "Swap:        1048572           0     1048572",
        ]))
        XCTAssertEqual(Free.format(v, unit: .kibi), Free.format(v))
    }

    func testBytes() {
        XCTAssertEqual(Free.format(v, unit: .bytes), text([
            header,
            "Mem:      2061955072   318758912  1560018944     4194304   271581184  1743196160",
            "Swap:     1073737728           0  1073737728",
        ]))
    }

    func testMebiAndGibiTruncate() {
        XCTAssertEqual(Free.format(v, unit: .mebi), text([
            header,
            "Mem:            1966         303        1487           4         259        1662",
            "Swap:           1023           0        1023",
        ]))
        XCTAssertEqual(Free.format(v, unit: .gibi), text([
            header,
            "Mem:               1           0           1           0           0           1",
            "Swap:              0           0           0",
        ]))
    }

    func testSIUnits() {
        XCTAssertEqual(Free.format(v, unit: .kilo), text([
            header,
            "Mem:         2061955      318758     1560018        4194      271581     1743196",
            "Swap:        1073737           0     1073737",
        ]))
        XCTAssertEqual(Free.format(v, unit: .mega), text([
            header,
            "Mem:            2061         318        1560           4         271        1743",
            "Swap:           1073           0        1073",
        ]))
        XCTAssertEqual(Free.format(v, unit: .giga), text([
            header,
            "Mem:               2           0           1           0           0           1",
            "Swap:              1           0           1",
        ]))
    }

    func testHuman() {
        XCTAssertEqual(Free.format(v, unit: .human), text([
            header,
            "Mem:           1.9Gi       303Mi       1.5Gi       4.0Mi       259Mi       1.6Gi",
            "Swap:          1.0Gi          0B       1.0Gi",
        ]))
        XCTAssertEqual(Free.format(v, unit: .humanSI), text([
            header,
            "Mem:            2.1G        318M        1.6G        4.2M        271M        1.7G",
            "Swap:           1.1G          0B        1.1G",
        ]))
    }

    /// Values at and around unit boundaries; expectations from procps's scale_size() with glibc printf.
    func testHumanRoundingAtBoundaries() {
        let cases: [(UInt64, String, String)] = [
            (0, "0B", "0B"),
            (1, "1.0Ki", "1.0K"),
            (9, "9.0Ki", "9.2K"),
            (10, "10Ki", "10K"),              // "10.0Ki" is too wide: integer form
            (999, "999Ki", "1.0M"),
            (1000, "1.0Mi", "1.0M"),
            (1023, "1.0Mi", "1.0M"),          // "1023Ki" is too wide: next unit
            (1024, "1.0Mi", "1.0M"),
            (9999, "9.8Mi", "10M"),
            (10239, "9Mi", "10M"),            // %.1f rounds to "10.0Mi" (too wide), %lu truncates to 9
            (10240, "10Mi", "10M"),
            (102399, "99Mi", "104M"),
            (999999, "976Mi", "1.0G"),
            (1048575, "1.0Gi", "1.1G"),
            (1048576, "1.0Gi", "1.1G"),
            (1153433, "1.1Gi", "1.2G"),
            (1310720, "1.2Gi", "1.3G"),       // exactly 1.25: round half to even
            (1835008, "1.8Gi", "1.9G"),       // exactly 1.75: round half to even
            (1572864000, "1.5Ti", "1.6T"),
        ]
        for (kb, binary, si) in cases {
            XCTAssertEqual(Free.scale(kb, .human), binary, "\(kb) kB")
            XCTAssertEqual(Free.scale(kb, .humanSI), si, "\(kb) kB --si")
        }
    }

    func testWideTotalAndCommittedLines() {
        var w = v
        w.commitLimit = 2055384; w.committedAS = 612345
        XCTAssertEqual(Free.format(w, wide: true, total: true, committed: true), text([
            "               total        used        free      shared     buffers       cache   available",
            "Mem:         2013628      311288     1523456        4096       21504      243712     1702340",
            "Swap:        1048572           0     1048572",
            "Total:       3062200      311288     2572028",
            "Comm:        2055384      612345     1443039",
        ]))
    }

    func testRenderOnBootedMachine() throws {
        let k = try bootedKernel()
        let out = Free.render(k, unit: .kibi)
        let m = Meminfo.gather(k)
        XCTAssertEqual(out, text([
            header,
            "Mem:     " + Fmt.right(String(m.memTotal), 11) + " " + Fmt.right(String(m.memTotal - m.memAvailable), 11)
                + " " + Fmt.right(String(m.memFree), 11) + "           0           0 " + Fmt.right(String(m.memAvailable), 11),
            "Swap:              0           0           0",
        ]))
        XCTAssertEqual(Free.render(k, unit: .human).split(separator: "\n").count, 3)
    }
}
