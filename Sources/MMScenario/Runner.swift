/// Runs a parsed scenario against a simulated kernel, printing what a real system would show.
import MMCore
import MMProcFS

/// How a scenario is run.
public struct RunOptions: Sendable, Equatable {
    /// Narrate each mechanism (`kernel.explain`), indented under the step.
    public var explain: Bool
    /// Check the kernel's invariants after every step; a violation fails the run.
    public var check: Bool
    /// Print one JSON document instead of the transcript.
    public var json: Bool
    /// Whether `import` may read files of the host (on for `mmsim run`; off for embedders such
    /// as a web server).
    public var allowHostFiles: Bool
    /// Seed of the machine's random source; overrides the scenario's `machine seed=N`.
    public var seed: UInt64?
    public init(explain: Bool = false, check: Bool = false, json: Bool = false, allowHostFiles: Bool = false, seed: UInt64? = nil) {
        self.explain = explain; self.check = check; self.json = json
        self.allowHostFiles = allowHostFiles; self.seed = seed
    }
}

/// What the runner reports to `Runner.onStep` after each step (for embedders such as the web
/// visualizer): the step, how it ended, and what it printed.
public struct StepReport: Sendable {
    /// 0-based index of the step among the scenario's steps.
    public var index: Int
    /// 1-based source line and column of the step.
    public var line: Int, column: Int
    /// The step's source text.
    public var text: String
    /// `ok`, `error`, `skipped`, `killed`, `panic` or `failed`.
    public var result: String
    /// The lines the step printed, its `--explain` narration (when enabled) and its new kernel log lines.
    public var output: [String], narration: [String], kernelLog: [String]
    /// The pid of the process the step acted on, if any, and the selected CPU.
    public var pid: Int32?, cpu: Int
    /// The scenario's name of each process it started (`spawn ... as NAME`, `fork as NAME`), by pid.
    public var names: [Int32: String]
}

/// Exit statuses of `mmsim`.
public enum ExitStatus {
    /// The scenario ran to its end.
    public static let success: Int32 = 0
    /// An expectation, an invariant or a runtime evaluation failed.
    public static let failure: Int32 = 1
    /// The input could not be parsed, or the command line was wrong.
    public static let badInput: Int32 = 2
}

/// How one step ended.
enum StepResult: String {
    /// It completed (a system call may still have returned an error: see `error`).
    case ok
    /// A system call or library call reported failure (-1 / NULL).
    case error
    /// Not run: the current process is dead, or the machine has halted.
    case skipped
    /// The process making the step was killed during it.
    case killed
    /// The kernel panicked during the step.
    case panic
    /// An expectation or invariant check failed; the run stops.
    case failed
}

/// One process the scenario spawned.
final class ProcEntry {
    let name: String
    /// The task, or nil if spawn failed.
    let task: Task?
    init(name: String, task: Task?) { self.name = name; self.task = task }
}

/// Executes a scenario step by step.
public final class Runner {
    public let scenario: Scenario
    public let options: RunOptions
    /// The machine; nil until `run` boots it.
    public private(set) var kernel: Kernel?

    var procs: [ProcEntry] = []
    /// The process the scenario acts on, on each CPU.
    var currentByCPU: [ProcEntry?] = [nil]
    /// The CPU the scenario acts on (`cpu K`, `use NAME on cpu K`).
    var selectedCPU = 0
    /// The process the scenario acts on: the selected CPU's.
    var current: ProcEntry? {
        get { currentByCPU[selectedCPU] }
        set { currentByCPU[selectedCPU] = newValue }
    }
    /// vfork-style calls whose parent still waits: printed as resumed when it wakes.
    var vforkPending: [(parent: Task, child: Task, call: String)] = []
    var vars: [String: UInt64] = [:]
    var spawnedCount = 0
    var halted = false
    /// The 32-bit kernel view set up by `highmem32` (KernelMemoryCommands.swift).
    var highmem: Highmem32?

    // Per-step buffers.
    var stepLines: [String] = []
    var narration: [String] = []
    var reported: Set<PID> = []
    var stepResult = StepResult.ok
    var jsonSteps: [JSON] = []
    /// The counters at the previous `vmstat` sample (nil before the first).
    var vmstatPrev: MonitorSample?

    /// Called after each step with its report and the kernel; returning false ends the run after
    /// that step (embedders use it for step and time limits). Nil by default.
    public var onStep: ((StepReport, Kernel) -> Bool)?

    public init(scenario: Scenario, options: RunOptions = RunOptions()) {
        self.scenario = scenario
        self.options = options
    }

    /// Runs every step, writing the transcript (or the JSON document) through `out` and
    /// diagnostics through `err`; returns the exit status (0, or 1 on a failed expectation,
    /// invariant or evaluation).
    public func run(out: (String) -> Void, err: (String) -> Void) -> Int32 {
        let k: Kernel
        do {
            var config = scenario.machine
            if let s = options.seed { config.seed = s }
            k = try Kernel(config: config)
        } catch {
            let line = scenario.lines.firstIndex(where: { $0.trimmingLeadingSpaces.hasPrefix("machine") }).map { $0 + 1 } ?? 1
            let e = ScenarioError(file: scenario.file, line: line, column: 1, message: "cannot boot the machine: \(error)",
                                  sourceLine: line <= scenario.lines.count ? scenario.lines[line - 1] : "")
            err(e.rendered)
            return ExitStatus.failure
        }
        kernel = k
        currentByCPU = Array(repeating: nil, count: k.cpus.count)
        if options.explain { k.explain = { [weak self] line in self?.narration.append(line) } }
        var failure: ScenarioError? = nil
        var skippedCount = 0
        for (index, st) in scenario.statements.enumerated() {
            stepLines = []; narration = []; reported = []; stepResult = .ok
            k.beginExplainStep()
            let logStart = k.log.count
            let before = k.allTasks.filter { $0.state.isAlive }
            if halted {
                stepResult = .skipped
            } else {
                do {
                    _ = k.selectCPU(selectedCPU)
                    try execute(st, k)
                    resumeVforkParents()
                    k.kswapdRunIfWoken()   // the step ends: a woken kswapd gets the CPU
                } catch let e as LineError {
                    failure = ScenarioError(file: scenario.file, line: st.line, column: e.column, message: e.message,
                                            sourceLine: scenario.lines[st.line - 1])
                    stepResult = .failed
                } catch {
                    failure = ScenarioError(file: scenario.file, line: st.line, column: st.column, message: "\(error)",
                                            sourceLine: scenario.lines[st.line - 1])
                    stepResult = .failed
                }
            }
            if k.explainFaultsSuppressed > 0 {
                let n = k.explainFaultsSuppressed
                narration.append("(\(n) more page fault\(n == 1 ? "" : "s") in this step, handled the same way, not narrated)")
            }
            if let f = st.filter, stepResult != .error { stepLines = stepLines.filter { $0.contains(f) } }
            // Processes that died during the step without a line of their own yet.
            for t in before where !t.state.isAlive && !reported.contains(t.pid) {
                if case .killed(let sig) = t.state {
                    emit(t, "+++ killed by \(sig.name)\(sig == .SIGKILL ? "" : " (core dumped)") +++")
                    if t === current?.task, stepResult == .ok || stepResult == .error { stepResult = .killed }
                }
            }
            let newLog = k.log.count > logStart ? k.log[logStart...].map(\.formatted) : []
            if !halted, let msg = k.panicMessage {
                halted = true
                if stepResult != .failed { stepResult = .panic }
                if !newLog.contains(where: { $0.contains(msg) }) { stepLines.append(msg) }
            }
            if stepResult == .skipped { skippedCount += 1 }
            if failure == nil, options.check, stepResult != .skipped {
                let violations = k.checkInvariants()
                if !violations.isEmpty {
                    stepResult = .failed
                    failure = ScenarioError(file: scenario.file, line: st.line, column: st.column,
                                            message: "invariant violated after this step: " + violations.joined(separator: "; "),
                                            sourceLine: scenario.lines[st.line - 1])
                }
            }
            var haltNote: String? = nil
            if halted, stepResult == .panic, index + 1 < scenario.statements.count {
                let n = scenario.statements.count - index - 1
                haltNote = "(the machine has halted: the remaining \(n) step\(n == 1 ? " is" : "s are") skipped)"
            }
            if options.json {
                var obj: [(String, JSON)] = [
                    ("line", .int(Int64(st.line))), ("command", .string(st.text)),
                    ("pid", current?.task.map { .int(Int64($0.pid)) } ?? .null),
                    ("result", .string(stepResult.rawValue)),
                    ("output", .array(stepLines.map { .string($0) })),
                ]
                if options.explain { obj.append(("explain", .array(narration.map { .string($0) }))) }
                obj.append(("kernel_log", .array(newLog.map { .string($0) })))
                jsonSteps.append(.object(obj))
            } else if stepResult != .skipped || !stepLines.isEmpty {
                var text = ""
                if options.explain { text += "== line \(st.line): \(st.text)\n" + narration.map { "    " + $0 + "\n" }.joined() }
                text += stepLines.map { $0 + "\n" }.joined()
                text += newLog.map { $0 + "\n" }.joined()
                if let h = haltNote { text += h + "\n" }
                if !text.isEmpty { out(text) }
            }
            if let hook = onStep {
                let report = StepReport(index: index, line: st.line, column: st.column, text: st.text, result: stepResult.rawValue,
                                        output: stepLines, narration: narration, kernelLog: newLog,
                                        pid: current?.task.map { $0.pid }, cpu: selectedCPU,
                                        names: Dictionary(procs.compactMap { p in p.task.map { ($0.pid, p.name) } },
                                                          uniquingKeysWith: { first, _ in first }))
                if !hook(report, k) { break }
            }
            if failure != nil { break }
        }
        let status = failure == nil ? ExitStatus.success : ExitStatus.failure
        if options.json {
            out(summaryJSON(k, status: status, skipped: skippedCount, failure: failure).rendered() + "\n")
        }
        if let f = failure { err(f.rendered) }
        return status
    }

    /// Returns the whole-run JSON document.
    func summaryJSON(_ k: Kernel, status: Int32, skipped: Int, failure: ScenarioError?) -> JSON {
        let m = scenario.machine
        func geo(_ g: TLBGeometry) -> JSON { .object([("entries", .int(Int64(g.entries))), ("ways", .int(Int64(g.ways)))]) }
        let machine: JSON = .object([
            ("ram_bytes", .uint(m.ramBytes)), ("swap_bytes", .uint(m.swapBytes)),
            ("min_free_kbytes", m.minFreeKbytes.map { .int(Int64($0)) } ?? .null),
            ("tlb", .object([("l1d", geo(m.tlb.l1d)), ("l1i", geo(m.tlb.l1i)), ("stlb", geo(m.tlb.stlb)), ("pcid", .bool(m.tlb.pcid)),
                             ("l1d2m", geo(m.tlb.l1d2M)), ("l1d1g", geo(m.tlb.l1d1G)), ("l1i2m", geo(m.tlb.l1i2M)),
                             ("stlb1g", geo(m.tlb.stlb1G)),
                             ("pwc", .object([("pml4e", .int(Int64(m.tlb.pwcPML4E))), ("pdpte", .int(Int64(m.tlb.pwcPDPTE))),
                                              ("pde", .int(Int64(m.tlb.pwcPDE)))]))])),
        ])
        let processes: [JSON] = procs.compactMap { p in
            guard let t = p.task else { return nil }
            return .object([("pid", .int(Int64(t.pid))), ("name", .string(p.name)), ("state", .string(Runner.stateText(t.state))),
                            ("min_flt", .int(Int64(t.minFlt))), ("maj_flt", .int(Int64(t.majFlt)))])
        }
        let failureJSON: JSON = failure.map {
            .object([("line", .int(Int64($0.line))), ("column", .int(Int64($0.column))), ("message", .string($0.message))])
        } ?? .null
        let summary: JSON = .object([
            ("exit_status", .int(Int64(status))),
            ("steps", .int(Int64(jsonSteps.count))), ("skipped", .int(Int64(skipped))),
            ("vmstat", .object([("pgfault", .uint(k.vmstat.pgfault)), ("pgmajfault", .uint(k.vmstat.pgmajfault)),
                                ("pgalloc", .uint(k.vmstat.pgalloc)), ("pgfree", .uint(k.vmstat.pgfree)),
                                ("oom_kill", .uint(k.vmstat.oomKill))])),
            ("processes", .array(processes)),
            ("panic", k.panicMessage.map { .string($0) } ?? .null),
            ("failure", failureJSON),
        ])
        return .object([("file", .string(scenario.file)), ("machine", machine), ("steps", .array(jsonSteps)), ("summary", summary)])
    }

    /// `running`, `exited 0`, `killed SIGSEGV`.
    static func stateText(_ s: TaskState) -> String {
        switch s {
        case .running: return "running"
        case .exited(let c): return "exited \(c)"
        case .killed(let sig): return "killed \(sig.name)"
        }
    }

    /// Appends a line printed on behalf of `task`, prefixed `[pid N] ` once several processes exist.
    func emit(_ task: Task?, _ line: String) {
        if let t = task, spawnedCount > 1 { stepLines.append("[pid \(t.pid)] " + line) } else { stepLines.append(line) }
    }

    /// Appends lines printed by the system (procfs, free, sysctl): never prefixed.
    func emitSystem(_ text: String) {
        guard !text.isEmpty else { return }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        stepLines.append(contentsOf: lines)
    }

    /// Reports a failed `echo VALUE > path` into a sysfs file as bash prints it (EACCES: the shell
    /// could not open the file; any other error: the write failed) and marks the step failed;
    /// does nothing when `error` is nil.
    func reportSysfsWrite(_ error: Errno?, _ path: String) {
        guard let e = error else { return }
        stepResult = .error
        stepLines.append(e == .EACCES ? "bash: \(path): Permission denied" : "bash: echo: write error: \(e.message)")
    }

    /// Returns the value of `e` under the current variables; throws a `LineError` when it cannot be computed.
    func value(_ e: Expr) throws -> UInt64 { try e.evaluate { self.vars[$0] } }

    /// Returns the printed form of a syscall result: `= 0x…`, `= 0` or `= -1 ENOMEM (…)`.
    func result<T>(_ r: Result<T, Errno>, _ show: (T) -> String) -> String {
        switch r {
        case .success(let v): return show(v)
        case .failure(let e): stepResult = .error; return Fmt.errno(e)
        }
    }

    /// Prints what a failed user access does to `task`: the signal lines of strace, or nothing for a panic.
    func accessFailed(_ f: AccessFailure, _ task: Task, vmas: VMATree?) {
        switch f {
        case .signal(let sig, let va):
            let code: String
            switch sig {
            case .SIGSEGV: code = vmas?.vmaLookup(va) == nil ? "SEGV_MAPERR" : "SEGV_ACCERR"
            case .SIGBUS: code = "BUS_ADRERR"
            case .SIGKILL: code = "SI_KERNEL"
            }
            emit(task, "--- \(sig.name) {si_signo=\(sig.name), si_code=\(code), si_addr=\(Fmt.ptr(va.raw))} ---")
            emit(task, "+++ killed by \(sig.name)\(sig == .SIGKILL ? "" : " (core dumped)") +++")
            reported.insert(task.pid)
            stepResult = .killed
        case .oomKilled:
            emit(task, "+++ killed by SIGKILL +++")
            reported.insert(task.pid)
            stepResult = .killed
        case .panic:
            stepResult = .panic
        case .notRunning:
            stepResult = .skipped
        }
    }

    /// Returns the text of `segs` with `${…}` values filled in; throws a `LineError` for a value that cannot be computed.
    func interpolate(_ segs: [Segment]) throws -> String {
        var s = ""
        for seg in segs {
            switch seg {
            case .text(let t): s += t
            case .value(let e, let f):
                let v = try value(e)
                s += f == .hex ? Fmt.hex(v) : String(v)
            }
        }
        return s
    }

    /// Prints `<... vfork resumed>) = CHILD` for every parent whose vfork wait ended in this step.
    func resumeVforkParents() {
        vforkPending.removeAll { p in
            guard p.parent.vforkChild == nil else { return false }
            if p.parent.state.isAlive { emit(p.parent, "<... \(p.call) resumed>) = \(p.child.pid)") }
            return true
        }
    }

    /// Returns the most recent process called `name`.
    func process(named name: String) -> ProcEntry? { procs.last { $0.name == name } }

    /// Runs one statement; throws a `LineError` for a runtime failure that stops the scenario.
    func execute(_ st: Statement, _ k: Kernel) throws {
        let cmd = st.command
        var task: Task! = nil
        if cmd.isProcessStep {
            guard let t = current?.task, t.state.isAlive else { stepResult = .skipped; return }
            if t.isKernelThread, case .exit = cmd {} else if t.isKernelThread {
                throw LineError(column: st.column, message: "kernel thread '\(t.comm)' has no user address space")
            }
            if let child = t.vforkChild {
                throw LineError(column: st.column, message: "\(SchedError.vforkWaiting(pid: t.pid, child: child.pid)); 'use' the child or let it exit first")
            }
            task = t
            k.switchTo(t)
        }
        switch cmd {
        case .sysctl(let settings):
            for (name, v) in settings {
                if let v = v { set(name, v, k) }
                emitSystem("\(name) = \(get(name, k))")
            }
        case .spawn(let spec) where k.fs.lookup(spec.image.path).map({ !$0.isProgramImage }) ?? false:
            try spawnELF(spec, st, k)
        case .spawn(let spec):
            let vars = "/* \(spec.image.envp.count) var\(spec.image.envp.count == 1 ? "" : "s") */"
            var argv = "execve(\(JSON.quote(spec.image.path)), [\(spec.image.argv.map(JSON.quote).joined(separator: ", "))], \(vars))"
            switch k.spawn(spec.image) {
            case .success(let t):
                if let mm = t.mm {
                    // envp points just past argv's NULL on the new stack (argc, argv[], NULL, envp[]).
                    let envp = mm.startStack + 8 * UInt64(spec.image.argv.count + 2)
                    argv = "execve(\(JSON.quote(spec.image.path)), [\(spec.image.argv.map(JSON.quote).joined(separator: ", "))], 0x\(String(envp, radix: 16)) \(vars))"
                }
                t.oomScoreAdj = spec.oomScoreAdj
                t.uid = spec.uid
                let p = ProcEntry(name: spec.name, task: t)
                procs.append(p); current = p
                spawnedCount += 1
                k.switchTo(t)
                stepLines.append("[pid \(t.pid)] \(argv) = 0")
            case .failure(let e):
                let p = ProcEntry(name: spec.name, task: nil)
                procs.append(p); current = p
                stepResult = .error
                stepLines.append("\(argv) = \(Fmt.errno(e))")
            }
        case .fork(let name):
            switch k.fork(task) {
            case .success(let c):
                procs.append(ProcEntry(name: name, task: c))
                spawnedCount += 1
                emit(task, "fork() = \(c.pid)")
            case .failure(let e):
                procs.append(ProcEntry(name: name, task: nil))
                stepResult = .error
                emit(task, "fork() = \(Fmt.errno(e))")
            }
            k.switchTo(task)
        case .kthread(let name):
            let t = k.spawnKernelThread(name)
            let p = ProcEntry(name: name, task: t)
            procs.append(p)
            spawnedCount += 1
            stepLines.append("kernel thread \(name): pid \(t.pid), no mm (it runs on a borrowed active_mm)")
        case .thread(let name):
            let flags = "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"
            switch k.cloneThread(task) {
            case .success(let c):
                procs.append(ProcEntry(name: name, task: c))
                spawnedCount += 1
                emit(task, "clone3({flags=\(flags), stack=0x\(String(c.sp + 0x10 - task.mm!.stackRlimit, radix: 16)), stack_size=0x\(String(task.mm!.stackRlimit, radix: 16))}) = \(c.pid)")
            case .failure(let e):
                procs.append(ProcEntry(name: name, task: nil))
                stepResult = .error
                emit(task, "clone3({flags=\(flags)}) = \(Fmt.errno(e))")
            }
            k.switchTo(task)
        case .use(let name, let cpu):
            let target = cpu ?? selectedCPU
            let p = process(named: name)
            if let t = p?.task, t.state.isAlive {
                if case .failure(let e) = k.schedule(t, on: target) {
                    throw LineError(column: st.column, message: "cannot run '\(name)' on CPU\(target): \(e)")
                }
            }
            selectedCPU = target
            _ = k.selectCPU(target)
            current = p
        case .cpu(let n):
            selectedCPU = n
            _ = k.selectCPU(n)
        case .vfork(let name):
            startChild(name, task, k, flags: [.vm, .vfork], call: "vfork", args: "")
        case .clone(let name, let flags):
            startChild(name, task, k, flags: flags, call: "clone", args: "child_stack=NULL, flags=\(flags.straceText)")
        case .echo(let segs):
            for l in try interpolate(segs).split(separator: "\n", omittingEmptySubsequences: false) { emit(task, String(l)) }
        case .note(let segs):
            for l in try interpolate(segs).split(separator: "\n", omittingEmptySubsequences: false) { stepLines.append("==> " + l) }
        case .mmap(let addrE, let lenE, let prot, let flags, let bind):
            let addr = try addrE.map(value) ?? 0, len = try value(lenE)
            let r = k.mmap(task, addr: addr, length: len, prot: prot, flags: flags)
            emit(task, "mmap(\(Fmt.ptr(addr)), \(len), \(Fmt.prot(prot)), \(Fmt.mapFlags(flags)), -1, 0) = " + result(r) { Fmt.hex($0.raw) })
            if let b = bind { vars[b] = (try? r.get().raw) ?? UInt64.max }
        case .mmapFile(let addrE, let lenE, let prot, let flags, let path, let offset, let bind):
            let addr = try addrE.map(value) ?? 0, len = try value(lenE)
            let inode = try fileNamed(path, st)
            let r = k.mmap(task, addr: addr, length: len, prot: prot, flags: flags, file: inode.mappedFile, offset: offset)
            emit(task, "mmap(\(Fmt.ptr(addr)), \(len), \(Fmt.prot(prot)), \(Fmt.mapFlags(flags)), \(path), \(Fmt.hex(offset))) = " + result(r) { Fmt.hex($0.raw) })
            if let b = bind { vars[b] = (try? r.get().raw) ?? UInt64.max }
        case .msync(let a, let l, let flags):
            let addr = try value(a), len = try value(l)
            emit(task, "msync(\(Fmt.ptr(addr)), \(len), \(Fmt.msyncFlags(flags))) = " + result(k.msync(task, addr: addr, length: len, flags: flags)) { "0" })
        case .swapon(let path, let prio):
            guard let inode = k.fs.lookup(path) else {
                stepResult = .error
                emitSystem("swapon: \(path): no such file (ENOENT)")
                return
            }
            switch k.swapon(path: path, bytes: inode.size, priority: prio) {
            case .success(let si): emitSystem("swapon \(path): \(si.pages * Int(PAGE_SIZE >> 10))k swap, priority \(si.priority)")
            case .failure(let e): stepResult = .error; emitSystem(e.description)
            }
        case .sleep(let s):
            k.tick(seconds: s)
            emitSystem("sleep \(s): the clock is now \(SarTool.time(k.clockNs)) (\(k.reclaim.kswapdRuns) kswapd run\(k.reclaim.kswapdRuns == 1 ? "" : "s") so far)")
        case .vmstat(let delay, let count):
            var out = vmstatPrev == nil || delay != nil ? VmstatTool.header : ""
            for i in 0..<count {
                if i > 0, let d = delay { k.tick(seconds: d) }
                let now = MonitorSample.take(k)
                out += VmstatTool.row(k, from: vmstatPrev, to: now)
                vmstatPrev = now
            }
            emitSystem(String(out.dropLast()))
        case .sar(let interval, let count):
            var out = SarTool.banner(k) + SarTool.headerLine(k.clockNs)
            var rows: [SarTool.Values] = []
            for _ in 0..<count {
                if let i = interval { k.tick(seconds: i) }
                let v = SarTool.values(k)
                rows.append(v)
                out += SarTool.row(SarTool.time(k.clockNs), v)
            }
            if interval != nil { out += SarTool.average(rows) }
            emitSystem(String(out.dropLast()))
        case .swapoff(let path):
            switch k.swapoff(path: path) {
            case .success: emitSystem("swapoff \(path): done")
            case .failure(let e): stepResult = .error; emitSystem(e.description)
            }
        case .sync:
            let n = k.sync()
            emitSystem("sync: \(n) dirty page\(n == 1 ? "" : "s") written back")
        case .fileCreate(let path, let size, let kind, let fill):
            do {
                let i = try k.createFile(path: path, size: size, kind: kind, fill: fill ?? 0)
                emitSystem("file \(path): \(size) bytes on \(kind == .tmpfs ? "tmpfs" : "disk"), inode \(i.ino)\(i.pages.isEmpty ? "" : ", \(i.pages.count) page\(i.pages.count == 1 ? "" : "s") in the page cache")")
            } catch let e as Errno {
                stepResult = .error
                let n = k.fs.lookup(path)?.pages.count ?? 0
                emitSystem("file \(path): \(Fmt.errno(e)) after \(n) page\(n == 1 ? "" : "s")")
            } catch {
                stepResult = .error
                emitSystem("file \(path): \(error)")
            }
        case .fileWrite(let path, let offset, let v):
            let inode = try fileNamed(path, st)
            var bytes: [UInt8]
            switch v {
            case .bytes(let b): bytes = b
            case .integer(let e, let w):
                let x = try value(e)
                bytes = (0..<w.rawValue).map { UInt8(truncatingIfNeeded: x >> (8 * UInt64($0))) }
            }
            emitSystem("pwrite(\(path), \(bytes.count), \(offset)) = " + result(k.fileWrite(inode, offset: offset, bytes)) { "\(bytes.count)" })
        case .fileRead(let path, let offset, let length):
            let inode = try fileNamed(path, st)
            let len = length ?? inode.size
            let n = k.fileRead(inode, offset: offset, length: len)
            emitSystem("read \(path) [\(offset), +\(len)): \(n) page\(n == 1 ? "" : "s") read from disk into the page cache")
        case .munmap(let a, let l):
            let addr = try value(a), len = try value(l)
            emit(task, "munmap(\(Fmt.ptr(addr)), \(len)) = " + result(k.munmap(task, addr: addr, length: len)) { "0" })
        case .mprotect(let a, let l, let p):
            let addr = try value(a), len = try value(l)
            emit(task, "mprotect(\(Fmt.ptr(addr)), \(len), \(Fmt.prot(p))) = " + result(k.mprotect(task, addr: addr, length: len, prot: p)) { "0" })
        case .brk(let a, let bind):
            let addr = try value(a)
            let r = k.brk(task, addr)
            emit(task, "brk(\(Fmt.ptr(addr))) = \(Fmt.hex(r))")
            if let b = bind { vars[b] = r }
        case .sbrk(let incr, let bind):
            let old = k.brk(task, 0)
            let target: UInt64? = incr >= 0 ? old.addingChecked(incr.magnitude) : old.subtractingChecked(incr.magnitude)
            var ok = incr == 0
            if !ok, let t = target { ok = k.brk(task, t) == t }
            if ok {
                emit(task, "sbrk(\(incr)) = \(Fmt.hex(old))")
                if let b = bind { vars[b] = old }
            } else {
                stepResult = .error
                emit(task, "sbrk(\(incr)) = \(Fmt.errno(.ENOMEM))")
                if let b = bind { vars[b] = UInt64.max }
            }
        case .mremap(let oldE, let olE, let nlE, let flags, let naE, let bind):
            let old = try value(oldE), ol = try value(olE), nl = try value(nlE), na = try naE.map(value) ?? 0
            let r = k.mremap(task, oldAddr: old, oldSize: ol, newSize: nl, flags: flags, newAddr: na)
            let fifth = flags.contains(.fixed) ? ", \(Fmt.ptr(na))" : ""
            emit(task, "mremap(\(Fmt.ptr(old)), \(ol), \(nl), \(Fmt.mremapFlags(flags))\(fifth)) = " + result(r) { Fmt.hex($0.raw) })
            if let b = bind { vars[b] = (try? r.get().raw) ?? UInt64.max }
        case .madvise(let a, let l, let adv):
            let addr = try value(a), len = try value(l)
            emit(task, "madvise(\(Fmt.ptr(addr)), \(len), \(Fmt.advice(adv))) = " + result(k.madvise(task, addr: addr, length: len, advice: adv)) { "0" })
        case .mlock(let a, let l, let f):
            let addr = try value(a), len = try value(l)
            let r = result(k.mlock(task, addr: addr, length: len, flags: f)) { "0" }
            emit(task, f.contains(.onfault) ? "mlock2(\(Fmt.ptr(addr)), \(len), MLOCK_ONFAULT) = \(r)" : "mlock(\(Fmt.ptr(addr)), \(len)) = \(r)")
        case .munlock(let a, let l):
            let addr = try value(a), len = try value(l)
            emit(task, "munlock(\(Fmt.ptr(addr)), \(len)) = " + result(k.munlock(task, addr: addr, length: len)) { "0" })
        case .malloc(let s, let bind):
            let size = try value(s)
            let p = k.malloc(task, size)
            if p == nil { stepResult = .error }
            emit(task, "malloc(\(size)) = \(Fmt.ptr(p?.raw ?? 0))")
            if let b = bind { vars[b] = p?.raw ?? 0 }
        case .calloc(let n, let s, let bind):
            let count = try value(n), size = try value(s)
            let p = k.calloc(task, count, size)
            if p == nil { stepResult = .error }
            emit(task, "calloc(\(count), \(size)) = \(Fmt.ptr(p?.raw ?? 0))")
            if let b = bind { vars[b] = p?.raw ?? 0 }
        case .realloc(let pe, let s, let bind):
            let ptr = try value(pe), size = try value(s)
            let p = k.realloc(task, ptr == 0 ? nil : VirtAddr(ptr), size)
            if p == nil && size != 0 { stepResult = .error }
            emit(task, "realloc(\(Fmt.ptr(ptr)), \(size)) = \(Fmt.ptr(p?.raw ?? 0))")
            // p = realloc(p, n) keeps the old pointer when it fails; a fresh `as` variable gets NULL.
            if let b = bind, p != nil || size == 0 || vars[b] == nil { vars[b] = p?.raw ?? 0 }
        case .freePointer(let pe):
            let ptr = try value(pe)
            if ptr != 0 { k.free(task, VirtAddr(ptr)) }
            emit(task, "free(\(Fmt.ptr(ptr))) = <void>")
        case .write(let a, let v):
            let addr = try value(a)
            let bytes: [UInt8]
            switch v {
            case .bytes(let b): bytes = b
            case .integer(let e, let w):
                let x = try value(e)
                guard x <= w.max else { throw LineError(column: e.column, message: "value \(Fmt.hex(x)) does not fit in \(w.name)") }
                bytes = (0..<w.rawValue).map { UInt8(truncatingIfNeeded: x >> UInt64($0 * 8)) }
            }
            let vmas = task.mm?.vmas
            if case .failure(let f) = k.store(task, VirtAddr(addr), bytes) { accessFailed(f, task, vmas: vmas) }
        case .read(let a, let w, let expect, let bind):
            let addr = try value(a)
            let vmas = task.mm?.vmas
            switch k.load(task, VirtAddr(addr), count: w.rawValue) {
            case .failure(let f): accessFailed(f, task, vmas: vmas)
            case .success(let bytes):
                var x: UInt64 = 0
                for (i, b) in bytes.prefix(w.rawValue).enumerated() { x |= UInt64(b) << UInt64(i * 8) }
                emit(task, "*(uint\(w.rawValue * 8)_t *)\(Fmt.ptr(addr)) = \(x) (\(Fmt.hex(x)))")
                if let b = bind { vars[b] = x }
                if let e = expect {
                    let want = try value(e)
                    if want != x {
                        stepResult = .failed
                        throw LineError(column: e.column, message: "expected \(want) (\(Fmt.hex(want))), read \(x) (\(Fmt.hex(x))) at \(Fmt.ptr(addr))")
                    }
                }
            }
        case .touch(let a, let l, let kind):
            let addr = try value(a), len = try value(l)
            let vmas = task.mm?.vmas
            if case .failure(let f) = k.touch(task, VirtAddr(addr), length: len, kind) { accessFailed(f, task, vmas: vmas) }
        case .exit(let status):
            k.exitTask(task, status: status)
            emit(task, "+++ exited with \(status) +++")
            reported.insert(task.pid)
        case .show(let what, let ref, let catPath):
            do { try show(what, ref, catPath: catPath, k) } catch let e as LineError where e.column == 0 {
                throw LineError(column: st.column, message: e.message)
            }
        case .importFile(let host, let simPath):
            try importHostFile(host, as: simPath, st, k)
        case .exec(let path, let argv):
            // The environment of the new image: the default three variables of `spawn`.
            let envp = ProgramImage(path: path).envp
            let envPtr = task.mm.map { mm in mm.startStack + 8 * ((k.peekUserWord(mm, VirtAddr(mm.startStack)) ?? 0) + 2) } ?? 0
            let call = "execve(\(JSON.quote(path)), [\(argv.map(JSON.quote).joined(separator: ", "))], 0x\(String(envPtr, radix: 16)) /* \(envp.count) vars */)"
            switch k.execve(task, path: path, argv: argv, envp: envp) {
            case .success:
                emit(task, call + " = 0")
            case .failure(let e):
                if case .fatal = e {
                    emit(task, call + " = ?")
                } else {
                    emit(task, call + " = -1 \(e.errnoName)")
                }
                throw LineError(column: st.column, message: "exec: \(e)")
            }
        case .freeCommand(let unit, let flag):
            let lohi = flag.split(separator: " ").contains { $0 == "-l" || $0 == "--lohi" }
            emitSystem(Free.render(k, unit: unit, lohi: lohi))
        case .getpagesize:
            emit(task, "getpagesize() = \(k.getpagesize())")
        case .pagewalk(let a):
            let va = try value(a)
            guard let mm = task.mm else { throw LineError(column: st.column, message: "pagewalk: the process has no address space") }
            for line in k.phys.describeWalk(pgd: mm.pgd, va: VirtAddr(va)) { emit(task, line) }
        case .policy(let policies, let frames, let refs, let seed, let compare):
            var runs: [ReplacementResult] = []
            for n in frames {
                for p in policies { runs.append(try PageReplacement.run(p, refs: refs, frames: n, seed: seed)) }
            }
            emitSystem(compare ? ReplacementReport.compare(runs) : runs.map(ReplacementReport.table).joined(separator: "\n"))
        case .lab(let argv):
            k.explain?(Labs.explainLine(argv))
            do { emitSystem(try Labs.run(argv, kernel: k).text) } catch let e as LabError {
                throw LineError(column: st.column, message: e.message)
            }
        case .kmem(let c):
            try executeKmem(c, st, k)
        case .writeTHPSysfs(let file, let value, let path):
            reportSysfsWrite(k.thpSysfsWrite(file, value), path)
        case .readTHPSysfs(let file):
            emitSystem(k.thpSysfsRead(file) ?? "")
        case .writeHugetlbSysfs(let dir, let file, let value, let path):
            reportSysfsWrite(k.hugetlbSysfsWrite(dir, file, value), path)
        case .readHugetlbSysfs(let dir, let file):
            emitSystem(k.hugetlbSysfsRead(dir, file) ?? "")
        case .khugepaged(let n):
            for _ in 0..<n {
                let r = k.khugepagedDoScan()
                emitSystem("khugepaged: scanned \(r.progress) pages, collapsed \(r.collapsed)")
            }
            emitSystem("pages_collapsed \(k.thp.pagesCollapsed), full_scans \(k.thp.fullScans)")
        case .writeOomScoreAdj(let ref, let value, let path):
            let target: Task?
            switch ref {
            case .current: target = task
            case .named(let n): target = process(named: n)?.task
            case .pid(let p): target = k.task(p)
            }
            guard let t = target, t.state.isAlive else {
                stepResult = .error
                stepLines.append("bash: \(path): No such file or directory")
                return
            }
            if case .failure(let e) = k.setOomScoreAdj(t, value, writerUID: task.uid) {
                stepResult = .error
                stepLines.append("bash: echo: write error: \(e.message)")
            }
        }
    }

    /// Runs vfork()/clone() for `task` and prints the call as strace -f does: a vfork-style call
    /// is `<unfinished ...>` until the child releases the parent, and the child becomes current.
    func startChild(_ name: String, _ task: Task, _ k: Kernel, flags: CloneFlags, call: String, args: String) {
        switch k.kernelClone(task, flags: flags) {
        case .success(let c):
            let entry = ProcEntry(name: name, task: c)
            procs.append(entry)
            spawnedCount += 1
            if flags.contains(.vfork) {
                emit(task, "\(call)(\(args) <unfinished ...>")
                vforkPending.append((task, c, call))
                current = entry
            } else {
                emit(task, "\(call)(\(args)) = \(c.pid)")
            }
        case .failure(let e):
            procs.append(ProcEntry(name: name, task: nil))
            stepResult = .error
            emit(task, "\(call)(\(args)) = \(Fmt.errno(e))")
        }
    }

    /// Prints a procfs file or a kernel table; a process that is gone prints cat's error.
    func show(_ what: ShowWhat, _ ref: ProcRef, catPath: String?, _ k: Kernel) throws {
        switch what {
        case .meminfo: emitSystem(ProcFS.meminfo(k)); return
        case .buddyinfo: emitSystem(ProcFS.buddyinfo(k)); return
        case .vmstat: emitSystem(ProcFS.vmstat(k)); return
        case .swaps: emitSystem(ProcFS.swaps(k)); return
        case .cache: emitSystem(cacheText(k)); return
        case .slabinfo, .slabtop:
            if k.kmem.kind == .slob {
                // CONFIG_SLOB has no slabinfo.
                stepResult = .error
                stepLines.append(what == .slabtop ? "fopen /proc/slabinfo: No such file or directory" : "cat: /proc/slabinfo: No such file or directory")
            } else {
                emitSystem(what == .slabinfo ? ProcFS.slabinfo(k) : ProcFS.slabtop(k))
            }
            return
        case .vmallocinfo: emitSystem(ProcFS.vmallocinfo(k)); return
        case .pagetypeinfo: emitSystem(ProcFS.pagetypeinfo(k)); return
        case .unusableIndex: emitSystem(Extfrag.format(k, unusable: true)); return
        case .extfragIndex: emitSystem(Extfrag.format(k, unusable: false)); return
        case .mm:
            for t in k.allTasks where t.state.isAlive {
                let who = "\(t.pid) \(t.comm)".padding(toLength: 20, withPad: " ", startingAt: 0)
                if let mm = t.mm {
                    stepLines.append("\(who) mm: PGD at PFN \(mm.pgd), mm_users \(mm.mmUsers), mm_count \(mm.mmCount)")
                } else if let b = t.activeMM {
                    stepLines.append("\(who) mm: none; active_mm: PGD at PFN \(b.pgd) (borrowed, lazy TLB), mm_users \(b.mmUsers), mm_count \(b.mmCount)")
                } else {
                    stepLines.append("\(who) mm: none; active_mm: none (not running)")
                }
            }
            return
        case .dmesg: stepLines.append(contentsOf: k.log.map(\.formatted)); return
        case .ps: emitSystem(ProcFS.ps(k)); return
        case .interrupts: emitSystem(ProcFS.interrupts(k)); return
        case .tlb:
            let c = k.config.tlb
            func g(_ x: TLBGeometry) -> String { "\(x.entries) entries, \(x.ways)-way, \(x.entries / max(1, x.ways)) sets" }
            stepLines.append("L1 dTLB (4K): " + g(c.l1d))
            stepLines.append("L1 dTLB (2M): " + g(c.l1d2M))
            stepLines.append("L1 dTLB (1G): " + g(c.l1d1G))
            stepLines.append("L1 iTLB (4K): " + g(c.l1i))
            stepLines.append("L1 iTLB (2M): " + g(c.l1i2M))
            stepLines.append("STLB (4K/2M): " + g(c.stlb))
            stepLines.append("STLB (1G):    " + g(c.stlb1G))
            stepLines.append("walk caches:  PML4E \(c.pwcPML4E), PDPTE \(c.pwcPDPTE), PDE \(c.pwcPDE) entries")
            stepLines.append("PCID:         " + (c.pcid ? "on" : "off"))
            func rate(_ h: Int, _ m: Int) -> String {
                h + m == 0 ? "-" : String(h * 1000 / (h + m) / 10) + "." + String(h * 1000 / (h + m) % 10) + "%"
            }
            func counters(_ st: TLBStats, indent: String) {
                stepLines.append(indent + "dTLB hits \(st.l1dHits) (4K \(st.l1dHits - st.l1d2MHits - st.l1d1GHits), 2M \(st.l1d2MHits), 1G \(st.l1d1GHits)), misses \(st.l1dMisses) (hit rate \(rate(st.l1dHits, st.l1dMisses)))")
                stepLines.append(indent + "iTLB hits \(st.l1iHits) (4K \(st.l1iHits - st.l1i2MHits), 2M \(st.l1i2MHits)), misses \(st.l1iMisses) (hit rate \(rate(st.l1iHits, st.l1iMisses)))")
                stepLines.append(indent + "STLB hits \(st.stlbHits) (4K \(st.stlbHits - st.stlb2MHits - st.stlb1GHits), 2M \(st.stlb2MHits), 1G \(st.stlb1GHits)), misses \(st.stlbMisses) (hit rate \(rate(st.stlbHits, st.stlbMisses)))")
                stepLines.append(indent + "page walks \(st.pageWalks), walk memory references \(st.walkMemoryRefs), A/D updates \(st.adUpdates)")
                stepLines.append(indent + "walk-cache hits: PML4E \(st.pwcPML4EHits), PDPTE \(st.pwcPDPTEHits), PDE \(st.pwcPDEHits)")
            }
            if k.cpus.count == 1 {
                let st = k.mmu.stats
                counters(st, indent: "")
                stepLines.append("page faults \(k.vmstat.pgfault), flushes: full \(st.fullFlushes), single-page \(st.singlePageFlushes), CR3 loads \(st.cr3Loads)")
                return
            }
            for cpu in k.cpus {
                let st = cpu.mmu.stats
                let who = cpu.current.map { "\($0.pid) \($0.comm)\($0.state.isAlive ? "" : " (exited)")" } ?? "idle"
                let mm = cpu.loadedMM === k.initMM ? "init_mm" : "PGD \(cpu.loadedMM.pgd)"
                stepLines.append("CPU\(cpu.id): running \(who); loaded mm \(mm), ASID \(cpu.loadedASID), PCID \(cpu.mmu.pcid)\(cpu.isLazy ? ", lazy TLB" : "")")
                counters(st, indent: "  ")
                stepLines.append("  flushes: full \(st.fullFlushes), single-page \(st.singlePageFlushes), CR3 loads \(st.cr3Loads); TLB shootdown IPIs sent \(cpu.tlbShootdownsSent), received \(cpu.tlbShootdownsReceived)")
            }
            stepLines.append("page faults \(k.vmstat.pgfault) (all CPUs)")
            return
        case .maps, .smaps, .status, .vmas, .smapsRollup, .oomScore, .oomScoreAdj, .pmap, .pmapExtended, .auxv: break
        }
        var task: Task?
        var pidText: String
        switch ref {
        case .current:
            guard let t = current?.task else { stepResult = .skipped; return }
            task = t; pidText = String(t.pid)
        case .named(let n):
            guard let t = process(named: n)?.task else { stepResult = .skipped; return }
            task = t; pidText = String(t.pid)
        case .pid(let p):
            task = k.task(p); pidText = String(p)
        }
        guard let t = task, t.state.isAlive else {
            let path = catPath ?? "/proc/\(pidText)/\(what.rawValue)"
            stepResult = .error
            stepLines.append("cat: \(path): No such file or directory")
            return
        }
        switch what {
        case .maps: emitSystem(ProcFS.maps(k, t))
        case .smaps: emitSystem(ProcFS.smaps(k, t))
        case .status: emitSystem(ProcFS.status(k, t))
        case .smapsRollup: emitSystem(ProcFS.smapsRollup(k, t))
        case .oomScore: emitSystem("\(k.oomScore(t))\n")
        case .oomScoreAdj: emitSystem(ProcFS.oomScoreAdj(t))
        case .pmap, .pmapExtended: emitSystem(Pmap.format(k, t, extended: what == .pmapExtended))
        case .auxv:
            guard let mm = t.mm, !mm.savedAuxv.isEmpty else {
                throw LineError(column: 0, message: "process \(t.pid) (\(t.comm)) runs a synthetic image (spawn without an imported ELF file): it has no auxiliary vector")
            }
            emitSystem(Auxv.ldShowAuxv(mm.savedAuxv))
        default:
            for v in t.mm?.vmas.vmas ?? [] { stepLines.append(Runner.describe(v)) }
        }
    }

    /// One line per VMA: range, permissions, size and what backs it.
    static func describe(_ v: VMA) -> String {
        let f = v.flags
        let perms = (f.contains(.read) ? "r" : "-") + (f.contains(.write) ? "w" : "-") + (f.contains(.exec) ? "x" : "-")
            + (f.contains(.shared) ? "s" : "p")
        let what: String
        if let file = v.file { what = file.path } else {
            switch v.special {
            case .heap: what = "[heap]"
            case .stack: what = "[stack]"
            case .vvar: what = "[vvar]"
            case .vdso: what = "[vdso]"
            case .vvarVclock: what = "[vvar_vclock]"
            case .vsyscall: what = "[vsyscall]"
            case .vectors: what = "[vectors]"
            case .sigpage: what = "[sigpage]"
            case .none: what = "anonymous"
            }
        }
        var extra: [String] = []
        if f.contains(.locked) { extra.append("locked") }
        if f.contains(.lockonfault) { extra.append("lockonfault") }
        if f.contains(.noreserve) { extra.append("noreserve") }
        if f.contains(.account) { extra.append("account") }
        if f.contains(.growsdown) { extra.append("growsdown") }
        return "\(Fmt.hex(v.start.raw))-\(Fmt.hex(v.end.raw)) \(perms) \(v.length / 1024) kB \(what)"
            + (extra.isEmpty ? "" : " [" + extra.joined(separator: ",") + "]")
    }

    /// Returns the file at `path`; throws a `LineError` when it does not exist (its creation failed).
    func fileNamed(_ path: String, _ st: Statement) throws -> Inode {
        guard let i = kernel?.fs.lookup(path) else {
            throw LineError(column: st.column, message: "file '\(path)' does not exist (its creation failed)")
        }
        return i
    }

    /// `show cache`: one line per file and shmem object: its cached pages, how many are dirty and
    /// mapped, the sum of their mapcounts (PTEs mapping them), then totals.
    func cacheText(_ k: Kernel) -> String {
        var s = "FILE                                                    INODE  SIZE_KB  CACHED  DIRTY  MAPPED    MAPS  KIND\n"
        var tc = 0, td = 0, tm = 0
        for inode in k.fs.allInodes {
            var dirty = 0, mapped = 0, maps = 0
            for (_, pfn) in inode.pages {
                if k.phys.memMap.flags[pfn.index].contains(.dirty) { dirty += 1 }
                let mc = Int(k.phys.memMap.mapcount[pfn.index])
                if mc > 0 { mapped += 1; maps += mc }
            }
            tc += inode.pages.count; td += dirty; tm += mapped
            let name = inode.shmemObject != 0 ? "\(inode.path) [shmem \(inode.shmemObject)]" : inode.path
            let kind = inode.shmemObject != 0 ? "shmem" : inode.kind == .tmpfs ? "tmpfs" : "disk"
            s += name.padding(toLength: max(name.count, 54), withPad: " ", startingAt: 0) + " "
                + rjust(String(inode.ino), 8) + " " + rjust(String((inode.size + 1023) / 1024), 8) + " "
                + rjust(String(inode.pages.count), 7) + " " + rjust(String(dirty), 6) + " " + rjust(String(mapped), 7) + " "
                + rjust(String(maps), 7) + "  " + kind + "\n"
        }
        s += "total: \(tc) cached, \(td) dirty, \(tm) mapped pages\n"
        return s
    }

    /// `s` right-aligned in `width` columns.
    func rjust(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

    /// Sets a known sysctl.
    func set(_ name: String, _ v: Int, _ k: Kernel) {
        switch name {
        case "vm.overcommit_memory": k.sysctl.overcommitMemory = v
        case "vm.overcommit_ratio": k.sysctl.overcommitRatio = v
        case "vm.overcommit_kbytes": k.sysctl.overcommitKbytes = v
        case "vm.panic_on_oom": k.sysctl.panicOnOOM = v
        case "vm.admin_reserve_kbytes": k.sysctl.adminReserveKbytes = v
        case "vm.user_reserve_kbytes": k.sysctl.userReserveKbytes = v
        case "vm.max_map_count": k.sysctl.maxMapCount = v
        case "kernel.randomize_va_space": k.sysctl.randomizeVaSpace = v
        case "vm.drop_caches": k.sysctl.dropCaches = v; k.dropCaches(v)
        case "vm.swappiness": k.reclaim.swappiness = v
        case "vm.page-cluster": k.reclaim.pageCluster = v
        case "vm.nr_hugepages": k.setMaxHugePages(0, v)
        case "vm.nr_overcommit_hugepages": k.hugetlb.hstates[0].nrOvercommit = v
        default: k.sysctl.oomKillAllocatingTask = v
        }
    }

    /// Returns the value of a known sysctl.
    func get(_ name: String, _ k: Kernel) -> Int {
        switch name {
        case "vm.overcommit_memory": return k.sysctl.overcommitMemory
        case "vm.overcommit_ratio": return k.sysctl.overcommitRatio
        case "vm.overcommit_kbytes": return k.sysctl.overcommitKbytes
        case "vm.panic_on_oom": return k.sysctl.panicOnOOM
        case "vm.admin_reserve_kbytes": return k.sysctl.adminReserveKbytes
        case "vm.user_reserve_kbytes": return k.sysctl.userReserveKbytes
        case "vm.max_map_count": return k.sysctl.maxMapCount
        case "kernel.randomize_va_space": return k.sysctl.randomizeVaSpace
        case "vm.drop_caches": return k.sysctl.dropCaches
        case "vm.swappiness": return k.reclaim.swappiness
        case "vm.page-cluster": return k.reclaim.pageCluster
        case "vm.nr_hugepages": return k.hugetlb.hstates[0].nr
        case "vm.nr_overcommit_hugepages": return k.hugetlb.hstates[0].nrOvercommit
        default: return k.sysctl.oomKillAllocatingTask
        }
    }
}

extension UInt64 {
    /// `self - n`, or nil if that is negative.
    func subtractingChecked(_ n: UInt64) -> UInt64? {
        let (r, o) = subtractingReportingOverflow(n)
        return o ? nil : r
    }
    /// `self + n`, or nil if that overflows.
    func addingChecked(_ n: UInt64) -> UInt64? {
        let (r, o) = addingReportingOverflow(n)
        return o ? nil : r
    }
}

extension String {
    /// The string without leading spaces and tabs.
    var trimmingLeadingSpaces: Substring { drop(while: { $0 == " " || $0 == "\t" }) }
}
