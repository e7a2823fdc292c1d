import XCTest
import Foundation
import MMCore
import MMTrace
@testable import MMServe

/// Trace replays opened in the visualizer (`mmsim serve --trace`, `mmsim report --trace`).
final class TraceReplayTests: XCTestCase {
    /// Writes a synthetic trace: `length` random 8-byte accesses (30% stores) over a 64 MiB region.
    func writeTrace(length: UInt64) throws -> String {
        let dir = NSTemporaryDirectory() + "mmsim-trace-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/rand.mmt"
        let w = try TraceWriter(path: path)
        writeSynth(SynthParams(pattern: .random, span: 64 << 20, length: length, writeFraction: 0.3, seed: 3), into: w)
        try w.finish()
        return path
    }

    var machine: MachineConfig { var c = MachineConfig(); c.ramBytes = 256 << 20; return c }

    /// The report `mmsim replay --json` prints for `path` on `machine`.
    func replayReport(_ path: String) throws -> ReplayReport {
        try Replayer(config: machine).run(TraceReader(path: path))
    }

    func testSamplesEndWithTheReplayReportsNumbers() throws {
        let path = try writeTrace(length: 200_000)
        let report = try replayReport(path)
        let rec = try Recording(trace: path, machine: machine, maxSamples: 100)
        XCTAssertEqual(report.records, 200_005)
        XCTAssertEqual(rec.events.count, 16)
        let last = rec.events.last!.metrics
        XCTAssertEqual(report.total.pgfault, 27415)
        XCTAssertEqual(last.faults, report.total.pgfault)
        XCTAssertEqual(last.rssKB.values.reduce(0, +), Int(report.total.rss.total) * 4)
        XCTAssertEqual(last.rssKB.values.reduce(0, +), 63860)
        XCTAssertEqual(rec.events.map(\.index), Array(0..<rec.events.count))
        XCTAssertEqual(rec.events.last!.text, "after 200005 records")
        // The RSS grows from sample to sample and every sample has its views.
        let rss = rec.events.map { $0.metrics.rssKB.values.reduce(0, +) }
        XCTAssertEqual(rss, rss.sorted())
        XCTAssertLessThan(rss.first!, 63860)
        XCTAssertLessThan(rec.events.first!.metrics.faults, 27415)
        let s = try XCTUnwrap(rec.snapshot(event: rec.events.count - 1, pid: nil, va: nil))
        XCTAssertEqual(s.event, rec.events.count - 1)
        let p = try XCTUnwrap(s.processes.first)
        XCTAssertTrue(p.vmas.contains { $0.start == 0x7f00_0000_0000 && $0.end == 0x7f00_0400_0000 }, "\(p.vmas)")
        // Timelines come from the samples.
        let t = rec.timeline()
        XCTAssertEqual(t.faults.last, 27415)
        XCTAssertEqual(t.event.count, rec.events.count)
    }

    func testSamplesAreCappedByThinning() throws {
        let path = try writeTrace(length: 200_000)
        let rec = try Recording(trace: path, machine: machine, maxSamples: 4)
        XCTAssertLessThanOrEqual(rec.events.count, 5)
        XCTAssertEqual(rec.events.last!.text, "after 200005 records")
        XCTAssertEqual(rec.events.last!.metrics.faults, 27415)
    }

    func testCorruptTraceIsAnError() throws {
        let path = try writeTrace(length: 1000)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[data.count / 2] ^= 0xff
        try data.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Recording(trace: path, machine: machine)) { e in
            XCTAssertTrue((e as? RecordingError)?.message.isEmpty == false)
        }
        XCTAssertThrowsError(try Recording(trace: path + ".missing", machine: machine))
    }

    func testServerListsAndOpensTheTrace() async throws {
        let path = try writeTrace(length: 200_000)
        let rec = try Recording(trace: path, machine: machine)
        let server = try await TestServer(limits: RunLimits(), traces: [rec])
        defer { server.stop() }
        let list = try await server.send("/api/traces")
        XCTAssertEqual(list.status, 200)
        let items = try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [[String: Any]] ?? []
        XCTAssertEqual(items.count, 1)
        XCTAssertEqual(items.first?["id"] as? String, "t1")
        XCTAssertEqual(items.first?["file"] as? String, "rand.mmt")
        XCTAssertEqual(items.first?["events"] as? Int, rec.events.count)
        let run = try await server.send("/api/runs/t1")
        XCTAssertEqual(run.json["events"] as? Int, rec.events.count)
        let snap = try await server.send("/api/runs/t1/snapshot?event=\(rec.events.count - 1)&pid=1&va=0x7f0000000000")
        XCTAssertEqual(snap.status, 200)
        let walk = snap.json["walk"] as? [String: Any]
        XCTAssertNotNil(walk, snap.body.prefix(300).description)
        let tl = try await server.send("/api/runs/t1/timeline")
        XCTAssertEqual((tl.json["faults"] as? [Int])?.last, 27415)
    }
}
