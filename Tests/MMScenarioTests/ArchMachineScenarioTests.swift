import XCTest
import Foundation
import MMCore
@testable import MMScenario

/// The built-in examples of the core issue on every 64-bit machine architecture (`machine
/// arch=`), with every invariant checked after each step, compared with their x86-64 run.
final class ArchMachineScenarioTests: XCTestCase {
    static let archs = ["x86-64-la57", "arm64-4k-39", "arm64-4k-48", "sv39", "sv57"]

    /// Returns (stdout + stderr, status) of example `name` on `arch` (nil: as shipped), with --check.
    func run(_ name: String, arch: String?) throws -> (String, Int32) {
        // `threads` greps maps for x86-64's mmap addresses (7ffff7…): keep every mapping instead.
        var src = try XCTUnwrap(Examples.named(name)).source.replacingOccurrences(of: "| grep 7ffff7", with: "| grep p")
        if let a = arch {
            // `two-copies` writes at the x86-64 PIE's data page (ELF_ET_DYN_BASE + 0x3000): use this arch's.
            let base = PageTableFormat(machine: try XCTUnwrap(Architecture(name: a)))!.elfEtDynBase
            src = src.replacingOccurrences(of: "0x555555557010", with: "0x" + String(base + 0x3010, radix: 16))
            if let r = src.range(of: "\nmachine ") { src.replaceSubrange(r, with: "\nmachine arch=\(a) ") } else { src = "machine arch=\(a)\n" + src }
        }
        let s = try Parser.parse(src, file: name)
        var out = ""
        let status = Runner(scenario: s, options: RunOptions(check: true)).run(out: { out += $0 }, err: { out += $0 })
        return (out, status)
    }

    /// The output with what legitimately differs between architectures taken out: addresses
    /// (7+ hex digits), page-table frame numbers, the PageTables: line, free memory (free's Mem:
    /// line, MemFree, MemAvailable: the format's page tables take more or fewer pages), walk
    /// memory references (one per level), the x86-only [vsyscall] line, the multiarch library
    /// paths and the padding of maps lines; with `numbers`, every decimal number too.
    static func normalize(_ text: String, numbers: Bool = false) -> String {
        var t = text
        for (a, b) in [("aarch64-linux-gnu", "x86_64-linux-gnu"), ("riscv64-linux-gnu", "x86_64-linux-gnu"),
                       ("ld-linux-aarch64.so.1", "ld-linux-x86-64.so.2"), ("ld-linux-riscv64-lp64d.so.1", "ld-linux-x86-64.so.2")] {
            t = t.replacingOccurrences(of: a, with: b)
        }
        let addr = try! NSRegularExpression(pattern: "\\b(0x)?[0-9a-f]{7,}\\b")
        let digits = try! NSRegularExpression(pattern: "[0-9]+")
        let pfn = try! NSRegularExpression(pattern: "PFN 0x[0-9a-f]+")
        return t.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("PageTables:") && !$0.contains("[vsyscall]") }.map { l in
            var s = String(l)
            s = addr.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "ADDR")
            // Free memory moves by the page-table pages a format needs more or less; walks read one
            // entry per level; page-table frames get other numbers.
            if numbers || s.hasPrefix("Mem:") || s.hasPrefix("MemFree:") || s.hasPrefix("MemAvailable:") || s.contains("walk memory references") || s.contains("walk-cache hits") {
                s = digits.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "N")
            }
            s = pfn.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "PFN N")
            if numbers { s = digits.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "N") }
            return s.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }.joined(separator: "\n")
    }

    /// Examples whose memory is not under pressure: the output (fault counts, RSS, meminfo,
    /// smaps, free, vmstat...) is identical to x86-64's apart from addresses and PageTables.
    func testExamplesMatchX86OnEveryArch() throws {
        for name in ["null-write", "fork-cow", "threads", "two-copies", "mmap-100mb", "free", "two-cpus", "kthread"] {
            let (ref, refStatus) = try run(name, arch: nil)
            XCTAssertFalse(ref.contains("invariant"), name)
            for a in Self.archs {
                let (out, status) = try run(name, arch: a)
                XCTAssertEqual(status, refStatus, "\(name) on \(a)")
                XCTAssertFalse(out.contains("invariant violated"), "\(name) on \(a)")
                XCTAssertEqual(Self.normalize(out), Self.normalize(ref), "\(name) on \(a)")
            }
        }
    }

    /// Examples that run into reclaim or the OOM killer: the page-table pages a format needs
    /// (one less with 3 levels, one more with 5) shift the point where memory runs out by a few
    /// pages, so the counts may differ; the sequence of events (the same lines, the same victims,
    /// the same exit status) does not, and every invariant holds.
    func testPressureExamplesRunAlikeOnEveryArch() throws {
        for name in ["oom-killer", "swap-storm"] {
            let (ref, refStatus) = try run(name, arch: nil)
            for a in ["arm64-4k-39", "sv57"] {   // 3 and 5 levels: the largest differences in page-table pages
                let (out, status) = try run(name, arch: a)
                XCTAssertEqual(status, refStatus, "\(name) on \(a)")
                XCTAssertFalse(out.contains("invariant violated"), "\(name) on \(a)")
                XCTAssertEqual(Self.normalize(out, numbers: true), Self.normalize(ref, numbers: true), "\(name) on \(a)")
            }
        }
    }

    /// The same examples on the 32-bit ARM machine keep every invariant and end as on x86-64.
    /// Their output differs beyond addresses (8-digit maps, no DirectMap lines, HighMem), and so
    /// do fault counts where ARM's young-bit emulation adds faults: in `fork-cow` the child's PTEs
    /// are old after fork (copy_present_pte's pte_mkold), so its first read takes a fault that
    /// x86-64 does not (pgfault 20, 21, 22, 23 instead of 20, 20, 21, 22).
    func testExamplesKeepInvariantsOnARM32() throws {
        for name in ["null-write", "fork-cow", "two-cpus", "kthread"] {
            let (ref, refStatus) = try run(name, arch: nil)
            let (out, status) = try run(name, arch: "arm32")
            XCTAssertEqual(status, refStatus, "\(name) on arm32")
            XCTAssertFalse(out.contains("invariant violated"), "\(name) on arm32")
            if name == "fork-cow" {
                func faults(_ o: String) -> [String] { o.split(separator: "\n").filter { $0.hasPrefix("pgfault ") }.map(String.init) }
                XCTAssertEqual(faults(ref), ["pgfault 20", "pgfault 20", "pgfault 21", "pgfault 22"])
                XCTAssertEqual(faults(out), ["pgfault 20", "pgfault 21", "pgfault 22", "pgfault 23"])
            }
        }
    }

    func testMachineArchErrors() throws {
        func err(_ src: String) -> String {
            do { _ = try Parser.parse(src, file: "t.mmsim"); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(err("machine arch=pdp11").contains("t.mmsim:1:14: error: unknown architecture 'pdp11' (known: x86-32, x86-pae, x86-64, x86-64-la57, arm64-4k-39, arm64-4k-42, arm64-4k-47, arm64-4k-48, sv39, sv48, sv57, arm32)"), err("machine arch=pdp11"))
        XCTAssertTrue(err("machine arch=arm64-64k-42").contains("t.mmsim:1:14: error: arm64-64k-42 has a 64 KiB granule, but a machine runs with 4 KiB pages (PAGE_SIZE)"), err("machine arch=arm64-64k-42"))
        XCTAssertEqual(err("machine arch=x86-32"), "")   // the 32-bit machine (branch m32)
        XCTAssertTrue(err("machine arch=x86-32 ram=5G").contains("t.mmsim:1:9: error: arch=x86-32 addresses at most 4G of RAM (ram=5120M)"), err("machine arch=x86-32 ram=5G"))
        XCTAssertEqual(err("machine arch=arm32"), "")   // the 32-bit ARM machine (branch arm32m)
        XCTAssertTrue(err("machine arch=arm32 ram=5G").contains("t.mmsim:1:9: error: arch=arm32 addresses at most 4G of RAM (ram=5120M)"), err("machine arch=arm32 ram=5G"))
        XCTAssertTrue(err("machine arch=arm32-ttbcr2").contains("t.mmsim:1:14: error: arm32-ttbcr2 splits the address space between TTBR0 and TTBR1 (TTBCR.N > 0)"), err("machine arch=arm32-ttbcr2"))
        XCTAssertTrue(err("machine arch=arm32 hugepages=2M:4").contains("t.mmsim:1:9: error: hugetlb pools are not modelled on a 32-bit machine (ARM without LPAE has no CONFIG_HUGETLB_PAGE)"), err("machine arch=arm32 hugepages=2M:4"))
    }
}
