import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `mmsim report` and `mmsim serve` through the built binary.
extension GoldenTests {
    func testServeAndReportHelp() throws {
        XCTAssertEqual(try check("help-serve", ["serve", "--help"]), 0)
        XCTAssertEqual(try check("help-report", ["report", "--help"]), 0)
        // A bad port is bad input.
        XCTAssertEqual(try check("serve-bad-port", ["serve", "--port", "70000"]), 2)
    }

    func testReportWritesASelfContainedFile() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-report-\(UUID().uuidString).html")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let r = try runMMSim(["report", "--example", "fork-cow", "-o", tmp.path])
        XCTAssertEqual(r.status, 0, r.err)
        let root = Self.goldenDir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: root.appendingPathComponent("Sources/MMScenario/Examples/fork-cow.mmsim"))
        let steps = try runMMSim(["check", "-"], stdin: source)
        // "<stdin>: OK (N steps)"
        let n = steps.out.split(separator: "(")[1].split(separator: " ")[0]
        XCTAssertEqual(r.out, "mmsim report: wrote \(tmp.path) (\(n) events)\n")
        let html = try String(contentsOf: tmp)
        XCTAssertTrue(html.contains("<p id=\"summary\">\(n) events, exit status 0.</p>"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://") || html.contains("<script"))
    }

    func testReportOfATraceReplay() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-report-trace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("rand.mmt").path, html = dir.appendingPathComponent("r.html").path
        let s = try runMMSim(["synth", "random", "--span", "64M", "--length", "200000", "--writes", "0.3", "--seed", "3", "-o", trace])
        XCTAssertEqual(s.status, 0, s.err)
        let r = try runMMSim(["report", "--trace", trace, "--ram", "256M", "-o", html])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "mmsim report: wrote \(html) (16 events)\n")
        let text = try String(contentsOfFile: html)
        XCTAssertTrue(text.contains("<p id=\"summary\">16 events, exit status 0.</p>"))
        XCTAssertFalse(text.contains("http://") || text.contains("https://") || text.contains("<script"))
        // A trace that is not there is bad input, named.
        let bad = try runMMSim(["report", "--trace", trace + ".missing", "-o", html])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.err.hasPrefix("mmsim: error: \(trace).missing: "), bad.err)
    }

    func testReportOfABadScenarioNamesLineAndColumn() throws {
        let r = try runMMSim(["report", "-", "-o", "/nonexistent/x.html"], stdin: "spawn /bin/x\nmmap NULL 64K rw- bogus\n")
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.err.hasPrefix("<stdin>:2:19: error: "), r.err)
    }

    func testServeAnswersOnAFreePort() throws {
        let bin = try XCTUnwrap(Self.binary)
        let p = Process()
        p.executableURL = bin
        p.arguments = ["serve", "--port", "0"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        // The first line names the address.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let d = pipe.fileHandleForReading.availableData
            if d.isEmpty { break }
            line.append(d)
        }
        let text = String(decoding: line, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("mmsim serve: listening on http://127.0.0.1:"), text)
        let base = try XCTUnwrap(text.split(separator: " ").last).trimmingCharacters(in: .whitespacesAndNewlines)
        func get(_ path: String, method: String = "GET") throws -> (Int, String) {
            var req = URLRequest(url: try XCTUnwrap(URL(string: base + path.dropFirst())))
            req.httpMethod = method
            let done = DispatchSemaphore(value: 0)
            final class Box: @unchecked Sendable { var result: (Int, String) = (0, "") }
            let box = Box()
            URLSession.shared.dataTask(with: req) { data, resp, _ in
                box.result = ((resp as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
                done.signal()
            }.resume()
            XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
            return box.result
        }
        let page = try get("/")
        XCTAssertEqual(page.0, 200)
        XCTAssertTrue(page.1.contains("/static/app.js"))
        let run = try get("/api/run?example=demo", method: "POST")
        XCTAssertEqual(run.0, 200, run.1)
        XCTAssertTrue(run.1.contains("\"file\":\"demo.mmsim\""), run.1)
        XCTAssertEqual(try get("/static/secret").0, 404)
    }
}
