import XCTest
@testable import MMCore
@testable import MMScenario

/// Seeded random file and page-cache steps: every run ends with a result or a ScenarioError, never
/// a trap, and the kernel's invariants (page cache included) hold after every step (`--check`).
final class PageCacheFuzzTests: XCTestCase {
    static let steps = [
        "mmap 64K rw- shared file /d as %", "mmap 64K r-- private file /d offset 4K as %", "mmap 16K rw- private file /t as %",
        "mmap 32K rw- shared file /t offset 16K as %", "mmap 64K rw- shared,anonymous as %", "munmap % 8K", "munmap %+8K 16K",
        "touch % 64K write", "touch % 64K read", "touch %+4K 8K read", "write %+100 0x55 u8", "read %+4000 u16",
        "msync % 64K", "msync % 16K async", "msync %+4K 8K invalidate", "msync %+1 4K", "sync", "sysctl vm.drop_caches=3",
        "sysctl vm.drop_caches=1", "fork as @", "use a", "exit 0", "show cache", "file write /d offset 70000 0x1234 u32",
        "file write /t offset 5 \"xy\"", "file read /d", "madvise % 16K dontneed", "madvise %+4K 8K remove", "mprotect % 8K r--", "mremap % 16K 64K maymove",
        "mlock % 8K", "munlock % 8K", "file read /d 1 1T",
    ]

    func testRandomFileStepsKeepInvariants() throws {
        var rng = FuzzTests.RNG(s: 2024)
        var ran = 0
        for round in 0..<60 {
            var lines = ["machine ram=64M", "file create /d size 100K fill 7", "file create /t size 48K tmpfs fill 1",
                         "spawn /bin/a as a", "mmap 64K rw- shared file /d as v0"]
            var vars = ["v0"], children = 0
            for i in 0..<Int(rng.next() % 14) + 2 {
                var s = Self.steps[Int(rng.next() % UInt64(Self.steps.count))]
                if s.hasSuffix("as %") { let v = "v\(i + 1)"; vars.append(v); s = s.replacingOccurrences(of: "as %", with: "as \(v)") }
                s = s.replacingOccurrences(of: "%", with: vars[Int(rng.next() % UInt64(vars.count))])
                if s.contains("@") { children += 1; s = s.replacingOccurrences(of: "@", with: "c\(round)_\(children)") }
                lines.append(s)
            }
            let src = lines.joined(separator: "\n")
            do {
                let s = try Parser.parse(src, file: "fuzz.mmsim")
                var out = ""
                let status = Runner(scenario: s, options: RunOptions(check: true)).run(out: { out += $0 }, err: { out += $0 })
                XCTAssertEqual(status, 0, src + "\n" + out)
                ran += 1
            } catch let e as ScenarioError {
                XCTFail("\(e.line):\(e.column): \(e.message)\n\(src)")
            }
        }
        XCTAssertEqual(ran, 60)
    }
}
