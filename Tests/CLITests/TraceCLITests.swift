import XCTest
import Foundation

/// Goldens of the trace commands: help, the output of import/synth/replay/sweep/dump-trace on the
/// fixtures in Golden/ (trace-*.mmt were written by `mmsim synth`), and their error paths.
extension GoldenTests {
    /// A fresh directory for outputs; `normalize` replaces it by $TMP in transcripts.
    func traceTmp() throws -> (String, (String) -> String) {
        let d = NSTemporaryDirectory() + "mmsim-trace-golden-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return (d, { $0.replacingOccurrences(of: d, with: "$TMP") })
    }

    func testTraceCommandHelp() throws {
        for sub in ["trace", "import", "replay", "synth", "sweep", "dump-trace"] {
            XCTAssertEqual(try check("help-\(sub)", [sub, "--help"]), 0)
        }
        XCTAssertEqual(try check("help-sweep-merge", ["sweep", "merge", "--help"]), 0)
    }

    func testTraceImportAndReplay() throws {
        let (d, norm) = try traceTmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        XCTAssertEqual(try check("trace-import-pages", ["import", "pages", "trace-refs.txt", "-o", d + "/refs.mmt"], normalize: norm), 0)
        XCTAssertEqual(try check("trace-replay-pages", ["replay", d + "/refs.mmt", "--vmas", "--no-progress"], normalize: norm), 0)
        XCTAssertEqual(try check("trace-import-addresses", ["import", "addresses", "trace-addrs.txt", "-o", d + "/a.mmt"], normalize: norm), 0)
        XCTAssertEqual(try check("trace-replay-addresses-csv", ["replay", d + "/a.mmt", "--csv"], normalize: norm), 0)
        XCTAssertEqual(try check("trace-dump-addresses", ["dump-trace", d + "/a.mmt"], normalize: norm), 0)
        XCTAssertEqual(try check("trace-replay-seq", ["replay", "trace-seq.mmt", "--config", "trace-machine.json", "--l1d", "16:4"]), 0)
        let r = try runMMSim(["replay", "trace-rand.mmt", "--json", "--stlb", "64:4"])
        XCTAssertEqual(r.status, 0)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(r.out.utf8)))
        try compare(r.out, golden: "trace-replay-rand.json")
        XCTAssertEqual(try check("trace-dump-seq", ["dump-trace", "trace-seq.mmt", "--limit", "12"]), 0)
        XCTAssertEqual(try check("trace-replay-explain", ["replay", "trace-seq.mmt", "--explain"]), 0)
    }

    func testTraceSynthAndSweep() throws {
        let (d, norm) = try traceTmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        // synth writes exactly the fixture the goldens use.
        XCTAssertEqual(try check("trace-synth", ["synth", "sequential", "--span", "64K", "--length", "4000", "--writes", "0.5", "--seed", "3", "-o", d + "/s.mmt"], normalize: norm), 0)
        XCTAssertEqual(FileManager.default.contents(atPath: d + "/s.mmt"), FileManager.default.contents(atPath: Self.goldenDir.appendingPathComponent("trace-seq.mmt").path))
        XCTAssertEqual(try check("trace-sweep", ["sweep", "trace-sweep.json", "--jobs", "2"]), 0)
        for k in 1...3 {
            XCTAssertEqual(try runMMSim(["sweep", "trace-sweep.json", "--shard", "\(k)/3", "-o", d + "/part-\(k).csv"]).status, 0)
        }
        let whole = try runMMSim(["sweep", "trace-sweep.json"]).out
        let merged = try runMMSim(["sweep", "merge", d + "/part-3.csv", d + "/part-1.csv", d + "/part-2.csv"])
        XCTAssertEqual(merged.status, 0)
        XCTAssertEqual(merged.out, whole)
        XCTAssertEqual(try check("trace-sweep-merge-missing", ["sweep", "merge", d + "/part-1.csv", d + "/part-2.csv"], normalize: norm), 2)
    }

    func testTraceCommandErrors() throws {
        let (d, norm) = try traceTmp()
        defer { try? FileManager.default.removeItem(atPath: d) }
        XCTAssertEqual(try check("trace-replay-corrupt", ["replay", "trace-corrupt.mmt"]), 2)
        XCTAssertEqual(try check("trace-replay-truncated", ["replay", "trace-truncated.mmt"]), 2)
        XCTAssertEqual(try check("trace-replay-not-a-trace", ["replay", "trace-refs.txt"]), 2)
        XCTAssertEqual(try check("trace-replay-missing", ["replay", "no-such.mmt"]), 2)
        XCTAssertEqual(try check("trace-replay-bad-geometry", ["replay", "trace-seq.mmt", "--stlb", "100:3"]), 2)
        XCTAssertEqual(try check("trace-replay-bad-ram", ["replay", "trace-seq.mmt", "--ram", "lots"]), 2)
        XCTAssertEqual(try check("trace-dump-corrupt", ["dump-trace", "trace-corrupt.mmt", "--limit", "3"]), 2)
        XCTAssertEqual(try check("trace-import-bad-format", ["import", "pcap", "trace-refs.txt", "-o", d + "/x.mmt"], normalize: norm), 2)
        XCTAssertEqual(try check("trace-import-bad-line", ["import", "addresses", "trace-addrs-bad.txt", "-o", d + "/x.mmt"], normalize: norm), 2)
        XCTAssertEqual(try check("trace-import-missing", ["import", "lackey", "no-such.log", "-o", d + "/x.mmt"], normalize: norm), 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d), [], "a failed import left a file")
        XCTAssertEqual(try check("trace-synth-bad-pattern", ["synth", "spiral", "--span", "1M", "--length", "1", "-o", d + "/x.mmt"], normalize: norm), 2)
        XCTAssertEqual(try check("trace-synth-bad-span", ["synth", "random", "--span", "1000", "--length", "1", "-o", d + "/x.mmt"], normalize: norm), 2)
        XCTAssertEqual(try check("trace-sweep-bad-spec", ["sweep", "trace-sweep-bad.json"]), 2)
        XCTAssertEqual(try check("trace-sweep-bad-shard", ["sweep", "trace-sweep.json", "--shard", "4/3"]), 2)
        XCTAssertEqual(try check("trace-sweep-slurm-no-output", ["sweep", "trace-sweep.json", "--slurm", "2"]), 2)
        XCTAssertEqual(try check("trace-trace-no-program", ["trace", "-o", d + "/x.mmt"], normalize: norm), 2)
        XCTAssertEqual(try check("trace-trace-missing-program", ["trace", "-o", d + "/x.mmt", "--", "/no/such/program"], normalize: norm), 2)
    }

    /// The Slurm sweep against a real single-node Slurm (scripts/slurm-test.sh installs and
    /// starts it; needs root and the network for apt): run with MMSIM_SLURM_TEST=1.
    func testSlurmSweep() throws {
        guard ProcessInfo.processInfo.environment["MMSIM_SLURM_TEST"] == "1" else {
            throw XCTSkip("set MMSIM_SLURM_TEST=1 to install and start a single-node Slurm and run a sweep through it")
        }
        let bin = try XCTUnwrap(Self.binary)
        let script = Self.goldenDir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/slurm-test.sh")
        let p = Process()
        p.executableURL = script
        p.arguments = [bin.path]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }
}
