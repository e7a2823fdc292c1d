/// The mmsim binary trace format, version 1 (documented in docs/trace-format.md): a 16-byte file
/// header, then blocks of records, each block with its length, record count and CRC-32; the last
/// record is END with the totals. Writers stream into a temporary file and rename it on success,
/// so a reader never sees a half-written trace; readers check every checksum and report
/// corruption with the byte offset.
import Foundation

/// The eight magic bytes at the start of a trace: 0x89 "MMTR" CR LF 0x1A (a text transfer or a
/// truncated header is detected at once, as with PNG).
public let TRACE_MAGIC: [UInt8] = [0x89, 0x4d, 0x4d, 0x54, 0x52, 0x0d, 0x0a, 0x1a]
/// The format version this code writes and reads.
public let TRACE_VERSION: UInt16 = 1
/// Largest payload of one block (the writer cuts blocks at 64 KiB; readers accept up to 1 MiB).
public let TRACE_MAX_BLOCK = 1 << 20
/// Longest string a record may hold (paths, metadata).
public let TRACE_MAX_STRING = 4096
/// Largest file-header excerpt a FILE record may hold.
public let TRACE_MAX_FILE_BYTES = 65536

/// Record type bytes. Accesses use 0x00...0x3f (kind in bits 5-4, size code in bits 3-0).
public enum TraceRecordType: UInt8, Sendable {
    case thread = 0x40, syscall = 0x41, region = 0x42, file = 0x43, meta = 0x44, end = 0x7f
}

/// The kind of a memory access, as lackey prints it: I (instruction fetch), L (load), S (store),
/// M (modify: a load and a store of the same bytes).
public enum TraceAccessKind: UInt8, Sendable, CaseIterable {
    case instr = 0, load = 1, store = 2, modify = 3
    /// The lackey letter.
    public var letter: Character { ["I", "L", "S", "M"][Int(rawValue)] }

    /// The kind whose raw value is `bits & 3` (an access record type's bits 5:4): what
    /// `init(rawValue:)` gives for 0...3, as a switch the optimiser reduces to a move instead of
    /// a call per record.
    @inline(__always) static func of(_ bits: UInt8) -> TraceAccessKind {
        switch bits & 3 {
        case 0: return .instr
        case 1: return .load
        case 2: return .store
        default: return .modify
        }
    }
}

/// What an initial region of the address space is.
public enum RegionKind: UInt8, Sendable, CaseIterable {
    case anon = 0, file = 1, exe = 2, interp = 3, stack = 4, brk = 5
    public var name: String { ["anon", "file", "exe", "interp", "stack", "brk"][Int(rawValue)] }
}

/// A region of the initial address space (what exec and the loader had mapped when the first
/// instruction ran).
public struct TraceRegion: Sendable, Equatable {
    public var start: UInt64, end: UInt64
    /// PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4.
    public var prot: UInt8
    public var kind: RegionKind
    /// File offset of `start` (file-backed kinds).
    public var offset: UInt64
    /// File path (file-backed kinds), empty otherwise.
    public var path: String
    public init(start: UInt64, end: UInt64, prot: UInt8, kind: RegionKind, offset: UInt64 = 0, path: String = "") {
        self.start = start; self.end = end; self.prot = prot; self.kind = kind; self.offset = offset; self.path = path
    }
}

/// A memory-relevant system call with its arguments and result (negative: -errno).
public struct TraceSyscall: Sendable, Equatable {
    public var nr: UInt64
    public var args: [UInt64]
    public var result: Int64
    /// For a file mapping: the path of the file descriptor, and the file's size (0 if unknown).
    public var path: String
    public var fileSize: UInt64
    public init(nr: UInt64, args: [UInt64], result: Int64, path: String = "", fileSize: UInt64 = 0) {
        self.nr = nr; self.args = args; self.result = result; self.path = path; self.fileSize = fileSize
    }
}

/// x86-64 system call numbers the format records.
public enum SyscallNr {
    public static let mmap: UInt64 = 9, mprotect: UInt64 = 10, munmap: UInt64 = 11, brk: UInt64 = 12
    public static let mremap: UInt64 = 25, madvise: UInt64 = 28, clone: UInt64 = 56, fork: UInt64 = 57
    public static let vfork: UInt64 = 58, execve: UInt64 = 59, exit: UInt64 = 60, getrusage: UInt64 = 98
    public static let exitGroup: UInt64 = 231, clone3: UInt64 = 435
    /// File I/O through a descriptor with a known path (it fills the page cache): recorded as
    /// (fd, buffer, count, file offset) with the path.
    public static let read: UInt64 = 0, write: UInt64 = 1, pread64: UInt64 = 17, pwrite64: UInt64 = 18
    /// Every number a trace may hold, with its name.
    public static let names: [UInt64: String] = [
        mmap: "mmap", mprotect: "mprotect", munmap: "munmap", brk: "brk", mremap: "mremap", madvise: "madvise",
        clone: "clone", fork: "fork", vfork: "vfork", execve: "execve", exit: "exit", getrusage: "getrusage",
        exitGroup: "exit_group", clone3: "clone3", read: "read", write: "write", pread64: "pread64", pwrite64: "pwrite64",
    ]
}

/// One decoded record (used by import, dump and tests; replay decodes accesses in place).
public enum TraceEvent: Sendable, Equatable {
    case access(TraceAccessKind, UInt64, UInt32)
    case thread(pid: UInt32, tid: UInt32)
    case syscall(TraceSyscall)
    case region(TraceRegion)
    /// A file's size and the first bytes of its contents (ELF headers of the program and interpreter).
    case file(path: String, size: UInt64, head: [UInt8])
    case meta(key: String, value: String)
}

/// Why a trace could not be read.
public enum TraceError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(String, String)
    case badMagic(String)
    case unsupportedVersion(String, UInt16)
    case truncated(String, Int)
    case checksum(String, block: Int, offset: Int)
    case badRecord(String, offset: Int, String)
    case missingEnd(String)
    case trailingData(String, Int)
    case write(String, String)
    public var description: String {
        switch self {
        case .cannotOpen(let f, let why): return "\(f): cannot open: \(why)"
        case .badMagic(let f): return "\(f): not an mmsim trace (bad magic number)"
        case .unsupportedVersion(let f, let v): return "\(f): trace format version \(v) is not supported (this mmsim reads version \(TRACE_VERSION))"
        case .truncated(let f, let o): return "\(f): corrupt trace: truncated at byte \(o)"
        case .checksum(let f, let b, let o): return "\(f): corrupt trace: checksum mismatch in block \(b) at byte \(o)"
        case .badRecord(let f, let o, let why): return "\(f): corrupt trace: \(why) at byte \(o)"
        case .missingEnd(let f): return "\(f): corrupt trace: no END record (the trace is truncated)"
        case .trailingData(let f, let o): return "\(f): corrupt trace: data after the END record at byte \(o)"
        case .write(let f, let why): return "\(f): cannot write: \(why)"
        }
    }
}

// MARK: - CRC-32 and varints

/// The CRC-32 lookup tables (IEEE 802.3 polynomial, reflected, as zlib), sliced by 8.
let crcTables: [UInt32] = {
    var t = [UInt32](repeating: 0, count: 8 * 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        t[i] = c
    }
    for i in 0..<256 {
        for k in 1..<8 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xff)] }
    }
    return t
}()

/// Returns the CRC-32 (zlib's crc32()) of `bytes`.
public func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var c: UInt32 = 0xffff_ffff
    crcTables.withUnsafeBufferPointer { t in
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            let lo = bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
            let hi = bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
            c = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int((lo >> 8) & 0xff)]
                ^ t[5 * 256 + Int((lo >> 16) & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int((hi >> 8) & 0xff)]
                ^ t[1 * 256 + Int((hi >> 16) & 0xff)] ^ t[Int(hi >> 24)]
            i += 8
        }
        while i < n {
            c = t[Int((c ^ UInt32(bytes[i])) & 0xff)] ^ (c >> 8)
            i += 1
        }
    }
    return ~c
}

/// Returns the CRC-32 of a byte array.
public func crc32(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { crc32($0) } }

/// Appends `v` as an unsigned LEB128 varint.
@inline(__always) func putVarint(_ out: inout [UInt8], _ v: UInt64) {
    var v = v
    while v >= 0x80 { out.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
    out.append(UInt8(v))
}

/// Zigzag encoding of a signed delta (small magnitudes → small varints).
@inline(__always) func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
/// Inverse of `zigzag`.
@inline(__always) func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

/// Appends a length-prefixed UTF-8 string (cut to TRACE_MAX_STRING bytes).
func putString(_ out: inout [UInt8], _ s: String) {
    let b = Array(s.utf8.prefix(TRACE_MAX_STRING))
    putVarint(&out, UInt64(b.count))
    out.append(contentsOf: b)
}

/// Size code of an access size: log2 for powers of two up to 128, else 15 (explicit size follows).
@inline(__always) func sizeCode(_ size: UInt32) -> UInt8 {
    if size != 0 && size & (size - 1) == 0 && size <= 128 { return UInt8(size.trailingZeroBitCount) }
    return 15
}

// MARK: - Writer

/// Writes a trace: records are buffered into blocks of at most 64 KiB, each written with its
/// checksum; `finish()` writes END and renames the temporary file into place. Until then the
/// destination does not exist (or keeps its old contents); `abort()` removes the temporary file.
public final class TraceWriter {
    public let path: String
    let tmpPath: String
    let fd: Int32
    var block: [UInt8] = []
    var blockRecords = 0
    var out: [UInt8] = []
    var prevI: UInt64 = 0, prevD: UInt64 = 0
    /// Records written so far (END excluded) and accesses among them.
    public private(set) var records: UInt64 = 0
    public private(set) var accesses: UInt64 = 0
    var finished = false

    /// Creates the temporary file next to `path` and writes the file header. Throws `.write` when
    /// the file cannot be created.
    public init(path: String) throws {
        self.path = path
        tmpPath = path + ".tmp-\(getpid())"
        fd = open(tmpPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TraceError.write(path, String(cString: strerror(errno))) }
        block.reserveCapacity(70_000)
        out.reserveCapacity(1 << 20)
        var h = TRACE_MAGIC
        h.append(UInt8(TRACE_VERSION & 0xff)); h.append(UInt8(TRACE_VERSION >> 8))
        h.append(0); h.append(0)
        let c = crc32(h)
        for i in 0..<4 { h.append(UInt8(truncatingIfNeeded: c >> (8 * UInt32(i)))) }
        out.append(contentsOf: h)
    }

    deinit { if !finished { abort() } }

    /// Appends one memory access of `size` bytes at `addr`.
    @inline(__always)
    public func access(_ kind: TraceAccessKind, _ addr: UInt64, size: UInt32) {
        let code = sizeCode(size)
        let delta: UInt64
        if kind == .instr { delta = zigzag(Int64(bitPattern: addr &- prevI)); prevI = addr } else {
            delta = zigzag(Int64(bitPattern: addr &- prevD)); prevD = addr
        }
        if code == 15 {
            block.append(kind.rawValue << 4 | code)
            putVarint(&block, UInt64(size))
            putVarint(&block, delta)
        } else {
            // The type byte and the varint encoded in a scratch word, appended at once.
            var scratch: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &scratch) { b in
                b[0] = kind.rawValue << 4 | code
                var n = 1, v = delta
                while v >= 0x80 { b[n] = UInt8(truncatingIfNeeded: v) | 0x80; v >>= 7; n += 1 }
                b[n] = UInt8(v)
                block.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[0..<(n + 1)]))
            }
        }
        accesses &+= 1
        endRecord()
    }

    /// Appends a THREAD record: the accesses that follow belong to `pid`/`tid`.
    public func thread(pid: UInt32, tid: UInt32) {
        block.append(TraceRecordType.thread.rawValue)
        putVarint(&block, UInt64(pid)); putVarint(&block, UInt64(tid))
        endRecord()
    }

    /// Appends a SYSCALL record (at most 6 arguments are kept).
    public func syscall(_ s: TraceSyscall) {
        block.append(TraceRecordType.syscall.rawValue)
        putVarint(&block, s.nr)
        let args = s.args.prefix(6)
        putVarint(&block, UInt64(args.count))
        for a in args { putVarint(&block, a) }
        putVarint(&block, zigzag(s.result))
        putString(&block, s.path)
        putVarint(&block, s.fileSize)
        endRecord()
    }

    /// Appends a REGION record of the initial address space.
    public func region(_ r: TraceRegion) {
        block.append(TraceRecordType.region.rawValue)
        putVarint(&block, r.start); putVarint(&block, r.end)
        block.append(r.prot); block.append(r.kind.rawValue)
        putVarint(&block, r.offset)
        putString(&block, r.path)
        endRecord()
    }

    /// Appends a FILE record: a file's size and its first bytes (cut to TRACE_MAX_FILE_BYTES).
    public func file(path: String, size: UInt64, head: [UInt8]) {
        block.append(TraceRecordType.file.rawValue)
        putString(&block, path)
        putVarint(&block, size)
        let h = head.prefix(TRACE_MAX_FILE_BYTES)
        putVarint(&block, UInt64(h.count))
        block.append(contentsOf: h)
        endRecord()
    }

    /// Appends a META record (free-form key and value: the command, the capturing tool...).
    public func meta(_ key: String, _ value: String) {
        block.append(TraceRecordType.meta.rawValue)
        putString(&block, key); putString(&block, value)
        endRecord()
    }

    /// Appends any decoded event.
    public func append(_ e: TraceEvent) {
        switch e {
        case .access(let k, let a, let s): access(k, a, size: s)
        case .thread(let p, let t): thread(pid: p, tid: t)
        case .syscall(let s): syscall(s)
        case .region(let r): region(r)
        case .file(let p, let s, let h): file(path: p, size: s, head: h)
        case .meta(let k, let v): meta(k, v)
        }
    }

    /// Counts the record just appended and writes the block out when it passes 65 000 bytes.
    @inline(__always) func endRecord() {
        records &+= 1
        blockRecords += 1
        if block.count >= 65_000 { flushBlock() }
    }

    /// Writes the current block (length, record count, CRC-32, payload) to the output buffer.
    func flushBlock() {
        guard blockRecords > 0 else { return }
        let c = crc32(block)
        for v in [UInt32(block.count), UInt32(blockRecords), c] {
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
        }
        out.append(contentsOf: block)
        block.removeAll(keepingCapacity: true)
        blockRecords = 0
        if out.count >= 1 << 20 { try? drain() }
    }

    /// Writes the output buffer to the file; throws `.write` on a short or failed write.
    func drain() throws {
        try out.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = Foundation.write(fd, p.baseAddress! + off, p.count - off)
                if n < 0 { if errno == EINTR { continue }; throw TraceError.write(path, String(cString: strerror(errno))) }
                off += n
            }
        }
        out.removeAll(keepingCapacity: true)
    }

    /// Writes END (records and accesses), flushes, and renames the temporary file to `path`.
    /// Throws `.write` (the temporary file is removed) when writing fails.
    public func finish() throws {
        guard !finished else { return }
        block.append(TraceRecordType.end.rawValue)
        putVarint(&block, records)
        putVarint(&block, accesses)
        blockRecords += 1
        flushBlock()
        do {
            try drain()
            guard fsync(fd) == 0 || errno == EINVAL else { throw TraceError.write(path, String(cString: strerror(errno))) }
            close(fd)
            guard rename(tmpPath, path) == 0 else { throw TraceError.write(path, String(cString: strerror(errno))) }
            finished = true
        } catch {
            abort()
            throw error
        }
    }

    /// Abandons the trace: closes and removes the temporary file.
    public func abort() {
        guard !finished else { return }
        finished = true
        close(fd)
        unlink(tmpPath)
    }
}

// MARK: - Reader

/// Reads a trace block by block. `nextBlock()` loads and checks the next block; the caller then
/// decodes its records with a `RecordDecoder` (the decoder state — previous addresses — lives in
/// the reader and carries over between blocks).
public final class TraceReader {
    public let name: String
    let fd: Int32
    let ownsFD: Bool
    var buf: [UInt8] = []
    var bufStart = 0, bufEnd = 0
    /// Bytes consumed from the file so far.
    public private(set) var offset = 0
    /// The payload of the current block and its record count.
    public internal(set) var payload: [UInt8] = []
    public internal(set) var blockRecords = 0
    /// Offset of the current block's payload in the file.
    public private(set) var payloadOffset = 0
    var blockIndex = 0
    /// The totals of the END record once it has been read.
    public internal(set) var endRecords: UInt64?, endAccesses: UInt64?
    /// Decoder state carried across blocks.
    public var prevI: UInt64 = 0, prevD: UInt64 = 0
    /// Records (END excluded) and accesses decoded in the blocks finished so far.
    public internal(set) var seenRecords: UInt64 = 0, seenAccesses: UInt64 = 0
    /// Size of the file in bytes (0 when reading a pipe).
    public let fileSize: Int

    /// Opens `path` (`-` = standard input) and checks the file header. Throws `TraceError`.
    public init(path: String) throws {
        name = path
        if path == "-" { fd = 0; ownsFD = false } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw TraceError.cannotOpen(path, String(cString: strerror(errno))) }
            ownsFD = true
        }
        var st = stat()
        fileSize = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : 0
        buf = [UInt8](repeating: 0, count: 1 << 20)
        let h: ArraySlice<UInt8>
        do {
            guard let x = try read(16) else { throw TraceError.badMagic(name) }
            h = x
        } catch TraceError.truncated {
            // A short file: say "not a trace" unless what is there starts like one.
            let got = Array(buf[0..<bufEnd])
            if got != Array(TRACE_MAGIC.prefix(got.count)) { throw TraceError.badMagic(name) }
            throw TraceError.truncated(name, bufEnd)
        }
        guard Array(h[0..<8]) == TRACE_MAGIC else { throw TraceError.badMagic(name) }
        let version = UInt16(h[8]) | UInt16(h[9]) << 8
        let c = UInt32(h[12]) | UInt32(h[13]) << 8 | UInt32(h[14]) << 16 | UInt32(h[15]) << 24
        guard crc32(Array(h[0..<12])) == c else { throw TraceError.checksum(name, block: -1, offset: 0) }
        guard version == TRACE_VERSION else { throw TraceError.unsupportedVersion(name, version) }
    }

    deinit { if ownsFD { close(fd) } }

    /// Returns exactly `n` bytes, nil at a clean end of file; throws `.truncated` when the file
    /// ends inside them.
    func read(_ n: Int) throws -> ArraySlice<UInt8>? {
        if bufEnd - bufStart < n {
            if bufStart > 0 {
                let live = bufEnd - bufStart
                if live > 0 { buf.withUnsafeMutableBytes { p in memmove(p.baseAddress!, p.baseAddress! + bufStart, live) } }
                bufStart = 0; bufEnd = live
            }
            if buf.count < n { buf += [UInt8](repeating: 0, count: n - buf.count) }
            while bufEnd < n {
                let got = buf.withUnsafeMutableBytes { p in Foundation.read(fd, p.baseAddress! + bufEnd, p.count - bufEnd) }
                if got < 0 { if errno == EINTR { continue }; throw TraceError.cannotOpen(name, String(cString: strerror(errno))) }
                if got == 0 { break }
                bufEnd += got
            }
            if bufEnd - bufStart < n {
                if bufEnd == bufStart { return nil }
                throw TraceError.truncated(name, offset + (bufEnd - bufStart))
            }
        }
        let s = buf[bufStart..<(bufStart + n)]
        bufStart += n
        offset += n
        return s
    }

    /// Loads the next block into `payload` and checks its CRC. Returns false at the end of the
    /// trace (after the END record; trailing bytes are an error). Throws `TraceError`.
    public func nextBlock() throws -> Bool {
        if endRecords != nil {
            if try read(1) != nil { throw TraceError.trailingData(name, offset - 1) }
            return false
        }
        let at = offset
        guard let h = try read(12) else { throw TraceError.missingEnd(name) }
        func u32(_ i: Int) -> UInt32 { let b = h.startIndex + i; return UInt32(h[b]) | UInt32(h[b+1]) << 8 | UInt32(h[b+2]) << 16 | UInt32(h[b+3]) << 24 }
        let len = Int(u32(0)), count = Int(u32(4)), c = u32(8)
        guard len > 0, len <= TRACE_MAX_BLOCK, count > 0, count <= len else {
            throw TraceError.badRecord(name, offset: at, "bad block header (length \(len), \(count) records)")
        }
        guard let p = try read(len) else { throw TraceError.truncated(name, offset) }
        payloadOffset = at + 12
        payload.removeAll(keepingCapacity: true)
        payload.append(contentsOf: p)
        guard crc32(payload) == c else { throw TraceError.checksum(name, block: blockIndex, offset: at) }
        blockIndex += 1
        blockRecords = count
        return true
    }

    /// Decodes every record of the trace in order, calling `body` for each; checks the END
    /// totals. Throws `TraceError` on corruption (events before it have been delivered).
    public func forEach(_ body: (TraceEvent) throws -> Void) throws {
        while try nextBlock() {
            try payload.withUnsafeBytes { p in
                var d = RecordDecoder(p, reader: self)
                for _ in 0..<blockRecords {
                    if let e = try d.nextEvent() { try body(e) }
                }
                try d.finishBlock()
            }
        }
    }

    /// Reads the whole trace into an array of events (for tests and small traces).
    public static func readAll(_ path: String) throws -> [TraceEvent] {
        var out: [TraceEvent] = []
        try TraceReader(path: path).forEach { out.append($0) }
        return out
    }
}

/// Decodes the records of one block. Accesses are decoded by `nextAccessOrOther()` without any
/// allocation; other records through `nextEvent()` or the accessors.
public struct RecordDecoder {
    let p: UnsafeRawBufferPointer
    public var i = 0
    /// The reader outlives its decoders (they live inside its block loop): no reference counting.
    unowned(unsafe) let reader: TraceReader
    /// Access records decoded in this block (reported to the reader at the end).
    var accesses: UInt64 = 0
    var records: UInt64 = 0
    /// The previous instruction and data addresses (copied back to the reader by `finishBlock`).
    var prevI: UInt64, prevD: UInt64

    public init(_ p: UnsafeRawBufferPointer, reader: TraceReader) {
        self.p = p; self.reader = reader; prevI = reader.prevI; prevD = reader.prevD
    }

    /// Returns the corruption error for the current position of the block.
    @inline(__always) func fail(_ why: String) -> TraceError {
        TraceError.badRecord(reader.name, offset: reader.payloadOffset + i, why)
    }

    /// Returns the next byte; throws `.badRecord` at the end of the block.
    @inline(__always) mutating func byte() throws -> UInt8 {
        guard i < p.count else { throw fail("record runs past the end of its block") }
        let b = p[i]; i += 1
        return b
    }

    /// Returns the next LEB128 varint; throws `.badRecord` when it runs past the block or 64 bits.
    @inline(__always) mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard i < p.count else { throw fail("record runs past the end of its block") }
            let b = p[i]; i += 1
            if shift == 63 && b > 1 { throw fail("varint overflows 64 bits") }
            v |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
            if shift > 63 { throw fail("varint overflows 64 bits") }
        }
    }

    /// Returns the next length-prefixed string; throws `.badRecord` for a bad length.
    mutating func string() throws -> String {
        let n = try varint()
        guard n <= UInt64(TRACE_MAX_STRING), i + Int(n) <= p.count else { throw fail("bad string length \(n)") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: p[i..<(i + Int(n))]), as: UTF8.self)
        i += Int(n)
        return s
    }

    /// Decodes the access whose type byte `t` (< 0x40) was just read; returns kind, address, size.
    @inline(__always)
    public mutating func access(_ t: UInt8) throws -> (TraceAccessKind, UInt64, UInt32) {
        let code = t & 0xf
        var size: UInt32
        if code <= 7 { size = 1 << UInt32(code) } else if code == 15 {
            let s = try varint()
            guard s > 0, s <= 1 << 16 else { throw fail("bad access size \(s)") }
            size = UInt32(s)
        } else { throw fail("bad access size code \(code)") }
        guard t < 0x40 else { throw fail("record type 0x\(String(t, radix: 16)) is not an access") }
        let kind = TraceAccessKind.of(t >> 4)
        let delta = unzigzag(try varint())
        let addr: UInt64
        if kind == .instr { addr = prevI &+ UInt64(bitPattern: delta); prevI = addr } else {
            addr = prevD &+ UInt64(bitPattern: delta); prevD = addr
        }
        accesses &+= 1; records &+= 1
        return (kind, addr, size)
    }

    /// Reads the next type byte.
    @inline(__always) public mutating func type() throws -> UInt8 { try byte() }

    /// Decodes the next record when it is an access with a size code of 1 to 128 bytes and an
    /// address delta of at most 8 varint bytes, all inside the block (what `access` decodes
    /// without any check that can fail); returns nil, consuming nothing, for anything else,
    /// which the caller then decodes with `type` and `access`/`other` (and their errors).
    @inline(__always)
    mutating func nextPlainAccess() -> (TraceAccessKind, UInt64, UInt32)? {
        guard i < p.count else { return nil }
        let t = p[i]
        guard t < 0x40, t & 0xf <= 7 else { return nil }
        var j = i &+ 1
        var v: UInt64 = 0
        if p.count &- j >= 8 {
            // Eight bytes at once: the varint ends at the first byte with bit 7 clear; its 7-bit
            // groups are gathered without a loop (no branch per byte to mispredict).
            let w = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: j, as: UInt64.self))
            let ends = ~w & 0x8080_8080_8080_8080
            guard ends != 0 else { return nil }   // 9 bytes or more: the checked decoder takes it
            let bits = UInt64(ends.trailingZeroBitCount) &+ 1   // 8 * length
            let x = bits == 64 ? w : w & ((1 << bits) &- 1)
            v = (x & 0x7f) | ((x >> 1) & (0x7f << 7)) | ((x >> 2) & (0x7f << 14)) | ((x >> 3) & (0x7f << 21))
                | ((x >> 4) & (0x7f << 28)) | ((x >> 5) & (0x7f << 35)) | ((x >> 6) & (0x7f << 42)) | ((x >> 7) & (0x7f << 49))
            j &+= Int(truncatingIfNeeded: bits >> 3)
        } else {
            var shift: UInt64 = 0
            while true {
                guard j < p.count, shift <= 56 else { return nil }
                let b = p[j]
                j &+= 1
                v |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { break }
                shift &+= 7
            }
        }
        i = j
        let kind = TraceAccessKind.of(t >> 4)
        let delta = UInt64(bitPattern: unzigzag(v))
        let addr: UInt64
        if kind == .instr { addr = prevI &+ delta; prevI = addr } else { addr = prevD &+ delta; prevD = addr }
        accesses &+= 1; records &+= 1
        return (kind, addr, 1 << UInt32(t & 0xf))
    }

    /// Decodes the non-access record of type `t`; returns nil for END (after checking its totals).
    public mutating func other(_ t: UInt8) throws -> TraceEvent? {
        records &+= 1
        guard let type = TraceRecordType(rawValue: t) else { i -= 1; throw fail("unknown record type 0x\(String(t, radix: 16))") }
        switch type {
        case .thread:
            let pid = try varint(), tid = try varint()
            guard pid <= UInt64(Int32.max), tid <= UInt64(Int32.max) else { throw fail("bad thread id") }
            return .thread(pid: UInt32(pid), tid: UInt32(tid))
        case .syscall:
            let nr = try varint()
            let argc = try varint()
            guard argc <= 6 else { throw fail("syscall with \(argc) arguments") }
            var args: [UInt64] = []
            for _ in 0..<argc { args.append(try varint()) }
            let result = unzigzag(try varint())
            let path = try string()
            let size = try varint()
            return .syscall(TraceSyscall(nr: nr, args: args, result: result, path: path, fileSize: size))
        case .region:
            let start = try varint(), end = try varint()
            let prot = try byte(), k = try byte()
            guard let kind = RegionKind(rawValue: k) else { throw fail("bad region kind \(k)") }
            guard start < end, start & 0xfff == 0, end & 0xfff == 0, prot <= 7 else { throw fail("bad region \(start)-\(end)") }
            let off = try varint()
            return .region(TraceRegion(start: start, end: end, prot: prot, kind: kind, offset: off, path: try string()))
        case .file:
            let path = try string()
            let size = try varint()
            let n = try varint()
            guard n <= UInt64(TRACE_MAX_FILE_BYTES), i + Int(n) <= p.count else { throw fail("bad file excerpt length \(n)") }
            let head = Array(UnsafeRawBufferPointer(rebasing: p[i..<(i + Int(n))]))
            i += Int(n)
            return .file(path: path, size: size, head: head)
        case .meta:
            return .meta(key: try string(), value: try string())
        case .end:
            let r = try varint(), a = try varint()
            records &-= 1
            guard i == p.count else { throw fail("END is not the last record") }
            reader.endRecords = r; reader.endAccesses = a
            return nil
        }
    }

    /// Decodes the next record of any kind; nil for END.
    public mutating func nextEvent() throws -> TraceEvent? {
        let t = try byte()
        if t < 0x40 { let (k, a, s) = try access(t); return .access(k, a, s) }
        return try other(t)
    }

    /// Checks that the block was consumed exactly and, after END, that the totals match.
    public mutating func finishBlock() throws {
        guard i == p.count else { throw fail("\(p.count - i) bytes left over in the block") }
        reader.prevI = prevI; reader.prevD = prevD
        reader.seenRecords &+= records
        reader.seenAccesses &+= accesses
        records = 0; accesses = 0
        if let r = reader.endRecords, let a = reader.endAccesses {
            guard r == reader.seenRecords, a == reader.seenAccesses else {
                throw TraceError.badRecord(reader.name, offset: reader.payloadOffset + i,
                    "END says \(r) records and \(a) accesses, the trace has \(reader.seenRecords) and \(reader.seenAccesses)")
            }
        }
    }
}

extension TraceReader {
    /// Fraction of the file read so far (0 when the size is unknown).
    public var progress: Double { fileSize > 0 ? Double(offset) / Double(fileSize) : 0 }
}
