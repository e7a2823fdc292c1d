/// Capture of a real program: runs it under valgrind's lackey tool with its log on a pipe, parses
/// the log as it arrives (nothing but the binary trace is written to disk), and takes the initial
/// address space from valgrind's debug log (`-d`, "Memory layout at client startup") and the ELF
/// headers of the program and its interpreter.
import Foundation
import MMCore

/// The outcome of a capture.
public struct CaptureResult: Sendable {
    public var path: String
    public var lines: Int
    public var accesses: UInt64
    public var records: UInt64
    public var regions: Int
    /// The program's exit status (128 + signal when it was killed).
    public var status: Int32
}

/// Why a capture failed.
public struct CaptureError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The layout parsed by the stderr reader thread (guarded by a lock).
final class LayoutBox: @unchecked Sendable { var value = ValgrindLayout() }

/// Path of the temporary file being written, removed by the signal handler on SIGINT/SIGTERM.
nonisolated(unsafe) var captureTmpPath: UnsafeMutablePointer<CChar>? = nil

/// Returns the absolute path of `program`: as given when it contains a slash (made absolute
/// against the working directory), else the first executable match on PATH; nil when not found.
public func resolveProgram(_ program: String) -> String? {
    func normalize(_ p: String) -> String {
        let abs = p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
        var parts: [Substring] = []
        for c in abs.split(separator: "/") {
            if c == "." { continue }
            if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }
    if program.contains("/") { return access(program, X_OK) == 0 ? normalize(program) : nil }
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(dir)/\(program)"
        if access(p, X_OK) == 0 { return normalize(p) }
    }
    return nil
}

/// Returns the size of host file `path` and its first `limit` bytes, or nil when unreadable.
func hostFileHead(_ path: String, limit: Int = 4096) -> (UInt64, [UInt8])? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { return nil }
    var buf = [UInt8](repeating: 0, count: limit)
    let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, limit) }
    guard n >= 0 else { return nil }
    return (UInt64(st.st_size), Array(buf.prefix(n)))
}

/// Runs `program` with `args` under valgrind and writes the trace to `output` (through a
/// temporary file renamed at the end). `forward` receives the program's and valgrind's own
/// stderr lines (valgrind's debug output is consumed). Throws `CaptureError` when valgrind
/// cannot run, or `TextInputError` when its output cannot be parsed (no file is left).
public func capture(program: String, args: [String], output: String, valgrind: String = "valgrind",
                    forward: @escaping (String) -> Void) throws -> CaptureResult {
    guard let exe = resolveProgram(program) else { throw CaptureError(message: "\(program): no such program (not found or not executable)") }
    guard let vg = resolveProgram(valgrind) else {
        throw CaptureError(message: "valgrind is not installed (apt-get install valgrind); mmsim trace runs the program under valgrind's lackey tool")
    }
    let writer = try TraceWriter(path: output)
    writer.meta("source", "valgrind lackey (mmsim trace)")
    writer.meta("command", ([exe] + args).joined(separator: " "))

    var logPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
    guard pipe(&logPipe) == 0, pipe(&errPipe) == 0 else { writer.abort(); throw CaptureError(message: "pipe: \(String(cString: strerror(errno)))") }
    var fa = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&fa)
    defer { posix_spawn_file_actions_destroy(&fa) }
    posix_spawn_file_actions_adddup2(&fa, logPipe[1], 3)
    posix_spawn_file_actions_adddup2(&fa, errPipe[1], 2)
    for fd in [logPipe[0], logPipe[1], errPipe[0], errPipe[1]] where fd > 3 { posix_spawn_file_actions_addclose(&fa, fd) }
    let argv = [vg, "--tool=lackey", "--trace-mem=yes", "--trace-syscalls=yes", "--log-fd=3", "--vgdb=no", "-d", exe] + args
    var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, vg, &fa, nil, &cargs, environ)
    close(logPipe[1]); close(errPipe[1])
    guard rc == 0 else {
        close(logPipe[0]); close(errPipe[0]); writer.abort()
        throw CaptureError(message: "cannot run \(vg): \(String(cString: strerror(rc)))")
    }
    captureTmpPath = strdup(writer.tmpPath)
    let handler: @convention(c) (Int32) -> Void = { sig in
        if let p = captureTmpPath { unlink(p) }
        signal(sig, SIG_DFL)
        raise(sig)
    }
    let oldInt = signal(SIGINT, handler), oldTerm = signal(SIGTERM, handler)
    defer { signal(SIGINT, oldInt); signal(SIGTERM, oldTerm); free(captureTmpPath); captureTmpPath = nil }

    // stderr: valgrind's debug log (the layout) and the program's own messages.
    let layoutReady = DispatchSemaphore(value: 0)
    let lock = NSLock()
    let layout = LayoutBox()
    let errFD = errPipe[0]
    let errThread = Thread {
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var signalled = false
        while true {
            let n = buf.withUnsafeMutableBytes { read(errFD, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending.append(contentsOf: buf[0..<n])
            while let nl = pending.firstIndex(of: 0x0a) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                lock.lock()
                let debug = layout.value.feed(line)
                let done = layout.value.complete
                lock.unlock()
                if !debug { forward(line) }
                if done && !signalled { signalled = true; layoutReady.signal() }
            }
        }
        if !pending.isEmpty { forward(String(decoding: pending, as: UTF8.self)) }
        if !signalled { layoutReady.signal() }
        close(errFD)
    }
    errThread.start()

    let imp = LackeyImporter(writer: writer, name: "valgrind output", statHostFiles: true)
    imp.setInitialThread(pid: UInt32(pid))
    var started = false
    var regions = 0
    var buf = [UInt8](repeating: 0, count: 1 << 20)
    var failure: Error? = nil
    while true {
        let n = buf.withUnsafeMutableBytes { read(logPipe[0], $0.baseAddress!, $0.count) }
        if n < 0 { if errno == EINTR { continue }; break }
        if n == 0 { break }
        if !started {
            started = true
            layoutReady.wait()
            lock.lock()
            let rs = layout.value.finish(exe: exe)
            lock.unlock()
            var seen = Set<String>()
            for r in rs where (r.kind == .exe || r.kind == .interp) && !seen.contains(r.path) {
                seen.insert(r.path)
                if let (size, head) = hostFileHead(r.path) { writer.file(path: r.path, size: size, head: head) }
            }
            for r in rs { writer.region(r) }
            regions = rs.count
        }
        do { try buf.withUnsafeBytes { try imp.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) } } catch {
            failure = error
            kill(pid, SIGKILL)
            break
        }
    }
    close(logPipe[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    while !errThread.isFinished { usleep(1000) }
    if failure == nil { do { try imp.finish() } catch { failure = error } }
    if let f = failure { writer.abort(); throw f }
    if !started { writer.abort(); throw CaptureError(message: "valgrind produced no trace for \(exe)") }
    try writer.finish()
    let exit: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return CaptureResult(path: output, lines: imp.lines, accesses: writer.accesses, records: writer.records, regions: regions, status: exit)
}
