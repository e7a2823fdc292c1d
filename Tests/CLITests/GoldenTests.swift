import XCTest
import Foundation

/// End-to-end tests: run the built `mmsim` binary and compare stdout, stderr and the exit status
/// byte for byte with the files in Golden/. `MMSIM_UPDATE_GOLDEN=1 swift test --filter CLITests`
/// rewrites them.
final class GoldenTests: XCTestCase {
    /// The directory of the golden files in the source tree.
    static let goldenDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let updating = ProcessInfo.processInfo.environment["MMSIM_UPDATE_GOLDEN"] == "1"

    /// Returns the built `mmsim` executable next to the test bundle, or nil.
    static var binary: URL? {
        let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
                          Bundle(for: GoldenTests.self).bundleURL.deletingLastPathComponent()]
        for dir in candidates {
            let u = dir.appendingPathComponent("mmsim")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir), !isDir.boolValue { return u }
        }
        return nil
    }

    /// Returns (stdout, stderr, exit status) of `mmsim args` run in the golden directory.
    func runMMSim(_ args: [String], stdin: String? = nil) throws -> (out: String, err: String, status: Int32) {
        let bin = try XCTUnwrap(Self.binary, "mmsim binary not found next to the test bundle")
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-golden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let outURL = tmp.appendingPathComponent("out"), errURL = tmp.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        p.currentDirectoryURL = Self.goldenDir
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = "80"
        env["LINES"] = "24"
        p.environment = env
        let outH = try FileHandle(forWritingTo: outURL), errH = try FileHandle(forWritingTo: errURL)
        p.standardOutput = outH
        p.standardError = errH
        if let s = stdin {
            let inURL = tmp.appendingPathComponent("in")
            try Data(s.utf8).write(to: inURL)
            p.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            p.standardInput = FileHandle.nullDevice
        }
        try p.run()
        p.waitUntilExit()
        try outH.close(); try errH.close()
        let out = String(decoding: try Data(contentsOf: outURL), as: UTF8.self)
        let err = String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        return (out, err, p.terminationStatus)
    }

    /// Compares `actual` with Golden/`name`, or rewrites it when updating.
    func compare(_ actual: String, golden name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = Self.goldenDir.appendingPathComponent(name)
        if Self.updating {
            try Data(actual.utf8).write(to: url)
            return
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            return XCTFail("missing golden file \(name); run MMSIM_UPDATE_GOLDEN=1 swift test --filter CLITests", file: file, line: line)
        }
        let expected = String(decoding: data, as: UTF8.self)
        if expected != actual {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let i = (0..<min(e.count, a.count)).first(where: { e[$0] != a[$0] }) ?? min(e.count, a.count)
            XCTFail("""
            \(name) differs at line \(i + 1):
              expected: \(i < e.count ? String(e[i]) : "<end of file>")
              actual:   \(i < a.count ? String(a[i]) : "<end of output>")
            (MMSIM_UPDATE_GOLDEN=1 swift test --filter CLITests rewrites the golden files)
            """, file: file, line: line)
        }
    }

    /// Runs `mmsim args` and compares the transcript (stdout, stderr, exit status) with Golden/`name`.out,
    /// after `normalize` (identity unless given).
    @discardableResult
    func check(_ name: String, _ args: [String], stdin: String? = nil, normalize: (String) -> String = { $0 },
               file: StaticString = #filePath, line: UInt = #line) throws -> Int32 {
        let r = try runMMSim(args, stdin: stdin)
        try compare(normalize(r.out + "--- stderr ---\n" + r.err + "--- exit status: \(r.status) ---\n"), golden: name + ".out", file: file, line: line)
        return r.status
    }

    /// Runs `mmsim args --json`, checks that stdout is valid JSON and compares it with Golden/`name`.json.
    func checkJSON(_ name: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runMMSim(args + ["--json"])
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(r.out.utf8)), "\(name).json is not valid JSON", file: file, line: line)
        XCTAssertTrue(r.status == 0 || r.status == 1, "\(name): exit status \(r.status)", file: file, line: line)
        try compare(r.out, golden: name + ".json", file: file, line: line)
        let again = try runMMSim(args + ["--json"])
        XCTAssertEqual(r.out, again.out, "\(name): --json output is not deterministic", file: file, line: line)
    }

    /// The built-in examples, by name (from `mmsim example --list`).
    func exampleNames() throws -> [String] {
        let r = try runMMSim(["example", "--list"])
        XCTAssertEqual(r.status, 0)
        return r.out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    func testBuiltInExamples() throws {
        let names = try exampleNames()
        XCTAssertEqual(names, ["arm32-machine", "arm64-48bit", "arm64-machine", "belady", "buddy", "cache-reclaim", "demo", "exec-ls", "fork-cow", "free", "highmem-arm32", "highmem", "hugetlb", "kmalloc-sizes", "kthread", "la57", "layout-arm32", "lazy-malloc", "mmap-100mb", "multilevel-walk", "no-mmu", "null-write", "oom-killer", "pagetable-cost", "panic-on-oom", "riscv-machine", "segmentation", "slab", "swap-storm", "thp", "threads", "toy-pagetable", "two-copies", "two-cpus", "vmalloc-vs-kmalloc"])
        for n in names where n != "exec-ls" { try check("example-\(n)", ["example", n]) }
        // exec-ls maps files of this machine: a fresh machine of the same image has the same
        // files but maybe other device and inode numbers, so those two columns are normalised.
        try check("example-exec-ls", ["example", "exec-ls", "--check"], normalize: Self.normalizeHostInodes)
        try checkJSON("example-demo", ["example", "demo"])
        try check("example-null-write-explain", ["example", "null-write", "--explain", "--check"])
        try check("example-two-cpus-explain", ["example", "two-cpus", "--explain", "--check"])
    }

    func testScenarioFiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.goldenDir.path).filter { $0.hasSuffix(".mmsim") }.sorted()
        XCTAssertFalse(files.isEmpty)
        for f in files {
            let name = String(f.dropLast(6))
            try check(name, ["run", f])
            if !name.hasPrefix("error-") { try checkJSON(name, ["run", f]) }
        }
    }

    /// Replaces the device and inode columns of maps lines of files (inode ≠ 0) with `DEV INODE`,
    /// keeping the path column where maps puts it.
    static func normalizeHostInodes(_ text: String) -> String {
        let re = try! NSRegularExpression(pattern: "^([0-9a-f]+-[0-9a-f]+ [-r][-w][-x][ps] [0-9a-f]{8}) [0-9a-f]+:[0-9a-f]+ [1-9][0-9]* +(/.*)$",
                                          options: [.anchorsMatchLines])
        let ns = text as NSString
        var out = text
        for m in re.matches(in: text, range: NSRange(location: 0, length: ns.length)).reversed() {
            let head = ns.substring(with: m.range(at: 1)), path = ns.substring(with: m.range(at: 2))
            let fixed = (head + " DEV INODE").padding(toLength: 73, withPad: " ", startingAt: 0) + path
            out = (out as NSString).replacingCharacters(in: m.range, with: fixed)
        }
        return out
    }

    func testNormalizeHostInodes() {
        let line = "555555554000-555555558000 r--p 00000000 fe:00 254378                     /usr/bin/ls\n"
        XCTAssertEqual(Self.normalizeHostInodes(line + "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"),
                       "555555554000-555555558000 r--p 00000000 DEV INODE                        /usr/bin/ls\n"
                       + "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n")
    }

    func testParseErrorIsReportedWithCaretAndExit2() throws {
        let status = try check("error-parse", ["run", "error-parse.mmsim"])
        XCTAssertEqual(status, 2)
        XCTAssertEqual(try check("check-error", ["check", "error-parse.mmsim"]), 2)
        XCTAssertEqual(try check("check-ok", ["check", "basics.mmsim"]), 0)
    }

    func testStandardInput() throws {
        let src = "note \"from stdin ${1K:d}\"\nsysctl vm.overcommit_memory=2\nfrobnicate\n"
        XCTAssertEqual(try check("cli-stdin", ["run", "-"], stdin: src), 2)
    }

    func testCommandLineErrors() throws {
        XCTAssertEqual(try check("cli-unknown-example", ["example", "no-such-example"]), 2)
        XCTAssertEqual(try check("cli-bad-flag", ["run", "--bogus", "basics.mmsim"]), 2)
        XCTAssertEqual(try check("cli-missing-file", ["run", "does-not-exist.mmsim"]), 2)
        XCTAssertEqual(try check("cli-list", ["example", "--list"]), 0)
    }

    func testPolicyLab() throws {
        let belady = "1,2,3,4,1,2,5,1,2,3,4,5"
        XCTAssertEqual(try check("policy-belady", ["policy", "--policy", "fifo", "--frames", "3,4", "--refs", belady]), 0)
        XCTAssertEqual(try check("policy-file-compare", ["policy", "--compare", "--frames", "3", "--file", "policy-refs.txt"]), 0)
        XCTAssertEqual(try check("policy-states", ["policy", "--policy", "clock,lfu,linux", "--frames", "3", "--file", "policy-refs.txt"]), 0)
        XCTAssertEqual(try check("policy-generate", ["policy", "--policy", "rand,opt", "--frames", "4", "--generate", "24", "--pages", "8", "--seed", "7"]), 0)
        let r = try runMMSim(["policy", "--policy", "opt,clock", "--frames", "3", "--refs", belady, "--json"])
        XCTAssertEqual(r.status, 0)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(r.out.utf8)))
        try compare(r.out, golden: "policy-opt-clock.json")
        XCTAssertEqual(try check("policy-bad-file", ["policy", "--frames", "3", "--file", "policy-bad.txt"]), 2)
        XCTAssertEqual(try check("policy-bad-policy", ["policy", "--policy", "fifo,nru", "--frames", "3", "--refs", "1"]), 2)
        XCTAssertEqual(try check("policy-bad-frames", ["policy", "--frames", "0", "--refs", "1"]), 2)
        XCTAssertEqual(try check("policy-no-refs", ["policy", "--frames", "3"]), 2)
        XCTAssertEqual(try check("policy-bad-refs", ["policy", "--frames", "3", "--refs", "1,2,-3"]), 2)
    }

    func testArchitectureLabs() throws {
        let geo = ["--pdbr", "2", "--page-size", "32", "--va-bits", "15", "--entry-bytes", "1", "--valid-bit", "7", "--pfn-bits", "6-0"]
        XCTAssertEqual(try check("translate-multilevel", ["translate", "multilevel", "--dump", "translate-dump.txt"] + geo + ["0x0c2a", "0x0c4a", "0x6000", "0x8000"]), 0)
        try checkJSON("translate-multilevel", ["translate", "multilevel", "--dump", "translate-dump.txt"] + geo + ["0x0c2a", "0x0c4a"])
        XCTAssertEqual(try check("translate-x86-32", ["translate", "--arch", "x86-32", "--map", "0xc0000000:0x123400000:4M:rwkg", "--map", "0x8048000:0x100000:4K:rx", "0xc0123456", "0x8048abc", "0x8049000"]), 0)
        XCTAssertEqual(try check("translate-pae", ["translate", "--arch", "x86-pae", "--map", "0xbf800000:0x140000000:2M", "--access", "write", "0xbf812345"]), 0)
        XCTAssertEqual(try check("translate-sv48", ["translate", "--arch", "sv48", "--asid", "7", "--map", "0x7fffff000:0x87654000:4K:rw", "--map", "0x40000000:0x80000000:1G:rwxk", "0x7fffff123", "0x40001000", "0x800000000000"]), 0)
        XCTAssertEqual(try check("translate-arm32", ["translate", "--arch", "arm32", "--asid", "5", "--map", "0x12000:0x87654000:4K:rw", "--map", "0x20000:0x45670000:64K:r", "--map", "0xc0000000:0:1M:rwxkg", "--map", "0xd0000000:0x123000000:16M:rx", "0x12abc", "0x2f123", "0xc0012345", "0xd0abcdef", "0x40000000"]), 0)
        try checkJSON("translate-arm64", ["translate", "--arch", "arm64-64k-52", "--map", "0x10000:0xf000000010000:64K", "0x12345", "0x30000"])
        XCTAssertEqual(try check("translate-linear", ["translate", "linear", "--page-size", "1024", "--va-bits", "12", "--entries", "0x80000003,0,0x80000007,0x8000000a", "0x0", "0x5ff", "0xbff", "0xfff"]), 0)
        XCTAssertEqual(try check("translate-x86-segment", ["translate", "x86-segment", "--cpl", "0", "--access", "write", "0x18:0x1000", "0x33:0", "0x2b:0xfffffffc"]), 0)
        for k in ["base-bounds", "segmentation", "linear", "multilevel", "tlb", "replacement"] {
            XCTAssertEqual(try check("exercise-\(k)", ["exercise", k, "--seed", "1", "--answers"]), 0)
        }
        XCTAssertEqual(try check("exercise-question", ["exercise", "segmentation", "--seed", "2"]), 0)
        try checkJSON("exercise-multilevel", ["exercise", "multilevel", "--seed", "1", "--answers"])
        XCTAssertEqual(try check("pagetable-cost-seed", ["pagetable-cost", "--levels", "10,10", "--used", "20%", "--processes", "100"]), 0)
        try checkJSON("pagetable-cost-seed", ["pagetable-cost", "--levels", "10,10", "--used", "20%", "--processes", "100"])
        XCTAssertEqual(try check("pagetable-cost-measured", ["pagetable-cost", "--va-bits", "48", "--entry-size", "8", "--example", "fork-cow"]), 0)
        XCTAssertEqual(try check("no-mmu", ["no-mmu"]), 0)
        XCTAssertEqual(try check("example-la57-explain", ["example", "la57", "--explain", "--check"]), 0)
        try checkJSON("segmentation", ["segmentation", "--fit", "worst"])
        // Hostile input: exit 2 with the file, line and column, or the option.
        XCTAssertEqual(try check("translate-bad-dump", ["translate", "multilevel", "--dump", "translate-bad-dump.txt"] + geo + ["0"]), 2)
        XCTAssertEqual(try check("translate-missing-dump", ["translate", "multilevel", "--dump", "no-such-dump.txt"] + geo + ["0"]), 2)
        XCTAssertEqual(try check("translate-bad-arch", ["translate", "--arch", "arm64-8k-48", "0"]), 2)
        XCTAssertEqual(try check("translate-bad-map", ["translate", "--arch", "x86-64", "--map", "0x1000:0x2000:2M", "0"]), 2)
        XCTAssertEqual(try check("translate-bad-geometry", ["translate", "multilevel", "--dump", "translate-dump.txt", "--pdbr", "2", "--page-size", "24", "--va-bits", "15", "0"]), 2)
        XCTAssertEqual(try check("exercise-bad-kind", ["exercise", "paging"]), 2)
        XCTAssertEqual(try check("pagetable-cost-bad-used", ["pagetable-cost", "--used", "1/0"]), 2)
        for sub in ["translate", "exercise", "pagetable-cost", "no-mmu", "segmentation"] {
            XCTAssertEqual(try check("help-\(sub)", [sub, "--help"]), 0)
        }
    }

    func testHelp() throws {
        XCTAssertEqual(try check("help-mmsim", ["--help"]), 0)
        for sub in ["run", "example", "check", "policy"] { XCTAssertEqual(try check("help-\(sub)", [sub, "--help"]), 0) }
    }
}
