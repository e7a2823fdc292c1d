/// Bringing real files of the host into the simulated file system (`import`), and starting
/// processes from imported ELF files. The only place that reads host files: MMCore stays free of
/// host I/O and sees bytes, a device and an inode number.
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import MMCore
import MMProcFS

/// A host file read for import.
struct HostFile {
    /// The path with every symbolic link resolved (what /proc/PID/maps shows).
    var realPath: String
    var bytes: [UInt8]
    var ino: UInt64
    var devMajor: UInt32
    var devMinor: UInt32
}

/// Host file access.
enum HostFiles {
    /// Largest host file `import` reads (256 MiB).
    static let maxImportSize = 256 << 20

    /// Returns the file at `path` (relative paths are resolved against the working directory)
    /// with its bytes, inode and device; throws a message naming the reason when it is missing,
    /// not a regular file, unreadable or larger than `maxImportSize`.
    static func read(_ path: String) throws -> HostFile {
        guard let rp = realpath(path, nil) else { throw LineError(column: 0, message: "cannot import '\(path)': \(String(cString: strerror(errno)))") }
        let real = String(cString: rp)
        free(rp)
        var st = stat()
        guard stat(real, &st) == 0 else { throw LineError(column: 0, message: "cannot import '\(path)': \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw LineError(column: 0, message: "cannot import '\(path)': not a regular file") }
        guard st.st_size <= maxImportSize else {
            throw LineError(column: 0, message: "cannot import '\(path)': \(st.st_size) bytes, more than the \(maxImportSize >> 20) MiB import limit")
        }
        guard let data = FileManager.default.contents(atPath: real) else { throw LineError(column: 0, message: "cannot import '\(path)': not readable") }
        let dev = UInt64(st.st_dev)
        // gnu_dev_major/minor: the 12+20-bit split of a Linux dev_t.
        let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
        let minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~0xff))
        return HostFile(realPath: real, bytes: [UInt8](data), ino: UInt64(st.st_ino), devMajor: major, devMinor: minor)
    }
}

extension Runner {
    /// `import HOST [as PATH]`: reads the host file and creates it in the simulated file system
    /// at PATH, or at its real path (links resolved) with HOST as a symbolic link to it, keeping the
    /// host's device and inode numbers. Throws (at the step) when host files are not allowed, the
    /// host file cannot be read or the simulated path exists.
    func importHostFile(_ host: String, as simPath: String?, _ st: Statement, _ k: Kernel) throws {
        guard options.allowHostFiles else {
            throw LineError(column: st.column, message: "importing host files is disabled here (mmsim run allows it unless --no-host-files is given)")
        }
        let f: HostFile
        do { f = try HostFiles.read(host) } catch let e as LineError { throw LineError(column: st.column, message: e.message) }
        let target = simPath ?? f.realPath
        do {
            try k.fs.create(path: target, size: UInt64(f.bytes.count), data: f.bytes, kind: .disk, ino: f.ino, dev: (f.devMajor, f.devMinor))
            if simPath == nil, host.hasPrefix("/"), host != f.realPath { try k.fs.symlink(host, to: f.realPath) }
        } catch let e as FileSystemError {
            throw LineError(column: st.column, message: "import: \(e)")
        }
        var what: String
        switch Result(catching: { try ElfFile.parse(f.bytes) }) {
        case .success(let elf):
            what = "ELF64 x86-64 \(elf.type == ET_DYN ? "ET_DYN" : "ET_EXEC")"
            what += elf.interpreter.map { ", interpreter \($0)" } ?? ", static"
        case .failure(let e): what = "not loadable: \(e)"
        }
        let name = simPath == nil && host.hasPrefix("/") && host != f.realPath ? "\(host) -> \(f.realPath)" : target
        stepLines.append("imported \(name) (\(f.bytes.count) bytes, \(what))")
    }

    /// `spawn PATH` for an imported file: a new process that execs it with argv [PATH] and the
    /// default environment. Throws (at the step) for synthetic-image options or an exec error.
    func spawnELF(_ spec: SpawnSpec, _ st: Statement, _ k: Kernel) throws {
        if let c = spec.syntheticOptionColumn {
            throw LineError(column: c, message: "'\(spec.image.path)' is an imported file: its layout comes from its ELF headers, so pie, nopie, text=, rodata=, data= and bss= do not apply")
        }
        let path = spec.image.path, argv = spec.image.argv, envp = spec.image.envp
        switch k.spawnELF(path: path, argv: argv, envp: envp, uid: spec.uid) {
        case .success(let t):
            t.oomScoreAdj = spec.oomScoreAdj
            let p = ProcEntry(name: spec.name, task: t)
            procs.append(p); current = p
            spawnedCount += 1
            k.switchTo(t)
            let envPtr = (t.mm?.startStack ?? 0) + 8 * UInt64(argv.count + 2)
            stepLines.append("[pid \(t.pid)] execve(\(JSON.quote(path)), [\(argv.map(JSON.quote).joined(separator: ", "))], 0x\(String(envPtr, radix: 16)) /* \(envp.count) vars */) = 0")
        case .failure(let e):
            throw LineError(column: st.column, message: "spawn: exec failed: \(e)")
        }
    }
}
