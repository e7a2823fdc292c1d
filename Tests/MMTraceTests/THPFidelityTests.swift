import XCTest
import Foundation
@testable import MMTrace
import MMCore

/// Fidelity of transparent huge pages: Fidelity/thp.c writes one byte per page of a 64 MiB
/// 2 MiB-aligned anonymous block, with and without MADV_HUGEPAGE. The test runs it natively,
/// captures it under valgrind and replays the trace on a machine in the host's THP mode: the
/// model's minor faults between the program's two getrusage() calls must be within 1 % of the
/// kernel's. Skipped when the host has THP disabled (`never`) or could not allocate the THPs.
final class THPFidelityTests: XCTestCase {
    static let thpSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fidelity/thp.c").path

    /// The host's THP mode, from /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never").
    func hostTHPMode() throws -> THPMode {
        guard let text = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8),
              let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]"), open < close,
              let mode = THPMode(rawValue: String(text[text.index(after: open)..<close])) else {
            throw XCTSkip("the host has no /sys/kernel/mm/transparent_hugepage/enabled (THP not built in)")
        }
        if mode == .never { throw XCTSkip("the host's transparent_hugepage/enabled is 'never': no THP faults to compare") }
        return mode
    }

    func checkTHP(_ mode: String, mib: Int) throws {
        let host = try hostTHPMode()
        guard let gcc = resolveProgram("gcc") else { throw XCTSkip("gcc is not installed (.ci/run installs it)") }
        guard resolveProgram("valgrind") != nil else { throw XCTSkip("valgrind is not installed (.ci/run installs it)") }
        let exe = tempDir() + "/thp"
        XCTAssertEqual(try FidelityTests.run([gcc, "-O1", "-o", exe, Self.thpSource]).1, 0, "gcc failed")
        let (out, status) = try FidelityTests.run([exe, mode, String(mib)])
        XCTAssertEqual(status, 0)
        let f = out.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard f.count == 8, let native = Int(f[1]), let fallback = Int(f[7]) else { return XCTFail("output: \(out)") }
        if fallback > 0 { throw XCTSkip("the host fell back to 4 KiB pages \(fallback) times (fragmented memory): nothing exact to compare") }
        let trace = tempDir() + "/thp-\(mode).mmt"
        let c = try capture(program: exe, args: [mode, String(mib)], output: trace) { _ in }
        XCTAssertEqual(c.status, 0)
        var config = MachineConfig()
        config.thp = host
        let report = try Replayer(config: config).run(TraceReader(path: trace))
        XCTAssertEqual(report.total.segvMaperr + report.total.segvAccerr, 0)
        let p = try XCTUnwrap(report.processes.first { $0.getrusage.count == 2 }, "no process called getrusage twice")
        let model = Int(p.getrusage[1].0 - p.getrusage[0].0)
        let expected = mode == "huge" || host == .always ? mib / 2 : mib * 256
        XCTAssertGreaterThanOrEqual(native, expected, "\(mode): the kernel charged fewer faults than one per \(mode == "huge" ? "2 MiB" : "page")")
        XCTAssertLessThanOrEqual(abs(model - native) * 100, native, "\(mode) (host THP \(host.rawValue)): kernel \(native) minor faults, model \(model)")
    }

    func testHugepageMadvisedRegion() throws { try checkTHP("huge", mib: 64) }
    func testRegionWithoutMadvise() throws { try checkTHP("nohuge", mib: 64) }
}
