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

    /// Runs `mmsim args` and compares the transcript (stdout, stderr, exit status) with Golden/`name`.out.
    @discardableResult
    func check(_ name: String, _ args: [String], stdin: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> Int32 {
        let r = try runMMSim(args, stdin: stdin)
        try compare(r.out + "--- stderr ---\n" + r.err + "--- exit status: \(r.status) ---\n", golden: name + ".out", file: file, line: line)
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
        XCTAssertEqual(names, ["demo", "free", "lazy-malloc", "mmap-100mb", "null-write", "two-copies"])
        for n in names { try check("example-\(n)", ["example", n]) }
        try checkJSON("example-demo", ["example", "demo"])
        try check("example-null-write-explain", ["example", "null-write", "--explain", "--check"])
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

    func testHelp() throws {
        XCTAssertEqual(try check("help-mmsim", ["--help"]), 0)
        for sub in ["run", "example", "check"] { XCTAssertEqual(try check("help-\(sub)", [sub, "--help"]), 0) }
    }
}
