import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import MMCore
@testable import MMProcFS

/// Fidelity of exec to the real kernel of this machine: a small C tracer runs a real binary with
/// ASLR off (personality(ADDR_NO_RANDOMIZE)), stops it at its first instruction (PTRACE_TRACEME:
/// the child gets SIGTRAP right after execve) and prints /proc/PID/maps and /proc/PID/auxv. mmsim
/// imports the same files (bytes, st_dev, st_ino), execs them with the same argv and environment,
/// and must print the same maps, byte for byte — every line, [vsyscall] included — the same
/// Vm lines of /proc/PID/status (VmSize … VmRSS, VmPTE), and the same auxv, except the entries the model cannot know: AT_HWCAP, AT_HWCAP2 and AT_MINSIGSTKSZ depend
/// on the CPU (the model uses the reference machine's constants). Needs gcc (installed by .ci/run);
/// the test is skipped with a message when gcc or ptrace is unavailable.
final class ExecFidelityTests: XCTestCase {
    static let tracerSource = """
    #include <stdio.h>
    #include <string.h>
    #include <unistd.h>
    #include <signal.h>
    #include <sys/ptrace.h>
    #include <sys/wait.h>
    #include <sys/personality.h>
    /* tracer PATH ARGV... -- ENV... : stop PATH at its first instruction, print maps and auxv. */
    int main(int argc, char **argv) {
        char *args[64], *env[64]; int na = 0, ne = 0, i = 2;
        for (; i < argc && strcmp(argv[i], "--"); i++) args[na++] = argv[i];
        for (i++; i < argc; i++) env[ne++] = argv[i];
        args[na] = 0; env[ne] = 0;
        pid_t p = fork();
        if (p == 0) {
            personality(ADDR_NO_RANDOMIZE);
            if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(126);
            execve(argv[1], args, env);
            _exit(127);
        }
        int st; waitpid(p, &st, 0);
        if (!WIFSTOPPED(st)) { printf("NOTSTOPPED %d\\n", st); return 2; }
        char path[64]; int c; FILE *f;
        sprintf(path, "/proc/%d/maps", p);
        f = fopen(path, "r"); while ((c = fgetc(f)) != EOF) putchar(c); fclose(f);
        sprintf(path, "/proc/%d/status", p);
        f = fopen(path, "r");
        char line[256];
        while (fgets(line, sizeof line, f)) if (!strncmp(line, "Vm", 2)) printf("STATUS %s", line);
        fclose(f);
        unsigned long v[2];
        sprintf(path, "/proc/%d/auxv", p);
        f = fopen(path, "r");
        while (fread(v, sizeof v, 1, f) == 1 && v[0] != 0) printf("AUXV %lu %lx\\n", v[0], v[1]);
        fclose(f);
        kill(p, SIGKILL); waitpid(p, &st, 0);
        return 0;
    }
    """

    static let envp = ["HOME=/home/user", "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin"]

    var workDir: URL!

    override func setUpWithError() throws {
        workDir = FileManager.default.temporaryDirectory.appendingPathComponent("mmsim-fidelity-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: workDir) }

    /// Runs `exe args`, returning (status, stdout).
    @discardableResult
    func run(_ exe: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The path of gcc, or nil.
    func gcc() -> String? {
        ["/usr/bin/gcc", "/usr/local/bin/gcc", "/bin/gcc"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Builds the tracer; skips the test without gcc.
    func tracer() throws -> String {
        guard let cc = gcc() else { throw XCTSkip("gcc not found: the fidelity test needs it to build its ptrace tracer (.ci/run installs it)") }
        let src = workDir.appendingPathComponent("tracer.c"), exe = workDir.appendingPathComponent("tracer")
        try Data(Self.tracerSource.utf8).write(to: src)
        let (status, _) = try run(cc, ["-O1", "-o", exe.path, src.path])
        XCTAssertEqual(status, 0, "the tracer does not compile")
        return exe.path
    }

    /// The real kernel's maps and auxv of `path` at its first instruction.
    func realExec(_ tracer: String, _ path: String) throws -> (maps: String, auxv: [(UInt64, UInt64)], vm: String) {
        let (status, out) = try run(tracer, [path, path, "--"] + Self.envp)
        if status != 0 || out.hasPrefix("NOTSTOPPED") { throw XCTSkip("ptrace is not permitted here (tracer status \(status)): \(out)") }
        var maps = "", auxv: [(UInt64, UInt64)] = [], vm = ""
        for line in out.split(separator: "\n") {
            if line.hasPrefix("STATUS ") {
                vm += line.dropFirst(7) + "\n"
            } else if line.hasPrefix("AUXV ") {
                let f = line.split(separator: " ")
                auxv.append((UInt64(f[1])!, UInt64(f[2], radix: 16)!))
            } else { maps += line + "\n" }
        }
        return (maps, auxv, vm)
    }

    /// Imports the host file at `path` into `k.fs` under its real path, with a link from `path`.
    func importHost(_ k: Kernel, _ path: String) throws {
        let rp = realpath(path, nil)!
        let real = String(cString: rp)
        free(rp)
        var st = stat()
        XCTAssertEqual(stat(real, &st), 0)
        let dev = UInt64(st.st_dev)
        let major = UInt32(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff)), minor = UInt32((dev & 0xff) | ((dev >> 12) & ~0xff))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: real)))
        if k.fs.lookup(real) == nil {
            try k.fs.create(path: real, size: UInt64(bytes.count), data: bytes, ino: UInt64(st.st_ino), dev: (major, minor))
        }
        if real != path && k.fs.lookup(path) == nil { try k.fs.symlink(path, to: real) }
        if let interp = try ElfFile.parse(bytes).interpreter, k.fs.lookup(interp) == nil { try importHost(k, interp) }
    }

    /// Compares mmsim's exec of `path` with the real kernel's.
    func checkFidelity(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let real = try realExec(try tracer(), path)
        let k = try Kernel(config: MachineConfig(ramBytes: 2 << 30))
        try importHost(k, path)
        let t = try k.spawnELF(path: path, argv: [path], envp: Self.envp, uid: getuid()).get()
        XCTAssertEqual(k.checkInvariants(), [], file: file, line: line)
        let sim = ProcFS.maps(k, t)
        XCTAssertEqual(sim, real.maps, "maps of \(path) after exec differ from the real kernel's", file: file, line: line)
        // The Vm lines of /proc/PID/status: sizes, the resident pages exec faulted in (the
        // argument page and the padzero copies) and the page tables.
        let simVm = ProcFS.status(k, t).split(separator: "\n").filter { $0.hasPrefix("Vm") }.map { $0 + "\n" }.joined()
        XCTAssertEqual(simVm, real.vm, "status Vm lines of \(path) differ", file: file, line: line)
        let skipped: Set<UInt64> = [AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ]
        let simAux = t.mm!.savedAuxv.filter { !skipped.contains($0.type) }.map { "\($0.type)=0x\(String($0.value, radix: 16))" }
        let realAux = real.auxv.filter { !skipped.contains($0.0) }.map { "\($0.0)=0x\(String($0.1, radix: 16))" }
        XCTAssertEqual(simAux, realAux, "auxv of \(path) differs (AT_HWCAP/AT_HWCAP2/AT_MINSIGSTKSZ excluded)", file: file, line: line)
        // The strings and vectors on the stack: argc, argv[0] and envp[0] read back.
        let mm = t.mm!
        XCTAssertEqual(k.peekUserWord(mm, VirtAddr(mm.startStack)), 1, file: file, line: line)
        XCTAssertEqual(k.peekUserWord(mm, VirtAddr(mm.startStack + 8)), mm.argStart, file: file, line: line)
        XCTAssertEqual(k.peekUserWord(mm, VirtAddr(mm.startStack + 24)), mm.envStart, file: file, line: line)
    }

    func testTrueMatchesRealKernel() throws {
        let p = FileManager.default.fileExists(atPath: "/bin/true") ? "/bin/true" : "/usr/bin/true"
        try checkFidelity(p)
    }

    func testLsMatchesRealKernel() throws { try checkFidelity("/usr/bin/ls") }

    /// A static non-PIE and a static PIE, compiled here.
    func testStaticBinariesMatchRealKernel() throws {
        guard let cc = gcc() else { throw XCTSkip("gcc not found: cannot build the static test programs (.ci/run installs gcc)") }
        let src = workDir.appendingPathComponent("hello.c")
        try Data("int x[5000]; int main(void) { return x[10]; }\n".utf8).write(to: src)
        for (name, flag) in [("static", "-static"), ("static-pie", "-static-pie")] {
            let exe = workDir.appendingPathComponent(name).path
            let (status, _) = try run(cc, [flag, "-O1", "-o", exe, src.path])
            guard status == 0 else { throw XCTSkip("gcc \(flag) failed (no static libc? install libc6-dev): cannot test \(name)") }
            try checkFidelity(exe)
        }
    }
}
