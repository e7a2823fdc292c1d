import XCTest
@testable import MMCore
@testable import MMScenario

/// Seeded random inputs: the parser and the runner must answer every one with a result or a
/// ScenarioError naming a line and column — never a trap.
final class FuzzTests: XCTestCase {
    struct RNG: RandomNumberGenerator {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9e37_79b9_7f4a_7c15
            var z = s
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    static let words = ["spawn", "a", "mmap", "munmap", "mprotect", "brk", "sbrk", "mremap", "madvise", "mlock",
        "munlock", "malloc", "calloc", "realloc", "free", "write", "read", "touch", "exit", "show", "cat", "fork",
        "as", "p", "q", "NULL", "0", "1", "4K", "16E", "0xffffffffffffffff", "18446744073709551616", "-1", "p+1",
        "p-4K", "rw-", "r--", "---", "private,anonymous", "shared,anonymous", "fixed", "maymove", "dontneed",
        "u8", "u64", "expect", "write", "read", "maps", "meminfo", "/proc/self/maps", "|", "grep", "\"x\"",
        "\"${p}\"", "machine", "ram=64M", "sysctl", "vm.overcommit_memory=2", "#", "use", "child", "=", "\t",
        "exec", "import", "/bin/a", "auxv", "kernel.randomize_va_space=2", "seed=3"]

    func testRandomTokenLinesNeverTrap() throws {
        var rng = RNG(s: 42)
        var parsed = 0
        for _ in 0..<400 {
            var lines = ["machine ram=64M", "spawn /bin/a as a", "mmap NULL 64K rw- private,anonymous as p"]
            for _ in 0..<Int(rng.next() % 8) {
                let n = Int(rng.next() % 6) + 1
                lines.append((0..<n).map { _ in Self.words[Int(rng.next() % UInt64(Self.words.count))] }.joined(separator: " "))
            }
            let src = lines.joined(separator: "\n")
            do {
                let s = try Parser.parse(src, file: "fuzz.mmsim")
                parsed += 1
                var out = ""
                let status = Runner(scenario: s, options: RunOptions(check: true)).run(out: { out += $0 }, err: { out += $0 })
                XCTAssertTrue([0, 1, 2].contains(status), src)
            } catch let e as ScenarioError {
                XCTAssertGreaterThanOrEqual(e.line, 1, src)
                XCTAssertGreaterThanOrEqual(e.column, 1, src)
            }
        }
        XCTAssertGreaterThan(parsed, 10, "some random scenarios should be valid and run")
    }

    func testRandomBytesNeverTrap() {
        var rng = RNG(s: 7)
        for _ in 0..<300 {
            let bytes = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 128) }
            let src = String(decoding: bytes, as: UTF8.self)
            if let s = try? Parser.parse(src, file: "bytes.mmsim") { _ = s.statements.count }
        }
    }
}
