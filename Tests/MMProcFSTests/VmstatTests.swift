import XCTest
@testable import MMCore
@testable import MMProcFS

final class VmstatTests: XCTestCase {
    func testFormatIsNameSpaceValue() {
        XCTAssertEqual(Vmstat.format([("nr_free_pages", 507939), ("pgfault", 4)]), "nr_free_pages 507939\npgfault 4\n")
    }

    func testCountersFollowFaults() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let t = try k.spawn(ProgramImage(path: "/bin/v")).get()
        let before = Dictionary(uniqueKeysWithValues: Vmstat.lines(k))
        let a = try k.mmap(t, addr: 0, length: 16 << 12, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.touch(t, a, length: 16 << 12, .write).get())
        let after = Dictionary(uniqueKeysWithValues: Vmstat.lines(k))
        XCTAssertEqual(after["pgfault"]! - before["pgfault"]!, 16)
        XCTAssertEqual(after["nr_anon_pages"]! - before["nr_anon_pages"]!, 16)
        XCTAssertEqual(Vmstat.lines(k).map(\.0).first, "nr_free_pages")
        XCTAssertEqual(Vmstat.lines(k).map(\.0).last, "swap_ra_hit")
    }
}
