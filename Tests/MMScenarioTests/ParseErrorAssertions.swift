import XCTest
@testable import MMScenario

extension XCTestCase {
    /// Asserts that parsing `src` fails at line `l`, column `c` with exactly `message`.
    func assertError(_ src: String, _ l: Int, _ c: Int, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try Parser.parse(src, file: "t.mmsim")
            XCTFail("expected an error", file: file, line: line)
        } catch let e as ScenarioError {
            XCTAssertEqual("\(e.line):\(e.column): \(e.message)", "\(l):\(c): \(message)", file: file, line: line)
        } catch { XCTFail("unexpected \(error)", file: file, line: line) }
    }

    /// Parses and runs `src` with `options`; returns what it printed to stdout and stderr,
    /// interleaved in order, and its exit status. Throws the parse error.
    func runScenario(_ src: String, options: RunOptions = RunOptions(allowHostFiles: true)) throws -> (String, Int32) {
        let s = try Parser.parse(src, file: "t.mmsim")
        var out = ""
        let status = Runner(scenario: s, options: options).run(out: { out += $0 }, err: { out += $0 })
        return (out, status)
    }
}
