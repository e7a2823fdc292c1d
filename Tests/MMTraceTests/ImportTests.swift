import XCTest
import Foundation
@testable import MMTrace
import MMCore

/// Lines captured from `valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes ./touch fork 300`
/// (valgrind 3.19 on this project's machines), cut down: the banner, accesses, an openat that
/// completes asynchronously, a file mmap of that descriptor, an unimplemented call, munmap,
/// a fork whose two results were written on one line, the parent's wait4, exit_group.
let realLackeySnippet = """
==26684== Lackey, an example Valgrind tool
==26684== Copyright (C) 2002-2017, and GNU GPL'd, by Nicholas Nethercote.
==26684== Using Valgrind-3.19.0 and LibVEX; rerun with -h for copyright info
==26684== Command: ./touch fork 300
==26684== 
I  0401ab70,3
I  0401ab73,5
 S 1fff000748,8
SYSCALL[26684,1](257) sys_openat ( 4294967196, 0x4835540(/lib/x86_64-linux-gnu/libc.so.6), 524288 ) --> [async] ... 
SYSCALL[26684,1](257) ... [async] --> Success(0x4) 
SYSCALL[26684,1](9) sys_mmap ( 0x0, 1974096, 1, 2050, 4, 0 ) --> [pre-success] Success(0x4845000) 
I  04011f57,2
SYSCALL[26684,1](334) unimplemented (by the kernel) syscall: 334! (ni_syscall)
 --> [pre-fail] Failure(0x26) 
SYSCALL[26684,1](11) sys_munmap ( 0x483c000, 35031 )[sync] --> Success(0x0) 
 M 04a27750,8
SYSCALL[26684,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a27a10, 0x0 )   clone(fork): process 26684 created child 26685
 --> [pre-success] Success(0x0)  --> [pre-success] Success(0x683d) 
I  04919353,6
SYSCALL[26684,1](61) sys_wait4 ( 26685, 0x1fff00061c, 0, 0x0 ) --> [async] ... 
SYSCALL[26685,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) 
 L 1fff0005f0,8
SYSCALL[26684,1](61) ... [async] --> Success(0x683d) 
SYSCALL[26684,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) 
==26684== Exit code:       0

"""

/// Imports `text` as a lackey log and returns the events.
func importLackeyText(_ text: String, chunk: Int = 1 << 20) throws -> [TraceEvent] {
    let d = tempDir()
    let w = try TraceWriter(path: d + "/t.mmt")
    let imp = LackeyImporter(writer: w, name: "snippet.log")
    let bytes = Array(text.utf8)
    var i = 0
    while i < bytes.count {
        let n = min(chunk, bytes.count - i)
        try bytes[i..<(i + n)].withUnsafeBytes { try imp.feed($0) }
        i += n
    }
    try imp.finish()
    try w.finish()
    return try TraceReader.readAll(d + "/t.mmt")
}

final class ImportTests: XCTestCase {
    let expected: [TraceEvent] = [
        .meta(key: "command", value: "./touch fork 300"),
        .thread(pid: 26684, tid: 26684),
        .access(.instr, 0x401ab70, 3), .access(.instr, 0x401ab73, 5), .access(.store, 0x1fff000748, 8),
        .thread(pid: 26684, tid: 1),
        .syscall(TraceSyscall(nr: 9, args: [0, 1974096, 1, 2050, 4, 0], result: 0x4845000, path: "/lib/x86_64-linux-gnu/libc.so.6")),
        .access(.instr, 0x4011f57, 2),
        .syscall(TraceSyscall(nr: 11, args: [0x483c000, 35031], result: 0)),
        .access(.modify, 0x4a27750, 8),
        .syscall(TraceSyscall(nr: 56, args: [0x1200011, 0, 0, 0x4a27a10, 0], result: 0x683d)),
        .access(.instr, 0x4919353, 6),
        .thread(pid: 26685, tid: 1),
        .syscall(TraceSyscall(nr: 231, args: [0], result: 0)),
        .access(.load, 0x1fff0005f0, 8),
        .thread(pid: 26684, tid: 1),
        .syscall(TraceSyscall(nr: 231, args: [0], result: 0)),
    ]

    func testRealLackeySnippet() throws {
        XCTAssertEqual(try importLackeyText(realLackeySnippet), expected)
    }

    func testChunkBoundariesDoNotMatter() throws {
        for chunk in [1, 7, 64, 333] {
            XCTAssertEqual(try importLackeyText(realLackeySnippet, chunk: chunk), expected, "chunk \(chunk)")
        }
    }

    func testGluedLineAfterForkResults() throws {
        // The child's partial result line, then the parent's next access glued to it.
        let text = """
        SYSCALL[10,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a27a10, 0x0 )   clone(fork): process 10 created child 11
         --> [pre-success] Success(0xb) I  04919353,6

         --> [pre-success] Success(0x0) 
        """
        let ev = try importLackeyText(text)
        XCTAssertEqual(ev, [.thread(pid: 10, tid: 1),
                            .syscall(TraceSyscall(nr: 56, args: [0x1200011, 0, 0, 0x4a27a10, 0], result: 11)),
                            .access(.instr, 0x4919353, 6)])
    }

    func testGarbledLinesAfterForkAreSkippedAndCounted() throws {
        // Seen in real captures of touch.c fork: valgrind cut the child's and the parent's
        // lines mid-line. Before the fork such a line is an error; after it, it is skipped.
        let text = """
        SYSCALL[10,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a27a10, 0x0 )   clone(fork): process 10 created child 11
         --> [pre-success] Success(0xb) 
         --> [pre-success] Success(0x0) L 1fff0001e8,8
         I  0400ff11,8
        I  0400ff19,2

        """
        let ev = try importLackeyText(text)
        XCTAssertEqual(ev, [.thread(pid: 10, tid: 1),
                            .syscall(TraceSyscall(nr: 56, args: [0x1200011, 0, 0, 0x4a27a10, 0], result: 11)),
                            .access(.instr, 0x400ff19, 2),
                            .meta(key: "skipped_lines", value: "2 lines garbled by processes writing the log at once (after fork)")])
        XCTAssertThrowsError(try importLackeyText(" I  0400ff11,8\n"))
    }

    func testChildLinesBeforeTheParentsForkResultAreSkipped() throws {
        // Seen under load: the child wrote (cut) lines after the parent's clone line was cut by
        // its note and before the parent's result.
        let text = """
        SYSCALL[10,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a27a10, 0x0 )   clone(fork): process 10 created child 11
         I  0400ff11,8
         --> [pre-success] Success(0xb) 
        I  0400ff19,2

        """
        let ev = try importLackeyText(text)
        XCTAssertEqual(ev, [.thread(pid: 10, tid: 1),
                            .syscall(TraceSyscall(nr: 56, args: [0x1200011, 0, 0, 0x4a27a10, 0], result: 11)),
                            .access(.instr, 0x400ff19, 2),
                            .meta(key: "skipped_lines", value: "1 line garbled by processes writing the log at once (after fork)")])
    }

    func testFileIOIsRecordedWithItsOffset() throws {
        let text = """
        SYSCALL[5,1](257) sys_openat ( 4294967196, 0x1000(/tmp/f), 194 ) --> [async] ... 
        SYSCALL[5,1](257) ... [async] --> Success(0x3) 
        SYSCALL[5,1](1) sys_write ( 3, 0x2000, 65536 ) --> [async] ... 
        SYSCALL[5,1](1) ... [async] --> Success(0x10000) 
        SYSCALL[5,1](8) sys_lseek ( 3, 4096, 0 )[sync] --> Success(0x1000) 
        SYSCALL[5,1](0) sys_read ( 3, 0x2000, 100 ) --> [async] ... 
        SYSCALL[5,1](0) ... [async] --> Success(0x64) 
        SYSCALL[5,1](17) sys_pread64 ( 3, 0x2000, 784, 64 ) --> [async] ... 
        SYSCALL[5,1](17) ... [async] --> Success(0x310) 
        SYSCALL[5,1](1) sys_write ( 1, 0x2000, 5 )[sync] --> Success(0x5) 
        SYSCALL[5,1](0) sys_read ( 3, 0x2000, 100 ) --> [async] ... 
        SYSCALL[5,1](0) ... [async] --> Success(0x64) 

        """
        XCTAssertEqual(try importLackeyText(text), [
            .thread(pid: 5, tid: 1),
            .syscall(TraceSyscall(nr: 1, args: [3, 0x2000, 65536, 0], result: 65536, path: "/tmp/f")),
            .syscall(TraceSyscall(nr: 0, args: [3, 0x2000, 100, 4096], result: 100, path: "/tmp/f")),
            .syscall(TraceSyscall(nr: 17, args: [3, 0x2000, 784, 64], result: 784, path: "/tmp/f")),
            .syscall(TraceSyscall(nr: 0, args: [3, 0x2000, 100, 4196], result: 100, path: "/tmp/f")),
        ])
    }

    func testBadLinesNameLineAndColumn() {
        for (text, line, col, msg) in [
            ("I  0401ab70,3\n Q 1234,8\n", 2, 2, "expected an access kind"),
            ("I  zz,3\n", 1, 4, "expected a hexadecimal address"),
            ("I  0401ab70\n", 1, 12, "expected ',' and the access size"),
            ("I  0401ab70,0\n", 1, 13, "expected an access size"),
            ("I  11112222333344445,4\n", 1, 20, "address longer than 64 bits"),
            (" L 1000,8x\n", 1, 10, "unexpected text after the access"),
            ("hello\n", 1, 1, "not a lackey line"),
            ("SYSCALL[99999999999999999999999,1](9) sys_mmap\n", 1, 28, "number too large"),
        ] as [(String, Int, Int, String)] {
            XCTAssertThrowsError(try importLackeyText(text)) { e in
                guard let t = e as? TextInputError else { return XCTFail("\(e)") }
                XCTAssertEqual(t.line, line, text); XCTAssertEqual(t.column, col, text)
                XCTAssertTrue(t.message.contains(msg), "\(t)")
            }
        }
    }

    func testValgrindLayout() {
        let log = """
        --12217:1:    main Load initial debug info
        --12217:1: aspacem <<< SHOW_SEGMENTS: Memory layout at client startup (34 segments)
        --12217:1: aspacem 3 segment names in 3 slots
        --12217:1: aspacem (0,4,9) /usr/libexec/valgrind/none-amd64-linux
        --12217:1: aspacem (1,47,7) /tmp/trw/t
        --12217:1: aspacem (2,62,7) /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
        --12217:1: aspacem   0: RSVN 0000000000-0000107fff 1081344 ----- SmFixed
        --12217:1: aspacem   1: file 0000108000-0000108fff    4096 r---- d=0xfe00 i=16272260 o=0       (1,47)
        --12217:1: aspacem   2: file 0000109000-0000109fff    4096 r-x-- d=0xfe00 i=16272260 o=4096    (1,47)
        --12217:1: aspacem   7: file 0004001000-0004026fff  155648 r-x-- d=0xfe00 i=332717  o=4096    (2,62)
        --12217:1: aspacem  10: anon 0004035000-0004035fff    4096 rwx--
        --12217:1: aspacem  11: RSVN 0004036000-0004834fff 8384512 ----- SmLower
        --12217:1: aspacem  12:      0004835000-0057ffffff   1335m
        --12217:1: aspacem  14: FILE 0058001000-0058039fff  233472 r-x-- d=0xfe00 i=335412  o=4096    (0,4)
        --12217:1: aspacem  19: ANON 005822f000-0058c21fff      9m rw---
        --12217:1: aspacem  24: RSVN 1ffe801000-1ffeffefff 8380416 ----- SmUpper
        --12217:1: aspacem  25: anon 1ffefff000-1fff000fff    8192 rw---
        --12217:1: aspacem >>>
        --12217:1: aspacem   1: file 0000108000-0000108fff    4096 r---- d=0xfe00 i=16272260 o=0       (1,47)
        program output
        """
        var l = ValgrindLayout()
        var shown: [String] = []
        for line in log.split(separator: "\n") where !l.feed(String(line)) { shown.append(String(line)) }
        XCTAssertEqual(shown, ["program output"])
        XCTAssertTrue(l.complete)
        XCTAssertEqual(l.finish(exe: "/tmp/trw/t"), [
            TraceRegion(start: 0x108000, end: 0x109000, prot: 1, kind: .exe, offset: 0, path: "/tmp/trw/t"),
            TraceRegion(start: 0x109000, end: 0x10a000, prot: 5, kind: .exe, offset: 4096, path: "/tmp/trw/t"),
            TraceRegion(start: 0x4001000, end: 0x4027000, prot: 5, kind: .interp, offset: 4096, path: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
            TraceRegion(start: 0x4035000, end: 0x4036000, prot: 7, kind: .brk),
            TraceRegion(start: 0x1ffefff000, end: 0x1fff001000, prot: 3, kind: .stack),
        ])
    }

    func testAddressList() throws {
        let d = tempDir()
        try "# comment\nR 0x7ffd1000\nW 0x7ffd2ff8 16\n\nI 4096 # decimal\nM 0x7ffd1004\n".write(toFile: d + "/a.txt", atomically: true, encoding: .utf8)
        let w = try TraceWriter(path: d + "/a.mmt")
        XCTAssertEqual(try importAddressList(d + "/a.txt", into: w), 4)
        try w.finish()
        XCTAssertEqual(try TraceReader.readAll(d + "/a.mmt"), [
            .meta(key: "source", value: "address list \(d)/a.txt"),
            .region(TraceRegion(start: 0x1000, end: 0x2000, prot: 7, kind: .anon)),
            .region(TraceRegion(start: 0x7ffd1000, end: 0x7ffd4000, prot: 7, kind: .anon)),
            .thread(pid: 1, tid: 1),
            .access(.load, 0x7ffd1000, 1), .access(.store, 0x7ffd2ff8, 16), .access(.instr, 4096, 1), .access(.modify, 0x7ffd1004, 1),
        ])
        for (text, col, msg) in [("Q 0x1\n", 1, "expected an access kind"), ("R\n", 2, "expected an address"),
                                 ("R 0xzz\n", 3, "bad address"), ("R 0x800000000000\n", 3, "outside user space"),
                                 ("R 0x1000 0\n", 10, "bad access size"), ("R 1 2 3\n", 7, "unexpected text")] {
            try text.write(toFile: d + "/b.txt", atomically: true, encoding: .utf8)
            let w2 = try TraceWriter(path: d + "/b.mmt")
            XCTAssertThrowsError(try importAddressList(d + "/b.txt", into: w2)) { e in
                XCTAssertEqual((e as? TextInputError)?.column, col, text)
                XCTAssertTrue("\(e)".hasPrefix("\(d)/b.txt:1:\(col): error: ") && "\(e)".contains(msg), "\(e)")
            }
            w2.abort()
        }
    }

    func testPageList() throws {
        let d = tempDir()
        try "7 0 1 2w, 0\n3 # the rest\n".write(toFile: d + "/p.txt", atomically: true, encoding: .utf8)
        let w = try TraceWriter(path: d + "/p.mmt")
        XCTAssertEqual(try importPageList(d + "/p.txt", into: w), 6)
        try w.finish()
        let b = PAGE_LIST_BASE
        XCTAssertEqual(try TraceReader.readAll(d + "/p.mmt"), [
            .meta(key: "source", value: "page-number list \(d)/p.txt"),
            .region(TraceRegion(start: b, end: b + 8 * 4096, prot: 3, kind: .anon)),
            .thread(pid: 1, tid: 1),
            .access(.load, b + 7 * 4096, 1), .access(.load, b, 1), .access(.load, b + 4096, 1),
            .access(.store, b + 2 * 4096, 1), .access(.load, b, 1), .access(.load, b + 3 * 4096, 1),
        ])
        try "1 2\n3 x4\n".write(toFile: d + "/q.txt", atomically: true, encoding: .utf8)
        let w2 = try TraceWriter(path: d + "/q.mmt")
        XCTAssertThrowsError(try importPageList(d + "/q.txt", into: w2)) { e in
            XCTAssertEqual("\(e)", "\(d)/q.txt:2:3: error: expected a page number (optionally followed by w for a write), got 'x4'")
        }
        w2.abort()
    }
}
