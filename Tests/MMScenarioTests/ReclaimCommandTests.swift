import XCTest
import MMCore
import MMProcFS
@testable import MMScenario

/// Parsing of the reclaim and swap commands: swapon, swapoff, vmstat, sar -r, sleep, the sysctls.
final class ReclaimCommandTests: XCTestCase {
    func testCommandsParse() throws {
        let s = try Parser.parse("swapon /s\nswapon /s priority 7\nswapoff /s\nvmstat\nvmstat 1 5\nsar -r\nsar -r 2 3\nsleep 0\nsysctl vm.swappiness=10 vm.page-cluster=0\ncat /proc/swaps\n", file: "t.mmsim")
        let c = s.statements.map(\.command)
        XCTAssertEqual(c.count, 10)
        guard case .swapon("/s", nil) = c[0], case .swapon("/s", 7) = c[1], case .swapoff("/s") = c[2],
              case .vmstat(nil, 1) = c[3], case .vmstat(1, 5) = c[4], case .sar(nil, 1) = c[5], case .sar(2, 3) = c[6],
              case .sleep(0) = c[7], case .sysctl(let set) = c[8], case .show(.swaps, _, "/proc/swaps") = c[9] else {
            return XCTFail("parsed as \(c)")
        }
        XCTAssertEqual(set.map(\.name), ["vm.swappiness", "vm.page-cluster"])
        XCTAssertEqual(set.map(\.value), [10, 0])
    }

    func testErrors() {
        assertError("swapon /s priority 40000", 1, 20, "swap priority '40000' is not a number in 0...32767")
        assertError("swapon /s prio 4", 1, 11, "expected 'priority N', found 'prio'")
        assertError("vmstat 0 1", 1, 8, "DELAY (seconds) '0' is not a whole number in 1...86400")
        assertError("sar -u", 1, 5, "only 'sar -r [INTERVAL COUNT]' is supported")
        assertError("sleep x", 1, 7, "a number of seconds 'x' is not a whole number in 0...86400")
        assertError("sysctl vm.swappiness=201", 1, 22, "vm.swappiness 201 is out of range (0...200)")
        assertError("vmstat 2", 1, 9, "'vmstat DELAY' without COUNT would run forever: give COUNT")
    }
}
