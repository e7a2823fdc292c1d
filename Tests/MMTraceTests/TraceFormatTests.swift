import XCTest
import Foundation
@testable import MMTrace
import MMCore

/// A fresh temporary directory for one test.
func tempDir() -> String {
    let d = NSTemporaryDirectory() + "mmtrace-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// Writes `events` to a trace at `path`.
func writeTrace(_ path: String, _ events: [TraceEvent]) throws {
    let w = try TraceWriter(path: path)
    for e in events { w.append(e) }
    try w.finish()
}

final class TraceFormatTests: XCTestCase {
    let sample: [TraceEvent] = [
        .meta(key: "source", value: "test"),
        .file(path: "/bin/prog", size: 16008, head: [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]),
        .region(TraceRegion(start: 0x108000, end: 0x109000, prot: 5, kind: .exe, offset: 0, path: "/bin/prog")),
        .region(TraceRegion(start: 0x1ffefff000, end: 0x1fff001000, prot: 3, kind: .stack)),
        .thread(pid: 4242, tid: 1),
        .access(.instr, 0x401ab70, 3),
        .access(.instr, 0x401ab73, 5),
        .access(.store, 0x1fff000748, 8),
        .access(.load, 0x0, 1),
        .access(.modify, 0xffff_ffff_ffff_fff0, 16),
        .access(.load, 0x7fff_0000_1000, 10),          // odd size: explicit varint
        .access(.instr, 0x401ab70, 65536),
        .syscall(TraceSyscall(nr: SyscallNr.mmap, args: [0, 8192, 3, 34, 0xffff_ffff, 0], result: 0x4835000)),
        .syscall(TraceSyscall(nr: SyscallNr.mmap, args: [0x4838000, 4096, 5, 2066, 3, 4096], result: 0x4838000, path: "/lib/libc.so.6", fileSize: 1_000_000)),
        .syscall(TraceSyscall(nr: SyscallNr.munmap, args: [0x10, 1], result: -22)),
    ]

    func testRoundTrip() throws {
        let d = tempDir()
        let p = d + "/a.mmt"
        try writeTrace(p, sample)
        XCTAssertEqual(try TraceReader.readAll(p), sample)
        let r = try TraceReader(path: p)
        try r.forEach { _ in }
        XCTAssertEqual(r.endRecords, UInt64(sample.count))
        XCTAssertEqual(r.endAccesses, 7)
        // No temporary file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d), ["a.mmt"])
    }

    func testManyBlocksRoundTrip() throws {
        let p = tempDir() + "/big.mmt"
        let w = try TraceWriter(path: p)
        var rng = SplitMix64(seed: 3)
        var expected: [(TraceAccessKind, UInt64, UInt32)] = []
        for _ in 0..<100_000 {
            let k = TraceAccessKind(rawValue: UInt8(rng.below(4)))!
            let a = rng.next() >> UInt64(rng.below(64))
            let s = UInt32(1 + rng.below(40))
            expected.append((k, a, s))
            w.access(k, a, size: s)
        }
        try w.finish()
        var i = 0
        let r = try TraceReader(path: p)
        var blocks = 0
        while try r.nextBlock() {
            blocks += 1
            try r.payload.withUnsafeBytes { buf in
                var dec = RecordDecoder(buf, reader: r)
                for _ in 0..<r.blockRecords {
                    guard let e = try dec.nextEvent() else { continue }
                    guard case .access(let k, let a, let s) = e else { return XCTFail("not an access") }
                    XCTAssertTrue(k == expected[i].0 && a == expected[i].1 && s == expected[i].2, "record \(i)")
                    i += 1
                }
                try dec.finishBlock()
            }
        }
        XCTAssertEqual(i, 100_000)
        XCTAssertGreaterThan(blocks, 2)
    }

    func testCorruptInputIsRejectedWithItsOffset() throws {
        let d = tempDir()
        let p = d + "/a.mmt"
        try writeTrace(p, sample)
        let good = try Data(contentsOf: URL(fileURLWithPath: p))
        func expect(_ bytes: Data, _ check: (TraceError) -> Bool, _ what: String) {
            let q = d + "/bad.mmt"
            try! bytes.write(to: URL(fileURLWithPath: q))
            do { _ = try TraceReader.readAll(q); XCTFail("\(what): accepted") } catch let e as TraceError {
                XCTAssertTrue(check(e), "\(what): \(e)")
            } catch { XCTFail("\(what): \(error)") }
        }
        var flipped = good; flipped[40] ^= 0x01
        expect(flipped, { if case .checksum(_, 0, 16) = $0 { return true }; return false }, "flipped payload byte")
        expect(good.prefix(good.count - 3), { if case .truncated = $0 { return true }; return false }, "truncated block")
        expect(good.prefix(16), { $0 == .missingEnd(d + "/bad.mmt") }, "header only")
        expect(good + Data([0]), { if case .trailingData = $0 { return true }; return false }, "trailing byte")
        var magic = good; magic[1] = 0x4e
        expect(magic, { $0 == .badMagic(d + "/bad.mmt") }, "bad magic")
        expect(Data("I  0401ab70,3\n".utf8), { $0 == .badMagic(d + "/bad.mmt") }, "text file")
        var version = good; version[8] = 2
        // The header checksum covers the version: fix it up so that the version check speaks.
        let c = crc32(Array(version.prefix(12)))
        for i in 0..<4 { version[12 + i] = UInt8(truncatingIfNeeded: c >> (8 * UInt32(i))) }
        expect(version, { $0 == .unsupportedVersion(d + "/bad.mmt", 2) }, "version 2")
        // A well-formed block holding an unknown record type.
        var h = Array(good.prefix(16))
        let payload: [UInt8] = [0x55]
        let pc = crc32(payload)
        for v in [UInt32(1), UInt32(1), pc] { for i in 0..<4 { h.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        expect(Data(h + payload), { if case .badRecord(_, 28, let why) = $0 { return why.contains("unknown record type 0x55") }; return false }, "unknown type")
    }

    func testEndTotalsMustMatch() throws {
        // A writer that lies: a valid block whose END claims one more access than there are.
        let d = tempDir()
        var h = TRACE_MAGIC + [1, 0, 0, 0]
        let c = crc32(h)
        for i in 0..<4 { h.append(UInt8(truncatingIfNeeded: c >> (8 * UInt32(i)))) }
        let payload: [UInt8] = [0x13, 0x02, 0x7f, 0x01, 0x02]   // load of 8 bytes at +1, END 1 record 2 accesses
        let pc = crc32(payload)
        for v in [UInt32(payload.count), UInt32(2), pc] { for i in 0..<4 { h.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        let p = d + "/lie.mmt"
        try Data(h + payload).write(to: URL(fileURLWithPath: p))
        XCTAssertThrowsError(try TraceReader.readAll(p)) { e in
            XCTAssertTrue("\(e)".contains("END says 1 records and 2 accesses, the trace has 1 and 1"), "\(e)")
        }
    }

    func testAbortLeavesNothing() throws {
        let d = tempDir()
        let w = try TraceWriter(path: d + "/x.mmt")
        w.access(.load, 0x1000, size: 8)
        w.abort()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d), [])
    }

    func testCRC32MatchesZlib() {
        XCTAssertEqual(crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(crc32([UInt8]()), 0)
        XCTAssertEqual(crc32(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
    }
}
