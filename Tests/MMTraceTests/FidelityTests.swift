import XCTest
import Foundation
@testable import MMTrace
import MMCore

/// Fidelity to the real kernel: Fidelity/touch.c touches memory in a known pattern between two
/// getrusage() calls and prints the minor faults the kernel charged it in between. The test runs
/// it natively, then captures it under valgrind and replays the trace: the model's fault count
/// between the same two getrusage() calls must be within 1 % of the kernel's.
final class FidelityTests: XCTestCase {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fidelity/touch.c").path

    /// Runs `argv` and returns its stdout and exit status.
    static func run(_ argv: [String]) throws -> (String, Int32) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), p.terminationStatus)
    }

    /// Builds touch.c into a temporary directory; skips the test when gcc or valgrind is missing.
    func buildTouch() throws -> String {
        guard let gcc = resolveProgram("gcc") else { throw XCTSkip("gcc is not installed (.ci/run installs it)") }
        guard resolveProgram("valgrind") != nil else { throw XCTSkip("valgrind is not installed (.ci/run installs it)") }
        let exe = tempDir() + "/touch"
        let (_, status) = try Self.run([gcc, "-O1", "-o", exe, Self.source])
        XCTAssertEqual(status, 0, "gcc failed")
        return exe
    }

    /// The kernel's and the model's minor faults for `touch MODE PAGES`.
    func faults(_ exe: String, _ mode: String, pages: Int) throws -> (native: Int, model: Int) {
        let (out, status) = try Self.run([exe, mode, String(pages)])
        XCTAssertEqual(status, 0)
        let f = out.split(separator: " ")
        let native = try XCTUnwrap(f.count >= 2 ? Int(f[1].trimmingCharacters(in: .whitespacesAndNewlines)) : nil, "output: \(out)")
        let trace = tempDir() + "/\(mode).mmt"
        let c = try capture(program: exe, args: [mode, String(pages)], output: trace) { _ in }
        XCTAssertEqual(c.status, 0)
        XCTAssertGreaterThan(c.regions, 4)
        let report = try Replayer(config: MachineConfig()).run(TraceReader(path: trace))
        XCTAssertEqual(report.total.segvMaperr + report.total.segvAccerr, 0, "accesses outside the recorded address space")
        XCTAssertEqual(report.syscallProblemCount, 0, report.syscallProblems.joined(separator: "\n"))
        // The program's ELF headers travelled in the trace and parse.
        let elf = try XCTUnwrap(report.programFiles.first { $0.path == exe }?.elf)
        XCTAssertTrue(elf.hasPrefix("ELF ET_DYN, entry 0x") && elf.contains("interpreter /lib64/ld-linux-x86-64.so.2"), elf)
        // The process that called getrusage() twice (the child, for fork).
        let p = try XCTUnwrap(report.processes.first { $0.getrusage.count == 2 }, "no process called getrusage twice")
        return (native, Int(p.getrusage[1].0 - p.getrusage[0].0))
    }

    /// `minimum`: the fewest faults the kernel can charge (one per page; one per 16 pages for
    /// file reads with fault-around).
    func check(_ mode: String, pages: Int, minimum: Int? = nil) throws {
        let exe = try buildTouch()
        let (native, model) = try faults(exe, mode, pages: pages)
        XCTAssertGreaterThanOrEqual(native, minimum ?? pages, "\(mode): the kernel charged fewer faults than expected")
        XCTAssertLessThanOrEqual(abs(model - native) * 100, native, "\(mode): kernel \(native) minor faults, model \(model)")
    }

    func testSequentialFirstTouch() throws { try check("seq", pages: 2000) }
    func testRandomFirstTouch() throws { try check("rand", pages: 2000) }
    func testForkThenWrite() throws { try check("fork", pages: 2000) }
    /// The file is written with write(2) (its pages enter the page cache), mapped and read:
    /// each read fault maps 16 cached pages (fault-around), natively and in the model.
    func testFileReadsWithFaultAround() throws { try check("file", pages: 4000, minimum: 4000 / 16) }
}
