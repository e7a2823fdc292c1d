/// The trace commands: `trace` (capture a real program), `import` (lackey logs, address lists,
/// page-number lists), `replay`, `synth`, `sweep` (with `sweep merge`) and `dump-trace`.
import ArgumentParser
import Foundation
import MMCore
import MMScenario
import MMTrace

/// Prints `mmsim: error: MESSAGE` and returns the bad-input exit code to throw.
func badInput(_ message: String) -> ExitCode {
    writeErr("mmsim: error: \(message)\n")
    return ExitCode(ExitStatus.badInput)
}

/// `mmsim trace -o FILE -- PROGRAM ARGS…`.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Record a real program's memory accesses and system calls into a trace file.",
        discussion: """
        Runs PROGRAM under valgrind (--tool=lackey --trace-mem=yes --trace-syscalls=yes, plus -d \
        for the initial address space), reads its log through a pipe and writes the binary trace \
        (docs/trace-format.md) to FILE.tmp-PID, renamed to FILE at the end: an interrupted or \
        failed capture leaves no file. Valgrind runs the program about 1000 times slower than \
        natively. The program's stdout and stderr pass through.

        Examples:
          mmsim trace -o ls.mmt -- ls -l /
          mmsim replay ls.mmt
        """)

    @Option(name: [.short, .customLong("output")], help: "The trace file to write.")
    var output: String
    @Argument(parsing: .captureForPassthrough, help: "-- PROGRAM and its arguments.")
    var command: [String] = []

    /// Runs the command; throws ExitCode(2) after printing the error for bad input.
    func run() throws {
        var cmd = command
        if cmd.first == "--" { cmd.removeFirst() }
        guard let program = cmd.first else { throw badInput("no program given (mmsim trace -o FILE -- PROGRAM ARGS...)") }
        do {
            let r = try capture(program: program, args: Array(cmd.dropFirst()), output: output) { writeErr($0 + "\n") }
            writeErr("mmsim trace: wrote \(r.path): \(r.accesses) accesses, \(r.records) records, \(r.regions) initial regions "
                + "(\(r.lines) lines of valgrind output); the program exited with status \(r.status)\n")
        } catch let e as TextInputError {
            writeErr("\(e)\n")
            throw ExitCode(ExitStatus.badInput)
        } catch let e as CaptureError {
            throw badInput(e.message)
        } catch {
            throw badInput("\(error)")
        }
    }
}

/// `mmsim import FORMAT INPUT -o FILE`.
struct ImportTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert a lackey log, an address list or a page-number list into a trace file.",
        discussion: """
        FORMAT:
          lackey     valgrind --tool=lackey --trace-mem=yes [--trace-syscalls=yes] output ('-' = stdin);
                     --layout FILE takes the initial address space from valgrind's -d log of the same run
                     (--exe PATH names the program among its segments)
          addresses  one access per line: KIND ADDRESS [SIZE], KIND R/L (load), W/S (store), M (modify),
                     I/X (instruction fetch); ADDRESS 0x-hexadecimal or decimal; '#' starts a comment
          pages      a textbook reference string: page numbers separated by spaces, commas or lines,
                     N or Nw (a write); page N is the 4 KiB page at 0x10000000 + N*4096
        addresses and pages get one anonymous region covering the pages they touch. A bad line is
        reported as FILE:LINE:COL (exit 2) and no trace is written.

        Examples:
          mmsim import pages refs.txt -o refs.mmt
          mmsim import addresses addrs.txt -o addrs.mmt
          valgrind -d --tool=lackey --trace-mem=yes --log-fd=9 ./prog 9>prog.log 2>prog.d
          mmsim import lackey prog.log --layout prog.d --exe $PWD/prog -o prog.mmt
        """)

    @Argument(help: "lackey, addresses or pages.")
    var format: String
    @Argument(help: "The input file.")
    var input: String
    @Option(name: [.short, .customLong("output")], help: "The trace file to write.")
    var output: String
    @Option(name: .long, help: "valgrind's -d log of the same run (lackey only): the initial address space.")
    var layout: String?
    @Option(name: .long, help: "The program's absolute path, to mark its segments in the layout (lackey only).")
    var exe: String?

    /// Runs the command; throws ExitCode(2) after printing the error for bad input.
    func run() throws {
        guard ["lackey", "addresses", "pages"].contains(format) else { throw badInput("unknown import format '\(format)' (known: lackey, addresses, pages)") }
        if format != "lackey" && (layout != nil || exe != nil) { throw badInput("--layout and --exe apply to lackey logs only") }
        let w: TraceWriter
        do { w = try TraceWriter(path: output) } catch { throw badInput("\(error)") }
        do {
            switch format {
            case "lackey": try importLackey(input, layout: layout, exe: exe, into: w)
            case "addresses": try importAddressList(input, into: w)
            default: try importPageList(input, into: w)
            }
            try w.finish()
        } catch let e as TextInputError {
            w.abort()
            writeErr("\(e)\n")
            throw ExitCode(ExitStatus.badInput)
        } catch {
            w.abort()
            throw badInput("\(error)")
        }
        writeErr("mmsim import: wrote \(output): \(w.accesses) accesses, \(w.records) records\n")
    }
}

/// Machine flags shared by `replay`.
struct MachineFlags: ParsableArguments {
    @Option(name: .long, help: "A JSON file of machine options (the keys of the flags below); flags override it.")
    var config: String?
    @Option(name: .long, help: "RAM size (e.g. 512M, 4G; default 2G).")
    var ram: String?
    @Option(name: .long, help: "Swap size (default 0).")
    var swap: String?
    @Option(name: .long, help: "Number of CPUs (the trace runs on CPU 0).")
    var cpus: String?
    @Option(name: .long, help: "L1 data TLB for 4K pages ENTRIES:WAYS (default 64:4).")
    var l1d: String?
    @Option(name: .long, help: "L1 data TLB for 2M pages ENTRIES:WAYS (default 32:4).")
    var l1d2m: String?
    @Option(name: .long, help: "L1 data TLB for 1G pages ENTRIES:WAYS (default 4:4).")
    var l1d1g: String?
    @Option(name: .long, help: "L1 instruction TLB for 4K pages ENTRIES:WAYS (default 128:8).")
    var l1i: String?
    @Option(name: .long, help: "L1 instruction TLB for 2M pages ENTRIES:WAYS (default 8:8).")
    var l1i2m: String?
    @Option(name: .long, help: "Second-level TLB for 4K and 2M pages ENTRIES:WAYS (default 1536:12).")
    var stlb: String?
    @Option(name: .long, help: "Second-level TLB for 1G pages ENTRIES:WAYS (default 16:4).")
    var stlb1g: String?
    @Option(name: .customLong("pwc-pml4e"), help: "PML4E-cache entries, 0 = off (default 2).")
    var pwcPML4E: String?
    @Option(name: .customLong("pwc-pdpte"), help: "PDPTE-cache entries, 0 = off (default 4).")
    var pwcPDPTE: String?
    @Option(name: .customLong("pwc-pde"), help: "PDE-cache entries, 0 = off (default 32).")
    var pwcPDE: String?
    @Option(name: .long, help: "PCID on or off (default off).")
    var pcid: String?
    @Option(name: .long, help: "Transparent huge pages: always, madvise or never (default madvise).")
    var thp: String?
    @Option(name: .customLong("fault-around"), help: "Pages a file read fault maps (power of two, 1-512; default 16).")
    var faultAround: String?
    @Option(name: .long, help: "Seed of the machine's random source.")
    var seed: String?
    @Option(name: .long, help: "Paging format the kernel runs on: x86-64 (default), x86-64-la57, arm64-4k-39/42/47/48, sv39, sv48, sv57, x86-32, x86-pae, arm32.")
    var arch: String?
    @Option(name: .long, help: "Boot-time hugetlb pools, e.g. 2M:512,1G:2 (default none).")
    var hugepages: String?

    /// Returns the machine configuration; throws MachineOptionError.
    func machine() throws -> MachineConfig {
        var c = MachineConfig()
        if let f = config { try applyMachineConfigFile(&c, path: f) }
        let pairs: [(String, String?)] = [("ram", ram), ("swap", swap), ("cpus", cpus), ("l1d", l1d), ("l1d2m", l1d2m), ("l1d1g", l1d1g), ("l1i", l1i), ("l1i2m", l1i2m),
                                          ("stlb", stlb), ("stlb1g", stlb1g), ("pwc-pml4e", pwcPML4E), ("pwc-pdpte", pwcPDPTE), ("pwc-pde", pwcPDE),
                                          ("pcid", pcid), ("thp", thp), ("fault-around", faultAround), ("seed", seed), ("arch", arch), ("hugepages", hugepages)]
        for (k, v) in pairs { if let v = v { try applyMachineOption(&c, k, v) } }
        return c
    }
}

/// `mmsim replay FILE`.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a trace through a simulated machine and report TLB, page-walk and fault counts.",
        discussion: """
        The trace is streamed (memory use does not grow with its length). The initial address \
        space comes from the trace; system calls are repeated with their recorded results. \
        Reports per process and in total: accesses by kind, L1 dTLB/iTLB and STLB hits and misses, \
        page walks and the page-table entries they read, pgfault/pgmajfault (vmstat names), COW \
        (write-protect) faults, accesses outside any mapping (counted and listed, never mapped), \
        and the final VmRSS/RssAnon/RssFile/RssShmem/VmPTE in kB. A progress bar is drawn on \
        stderr when it is a terminal. A corrupt or truncated trace exits 2.

        Examples:
          mmsim replay ls.mmt
          mmsim replay seq.mmt --stlb 2048:16 --pcid on --json
          mmsim replay prog.mmt --config machine.json --vmas --csv
        """)

    @Argument(help: "The trace file ('-' for standard input).")
    var file: String
    @OptionGroup var machine: MachineFlags
    @Flag(name: .long, help: "Add the per-VMA breakdown (faults and resident pages of each final VMA).")
    var vmas = false
    @Flag(name: .long, help: "Print one JSON document.")
    var json = false
    @Flag(name: .long, help: "Print CSV: one row per process and a total row.")
    var csv = false
    @Flag(name: .long, help: "Never draw the progress bar.")
    var noProgress = false
    @Flag(name: .long, help: "Narrate the setup, each system call and the first 3 faults (kernel steps indented) before the report.")
    var explain = false

    /// Runs the command; throws ExitCode(2) after printing the error for bad input.
    func run() throws {
        if json && csv { throw badInput("--json and --csv are exclusive") }
        let config: MachineConfig
        do { config = try machine.machine() } catch { throw badInput("\(error)") }
        let reader: TraceReader
        do { reader = try TraceReader(path: file) } catch { throw badInput("\(error)") }
        let r: Replayer
        do { r = try Replayer(config: config) } catch { throw badInput("cannot boot the machine: \(error)") }
        r.perVMA = vmas
        var narration = ""
        if explain { r.explain = { narration += "    " + $0 + "\n" } }
        let tty = isatty(2) == 1 && !noProgress
        if tty {
            r.progress = { f in
                let w = 40, n = Int(f * Double(w))
                writeErr("\r[" + String(repeating: "#", count: n) + String(repeating: " ", count: w - n) + "] \(Int(f * 100))%")
            }
        }
        let report: ReplayReport
        do { report = try r.run(reader) } catch {
            if tty { writeErr("\r\u{1b}[K") }
            throw badInput("\(error)")
        }
        if tty { writeErr("\r\u{1b}[K") }
        if explain && !json && !csv { writeOut("== explain\n" + narration + "\n") }
        writeOut(json ? report.json() : csv ? report.csv() : report.text())
    }
}

/// `mmsim synth PATTERN -o FILE`.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic trace: sequential, strided, random, zipf or pointer-chase accesses.",
        discussion: """
        The trace has one anonymous read-write region of --span bytes at --base and --length \
        accesses of --size bytes as process 1; the same parameters and --seed give the same file.
          sequential     base, base+stride, ... wrapping at the span (stride default: the access size)
          strided        the same with a default stride of 4096
          random         uniformly random aligned addresses
          zipf           pages drawn from a Zipf distribution (--zipf exponent; rank 1 = first page)
          pointer-chase  a walk of a random cyclic permutation of the span's 64-byte lines

        Examples:
          mmsim synth sequential --span 64M --length 10000000 -o seq.mmt
          mmsim synth random --span 1G --length 1000000 --writes 0.3 --seed 7 -o rand.mmt
        """)

    @Argument(help: "sequential, strided, random, zipf or pointer-chase.")
    var pattern: String
    @Option(name: [.short, .customLong("output")], help: "The trace file to write.")
    var output: String
    @Option(name: .long, help: "Bytes of the region (multiple of 4096; K, M, G suffixes).")
    var span: String
    @Option(name: .long, help: "Number of accesses.")
    var length: UInt64
    @Option(name: .long, help: "Bytes between consecutive accesses (sequential, strided).")
    var stride: String?
    @Option(name: .long, help: "Fraction of stores, 0 to 1 (default 0).")
    var writes: Double = 0
    @Option(name: .long, help: "Bytes per access: 1, 2, 4, 8, 16, 32 or 64 (default 8).")
    var size: UInt32 = 8
    @Option(name: .long, help: "Zipf exponent (default 1.0).")
    var zipf: Double = 1.0
    @Option(name: .long, help: "Random seed (default 1).")
    var seed: UInt64 = 1
    @Option(name: .long, help: "Start of the region (default 0x7f0000000000).")
    var base: String = "0x7f0000000000"

    /// Runs the command; throws ExitCode(2) after printing the error for bad input.
    func run() throws {
        guard let pat = SynthPattern(rawValue: pattern) else {
            throw badInput("unknown pattern '\(pattern)' (known: \(SynthPattern.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let sp = parseSize(span) else { throw badInput("--span: bad size '\(span)'") }
        var st: UInt64? = nil
        if let s = stride { guard let v = parseSize(s) else { throw badInput("--stride: bad size '\(s)'") }; st = v }
        guard let b = parseSize(base) else { throw badInput("--base: bad address '\(base)'") }
        let p = SynthParams(pattern: pat, span: sp, length: length, stride: st, writeFraction: writes, accessSize: size, zipf: zipf, seed: seed, base: b)
        if let e = p.validationError() { throw badInput(e) }
        do {
            let w = try TraceWriter(path: output)
            writeSynth(p, into: w)
            try w.finish()
            writeErr("mmsim synth: wrote \(output): \(w.accesses) accesses\n")
        } catch { throw badInput("\(error)") }
    }
}

/// `mmsim sweep`: run (default) and merge.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Replay traces over a grid of machine configurations, one table row per run.",
        subcommands: [SweepRunCommand.self, SweepMergeCommand.self],
        defaultSubcommand: SweepRunCommand.self)
}

/// `mmsim sweep [run] SPEC`.
struct SweepRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a sweep specification (the default subcommand: mmsim sweep SPEC).",
        discussion: """
        SPEC is JSON: {"traces": [PATHS...], "grid": {OPTION: [VALUES...]}, "fixed": {OPTION: VALUE}, \
        "format": "csv" | "jsonl"}. OPTION is a replay machine option (ram, swap, cpus, l1d, l1i, \
        stlb, pcid, thp, fault-around, seed, arch, hugepages). Runs are numbered from 0: traces in order, then the \
        grid with its keys sorted and the last key varying fastest. Each run boots its own machine; \
        --jobs runs in parallel (default: every core). Rows come out in run order: run, \
        total_runs, trace, the machine options, and the replay totals.
        --shard K/N runs only the runs whose number is K-1 modulo N; 'mmsim sweep merge' joins \
        the shards. --slurm submits N shards as a Slurm job array (sbatch --array=1-N --wait), \
        waits, and merges their parts (written under --work-dir) into --output.

        Examples:
          mmsim sweep tlb.json -o tlb.csv
          mmsim sweep tlb.json --shard 2/4 -o part-2.csv
          mmsim sweep merge part-*.csv -o tlb.csv
          mmsim sweep tlb.json --slurm 8 -o tlb.csv
        """)

    @Argument(help: "The sweep specification (JSON).")
    var spec: String
    @Option(name: [.short, .customLong("output")], help: "The table to write (default: standard output).")
    var output: String?
    @Option(name: .long, help: "Runs in parallel (default: the number of cores).")
    var jobs: Int?
    @Option(name: .long, help: "Run only shard K of N (K/N, 1 <= K <= N).")
    var shard: String?
    @Option(name: .long, help: "Submit as a Slurm job array of N shards, wait and merge.")
    var slurm: Int?
    @Option(name: .customLong("work-dir"), help: "Where --slurm writes its script, logs and parts (default: OUTPUT.parts).")
    var workDir: String?

    /// Runs the command; throws ExitCode(2) after printing the error for bad input.
    func run() throws {
        guard let data = FileManager.default.contents(atPath: spec) else { throw badInput("cannot read '\(spec)'") }
        let s: SweepSpec
        do { s = try SweepSpec.parse(data, path: spec) } catch { throw badInput("\(error)") }
        for t in s.traces where !FileManager.default.isReadableFile(atPath: t) { throw badInput("\(spec): trace '\(t)' cannot be read") }
        let j = jobs ?? ProcessInfo.processInfo.activeProcessorCount
        guard j >= 1 else { throw badInput("--jobs must be at least 1") }
        if let n = slurm { try runSlurm(s, tasks: n, jobs: j); return }
        var sh = (1, 1)
        if let t = shard { guard let p = parseShard(t) else { throw badInput("--shard: expected K/N with 1 <= K <= N, got '\(t)'") }; sh = p }
        let rows: [String]
        do { rows = try runSweep(s, shard: sh, jobs: j) } catch { throw badInput("\(error)") }
        let text = (sweepHeader(s.format).map { [$0] } ?? []) + rows
        let out = text.map { $0 + "\n" }.joined()
        if let o = output { do { try writeFileAtomically(o, out) } catch { throw badInput("\(error)") } } else { writeOut(out) }
    }

    /// Submits the sweep as a job array, waits for it, and merges the parts.
    func runSlurm(_ s: SweepSpec, tasks: Int, jobs: Int) throws {
        guard tasks >= 1, tasks <= 10_000 else { throw badInput("--slurm: expected 1 to 10000 array tasks") }
        guard let out = output else { throw badInput("--slurm needs --output (the merged table)") }
        guard let sbatch = resolveProgram("sbatch") else { throw badInput("--slurm: sbatch not found (is Slurm installed?)") }
        let dir = workDir ?? out + ".parts"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let absDir = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        let absSpec = spec.hasPrefix("/") ? spec : FileManager.default.currentDirectoryPath + "/" + spec
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let script = absDir + "/sweep.sbatch"
        do { try writeFileAtomically(script, slurmScript(mmsim: me, spec: absSpec, tasks: tasks, dir: absDir, jobs: jobs)) } catch { throw badInput("\(error)") }
        for k in 1...tasks { unlink(absDir + "/part-\(k)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: sbatch)
        p.arguments = ["--wait", "--parsable", script]
        let pipe = Pipe()
        p.standardOutput = pipe
        do { try p.run() } catch { throw badInput("cannot run sbatch: \(error)") }
        let jobID = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        p.waitUntilExit()
        writeErr("mmsim sweep: Slurm job \(jobID) finished (sbatch exit status \(p.terminationStatus))\n")
        var parts: [(name: String, text: String)] = []
        for k in 1...tasks {
            let f = absDir + "/part-\(k)"
            guard let d = FileManager.default.contents(atPath: f) else { throw badInput("Slurm task \(k) wrote no \(f) (see \(absDir)/slurm-\(jobID)_\(k).out)") }
            parts.append((f, String(decoding: d, as: UTF8.self)))
        }
        do { try writeFileAtomically(out, try mergeSweepTables(parts)) } catch { throw badInput("\(error)") }
        writeErr("mmsim sweep: merged \(tasks) parts into \(out)\n")
    }
}

/// `mmsim sweep merge PARTS… [-o FILE]`.
struct SweepMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the tables of sweep shards into one, in run order.",
        discussion: """
        Every part must be a table written by 'mmsim sweep --shard' (CSV with its header, or JSON \
        lines) of the same sweep. A run that appears twice or is missing is an error (exit 2).

        Examples:
          mmsim sweep merge part-1.csv part-2.csv -o sweep.csv
        """)

    @Argument(help: "The shard tables.")
    var parts: [String]
    @Option(name: [.short, .customLong("output")], help: "The merged table (default: standard output).")
    var output: String?

    /// Runs the command; throws ExitCode(2) after printing the error for bad input.
    func run() throws {
        guard !parts.isEmpty else { throw badInput("no tables to merge") }
        var files: [(name: String, text: String)] = []
        for p in parts {
            guard let d = FileManager.default.contents(atPath: p) else { throw badInput("cannot read '\(p)'") }
            files.append((p, String(decoding: d, as: UTF8.self)))
        }
        let merged: String
        do { merged = try mergeSweepTables(files) } catch { throw badInput("\(error)") }
        if let o = output { do { try writeFileAtomically(o, merged) } catch { throw badInput("\(error)") } } else { writeOut(merged) }
    }
}

/// `mmsim dump-trace FILE`: the records of a trace as text.
struct DumpTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump-trace",
        abstract: "Print the records of a trace file as text (lackey-style accesses).",
        discussion: """
        One line per record: accesses as lackey prints them ('I  addr,size', ' L addr,size'...), \
        and 'thread', 'syscall', 'region', 'file' and 'meta' lines; then the END totals. Checks \
        every checksum: a corrupt trace exits 2 after the records before the damage.

        Examples:
          mmsim dump-trace seq.mmt --limit 20
        """)

    @Argument(help: "The trace file.")
    var file: String
    @Option(name: .long, help: "Print at most N records (the whole file is still checked).")
    var limit: Int?

    /// Runs the command; throws ExitCode(2) after printing the error for bad input.
    func run() throws {
        var n = 0
        var out = ""
        do {
            let r = try TraceReader(path: file)
            try r.forEach { e in
                n += 1
                if let l = limit, n > l { return }
                switch e {
                case .access(let k, let a, let s):
                    out += (k == .instr ? "I  " : " \(k.letter) ") + String(a, radix: 16) + ",\(s)\n"
                case .thread(let p, let t): out += "thread \(p) \(t)\n"
                case .syscall(let s):
                    out += "syscall \(SyscallNr.names[s.nr] ?? String(s.nr))(" + s.args.map { hex($0) }.joined(separator: ", ") + ") = "
                        + (s.result < 0 ? "-\(-s.result)" : hex(UInt64(s.result))) + (s.path.isEmpty ? "" : " \(s.path)") + "\n"
                case .region(let g):
                    out += "region \(hex(g.start))-\(hex(g.end)) \(g.prot & 1 != 0 ? "r" : "-")\(g.prot & 2 != 0 ? "w" : "-")\(g.prot & 4 != 0 ? "x" : "-") \(g.kind.name)"
                        + (g.path.isEmpty ? "" : " \(hex(g.offset)) \(g.path)") + "\n"
                case .file(let p, let s, let h): out += "file \(p) size \(s) head \(h.count) bytes\n"
                case .meta(let k, let v): out += "meta \(k) \(v)\n"
                }
                if out.utf8.count > 1 << 16 { writeOut(out); out = "" }
            }
            out += "end \(r.endRecords ?? 0) records, \(r.endAccesses ?? 0) accesses\n"
            writeOut(out)
        } catch {
            writeOut(out)
            throw badInput("\(error)")
        }
    }
}
