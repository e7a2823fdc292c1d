/// The scenario parser: one statement per line, errors located at line and column.
import MMCore
import MMProcFS

/// Parses scenario text.
public enum Parser {
    /// Returns the parsed scenario, or throws the first `ScenarioError` (with file, line, column
    /// and the source line) found in `source`.
    public static func parse(_ source: String, file: String) throws -> Scenario {
        var lines = source.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
        if lines.last == "" { lines.removeLast() }
        lines = lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        var state = ParserState()
        for (i, line) in lines.enumerated() {
            do {
                try state.parseLine(line, number: i + 1)
            } catch let e as LineError {
                throw ScenarioError(file: file, line: i + 1, column: e.column, message: e.message, sourceLine: line)
            }
        }
        return Scenario(file: file, lines: lines, machine: state.machine, statements: state.statements)
    }
}

/// What the parser knows while it walks the file.
struct ParserState {
    var machine = MachineConfig()
    var statements: [Statement] = []
    var machineSeen = false
    /// Variables bound so far, with the line that binds them.
    var variables: [String: Int] = [:]
    /// Process names so far (explicit `as NAME` and program names).
    var processNames: Set<String> = []
    var anySpawn = false
    /// Files the scenario can name: created by `file create`, or a spawned program and the
    /// libraries every spawn maps.
    var files: Set<String> = ["/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
    /// Whether `highmem32` has set up a 32-bit kernel view (kmap commands need it).
    var highmemSeen = false

    /// Parses one line and appends its statement; throws a `LineError` on bad input.
    mutating func parseLine(_ line: String, number: Int) throws {
        let tokens = try Lexer.tokenize(line)
        guard let first = tokens.first else { return }
        guard first.kind == .word else { throw LineError(column: first.column, message: "expected a command, found a string") }
        var args = ArraySlice(tokens.dropFirst())
        let cmd = first.text
        let endColumn = line.count + 1
        if cmd == "machine" {
            guard !machineSeen else { throw LineError(column: first.column, message: "'machine' may appear only once") }
            guard statements.isEmpty else {
                throw LineError(column: first.column, message: "'machine' must come before every other command")
            }
            machineSeen = true
            machine = try parseMachine(args)
            return
        }
        var filter: String? = nil
        var pipeColumn: Int? = nil
        if let bar = args.firstIndex(where: { $0.kind == .word && $0.text == "|" }) {
            pipeColumn = args[bar].column
            let rest = Array(args[(bar + 1)...])
            guard let g = rest.first, g.kind == .word, g.text == "grep" else {
                throw LineError(column: rest.first?.column ?? endColumn, message: "expected 'grep PATTERN' after '|'")
            }
            guard rest.count >= 2 else { throw LineError(column: endColumn, message: "missing pattern after 'grep'") }
            guard rest.count == 2 else { throw LineError(column: rest[2].column, message: "unexpected '\(rest[2].text)' after the grep pattern") }
            filter = rest[1].text
            args = args[..<bar]
        }
        let command: Command
        func need(_ what: String) throws -> Token {
            guard let t = args.popFirst() else { throw LineError(column: endColumn, message: "missing \(what) for '\(cmd)'") }
            return t
        }
        func word(_ what: String) throws -> Token {
            let t = try need(what)
            guard t.kind == .word else { throw LineError(column: t.column, message: "expected \(what), found a string") }
            return t
        }
        func expr(_ what: String) throws -> Expr {
            let t = try word(what)
            let e = try Values.expression(t.text, column: t.column)
            try checkVariables(e)
            return e
        }
        func optionalBinding() throws -> String? {
            guard args.count >= 2, args[args.endIndex - 2].kind == .word, args[args.endIndex - 2].text == "as" else {
                if let last = args.last, last.kind == .word, last.text == "as" {
                    throw LineError(column: endColumn, message: "missing variable name after 'as'")
                }
                return nil
            }
            let nameTok = args[args.endIndex - 1]
            args.removeLast(2)
            return try newVariable(nameTok, line: number)
        }
        func done() throws {
            if let extra = args.first {
                throw LineError(column: extra.column, message: "unexpected '\(extra.text)' after '\(cmd)' arguments")
            }
        }
        func childName() throws -> String {
            guard let a = args.popFirst(), a.text == "as" else {
                throw LineError(column: endColumn, message: "'\(cmd)' needs 'as NAME' to name the child")
            }
            guard let n = args.popFirst() else { throw LineError(column: a.column + 2, message: "missing process name after 'as'") }
            try checkNewProcessName(n)
            try done()
            processNames.insert(n.text)
            return n.text
        }
        func requireProcess() throws {
            guard anySpawn else {
                throw LineError(column: first.column, message: "'\(cmd)' needs a running process; 'spawn' one first")
            }
        }

        switch cmd {
        case "sysctl":
            if args.first?.text == "-w" { args.removeFirst() }
            var settings: [(String, Int?)] = []
            guard !args.isEmpty else { throw LineError(column: endColumn, message: "missing vm.NAME or vm.NAME=VALUE for 'sysctl'") }
            while let t = args.popFirst() {
                settings.append(try parseSysctl(t))
            }
            command = .sysctl(settings)
        case "spawn":
            let path = try word("program path")
            command = .spawn(try parseSpawn(path: path, &args, line: number))
            anySpawn = true
            files.insert(path.text)
        case "file":
            command = try parseFile(&args, endColumn: endColumn)
        case "msync":
            try requireProcess()
            let a = try expr("address"), l = try expr("length")
            var flags = MsyncFlags.sync
            if let t = args.popFirst() { flags = try Self.msyncFlags(t) }
            try done()
            command = .msync(a, l, flags)
        case "sync":
            try done()
            command = .sync
        case "swapon":
            let path = try word("swap file or partition path")
            var prio: Int? = nil
            if let kw = args.popFirst() {
                guard kw.text == "priority" else { throw LineError(column: kw.column, message: "expected 'priority N', found '\(kw.text)'") }
                guard let v = args.popFirst() else { throw LineError(column: endColumn, message: "'priority' needs a number 0...32767") }
                guard let n = Int(v.text), (0...32767).contains(n) else { throw LineError(column: v.column, message: "swap priority '\(v.text)' is not a number in 0...32767") }
                prio = n
            }
            try done()
            command = .swapon(path.text, prio)
        case "vmstat", "sar", "sleep":
            /// A whole number in `range` from the next token.
            func count(_ what: String, _ range: ClosedRange<UInt64>) throws -> UInt64 {
                guard let v = args.popFirst() else { throw LineError(column: endColumn, message: "'\(cmd)' needs \(what)") }
                guard let n = UInt64(v.text), range.contains(n) else {
                    throw LineError(column: v.column, message: "\(what) '\(v.text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
                }
                return n
            }
            if cmd == "sleep" {
                let s = try count("a number of seconds", 0...86_400)
                try done()
                command = .sleep(s)
            } else if cmd == "vmstat" {
                if args.isEmpty { command = .vmstat(delay: nil, count: 1) } else {
                    let d = try count("DELAY (seconds)", 1...86_400)
                    guard !args.isEmpty else { throw LineError(column: endColumn, message: "'vmstat DELAY' without COUNT would run forever: give COUNT") }
                    command = .vmstat(delay: d, count: try count("COUNT", 1...1000))
                }
                try done()
            } else {
                let r = args.popFirst()
                guard r?.text == "-r" else { throw LineError(column: r?.column ?? endColumn, message: "only 'sar -r [INTERVAL COUNT]' is supported") }
                if args.isEmpty { command = .sar(interval: nil, count: 1) } else {
                    let i = try count("INTERVAL (seconds)", 1...86_400)
                    command = .sar(interval: i, count: try count("COUNT", 1...1000))
                }
                try done()
            }
        case "khugepaged":
            var n = 1
            if let v = args.popFirst() {
                guard let c = Int(v.text), (1...10_000).contains(c) else {
                    throw LineError(column: v.column, message: "khugepaged: '\(v.text)' is not a number of wakeups in 1...10000")
                }
                n = c
            }
            try done()
            command = .khugepaged(n)
        case "swapoff":
            let path = try word("swap file or partition path")
            try done()
            command = .swapoff(path.text)
        case "kthread":
            let n = try word("kernel thread name")
            try checkNewProcessName(n)
            try done()
            processNames.insert(n.text)
            anySpawn = true
            command = .kthread(n.text)
        case "vfork":
            try requireProcess()
            let n = try childName()
            command = .vfork(n)
        case "clone":
            try requireProcess()
            let f = try word("clone flags")
            let flags = try parseCloneFlags(f)
            let n = try childName()
            command = .clone(n, flags)
        case "cpu":
            let t = try word("CPU number")
            let k = try cpuNumber(t)
            try done()
            command = .cpu(k)
        case "fork", "thread":
            try requireProcess()
            guard let a = args.popFirst(), a.text == "as" else {
                throw LineError(column: endColumn, message: "'\(cmd)' needs 'as NAME' to name the \(cmd == "fork" ? "child" : "thread")")
            }
            guard let n = args.popFirst() else { throw LineError(column: a.column + 2, message: "missing process name after 'as'") }
            try checkNewProcessName(n)
            try done()
            processNames.insert(n.text)
            command = cmd == "fork" ? .fork(n.text) : .thread(n.text)
        case "import":
            let h = try word("host file path")
            var simPath: String? = nil
            if let a = args.first, a.kind == .word, a.text == "as" {
                args.removeFirst()
                let p = try word("simulated path after 'as'")
                guard p.text.hasPrefix("/") else { throw LineError(column: p.column, message: "the simulated path '\(p.text)' must be absolute") }
                simPath = p.text
            }
            try done()
            command = .importFile(host: h.text, as: simPath)
        case "exec":
            try requireProcess()
            let p = try word("program path")
            guard p.text.hasPrefix("/") else { throw LineError(column: p.column, message: "the program path '\(p.text)' must be absolute") }
            var argv = [p.text]
            while let a = args.popFirst() { argv.append(a.text) }
            command = .exec(path: p.text, argv: argv)
        case "use":
            let n = try word("process name")
            guard processNames.contains(n.text) else { throw LineError(column: n.column, message: "unknown process '\(n.text)'") }
            var cpu: Int? = nil
            if let on = args.first, on.text == "on" {
                args.removeFirst()
                guard let c = args.popFirst(), c.text == "cpu" else {
                    throw LineError(column: on.column + 3, message: "expected 'cpu K' after 'on'")
                }
                cpu = try cpuNumber(try word("CPU number"))
            }
            try done()
            command = .use(n.text, cpu: cpu)
        case "echo" where args.count == 3 && args[1].text == ">" && args[1].kind == .word:
            // echo VALUE > /proc/PID/oom_score_adj
            let v = args[0], path = args[2]
            if path.text.hasPrefix(Self.hugetlbSysfsDir) {
                let (dir, file) = try Self.hugetlbSysfsFile(path)
                args = []
                command = .writeHugetlbSysfs(dir: dir, file: file, value: v.text, path: path.text)
                break
            }
            if path.text.hasPrefix(Self.thpSysfsDir) {
                let file = String(path.text.dropFirst(Self.thpSysfsDir.count))
                guard Kernel.thpSysfsFiles.contains(file) else {
                    throw LineError(column: path.column, message: "echo: no such file '\(path.text)' (files: \(Kernel.thpSysfsFiles.joined(separator: ", ")))")
                }
                args = []
                command = .writeTHPSysfs(file: file, value: v.text, path: path.text)
                break
            }
            let parts = path.text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, parts[0] == "", parts[1] == "proc", parts[3] == "oom_score_adj" else {
                throw LineError(column: path.column, message: "echo: only /proc/PID/oom_score_adj, \(Self.thpSysfsDir)* and \(Self.hugetlbSysfsDir)* can be written, not '\(path.text)'")
            }
            try requireProcess()
            let ref = try processRef(Token(kind: .word, text: parts[2], column: path.column + 6))
            guard let value = Int(v.text) else {
                throw LineError(column: v.column, message: "oom_score_adj must be an integer, found '\(v.text)'")
            }
            args = []
            command = .writeOomScoreAdj(ref, value, path: path.text)
        case "policy":
            command = try parsePolicy(&args, endColumn: endColumn)
        case "translate", "exercise", "pagetable-cost", "no-mmu", "segmentation":
            // The address-translation labs: the same arguments as the mmsim subcommands, checked now.
            let toks = [first] + Array(args)
            args = []
            do { _ = try Labs.run(toks.map(\.text)) } catch let e as LabError {
                throw LineError(column: e.argument.map { toks[$0].column } ?? endColumn, message: e.message)
            }
            command = .lab(toks.map(\.text))
        case "pmap":
            var ext = false
            if let f = args.first, f.text == "-x" || f.text == "--extended" { args.removeFirst(); ext = true }
            var ref = ProcRef.current
            if let n = args.popFirst() { ref = try processRef(n) }
            if ref == .current { try requireProcess() }
            try done()
            command = .show(ext ? .pmapExtended : .pmap, ref, catPath: nil)
        case "echo", "note":
            if cmd == "echo" { try requireProcess() }
            let segs = try parseText(Array(args), cmd: cmd, endColumn: endColumn)
            args = []
            command = cmd == "echo" ? .echo(segs) : .note(segs)
        case "mmap":
            try requireProcess()
            let bind = try optionalBinding()
            var fileArg: (path: String, offset: UInt64)? = nil
            if let fi = args.firstIndex(where: { $0.kind == .word && $0.text == "file" }) {
                fileArg = try parseMmapFile(args[fi...], endColumn: endColumn)
                args = args[..<fi]
            }
            var addr: Expr? = nil
            if args.count == 4 { addr = try expr("address") }
            else if args.count < 3 {
                throw LineError(column: args.last.map { $0.column + $0.text.count } ?? endColumn,
                                message: "'mmap' needs [ADDR] LENGTH PROT FLAGS")
            }
            let len = try expr("length")
            let p = try word("protection")
            let f = try word("flags")
            try done()
            let prot = try Values.prot(p.text, column: p.column), flags = try Values.mapFlags(f.text, column: f.column)
            if let fa = fileArg {
                if flags.contains(.anonymous) {
                    throw LineError(column: f.column, message: "'mmap … file' cannot be MAP_ANONYMOUS")
                }
                command = .mmapFile(addr: addr, length: len, prot: prot, flags: flags, path: fa.path, offset: fa.offset, bind: bind)
            } else {
                command = .mmap(addr: addr, length: len, prot: prot, flags: flags, bind: bind)
            }
        case "munmap", "munlock":
            try requireProcess()
            let a = try expr("address"), l = try expr("length")
            try done()
            command = cmd == "munmap" ? .munmap(a, l) : .munlock(a, l)
        case "mprotect":
            try requireProcess()
            let a = try expr("address"), l = try expr("length"), p = try word("protection")
            try done()
            command = .mprotect(a, l, try Values.prot(p.text, column: p.column))
        case "brk":
            try requireProcess()
            let bind = try optionalBinding()
            let a = try expr("address")
            try done()
            command = .brk(a, bind: bind)
        case "sbrk":
            try requireProcess()
            let bind = try optionalBinding()
            let t = try word("increment")
            let v = try Values.signed(t.text, column: t.column, what: "increment", range: (-(1 << 46))...(1 << 46))
            try done()
            command = .sbrk(v, bind: bind)
        case "mremap":
            try requireProcess()
            let bind = try optionalBinding()
            let a = try expr("old address"), ol = try expr("old length"), nl = try expr("new length")
            var flags: MremapFlags = []
            var newAddr: Expr? = nil
            while let t = args.popFirst() {
                switch t.text {
                case "maymove": flags.insert(.maymove)
                case "dontunmap": flags.insert(.dontunmap)
                case "fixed":
                    flags.insert(.fixed)
                    newAddr = try expr("new address after 'fixed'")
                default:
                    throw LineError(column: t.column, message: "unknown mremap option '\(t.text)' (known: maymove, dontunmap, fixed ADDR)")
                }
            }
            command = .mremap(old: a, oldLength: ol, newLength: nl, flags: flags, newAddr: newAddr, bind: bind)
        case "madvise":
            try requireProcess()
            let a = try expr("address"), l = try expr("length"), adv = try word("advice")
            try done()
            command = .madvise(a, l, try Values.advice(adv.text, column: adv.column))
        case "mlock":
            try requireProcess()
            let a = try expr("address"), l = try expr("length")
            var f: MlockFlags = []
            if let t = args.first, t.text == "onfault" { args.removeFirst(); f.insert(.onfault) }
            try done()
            command = .mlock(a, l, f)
        case "malloc":
            try requireProcess()
            let bind = try optionalBinding()
            let s = try expr("size")
            try done()
            command = .malloc(s, bind: bind)
        case "calloc":
            try requireProcess()
            let bind = try optionalBinding()
            let n = try expr("element count"), s = try expr("element size")
            try done()
            command = .calloc(n, s, bind: bind)
        case "realloc":
            try requireProcess()
            var bind = try optionalBinding()
            let p = try expr("pointer"), s = try expr("size")
            try done()
            if bind == nil, p.terms.count == 1, case .variable(let v) = p.terms[0].operand { bind = v }
            command = .realloc(p, s, bind: bind)
        case "free":
            if args.isEmpty || args.first?.text.hasPrefix("-") == true {
                // One unit flag and/or -l (--lohi); the flags are kept, space-separated, in `flag`.
                var unit: FreeUnit = .kibi
                var flags: [String] = []
                var unitSeen = false
                while let flag = args.first, flag.text.hasPrefix("-") {
                    args.removeFirst()
                    var isUnit = true
                    switch flag.text {
                    case "-k", "--kibi": unit = .kibi
                    case "-b", "--bytes": unit = .bytes
                    case "-m", "--mebi": unit = .mebi
                    case "-g", "--gibi": unit = .gibi
                    case "-h", "--human": unit = .human
                    case "-l", "--lohi": isUnit = false
                    default:
                        throw LineError(column: flag.column, message: "unknown free option '\(flag.text)' (use -b, -k, -m, -g or -h, and -l)")
                    }
                    if isUnit {
                        guard !unitSeen else { throw LineError(column: flag.column, message: "free takes one unit option, found a second: '\(flag.text)'") }
                        unitSeen = true
                    }
                    flags.append(flag.text)
                }
                try done()
                command = .freeCommand(unit, flag: flags.joined(separator: " "))
            } else {
                try requireProcess()
                let p = try expr("pointer")
                try done()
                command = .freePointer(p)
            }
        case "write":
            try requireProcess()
            let a = try expr("address")
            let v = try need("value")
            if v.kind == .string {
                try done()
                command = .write(a, .bytes(Array(v.text.replacingOccurrences(of: "\u{1}", with: "$").utf8) + [0]))
            } else {
                let e = try Values.expression(v.text, column: v.column)
                try checkVariables(e)
                var width = Width.u64
                if let t = args.first { width = try parseWidth(t); args.removeFirst() }
                try done()
                if let c = e.constantValue, c > width.max {
                    throw LineError(column: v.column, message: "value \(v.text) does not fit in \(width.name)")
                }
                command = .write(a, .integer(e, width))
            }
        case "read":
            try requireProcess()
            let bind = try optionalBinding()
            let a = try expr("address")
            var width = Width.u64
            if let t = args.first, t.text != "expect" { width = try parseWidth(t); args.removeFirst() }
            var expect: Expr? = nil
            if let t = args.first, t.text == "expect" {
                args.removeFirst()
                expect = try expr("expected value")
                if let c = expect?.constantValue, c > width.max {
                    throw LineError(column: expect!.column, message: "expected value \(expect!.text) does not fit in \(width.name)")
                }
            }
            try done()
            command = .read(a, width, expect: expect, bind: bind)
        case "touch":
            try requireProcess()
            let a = try expr("address"), l = try expr("length")
            var kind = AccessKind.write
            if let t = args.first {
                switch t.text {
                case "read": kind = .read
                case "write": kind = .write
                default: throw LineError(column: t.column, message: "expected 'read' or 'write', found '\(t.text)'")
                }
                args.removeFirst()
            }
            try done()
            command = .touch(a, l, kind)
        case "exit":
            try requireProcess()
            var status: Int64 = 0
            if let t = args.popFirst() {
                status = try Values.signed(t.text, column: t.column, what: "exit status", range: 0...255)
            }
            try done()
            command = .exit(Int32(status))
        case "show":
            let w = try word("what to show")
            guard let what = ShowWhat(rawValue: w.text) else {
                throw LineError(column: w.column, message: "unknown 'show' item '\(w.text)' (known: \(ShowWhat.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            var target = ProcRef.current
            if let t = args.first, t.text == "for" {
                args.removeFirst()
                let n = try word("process name after 'for'")
                guard what.perProcess else {
                    throw LineError(column: t.column, message: "'show \(what.rawValue)' is system-wide; 'for' is not allowed")
                }
                target = try processRef(n)
            } else if what.perProcess {
                try requireProcess()
            }
            try done()
            command = .show(what, target, catPath: nil)
        case "cat":
            let p = try word("file path")
            try done()
            command = try parseCat(p)
        case _ where KmemCommand.words.contains(cmd):
            command = .kmem(try parseKmem(cmd, first: first, &args, endColumn: endColumn, line: number))
            try done()
        case "getpagesize":
            try requireProcess()
            try done()
            command = .getpagesize
        case "pagewalk":
            try requireProcess()
            let a = try expr("address")
            try done()
            command = .pagewalk(a)
        default:
            throw LineError(column: first.column, message: "unknown command '\(cmd)'")
        }
        if let pc = pipeColumn {
            var filterable = false
            switch command {
            case .show, .freeCommand: filterable = true
            default: break
            }
            guard filterable else { throw LineError(column: pc, message: "'| grep' may only follow show, cat or free") }
        }
        var text = String(line.dropFirst(first.column - 1))
        if let hashRange = commentStart(line) { text = String(Array(line)[(first.column - 1)..<hashRange]) }
        while let l = text.last, l == " " || l == "\t" || l == "\r" { text.removeLast() }
        statements.append(Statement(line: number, column: first.column, text: text, command: command, filter: filter))
    }

    /// Returns the character index where a comment starts in `line`, or nil.
    func commentStart(_ line: String) -> Int? {
        var inString = false, escaped = false, prevSpace = true
        for (i, c) in line.enumerated() {
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else if c == "\"" { inString = true } else if c == "#" && prevSpace { return i }
            prevSpace = !inString && (c == " " || c == "\t")
        }
        return nil
    }

    /// Throws a `LineError` if `e` reads a variable no earlier line binds.
    func checkVariables(_ e: Expr) throws {
        for v in e.variables where variables[v.name] == nil {
            throw LineError(column: v.column, message: "unknown variable '\(v.name)'")
        }
    }

    /// Registers a variable named by `t`; throws on a bad name or a redefinition.
    mutating func newVariable(_ t: Token, line: Int) throws -> String {
        guard t.kind == .word, Values.isIdentifier(t.text) else {
            throw LineError(column: t.column, message: "invalid variable name '\(t.text)' (letters, digits and _, not starting with a digit)")
        }
        guard t.text != "NULL" else { throw LineError(column: t.column, message: "'NULL' cannot be a variable name") }
        if let prev = variables[t.text] {
            throw LineError(column: t.column, message: "redefinition of variable '\(t.text)' (first bound on line \(prev))")
        }
        variables[t.text] = line
        return t.text
    }

    /// Returns whether `s` can name a process: no '/', not all digits, not `self`.
    /// Returns normally when `n` can name a new process; throws when it is not a valid name or
    /// names a process already defined.
    func checkNewProcessName(_ n: Token) throws {
        guard Self.isProcessName(n.text), n.kind == .word else {
            throw LineError(column: n.column, message: "invalid process name '\(n.text)' (no '/', not a number, not 'self')")
        }
        guard !processNames.contains(n.text) else {
            throw LineError(column: n.column, message: "redefinition of process '\(n.text)'")
        }
    }

    static func isProcessName(_ s: String) -> Bool {
        !s.isEmpty && !s.contains("/") && s != "self" && !s.allSatisfy({ $0 >= "0" && $0 <= "9" })
    }

    /// Returns the process a `for NAME` / `/proc/NAME` refers to; throws for an unknown name.
    func processRef(_ t: Token) throws -> ProcRef {
        if t.text == "self" { return .current }
        if !t.text.isEmpty, t.text.allSatisfy({ $0 >= "0" && $0 <= "9" }) {
            guard let pid = Int32(t.text) else { throw LineError(column: t.column, message: "pid \(t.text) is out of range") }
            return .pid(pid)
        }
        guard processNames.contains(t.text) else { throw LineError(column: t.column, message: "unknown process '\(t.text)'") }
        return .named(t.text)
    }

    /// The directory of the THP settings in sysfs.
    static let thpSysfsDir = "/sys/kernel/mm/transparent_hugepage/"
    static let hugetlbSysfsDir = "/sys/kernel/mm/hugepages/"

    /// Splits /sys/kernel/mm/hugepages/DIR/FILE into DIR and FILE; throws for a file the model lacks.
    static func hugetlbSysfsFile(_ t: Token) throws -> (String, String) {
        let rest = t.text.dropFirst(hugetlbSysfsDir.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard rest.count == 2, Kernel.hugetlbSysfsDirs.contains(rest[0]), Kernel.hugetlbSysfsFiles.contains(rest[1]) else {
            throw LineError(column: t.column, message: "no such file '\(t.text)' (directories: \(Kernel.hugetlbSysfsDirs.joined(separator: ", ")); files: \(Kernel.hugetlbSysfsFiles.joined(separator: ", ")))")
        }
        return (rest[0], rest[1])
    }

    /// Returns the `show` command equivalent to `cat PATH`; throws for unsupported files.
    func parseCat(_ t: Token) throws -> Command {
        let supported = "supported: /proc/meminfo, /proc/buddyinfo, /proc/vmstat, /proc/swaps, /proc/interrupts, /proc/slabinfo, /proc/vmallocinfo, /proc/pagetypeinfo, /sys/kernel/debug/extfrag/unusable_index, /sys/kernel/debug/extfrag/extfrag_index, /sys/kernel/mm/transparent_hugepage/*, /sys/kernel/mm/hugepages/*/*, "
            + ShowWhat.procFiles.map { "/proc/PID/" + $0.rawValue }.joined(separator: ", ") + " (PID = self, a number or a process name)"
        switch t.text {
        case "/proc/meminfo": return .show(.meminfo, .current, catPath: t.text)
        case "/proc/vmstat": return .show(.vmstat, .current, catPath: t.text)
        case "/proc/swaps": return .show(.swaps, .current, catPath: t.text)
        case "/proc/buddyinfo": return .show(.buddyinfo, .current, catPath: t.text)
        case "/proc/interrupts": return .show(.interrupts, .current, catPath: t.text)
        case "/proc/slabinfo": return .show(.slabinfo, .current, catPath: t.text)
        case "/proc/vmallocinfo": return .show(.vmallocinfo, .current, catPath: t.text)
        case "/proc/pagetypeinfo": return .show(.pagetypeinfo, .current, catPath: t.text)
        case "/sys/kernel/debug/extfrag/unusable_index": return .show(.unusableIndex, .current, catPath: t.text)
        case "/sys/kernel/debug/extfrag/extfrag_index": return .show(.extfragIndex, .current, catPath: t.text)
        default: break
        }
        if t.text.hasPrefix(Self.hugetlbSysfsDir) {
            let (dir, file) = try Self.hugetlbSysfsFile(t)
            return .readHugetlbSysfs(dir: dir, file: file)
        }
        if t.text.hasPrefix(Self.thpSysfsDir) {
            let file = String(t.text.dropFirst(Self.thpSysfsDir.count))
            guard Kernel.thpSysfsFiles.contains(file) else {
                throw LineError(column: t.column, message: "cat: no such file '\(t.text)' (files: \(Kernel.thpSysfsFiles.joined(separator: ", ")))")
            }
            return .readTHPSysfs(file: file)
        }
        let parts = t.text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "", parts[1] == "proc",
              let what = ShowWhat(rawValue: parts[3]), ShowWhat.procFiles.contains(what) else {
            throw LineError(column: t.column, message: "cat: unsupported file '\(t.text)' (\(supported))")
        }
        let ref = try processRef(Token(kind: .word, text: parts[2], column: t.column + 6))
        if ref == .current && !anySpawn {
            throw LineError(column: t.column, message: "'cat \(t.text)' needs a running process; 'spawn' one first")
        }
        return .show(what, ref, catPath: t.text)
    }

    /// Returns the `policy` command: `policy NAME[,NAME…] frames N[,N…] refs P,P,… [seed S] [compare]`.
    /// Throws on an unknown policy, a frame count out of 1...4096, a bad page number or a missing part.
    func parsePolicy(_ args: inout ArraySlice<Token>, endColumn: Int) throws -> Command {
        let known = ReplacementPolicy.allCases.map(\.rawValue).joined(separator: ", ")
        guard let names = args.popFirst() else { throw LineError(column: endColumn, message: "missing policy name for 'policy' (known: \(known))") }
        var policies: [ReplacementPolicy] = []
        var col = names.column
        for n in names.text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let p = ReplacementPolicy(rawValue: String(n)) else {
                throw LineError(column: col, message: "unknown policy '\(n)' (known: \(known))")
            }
            policies.append(p)
            col += n.count + 1
        }
        var frames: [Int] = [], refs: [UInt64]? = nil, seed: UInt64 = 1, compare = false
        while let key = args.popFirst() {
            switch key.text {
            case "frames", "refs", "seed":
                guard let v = args.popFirst() else { throw LineError(column: key.column + key.text.count + 1, message: "missing value after '\(key.text)'") }
                switch key.text {
                case "frames":
                    var c = v.column
                    for f in v.text.split(separator: ",", omittingEmptySubsequences: false) {
                        guard let n = Int(f), (1...PageReplacement.maxFrames).contains(n) else {
                            throw LineError(column: c, message: "'\(f)' is not a frame count in 1...\(PageReplacement.maxFrames)")
                        }
                        frames.append(n)
                        c += f.count + 1
                    }
                case "refs":
                    do { refs = try ReplacementReport.parseReferences(v.text) } catch let e as ReferenceStringError {
                        throw LineError(column: v.column + e.column - 1, message: e.message)
                    }
                default:
                    seed = try Values.number(v.text, column: v.column)
                }
            case "compare": compare = true
            default:
                throw LineError(column: key.column, message: "unexpected '\(key.text)' in 'policy' (expected frames, refs, seed or compare)")
            }
        }
        guard !frames.isEmpty else { throw LineError(column: endColumn, message: "'policy' needs 'frames N'") }
        guard let r = refs else { throw LineError(column: endColumn, message: "'policy' needs 'refs P,P,…'") }
        return .policy(policies, frames: frames, refs: r, seed: seed, compare: compare)
    }

    /// Returns the CPU number `t` names; throws unless it is a CPU of the machine (0...cpus-1).
    func cpuNumber(_ t: Token) throws -> Int {
        let v = try Values.signed(t.text, column: t.column, what: "CPU number", range: 0...Int64(MachineConfig.maxCPUs))
        guard v < machine.cpus else {
            throw LineError(column: t.column, message: "no CPU \(v): the machine has \(machine.cpus) CPU\(machine.cpus == 1 ? "" : "s") (set 'machine cpus=N')")
        }
        return Int(v)
    }

    /// Returns the clone flags of a `vm,vfork,thread` word (`CLONE_` prefix and `|` accepted);
    /// throws for an unknown flag or CLONE_THREAD without CLONE_VM (clone() returns EINVAL).
    func parseCloneFlags(_ t: Token) throws -> CloneFlags {
        var f: CloneFlags = []
        var col = t.column
        for part in t.text.split(separator: ",", omittingEmptySubsequences: false).flatMap({ $0.split(separator: "|", omittingEmptySubsequences: false) }) {
            var name = part.lowercased()
            if name.hasPrefix("clone_") { name = String(name.dropFirst(6)) }
            switch name {
            case "vm": f.insert(.vm)
            case "vfork": f.insert(.vfork)
            case "thread": f.insert(.thread)
            default: throw LineError(column: col, message: "unknown clone flag '\(part)' (known: vm, vfork, thread)")
            }
            col += part.count + 1
        }
        if f.contains(.thread) && !f.contains(.vm) {
            throw LineError(column: t.column, message: "CLONE_THREAD needs CLONE_VM (clone() would fail with EINVAL)")
        }
        return f
    }

    /// Returns a path token naming a known file; throws for a missing or unknown one.
    func filePath(_ t: Token?, endColumn: Int) throws -> String {
        guard let t = t else { throw LineError(column: endColumn, message: "missing file path") }
        guard files.contains(t.text) else {
            throw LineError(column: t.column, message: "unknown file '\(t.text)' (create it with 'file create PATH size N')")
        }
        return t.text
    }

    /// Returns a file offset or size `t` (≤ the model's maximum file size, page aligned when
    /// `aligned`); throws otherwise.
    func fileOffset(_ t: Token?, what: String, aligned: Bool, endColumn: Int) throws -> UInt64 {
        guard let t = t else { throw LineError(column: endColumn, message: "missing \(what)") }
        let v = try Values.number(t.text, column: t.column)
        guard v <= FileSystem.maxFileSize else {
            throw LineError(column: t.column, message: "\(what) \(t.text) is beyond the model's maximum file size (\(FileSystem.maxFileSize) bytes)")
        }
        if aligned && v % MMCore.PAGE_SIZE != 0 {
            throw LineError(column: t.column, message: "\(what) \(t.text) is not a multiple of the page size (4096)")
        }
        return v
    }

    /// Parses `file PATH [offset N]` at the end of an mmap line; throws on bad input.
    func parseMmapFile(_ args: ArraySlice<Token>, endColumn: Int) throws -> (path: String, offset: UInt64) {
        var a = args.dropFirst()
        let path = try filePath(a.popFirst(), endColumn: endColumn)
        var offset: UInt64 = 0
        if let t = a.popFirst() {
            guard t.text == "offset" else { throw LineError(column: t.column, message: "expected 'offset N' after the file path, found '\(t.text)'") }
            offset = try fileOffset(a.popFirst(), what: "offset", aligned: true, endColumn: endColumn)
        }
        if let extra = a.first { throw LineError(column: extra.column, message: "unexpected '\(extra.text)' after the mmap file arguments") }
        return (path, offset)
    }

    /// Parses `file create|write|read …`; throws on bad input.
    mutating func parseFile(_ args: inout ArraySlice<Token>, endColumn: Int) throws -> Command {
        guard let sub = args.popFirst() else { throw LineError(column: endColumn, message: "missing 'create', 'write' or 'read' after 'file'") }
        func finish() throws {
            if let extra = args.first { throw LineError(column: extra.column, message: "unexpected '\(extra.text)' after 'file \(sub.text)' arguments") }
        }
        switch sub.text {
        case "create":
            guard let p = args.popFirst() else { throw LineError(column: endColumn, message: "missing file path") }
            guard p.text.hasPrefix("/"), p.text.count > 1, !p.text.hasSuffix("/") else {
                throw LineError(column: p.column, message: "file path '\(p.text)' must be absolute")
            }
            guard !files.contains(p.text) else { throw LineError(column: p.column, message: "file '\(p.text)' already exists") }
            guard let s = args.popFirst(), s.text == "size" else { throw LineError(column: endColumn, message: "'file create' needs PATH size N") }
            let size = try fileOffset(args.popFirst(), what: "size", aligned: false, endColumn: endColumn)
            var kind = FileSystemKind.disk
            var fill: UInt8? = nil
            while let t = args.popFirst() {
                switch t.text {
                case "tmpfs": kind = .tmpfs
                case "fill":
                    guard let b = args.popFirst() else { throw LineError(column: endColumn, message: "missing byte value after 'fill'") }
                    let v = try Values.number(b.text, column: b.column)
                    guard v <= 255 else { throw LineError(column: b.column, message: "fill byte \(b.text) does not fit in u8") }
                    fill = UInt8(v)
                default: throw LineError(column: t.column, message: "unknown 'file create' option '\(t.text)' (known: tmpfs, fill BYTE)")
                }
            }
            files.insert(p.text)
            return .fileCreate(path: p.text, size: size, kind: kind, fill: fill)
        case "write":
            let path = try filePath(args.popFirst(), endColumn: endColumn)
            guard let o = args.popFirst(), o.text == "offset" else { throw LineError(column: endColumn, message: "'file write' needs PATH offset N VALUE") }
            let offset = try fileOffset(args.popFirst(), what: "offset", aligned: false, endColumn: endColumn)
            guard let v = args.popFirst() else { throw LineError(column: endColumn, message: "missing value for 'file write'") }
            if v.kind == .string {
                try finish()
                return .fileWrite(path: path, offset: offset, .bytes(Array(v.text.utf8)))
            }
            let n = try Values.number(v.text, column: v.column)
            var width = Width.u64
            if let t = args.popFirst() { width = try parseWidth(t) }
            try finish()
            guard n <= width.max else { throw LineError(column: v.column, message: "value \(v.text) does not fit in \(width.name)") }
            return .fileWrite(path: path, offset: offset, .integer(Expr(terms: [Term(negate: false, operand: .number(n), column: v.column)], text: v.text, column: v.column), width))
        case "read":
            let path = try filePath(args.popFirst(), endColumn: endColumn)
            var offset: UInt64 = 0, length: UInt64? = nil
            if args.first != nil {
                offset = try fileOffset(args.popFirst(), what: "offset", aligned: false, endColumn: endColumn)
                length = try fileOffset(args.popFirst(), what: "length", aligned: false, endColumn: endColumn)
            }
            try finish()
            return .fileRead(path: path, offset: offset, length: length)
        default:
            throw LineError(column: sub.column, message: "unknown 'file' command '\(sub.text)' (known: create, write, read)")
        }
    }

    /// Returns msync flags written as names joined by `|` or `,` (`sync`, `MS_ASYNC|MS_INVALIDATE`);
    /// throws at an unknown name.
    static func msyncFlags(_ t: Token) throws -> MsyncFlags {
        var f: MsyncFlags = []
        for (name, col) in Values.splitList(t.text, column: t.column) {
            var n = name.lowercased()
            if n.hasPrefix("ms_") { n.removeFirst(3) }
            switch n {
            case "sync": f.insert(.sync)
            case "async": f.insert(.async)
            case "invalidate": f.insert(.invalidate)
            default: throw LineError(column: col, message: "unknown msync flag '\(name)' (known: sync, async, invalidate)")
            }
        }
        return f
    }

    /// Returns the width named by `t` (`u8`…`u64`); throws otherwise.
    func parseWidth(_ t: Token) throws -> Width {
        switch t.text {
        case "u8": return .u8
        case "u16": return .u16
        case "u32": return .u32
        case "u64": return .u64
        default: throw LineError(column: t.column, message: "expected a width u8, u16, u32 or u64, found '\(t.text)'")
        }
    }

    /// The sysctls the language can set, with their accepted ranges.
    static let sysctlRanges: [(String, ClosedRange<Int64>)] = [
        ("vm.overcommit_memory", 0...2), ("vm.overcommit_ratio", 0...Int64(Int32.max)),
        ("vm.overcommit_kbytes", 0...(1 << 40)), ("vm.panic_on_oom", 0...2),
        ("vm.admin_reserve_kbytes", 0...(1 << 40)), ("vm.user_reserve_kbytes", 0...(1 << 40)),
        ("vm.max_map_count", 0...Int64(Int32.max)), ("vm.oom_kill_allocating_task", 0...1),
        ("kernel.randomize_va_space", 0...2),
        ("vm.drop_caches", 1...4),
        ("vm.swappiness", 0...200), ("vm.page-cluster", 0...31),
        ("vm.nr_hugepages", 0...(1 << 30)), ("vm.nr_overcommit_hugepages", 0...(1 << 30)),
    ]

    /// Returns one `vm.NAME[=VALUE]` setting; throws for an unknown name or a value out of range.
    func parseSysctl(_ t: Token) throws -> (String, Int?) {
        let parts = t.text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        guard let range = Self.sysctlRanges.first(where: { $0.0 == name })?.1 else {
            throw LineError(column: t.column, message: "unknown sysctl '\(name)' (known: \(Self.sysctlRanges.map(\.0).joined(separator: ", ")))")
        }
        guard parts.count == 2 else { return (name, nil) }
        let v = try Values.signed(parts[1], column: t.column + name.count + 1, what: name, range: range)
        return (name, Int(v))
    }

    /// Returns the machine configured by `key=value` words; throws on unknown keys or values out of range.
    func parseMachine(_ args: ArraySlice<Token>) throws -> MachineConfig {
        var m = MachineConfig()
        var seen: Set<String> = []
        var minFree: (value: UInt64, column: Int, text: String)? = nil
        var archColumn = 0
        for t in args {
            let parts = t.text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, t.kind == .word else {
                throw LineError(column: t.column, message: "expected KEY=VALUE, found '\(t.text)'")
            }
            let key = parts[0], value = parts[1], vcol = t.column + key.count + 1
            guard seen.insert(key).inserted else { throw LineError(column: t.column, message: "'\(key)' given twice") }
            switch key {
            case "ram":
                let v = try Values.number(value, column: vcol)
                guard v >= 64 << 20, v <= 1 << 40 else {
                    throw LineError(column: vcol, message: "ram=\(value) is out of range (64M...1T)")
                }
                m.ramBytes = v
            case "swap":
                let v = try Values.number(value, column: vcol)
                guard v <= 1 << 42 else { throw LineError(column: vcol, message: "swap=\(value) is out of range (0...4T)") }
                m.swapBytes = v
            case "min_free_kbytes":
                let v = try Values.number(value, column: vcol)
                minFree = (v, vcol, value)
            case "tlb.l1d", "tlb.l1i", "tlb.stlb", "tlb.l1d2m", "tlb.l1d1g", "tlb.l1i2m", "tlb.stlb1g":
                let g = try parseGeometry(value, column: vcol, key: key)
                switch key {
                case "tlb.l1d": m.tlb.l1d = g
                case "tlb.l1i": m.tlb.l1i = g
                case "tlb.stlb": m.tlb.stlb = g
                case "tlb.l1d2m": m.tlb.l1d2M = g
                case "tlb.l1d1g": m.tlb.l1d1G = g
                case "tlb.l1i2m": m.tlb.l1i2M = g
                default: m.tlb.stlb1G = g
                }
            case "pwc.pml4e", "pwc.pdpte", "pwc.pde":
                let v = try Values.number(value, column: vcol)
                guard v <= UInt64(TLBConfig.maxWalkCacheEntries) else {
                    throw LineError(column: vcol, message: "\(key)=\(value) is out of range (0...\(TLBConfig.maxWalkCacheEntries) entries, 0 = off)")
                }
                switch key {
                case "pwc.pml4e": m.tlb.pwcPML4E = Int(v)
                case "pwc.pdpte": m.tlb.pwcPDPTE = Int(v)
                default: m.tlb.pwcPDE = Int(v)
                }
            case "seed":
                m.seed = try Values.number(value, column: vcol)
            case "cpus":
                let v = try Values.number(value, column: vcol)
                guard v >= 1, v <= UInt64(MachineConfig.maxCPUs) else {
                    throw LineError(column: vcol, message: "cpus=\(value) is out of range (1...\(MachineConfig.maxCPUs))")
                }
                m.cpus = Int(v)
            case "slab":
                guard let kind = SlabAllocatorKind(rawValue: value) else {
                    throw LineError(column: vcol, message: "slab must be 'slub', 'slab' or 'slob', found '\(value)'")
                }
                m.slab = kind
            case "pcid":
                switch value {
                case "on": m.tlb.pcid = true
                case "off": m.tlb.pcid = false
                default: throw LineError(column: vcol, message: "pcid must be 'on' or 'off', found '\(value)'")
                }
            case "thp":
                guard let mode = THPMode(rawValue: value) else {
                    throw LineError(column: vcol, message: "thp must be 'always', 'madvise' or 'never', found '\(value)'")
                }
                m.thp = mode
            case "fault_around_bytes":
                let v = try Values.number(value, column: vcol)
                guard let pages = MachineConfig.faultAroundPages(bytes: v) else {
                    throw LineError(column: vcol, message: "fault_around_bytes=\(value) is out of range (0...2M, one page table)")
                }
                m.faultAroundPages = pages
            case "arch":
                guard let a = Architecture(name: value) else {
                    throw LineError(column: vcol, message: "unknown architecture '\(value)' (known: \(PageTableFormat.machineNames.joined(separator: ", ")))")
                }
                if let why = PageTableFormat.rejection(a) { throw LineError(column: vcol, message: why) }
                m.arch = a
                archColumn = t.column
            case "hugepages":
                guard let (m2, g1) = MachineConfig.parseHugepages(value) else {
                    throw LineError(column: vcol, message: "hugepages must be 2M:N,1G:M (either part optional), found '\(value)'")
                }
                m.hugepages2M = m2; m.hugepages1G = g1
            default:
                throw LineError(column: t.column, message: "unknown machine setting '\(key)' (known: ram, swap, min_free_kbytes, tlb.l1d, tlb.l1d2m, tlb.l1d1g, tlb.l1i, tlb.l1i2m, tlb.stlb, tlb.stlb1g, pwc.pml4e, pwc.pdpte, pwc.pde, pcid, seed, cpus, fault_around_bytes, slab, thp, arch, hugepages)")
            }
        }
        if let mf = minFree {
            guard mf.value >= 128, mf.value <= m.ramBytes / 2048 else {
                throw LineError(column: mf.column, message: "min_free_kbytes=\(mf.text) is out of range (128...\(m.ramBytes / 2048), half of RAM in KiB)")
            }
            m.minFreeKbytes = Int(mf.value)
        }
        if m.physicalLayout != .x86_64 && m.ramBytes > m.physicalLayout.maxRAMBytes {
            throw LineError(column: archColumn, message: "arch=\(m.arch) addresses at most 4G of RAM (ram=\(m.ramBytes >> 20)M)")
        }
        if m.physicalLayout == .x86_32 && m.hugepages2M + m.hugepages1G > 0 {
            throw LineError(column: archColumn, message: "hugetlb pools are not modelled on a 32-bit machine (its huge page is 4 MiB, or 2 MiB with PAE)")
        }
        if m.physicalLayout == .arm32 && m.hugepages2M + m.hugepages1G > 0 {
            throw LineError(column: archColumn, message: "hugetlb pools are not modelled on a 32-bit machine (ARM without LPAE has no CONFIG_HUGETLB_PAGE)")
        }
        return m
    }

    /// Returns a TLB geometry `ENTRIESxWAYS`; throws unless 1 ≤ ways ≤ entries ≤ 65536 and ways divides entries.
    func parseGeometry(_ text: String, column: Int, key: String) throws -> TLBGeometry {
        let parts = text.split(separator: "x", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { throw LineError(column: column, message: "\(key) must be ENTRIESxWAYS, e.g. 64x4") }
        let e = try Values.number(parts[0], column: column)
        let w = try Values.number(parts[1], column: column + parts[0].count + 1)
        guard e >= 1, e <= 65536, w >= 1, w <= e, e % w == 0 else {
            throw LineError(column: column, message: "\(key)=\(text) is out of range (1 ≤ ways ≤ entries ≤ 65536, entries a multiple of ways)")
        }
        return TLBGeometry(entries: Int(e), ways: Int(w))
    }

    /// Returns the spawn specification after `spawn PATH`; throws on unknown options or values out of range.
    mutating func parseSpawn(path: Token, _ args: inout ArraySlice<Token>, line: Int) throws -> SpawnSpec {
        var name = String(path.text.split(separator: "/").last ?? Substring(path.text))
        var image = ProgramImage(path: path.text)
        // A 32-bit machine's synthetic programs are classic non-PIE executables (i386 text at
        // 0x08048000, ARM at 0x00010000) unless `pie` is given.
        if machine.physicalLayout != .x86_64 { image.pie = false }
        var adj = 0
        var uid: UInt32 = 1000
        var explicitName = false
        var syntheticColumn: Int? = nil
        while let t = args.popFirst() {
            if t.text != "as" && !t.text.hasPrefix("oom_score_adj=") && !t.text.hasPrefix("uid=") && syntheticColumn == nil {
                syntheticColumn = t.column
            }
            if t.text == "as" {
                guard let n = args.popFirst() else { throw LineError(column: t.column + 2, message: "missing process name after 'as'") }
                try checkNewProcessName(n)
                name = n.text; explicitName = true
                continue
            }
            if t.text == "pie" { image.pie = true; continue }
            if t.text == "nopie" { image.pie = false; continue }
            let parts = t.text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else {
                throw LineError(column: t.column, message: "unknown spawn option '\(t.text)' (known: as NAME, pie, nopie, text=, rodata=, data=, bss=, oom_score_adj=, uid=)")
            }
            let vcol = t.column + parts[0].count + 1
            switch parts[0] {
            case "text", "rodata", "data", "bss":
                let v = try Values.number(parts[1], column: vcol)
                guard v <= 1 << 30 else { throw LineError(column: vcol, message: "\(parts[0])=\(parts[1]) is out of range (0...1G)") }
                switch parts[0] {
                case "text": image.textBytes = v
                case "rodata": image.rodataBytes = v
                case "data": image.dataBytes = v
                default: image.bssBytes = v
                }
            case "oom_score_adj":
                adj = Int(try Values.signed(parts[1], column: vcol, what: "oom_score_adj", range: -1000...1000))
            case "uid":
                uid = UInt32(try Values.signed(parts[1], column: vcol, what: "uid", range: 0...65535))
            default:
                throw LineError(column: t.column, message: "unknown spawn option '\(parts[0])' (known: as NAME, pie, nopie, text=, rodata=, data=, bss=, oom_score_adj=, uid=)")
            }
        }
        if !explicitName && !Self.isProcessName(name) {
            throw LineError(column: path.column, message: "cannot derive a process name from '\(path.text)'; add 'as NAME'")
        }
        processNames.insert(name)
        return SpawnSpec(image: image, name: name, oomScoreAdj: adj, uid: uid, syntheticOptionColumn: syntheticColumn)
    }

    /// Returns the segments of an `echo`/`note` text with `${EXPR}` and `${EXPR:d}` interpolations.
    func parseText(_ tokens: [Token], cmd: String, endColumn: Int) throws -> [Segment] {
        var chars: [Character] = [], cols: [Int] = []
        for (i, t) in tokens.enumerated() {
            if i > 0 { chars.append(" "); cols.append(t.column - 1) }
            chars.append(contentsOf: Array(t.text))
            cols.append(contentsOf: t.kind == .string ? t.columns : (0..<t.text.count).map { t.column + $0 })
        }
        var segs: [Segment] = []
        var text = ""
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 1 < chars.count, chars[i + 1] == "{" {
                guard let close = chars[(i + 2)...].firstIndex(of: "}") else {
                    throw LineError(column: cols[i], message: "unterminated '${' (expected '}')")
                }
                var inner = String(chars[(i + 2)..<close])
                let col = close > i + 2 ? cols[i + 2] : cols[i]
                var format = InterpolationFormat.hex
                if let colon = inner.lastIndex(of: ":") {
                    let spec = String(inner[inner.index(after: colon)...])
                    switch spec {
                    case "d": format = .decimal
                    case "x": format = .hex
                    default: throw LineError(column: cols[i], message: "unknown format ':\(spec)' in '${…}' (use :d or :x)")
                    }
                    inner = String(inner[..<colon])
                }
                guard !inner.isEmpty else { throw LineError(column: cols[i], message: "empty '${}'") }
                let e = try Values.expression(inner, column: col)
                try checkVariables(e)
                if !text.isEmpty { segs.append(.text(text)); text = "" }
                segs.append(.value(e, format))
                i = close + 1
                continue
            }
            text.append(chars[i] == "\u{1}" ? "$" : chars[i])
            i += 1
        }
        if !text.isEmpty { segs.append(.text(text)) }
        return segs
    }
}
