import XCTest
import Foundation
@testable import MMTrace
import MMCore

final class SynthSweepTests: XCTestCase {
    func synth(_ p: SynthParams, _ path: String) throws -> Data {
        let w = try TraceWriter(path: path)
        writeSynth(p, into: w)
        try w.finish()
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    func accesses(_ path: String) throws -> [(TraceAccessKind, UInt64, UInt32)] {
        try TraceReader.readAll(path).compactMap { if case .access(let k, let a, let s) = $0 { return (k, a, s) }; return nil }
    }

    func testDeterministicPerSeed() throws {
        let d = tempDir()
        for pat in SynthPattern.allCases {
            let p = SynthParams(pattern: pat, span: 1 << 20, length: 5000, writeFraction: 0.3, seed: 42)
            let a = try synth(p, d + "/a.mmt"), b = try synth(p, d + "/b.mmt")
            XCTAssertEqual(a, b, pat.rawValue)
            var q = p; q.seed = 43
            if pat != .sequential && pat != .strided || p.writeFraction > 0 {
                XCTAssertNotEqual(a, try synth(q, d + "/c.mmt"), pat.rawValue)
            }
            let acc = try accesses(d + "/a.mmt")
            XCTAssertEqual(acc.count, 5000)
            XCTAssertTrue(acc.allSatisfy { $0.1 >= p.base && $0.1 + UInt64($0.2) <= p.base + p.span }, pat.rawValue)
            let stores = acc.filter { $0.0 == .store }.count
            XCTAssertTrue((1200...1800).contains(stores), "\(pat.rawValue): \(stores) stores")
        }
    }

    func testPatternsHaveTheirShape() throws {
        let d = tempDir()
        let base: UInt64 = 0x7f00_0000_0000
        _ = try synth(SynthParams(pattern: .sequential, span: 8192, length: 1030), d + "/s.mmt")
        let s = try accesses(d + "/s.mmt").map { $0.1 - base }
        XCTAssertEqual(Array(s.prefix(3)), [0, 8, 16])
        XCTAssertEqual(s[1023], 8184)
        XCTAssertEqual(s[1024], 0)      // wraps at the span
        _ = try synth(SynthParams(pattern: .strided, span: 16384, length: 5), d + "/t.mmt")
        XCTAssertEqual(try accesses(d + "/t.mmt").map { $0.1 - base }, [0, 4096, 8192, 12288, 0])
        // Pointer chase: a cyclic permutation of the 64-byte lines, every line once per lap.
        _ = try synth(SynthParams(pattern: .pointerChase, span: 65536, length: 2048, seed: 9), d + "/p.mmt")
        let pc = try accesses(d + "/p.mmt").map { $0.1 - base }
        XCTAssertEqual(Set(pc.prefix(1024)).count, 1024)
        XCTAssertEqual(Array(pc.prefix(1024)), Array(pc.suffix(1024)))
        XCTAssertTrue(pc.allSatisfy { $0 % 64 == 0 })
        // Zipf: the first page is the most popular by far.
        _ = try synth(SynthParams(pattern: .zipf, span: 1 << 20, length: 20000, zipf: 1.2, seed: 5), d + "/z.mmt")
        var counts = [UInt64: Int]()
        for a in try accesses(d + "/z.mmt") { counts[(a.1 - base) >> 12, default: 0] += 1 }
        XCTAssertEqual(counts.max { $0.value < $1.value }?.key, 0)
        XCTAssertGreaterThan(counts[0]!, 4 * (counts[10] ?? 0))
    }

    func testValidation() {
        XCTAssertEqual(SynthParams(pattern: .random, span: 1000, length: 1).validationError(), "--span must be a multiple of 4096 bytes, at least 4096")
        XCTAssertEqual(SynthParams(pattern: .random, span: 4096, length: 1, writeFraction: 2).validationError(), "--writes must be between 0 and 1")
        XCTAssertEqual(SynthParams(pattern: .random, span: 4096, length: 1, accessSize: 3).validationError(), "--size must be a power of two from 1 to 64")
        XCTAssertNotNil(SynthParams(pattern: .random, span: 1 << 40, length: 1, base: 0x7fff_0000_0000).validationError())
        XCTAssertNil(SynthParams(pattern: .random, span: 1 << 30, length: 1).validationError())
    }

    func testSweepRunsShardsAndMerge() throws {
        let d = tempDir()
        _ = try synth(SynthParams(pattern: .random, span: 1 << 22, length: 3000, seed: 1), d + "/r.mmt")
        _ = try synth(SynthParams(pattern: .sequential, span: 1 << 20, length: 3000), d + "/s.mmt")
        let spec = #"{"traces": ["r.mmt", "s.mmt"], "grid": {"stlb": ["16:4", "1536:12"], "l1d": ["64:4"], "pcid": [false, true]}, "fixed": {"ram": "256M"}}"#
        let s = try SweepSpec.parse(Data(spec.utf8), path: d + "/spec.json")
        XCTAssertEqual(s.runCount, 8)
        XCTAssertEqual(s.axes.map { $0.key }, ["l1d", "pcid", "stlb"])
        XCTAssertEqual(s.run(0).trace, d + "/r.mmt")
        XCTAssertEqual(s.run(5).trace, d + "/s.mmt")
        XCTAssertEqual(s.run(5).options.map { "\($0.0)=\($0.1)" }, ["ram=256M", "l1d=64:4", "pcid=off", "stlb=1536:12"])
        let all = try runSweep(s, jobs: 2)
        XCTAssertEqual(all.count, 8)
        XCTAssertEqual(all.map { $0.split(separator: ",")[0] }, ["0", "1", "2", "3", "4", "5", "6", "7"])
        // The same runs, single-threaded, give the same rows (one Kernel per run, no sharing).
        XCTAssertEqual(try runSweep(s, jobs: 1), all)
        // A 16-entry STLB misses more than a 1536-entry one on random accesses.
        let cols = sweepColumns()
        let miss = cols.firstIndex(of: "stlb_misses")!
        func col(_ row: String, _ i: Int) -> Int { Int(row.split(separator: ",")[i])! }
        XCTAssertGreaterThan(col(all[0], miss), col(all[1], miss))
        // Three shards cover every run once; merge puts them back in order.
        let header = sweepHeader("csv")!
        var parts: [(name: String, text: String)] = []
        for k in [3, 1, 2] {
            let rows = try runSweep(s, shard: (k, 3), jobs: 2)
            parts.append(("part-\(k)", ([header] + rows).joined(separator: "\n") + "\n"))
        }
        XCTAssertEqual(try mergeSweepTables(parts), ([header] + all).joined(separator: "\n") + "\n")
        XCTAssertThrowsError(try mergeSweepTables(Array(parts.prefix(2)))) { e in
            XCTAssertEqual("\(e)", "3 of 8 runs missing: 1, 4, 7")
        }
        XCTAssertThrowsError(try mergeSweepTables(parts + [parts[0]])) { e in
            XCTAssertEqual("\(e)", "part-3:2: run 2 appears twice")
        }
        XCTAssertThrowsError(try mergeSweepTables([("x.csv", "a,b\n1,2\n")])) { e in
            XCTAssertEqual("\(e)", "x.csv:1: not a sweep table (unexpected header)")
        }
    }

    // The arch axis takes the 32-bit machines: the same random trace below 3 GiB takes the same
    // first-touch faults on x86-32 and arm32. An ARM walk reads the first-level word and the
    // second-level word, except the first walk of each of the region's two 2 MiB PGD pairs,
    // which stops at an empty first-level word.
    func testArchAxisWithTheARMMachine() throws {
        let d = tempDir()
        _ = try synth(SynthParams(pattern: .random, span: 1 << 22, length: 3000, writeFraction: 0.5, seed: 3, base: 0x4000_0000), d + "/r.mmt")
        let spec = #"{"traces": ["r.mmt"], "grid": {"arch": ["x86-32", "arm32"]}, "fixed": {"ram": "256M"}}"#
        let s = try SweepSpec.parse(Data(spec.utf8), path: d + "/spec.json")
        XCTAssertEqual(s.run(1).options.map { "\($0.0)=\($0.1)" }, ["ram=256M", "arch=arm32"])
        let rows = try runSweep(s, jobs: 1)
        let cols = sweepColumns()
        func col(_ row: String, _ name: String) -> String { String(row.split(separator: ",")[cols.firstIndex(of: name)!]) }
        XCTAssertEqual(rows.map { col($0, "arch") }, ["x86-32", "arm32"])
        XCTAssertEqual(col(rows[0], "pgfault"), col(rows[1], "pgfault"))
        XCTAssertEqual(col(rows[1], "segv_maperr"), "0")
        XCTAssertGreaterThan(Int(col(rows[1], "pgfault"))!, 500)
        XCTAssertEqual(Int(col(rows[1], "walk_mem_refs"))!, 2 * Int(col(rows[1], "page_walks"))! - 2)
    }

    func testSpecErrorsNameTheKey() {
        for (spec, msg) in [
            ("[1]", "expected a JSON object"),
            (#"{"traces": []}"#, "\"traces\" must be a non-empty array"),
            (#"{"traces": ["a"], "grid": {"stlb": ["64:4", "10:3"]}}"#, "grid.stlb[1]: --stlb: invalid STLB geometry (10 entries, 3 ways)"),
            (#"{"traces": ["a"], "grid": {"ram": []}}"#, "grid.ram must be a non-empty array"),
            (#"{"traces": ["a"], "grid": {"colour": ["red"]}}"#, "grid.colour[0]: unknown machine option 'colour'"),
            (#"{"traces": ["a"], "fixed": {"thp": "maybe"}}"#, "fixed.thp: --thp: expected always, madvise or never"),
            (#"{"traces": ["a"], "format": "xml"}"#, "\"format\" must be \"csv\" or \"jsonl\""),
            (#"{"traces": ["a"], "grids": {}}"#, "unknown key 'grids'"),
            ("{", "not valid JSON"),
        ] {
            XCTAssertThrowsError(try SweepSpec.parse(Data(spec.utf8), path: "s.json")) { e in
                XCTAssertTrue("\(e)".hasPrefix("s.json: ") && "\(e)".contains(msg), "\(spec): \(e)")
            }
        }
        XCTAssertEqual(parseShard("2/4")! == (2, 4), true)
        XCTAssertNil(parseShard("0/4")); XCTAssertNil(parseShard("5/4")); XCTAssertNil(parseShard("1")); XCTAssertNil(parseShard("a/b"))
    }

    func testJSONLinesRows() throws {
        let d = tempDir()
        _ = try synth(SynthParams(pattern: .sequential, span: 1 << 16, length: 8192), d + "/s.mmt")
        let s = try SweepSpec.parse(Data(#"{"traces": ["s.mmt"], "grid": {"fault-around": [1, 16]}, "format": "jsonl"}"#.utf8), path: d + "/x.json")
        let rows = try runSweep(s, jobs: 2)
        XCTAssertEqual(rows.count, 2)
        let o = try JSONSerialization.jsonObject(with: Data(rows[1].utf8)) as! [String: Any]
        XCTAssertEqual(o["run"] as? Int, 1)
        XCTAssertEqual(o["fault-around"] as? String, "16")
        XCTAssertEqual(o["pgfault"] as? Int, 16)
        XCTAssertEqual(try mergeSweepTables([("a", rows[1] + "\n"), ("b", rows[0] + "\n")]), rows.joined(separator: "\n") + "\n")
    }
}
