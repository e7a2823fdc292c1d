import XCTest
import MMCore
@testable import MMProcFS

final class BuddyinfoTests: XCTestCase {
    func testFormatIsByteExact() {
        let zones = [
            BuddyinfoZone(name: "DMA", nrFree: [1, 1, 1, 0, 2, 1, 1, 0, 1, 1, 3]),
            BuddyinfoZone(name: "DMA32", nrFree: [36, 22, 15, 9, 12, 7, 5, 4, 3, 2, 372]),
            BuddyinfoZone(name: "Normal", nrFree: [1234, 567, 89, 10, 0, 0, 0, 0, 0, 0, 123456]),
        ]
        XCTAssertEqual(Buddyinfo.format(zones), text([
            "Node 0, zone      DMA      1      1      1      0      2      1      1      0      1      1      3 ",
            "Node 0, zone    DMA32     36     22     15      9     12      7      5      4      3      2    372 ",
            "Node 0, zone   Normal   1234    567     89     10      0      0      0      0      0      0 123456 ",
        ]))
    }

    func testGatherListsPopulatedZones() throws {
        let k = try bootedKernel()
        k.phys.zones = [Zone(type: .dma, startPFN: PFN(0), spannedPages: 4096),
                        Zone(type: .dma32, startPFN: PFN(4096), spannedPages: 0),
                        Zone(type: .normal, startPFN: PFN(4096), spannedPages: 520192)]
        k.phys.zones[1].presentPages = 0
        XCTAssertEqual(ProcFS.buddyinfo(k), text([
            "Node 0, zone      DMA      0      0      0      0      0      0      0      0      0      0      0 ",
            "Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      0 ",
        ]))
    }

    func testDmesg() throws {
        let k = try bootedKernel()
        k.clockNs = 1_234_567_000
        k.printk("Out of memory: Killed process 1000 (demo)")
        k.clockNs = 12_000_001_000
        k.printk("second")
        XCTAssertEqual(ProcFS.dmesg(k), text([
            "[    1.234567] Out of memory: Killed process 1000 (demo)",
            "[   12.000001] second",
        ]))
    }
}
