/// Import of plain text traces: address lists (`R 0x7ffd1234`, one access per line) and textbook
/// page-number reference strings (`7 0 1 2 0 3 0 4`). Both are read twice — once to find the
/// pages touched, once to write the accesses — so the trace gets anonymous regions that cover
/// them (the replay reports accesses outside regions; here there are none by design).
import Foundation
import MMCore

/// Where textbook page numbers are placed: page N is the 4 KiB page at PAGE_LIST_BASE + N × 4096.
public let PAGE_LIST_BASE: UInt64 = 0x1000_0000

/// Reads `path` line by line (without newlines), calling `body` with the 1-based line number.
/// Throws `TextInputError` when the file cannot be read.
func forEachLine(_ path: String, _ body: (Int, Substring) throws -> Void) throws {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw TextInputError(file: path, line: 0, column: 0, message: "cannot read the file")
    }
    let text = String(decoding: data, as: UTF8.self)
    var n = 0
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        n += 1
        try body(n, line.hasSuffix("\r") ? line.dropLast() : line)
    }
}

/// One parsed line of an address list: kind, address and size.
func parseAddressLine(_ line: Substring, file: String, n: Int) throws -> (TraceAccessKind, UInt64, UInt32)? {
    let t = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    let f = t.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
    if f.isEmpty { return nil }
    func col(_ s: Substring) -> Int { line.distance(from: line.startIndex, to: s.startIndex) + 1 }
    let kind: TraceAccessKind
    switch f[0].uppercased() {
    case "R", "L": kind = .load
    case "W", "S": kind = .store
    case "M": kind = .modify
    case "I", "X": kind = .instr
    default: throw TextInputError(file: file, line: n, column: col(f[0]), message: "expected an access kind R, W, M or I (got '\(f[0])')")
    }
    guard f.count >= 2 else { throw TextInputError(file: file, line: n, column: line.count + 1, message: "expected an address after '\(f[0])'") }
    let a = f[1]
    let v: UInt64? = a.hasPrefix("0x") || a.hasPrefix("0X") ? UInt64(a.dropFirst(2), radix: 16) : UInt64(a)
    guard let addr = v else { throw TextInputError(file: file, line: n, column: col(a), message: "bad address '\(a)' (hexadecimal with 0x, or decimal)") }
    guard addr < X86_64.taskSize else {
        throw TextInputError(file: file, line: n, column: col(a), message: "address \(a) is outside user space (at or above \(hex(X86_64.taskSize)))")
    }
    var size: UInt32 = 1
    if f.count >= 3 {
        guard let s = UInt32(f[2]), s >= 1, s <= 4096 else { throw TextInputError(file: file, line: n, column: col(f[2]), message: "bad access size '\(f[2])' (1 to 4096)") }
        size = s
    }
    guard f.count <= 3 else { throw TextInputError(file: file, line: n, column: col(f[3]), message: "unexpected text '\(f[3])'") }
    return (kind, addr, size)
}

/// Imports an address list into `writer`: one anonymous region (rw, plus x when there are
/// instruction fetches) per cluster of touched pages — pages less than 1 MiB apart share a
/// region — then the accesses as process 1. Returns the number of accesses. Throws
/// `TextInputError` with the line and column of the first bad line.
@discardableResult
public func importAddressList(_ path: String, into writer: TraceWriter) throws -> UInt64 {
    var pages = Set<UInt64>()
    var exec = false
    try forEachLine(path) { n, line in
        guard let (k, a, s) = try parseAddressLine(line, file: path, n: n) else { return }
        let last = min(a &+ UInt64(s) &- 1, X86_64.taskSize - 1)
        var p = a >> 12
        while p <= last >> 12 { pages.insert(p); p += 1 }
        if k == .instr { exec = true }
    }
    writer.meta("source", "address list \(path)")
    guard !pages.isEmpty else { return 0 }
    let sorted = pages.sorted()
    var start = sorted[0], end = sorted[0] + 1
    for p in sorted.dropFirst() {
        if p - end < 256 { end = p + 1; continue }
        writer.region(TraceRegion(start: start << 12, end: end << 12, prot: exec ? 7 : 3, kind: .anon))
        start = p; end = p + 1
    }
    writer.region(TraceRegion(start: start << 12, end: end << 12, prot: exec ? 7 : 3, kind: .anon))
    writer.thread(pid: 1, tid: 1)
    try forEachLine(path) { n, line in
        guard let (k, a, s) = try parseAddressLine(line, file: path, n: n) else { return }
        writer.access(k, a, size: s)
    }
    return writer.accesses
}

/// One parsed page reference of a textbook list: page number and whether it is a write
/// (written `5w`, or `5*`).
func parsePageToken(_ tok: Substring, line: Substring, file: String, n: Int) throws -> (UInt64, Bool) {
    var t = tok, write = false
    if let l = t.last, l == "w" || l == "W" || l == "*" { write = true; t = t.dropLast() } else if let l = t.last, l == "r" || l == "R" { t = t.dropLast() }
    guard let v = UInt64(t), v < (X86_64.taskSize - PAGE_LIST_BASE) >> 12 else {
        throw TextInputError(file: file, line: n, column: line.distance(from: line.startIndex, to: tok.startIndex) + 1,
                             message: "expected a page number (optionally followed by w for a write), got '\(tok)'")
    }
    return (v, write)
}

/// Imports a textbook reference string (page numbers separated by spaces, commas or newlines;
/// `#` starts a comment) into `writer`: page N becomes a 1-byte load (or store) at
/// PAGE_LIST_BASE + N × 4096, in one region covering pages 0 to the largest. Returns the number
/// of references. Throws `TextInputError` at the first bad token.
@discardableResult
public func importPageList(_ path: String, into writer: TraceWriter) throws -> UInt64 {
    var maxPage: UInt64? = nil
    func tokens(_ line: Substring) -> [Substring] {
        let t = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return t.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
    }
    try forEachLine(path) { n, line in
        for tok in tokens(line) { let (p, _) = try parsePageToken(tok, line: line, file: path, n: n); maxPage = max(maxPage ?? 0, p) }
    }
    writer.meta("source", "page-number list \(path)")
    guard let m = maxPage else { return 0 }
    writer.region(TraceRegion(start: PAGE_LIST_BASE, end: PAGE_LIST_BASE + (m + 1) << 12, prot: 3, kind: .anon))
    writer.thread(pid: 1, tid: 1)
    try forEachLine(path) { n, line in
        for tok in tokens(line) {
            let (p, w) = try parsePageToken(tok, line: line, file: path, n: n)
            writer.access(w ? .store : .load, PAGE_LIST_BASE + p << 12, size: 1)
        }
    }
    return writer.accesses
}

/// Imports a lackey log file (`-` = standard input) into `writer`, streaming it in 1 MiB chunks;
/// `layout`, when given, is valgrind's `-d` debug log whose client segments become the initial
/// regions (`exe` names the program among them). Returns the number of lines. Throws
/// `TextInputError` at the first bad line.
@discardableResult
public func importLackey(_ path: String, layout: String?, exe: String?, into writer: TraceWriter) throws -> Int {
    writer.meta("source", "lackey log \(path)")
    if let l = layout {
        var vl = ValgrindLayout()
        try forEachLine(l) { _, line in _ = vl.feed(String(line)) }
        guard vl.complete else { throw TextInputError(file: l, line: 0, column: 0, message: "no 'Memory layout at client startup' table (run valgrind with -d)") }
        for r in vl.finish(exe: exe ?? "") { writer.region(r) }
    }
    let imp = LackeyImporter(writer: writer, name: path == "-" ? "<stdin>" : path)
    let fd: Int32 = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw TextInputError(file: path, line: 0, column: 0, message: "cannot read the file: \(String(cString: strerror(errno)))") }
    defer { if fd != 0 { close(fd) } }
    var buf = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = buf.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress!, $0.count) }
        if n < 0 { if errno == EINTR { continue }; throw TextInputError(file: path, line: imp.lines, column: 0, message: "read error") }
        if n == 0 { break }
        try buf.withUnsafeBytes { try imp.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    try imp.finish()
    return imp.lines
}
