/// Import of valgrind's lackey output (`--tool=lackey --trace-mem=yes --trace-syscalls=yes`):
/// access lines (`I  0400d7d4,3`, ` L 1ffefff8a0,8`, ` S …`, ` M …`), system-call lines
/// (`SYSCALL[pid,tid](nr) sys_mmap ( … ) --> [pre-success] Success(0x…)`, completed later by
/// `SYSCALL[pid,tid](nr) ... [async] --> Success(0x3)` for blocking calls), and valgrind's
/// `==pid==` banner lines. The initial address space comes from valgrind's debug log (`-d`):
/// the client segments of "Memory layout at client startup" (see `ValgrindLayout`).
import Foundation

/// An error in a text input, with its line and column (1-based).
public struct TextInputError: Error, Equatable, CustomStringConvertible {
    public var file: String, line: Int, column: Int, message: String
    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file; self.line = line; self.column = column; self.message = message
    }
    public var description: String { line == 0 ? "\(file): error: \(message)" : "\(file):\(line):\(column): error: \(message)" }
}

/// Streams lackey text into a trace writer, line by line, keeping only the state that the
/// system calls need (open file descriptors, calls waiting for their result).
public final class LackeyImporter {
    let writer: TraceWriter
    let name: String
    /// Whether host files may be inspected (file sizes of mapped files) — true when capturing.
    let statHostFiles: Bool
    var partial: [UInt8] = []
    /// Lines read so far.
    public private(set) var lines = 0
    var pid: UInt32 = 0, tid: UInt32 = 0
    var threadWritten = false
    /// Open file descriptors of each process: (pid, fd) → path, and their file positions.
    var fds: [UInt64: String] = [:]
    var positions: [UInt64: UInt64] = [:]
    /// Blocking calls waiting for their result, by thread: (nr, args, path argument).
    var pending: [UInt64: (UInt64, [UInt64], String)] = [:]
    /// Whether a fork happened (lines of several processes may be interleaved mid-line).
    var tolerant = false
    /// Lines skipped because they were garbled by interleaving after a fork.
    public private(set) var skippedLines = 0
    /// A call whose result comes on the next line: (pid, nr, args, path argument).
    var split: (UInt64, UInt64, [UInt64], String)?
    /// The child pid named by the note of a split fork line.
    var splitChild: Int64?
    /// Called for each `==pid==` line (the capture forwards valgrind's messages).
    public var onBanner: ((String) -> Void)?

    /// An importer writing to `writer`; `name` is used in error messages.
    public init(writer: TraceWriter, name: String, statHostFiles: Bool = false) {
        self.writer = writer; self.name = name; self.statHostFiles = statHostFiles
        partial.reserveCapacity(4096)
    }

    /// Sets the process the trace starts in (capture knows it before the first line).
    public func setInitialThread(pid: UInt32) {
        self.pid = pid; self.tid = pid
    }

    /// Feeds a chunk of text; complete lines are parsed at once. Throws `TextInputError`.
    public func feed(_ chunk: UnsafeRawBufferPointer) throws {
        var start = 0
        let n = chunk.count
        guard let base = chunk.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        if !partial.isEmpty {
            guard let nl = memchr(base, 0x0a, n) else { partial.append(contentsOf: chunk); return }
            let k = UnsafeRawPointer(nl) - UnsafeRawPointer(base)
            partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<k]))
            try partial.withUnsafeBufferPointer { try line($0.baseAddress!, $0.count) }
            partial.removeAll(keepingCapacity: true)
            start = k + 1
        }
        while start < n {
            guard let nl = memchr(base + start, 0x0a, n - start) else {
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<n]))
                return
            }
            let end = UnsafeRawPointer(nl) - UnsafeRawPointer(base)
            try line(base + start, end - start)
            start = end + 1
        }
    }

    /// Parses the last line if it had no newline. Throws `TextInputError`.
    public func finish() throws {
        if !partial.isEmpty {
            try partial.withUnsafeBufferPointer { try line($0.baseAddress!, $0.count) }
            partial.removeAll()
        }
        if skippedLines > 0 { writer.meta("skipped_lines", "\(skippedLines) line\(skippedLines == 1 ? "" : "s") garbled by processes writing the log at once (after fork)") }
    }

    /// Returns the error for column `col` of the current line.
    func error(_ col: Int, _ msg: String) -> TextInputError {
        TextInputError(file: name, line: lines, column: col, message: msg)
    }

    /// Parses one line (without its newline). Once a process has forked, several processes
    /// write to the log at once and valgrind may cut their lines anywhere: from then on a line
    /// that cannot be parsed is skipped and counted (`skippedLines`) instead of failing.
    @inline(__always)
    func line(_ p: UnsafePointer<UInt8>, _ len: Int) throws {
        if !tolerant { return try parseLine(p, len) }
        do { try parseLine(p, len) } catch is TextInputError { skippedLines += 1 }
    }

    /// Parses one line; throws `TextInputError`.
    @inline(__always)
    func parseLine(_ p: UnsafePointer<UInt8>, _ len: Int) throws {
        lines += 1
        var n = len
        if n > 0 && p[n - 1] == 0x0d { n -= 1 }
        guard n > 0 else { return }
        let c0 = p[0]
        var kind: TraceAccessKind
        if c0 == 0x49 /* I */ && n > 3 && p[1] == 0x20 && p[2] == 0x20 {
            kind = .instr
        } else if c0 == 0x20 && n > 3 && p[2] == 0x20 {
            switch p[1] {
            case 0x4c: kind = .load
            case 0x53: kind = .store
            case 0x4d: kind = .modify
            default: throw error(2, "expected an access kind (I, L, S or M)")
            }
        } else {
            try otherLine(p, n)
            return
        }
        var i = 3
        var addr: UInt64 = 0, digits = 0
        while i < n {
            let c = p[i]
            let v: UInt8
            if c >= 0x30 && c <= 0x39 { v = c - 0x30 } else if c >= 0x61 && c <= 0x66 { v = c - 0x57 }
            else if c >= 0x41 && c <= 0x46 { v = c - 0x37 } else { break }
            guard digits < 16 else { throw error(i + 1, "address longer than 64 bits") }
            addr = addr << 4 | UInt64(v)
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw error(i + 1, "expected a hexadecimal address") }
        guard i < n && p[i] == 0x2c else { throw error(i + 1, "expected ',' and the access size") }
        i += 1
        var size: UInt32 = 0, sd = 0
        let sizeStart = i
        while i < n, p[i] >= 0x30 && p[i] <= 0x39 {
            guard size < 1 << 16 else { throw error(sizeStart + 1, "access size too large") }
            size = size * 10 + UInt32(p[i] - 0x30); sd += 1; i += 1
        }
        guard sd > 0, size > 0, size <= 1 << 16 else { throw error(sizeStart + 1, "expected an access size (1 to 65536)") }
        guard i == n else { throw error(i + 1, "unexpected text after the access") }
        if !threadWritten { writer.thread(pid: pid, tid: tid); threadWritten = true }
        writer.access(kind, addr, size: size)
    }

    /// Handles a line that is not an access: valgrind banners, system calls, debug lines.
    func otherLine(_ p: UnsafePointer<UInt8>, _ n: Int) throws {
        try otherLine(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
    }

    /// Handles a line that is not an access (as text).
    func otherLine(_ s: String) throws {
        if s.hasPrefix("==") {
            // ==PID== text
            let parts = s.dropFirst(2).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if let first = parts.first, let v = UInt32(first), pid == 0 { pid = v; tid = v }
            if let r = s.range(of: "== Command: ") { writer.meta("command", String(s[r.upperBound...])) }
            onBanner?(s)
            return
        }
        if s.hasPrefix("--") { return }   // valgrind debug output (-d) mixed into the log
        if s.hasPrefix(" --> ") {
            // Text glued after the results (another process's line, written while this one
            // was cut): " --> [pre-success] Success(0x0) I  0401227b,3".
            var resultsEnd = s.startIndex
            while s[resultsEnd...].hasPrefix(" --> ["), let close = s.range(of: ")", range: resultsEnd..<s.endIndex) {
                resultsEnd = close.upperBound
                let rest = s[resultsEnd...].drop { $0 == " " }
                if rest.hasPrefix("-->") { resultsEnd = s.index(before: rest.startIndex); continue }
                if s[resultsEnd...].hasPrefix(" ") { resultsEnd = s.index(after: resultsEnd) }
                break
            }
            let tail = s[resultsEnd...]
            if !tail.trimmingCharacters(in: .whitespaces).isEmpty {
                let head = String(s[..<resultsEnd])
                lines -= 1
                try otherLine(head)
                var t = Array(tail.utf8)
                try t.withUnsafeMutableBufferPointer { try line($0.baseAddress!, $0.count) }
                return
            }
            // The result of a call whose line was cut by a note (clone: "created child N"; the
            // child's own result may follow on the same line); or of an "unimplemented" call.
            if let (pid, nr, args, path) = split, var result = parseResult(s) {
                split = nil
                // After fork both processes print their result, in either order: the parent's
                // (the child's pid) is the one the note "created child N" named.
                if let c = splitChild { result = c }
                try complete(pid: pid, nr: nr, args: args, path: path, result: result)
            }
            return
        }
        if s.hasPrefix("SYSCALL[") { try syscallLine(s); return }
        throw error(1, "not a lackey line (expected an access, a SYSCALL line or a ==PID== line)")
    }

    /// Parses a SYSCALL line and records the memory-relevant calls.
    func syscallLine(_ s: String) throws {
        let u = Array(s.utf8)
        var i = 8
        func num(_ stop: UInt8) throws -> UInt64 {
            var v: UInt64 = 0, d = 0
            while i < u.count, u[i] >= 0x30 && u[i] <= 0x39 {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(u[i] - 0x30))
                guard !o1 && !o2 else { throw error(i + 1, "number too large") }
                v = a; d += 1; i += 1
            }
            guard d > 0, i < u.count, u[i] == stop else { throw error(i + 1, "malformed SYSCALL line") }
            i += 1
            return v
        }
        let lpid = try num(0x2c)          // ,
        let ltid = try num(0x5d)          // ]
        guard i < u.count, u[i] == 0x28 else { throw error(i + 1, "expected '(' and the system call number") }
        i += 1
        let nr = try num(0x29)            // )
        guard lpid <= UInt64(Int32.max), ltid <= UInt64(Int32.max) else { throw error(9, "bad pid or tid") }
        let rest = String(decoding: u[i...], as: UTF8.self)
        let key = lpid << 32 | ltid
        switchThread(UInt32(lpid), UInt32(ltid))
        if rest.hasPrefix(" ... [async] --> ") {
            guard let (pnr, args, path) = pending.removeValue(forKey: key), pnr == nr else { return }
            guard let result = parseResult(rest) else { throw error(i + 1, "expected Success(…) or Failure(…)") }
            try complete(pid: lpid, nr: nr, args: args, path: path, result: result)
            return
        }
        let stop = rest.range(of: "-->")?.lowerBound ?? rest.endIndex
        guard let open = rest.firstIndex(of: "("), open < stop,
              let close = rest.range(of: " )", range: open..<stop) ?? rest.range(of: ")", options: .backwards, range: open..<stop) else {
            return   // "unimplemented (by the kernel) syscall" and other notes
        }
        let argText = rest[rest.index(after: open)..<close.lowerBound]
        var args: [UInt64] = []
        var path = ""
        for a in argText.split(separator: ",") {
            let t = a.trimmingCharacters(in: .whitespaces)
            var numText = Substring(t)
            if let paren = t.firstIndex(of: "(") {
                numText = t[..<paren]
                if path.isEmpty, t.hasSuffix(")") { path = String(t[t.index(after: paren)..<t.index(before: t.endIndex)]) }
            }
            // Valgrind prints clone's flags in hexadecimal without 0x.
            if numText.hasPrefix("0x") || (nr == SyscallNr.clone && args.isEmpty) {
                args.append(UInt64(numText.hasPrefix("0x") ? numText.dropFirst(2) : numText, radix: 16) ?? 0)
            }
            else { args.append(UInt64(numText) ?? UInt64(numText, radix: 16) ?? 0) }
        }
        // The child of a fork may write to the log before the parent's result is printed (even
        // between a cut call line and its result): tolerate garbled lines from the call on.
        if LackeyImporter.createsProcess(nr: nr, args: args) { tolerant = true }
        if !rest.contains("-->") {
            if !rest.contains("unimplemented") {
                split = (lpid, nr, args, path)
                splitChild = nil
                if let r = rest.range(of: "created child ") { splitChild = Int64(rest[r.upperBound...].prefix { $0.isNumber }) }
            }
            return
        }
        if rest.contains("--> [async] ...") {
            pending[key] = (nr, args, path)
            return
        }
        guard let result = parseResult(rest) else { return }
        try complete(pid: lpid, nr: nr, args: args, path: path, result: result)
    }

    /// True for the calls that create a process sharing the log: fork, vfork, clone3 and a clone
    /// without CLONE_THREAD (0x10000). Linux: copy_process(), kernel/fork.c
    static func createsProcess(nr: UInt64, args: [UInt64]) -> Bool {
        (nr == SyscallNr.clone && (args.first ?? 0) & 0x10000 == 0) || nr == SyscallNr.fork || nr == SyscallNr.vfork || nr == SyscallNr.clone3
    }

    /// The value of `Success(0x…)` (non-negative) or `Failure(0x…)` (negated errno) in `s`.
    func parseResult(_ s: String) -> Int64? {
        for (word, sign) in [("Success(0x", Int64(1)), ("Failure(0x", Int64(-1))] {
            if let r = s.range(of: word) {
                let hex = s[r.upperBound...].prefix { $0.isHexDigit }
                guard let v = UInt64(hex, radix: 16) else { return nil }
                return sign * Int64(bitPattern: v)
            }
        }
        return nil
    }

    /// Writes a THREAD record when the pid or tid changes.
    func switchThread(_ p: UInt32, _ t: UInt32) {
        if p != pid || t != tid || !threadWritten {
            pid = p; tid = t
            writer.thread(pid: p, tid: t)
            threadWritten = true
        }
    }

    /// Records a completed call (and keeps the file-descriptor table up to date).
    func complete(pid: UInt64, nr: UInt64, args: [UInt64], path: String, result: Int64) throws {
        var fileOffset: UInt64? = nil
        switch nr {
        case 2, 257:   // open, openat: remember the path of the new descriptor (position 0)
            if result >= 0 { fds[pid << 32 | UInt64(result)] = path; positions[pid << 32 | UInt64(result)] = 0 }
        case 3:        // close
            if let fd = args.first { fds[pid << 32 | fd] = nil; positions[pid << 32 | fd] = nil }
        case 8:        // lseek: the new position is the result
            if let fd = args.first, result >= 0 { positions[pid << 32 | fd] = UInt64(result) }
        case SyscallNr.read, SyscallNr.write:
            if let fd = args.first, result > 0, let pos = positions[pid << 32 | fd] {
                fileOffset = pos
                positions[pid << 32 | fd] = pos &+ UInt64(result)
            }
        case SyscallNr.pread64, SyscallNr.pwrite64:
            if args.count >= 4 { fileOffset = args[3] }
        case 33, 292:  // dup2, dup3
            if args.count >= 2, result >= 0, let p = fds[pid << 32 | args[0]] { fds[pid << 32 | args[1]] = p }
        case 32:       // dup
            if let a = args.first, result >= 0, let p = fds[pid << 32 | a] { fds[pid << 32 | UInt64(result)] = p }
        default: break
        }
        guard SyscallNr.names[nr] != nil else { return }
        var rec = TraceSyscall(nr: nr, args: args, result: result)
        if [SyscallNr.read, SyscallNr.write, SyscallNr.pread64, SyscallNr.pwrite64].contains(nr) {
            // Only I/O on a file at a known offset matters (it brings pages into the page cache).
            guard let off = fileOffset, result > 0, let fd = args.first, let p = fds[pid << 32 | fd] else { return }
            rec.args = [fd, args.count > 1 ? args[1] : 0, args.count > 2 ? args[2] : 0, off]
            rec.path = p
            if statHostFiles {
                var st = stat()
                if stat(p, &st) == 0 { rec.fileSize = UInt64(st.st_size) }
            }
            writer.syscall(rec)
            return
        }
        if nr == SyscallNr.mmap, args.count == 6, args[3] & 0x20 == 0, let p = fds[pid << 32 | (args[4] & 0xffff_ffff)] {
            rec.path = p
            if statHostFiles {
                var st = stat()
                if stat(p, &st) == 0 { rec.fileSize = UInt64(st.st_size) }
            }
        }
        if nr == SyscallNr.execve { rec.path = path }
        writer.syscall(rec)
    }
}

/// The client's address space at startup, from valgrind's debug log (`valgrind -d`): the
/// segment table printed as "Memory layout at client startup". Lower-case `file`/`anon`
/// segments belong to the client; the reservation above the brk segment (SmLower) and below
/// the stack segment (SmUpper) tell which anonymous segments they are.
public struct ValgrindLayout {
    public var regions: [TraceRegion] = []
    var names: [Int: String] = [:]
    var inBlock = false
    public private(set) var complete = false
    var segs: [(kind: String, start: UInt64, end: UInt64, perms: String, offset: UInt64, name: Int, sm: String)] = []

    public init() {}

    /// Feeds one line of valgrind's stderr; returns true when the line was debug output (to be
    /// hidden from the user).
    public mutating func feed(_ line: String) -> Bool {
        // Debug lines look like "--PID:LEVEL:SUBSYSTEM text" (or "--PID-- text").
        guard line.hasPrefix("--") else { return false }
        let rest = line.dropFirst(2)
        let pidPart = rest.prefix { $0.isNumber }
        guard !pidPart.isEmpty else { return false }
        let afterPid = rest.dropFirst(pidPart.count)
        if afterPid.hasPrefix("--") { return true }
        guard afterPid.hasPrefix(":") else { return false }
        let lvl = afterPid.dropFirst().prefix { $0.isNumber }
        guard !lvl.isEmpty, afterPid.dropFirst(1 + lvl.count).hasPrefix(":") else { return false }
        if complete { return true }
        let body = afterPid.dropFirst(2 + lvl.count).trimmingCharacters(in: .whitespaces)
        guard body.hasPrefix("aspacem") else { return true }
        let t = body.dropFirst(7).trimmingCharacters(in: .whitespaces)
        if t.contains("Memory layout at client startup") { inBlock = true; return true }
        guard inBlock else { return true }
        if t.hasPrefix(">>>") { inBlock = false; complete = true; return true }
        if t.hasPrefix("(") {
            // (slot,len,refs) /path
            let inner = t.dropFirst().prefix { $0 != ")" }
            if let slot = Int(inner.split(separator: ",").first ?? ""), let sp = t.firstIndex(of: " ") {
                names[slot] = String(t[t.index(after: sp)...])
            }
            return true
        }
        let f = t.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 3, f[0].hasSuffix(":"), Int(f[0].dropLast()) != nil else { return true }
        let kind = String(f[1])
        var rangeIdx = 2
        if !(["file", "anon", "FILE", "ANON", "RSVN", "SHMC", "shmc"].contains(kind)) { rangeIdx = 1 }
        let rng = f[rangeIdx].split(separator: "-")
        guard rng.count == 2, let s = UInt64(rng[0], radix: 16), let e = UInt64(rng[1], radix: 16) else { return true }
        let perms = f.count > rangeIdx + 2 ? String(f[rangeIdx + 2]) : ""
        var off: UInt64 = 0, name = -1
        var sm = ""
        for w in f.dropFirst(rangeIdx + 3) {
            if w.hasPrefix("o=") { off = UInt64(w.dropFirst(2)) ?? 0 }
            if w.hasPrefix("("), let slot = Int(w.dropFirst().split(separator: ",").first ?? "") { name = slot }
            if w.hasPrefix("Sm") { sm = String(w) }
        }
        segs.append((kind: rangeIdx == 1 ? "free" : kind, start: s, end: e &+ 1, perms: perms, offset: off, name: name, sm: sm))
        return true
    }

    /// Builds the client regions: `exe` is the program's path (its segments become kind exe),
    /// paths containing "/ld-" are the interpreter. Returns the regions in address order.
    public mutating func finish(exe: String) -> [TraceRegion] {
        var out: [TraceRegion] = []
        for (i, s) in segs.enumerated() where s.kind == "file" || s.kind == "anon" {
            guard s.end > s.start, s.start & 0xfff == 0, s.end & 0xfff == 0 else { continue }
            var prot: UInt8 = 0
            let p = Array(s.perms)
            if p.count >= 3 {
                if p[0] == "r" { prot |= 1 }
                if p[1] == "w" { prot |= 2 }
                if p[2] == "x" { prot |= 4 }
            }
            if s.kind == "file" {
                let path = names[s.name] ?? ""
                let kind: RegionKind = path == exe ? .exe : path.contains("/ld-") ? .interp : .file
                out.append(TraceRegion(start: s.start, end: s.end, prot: prot, kind: kind, offset: s.offset, path: path))
            } else {
                var kind = RegionKind.anon
                if i + 1 < segs.count, segs[i + 1].sm == "SmLower" { kind = .brk }
                if i > 0, segs[i - 1].sm == "SmUpper" { kind = .stack }
                out.append(TraceRegion(start: s.start, end: s.end, prot: prot, kind: kind))
            }
        }
        regions = out
        return out
    }
}
