/// `pagetable-cost`: the memory a linear and a multi-level page table need (seed 003's 4 MiB per
/// process, 400 MiB for 100 processes, 0.804 MiB with two levels at 20 % use), and the page-table
/// memory the model measured (`PageTables` in /proc/meminfo) for a scenario.
import MMCore

enum LabCost {
    /// "4 MiB", "0.804 MiB" (three decimals, rounded half up), "4 KiB", "12 bytes".
    /// `scaled` is bytes times `den`.
    static func mib(_ scaled: UInt64, _ den: UInt64) -> String {
        // thousandths of a MiB, rounded half up: scaled * 1000 / (den * 2^20)
        let q = scaled.multipliedFullWidth(by: 1000)
        let d = den.multipliedFullWidth(by: 1 << 20)
        guard d.high == 0 else { return "?" }
        let (t, r) = d.low.dividingFullWidth((q.high, q.low))
        let th = t + (r * 2 >= d.low ? 1 : 0)
        return "\(th / 1000).\(String(repeating: "0", count: 3 - String(th % 1000).count))\(th % 1000) MiB"
    }

    /// Exact bytes in the largest whole unit: "4 MiB", "4 KiB", "400 MiB", or "N bytes".
    static func exact(_ b: UInt64) -> String {
        for (s, u) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] where b >= 1 << UInt64(s) && b % (1 << UInt64(s)) == 0 {
            return "\(b >> UInt64(s)) \(u)"
        }
        return "\(b) bytes"
    }

    /// Parses a fraction "20%", "0.2" or "1/5" into numerator / denominator.
    static func fraction(_ s: String, _ i: Int) throws -> (UInt64, UInt64) {
        let bad = LabError(argument: i, "--used: '\(s)' is not a fraction (20%, 0.2 or 1/5)")
        if s.hasSuffix("%") {
            let (n, d) = try fraction(String(s.dropLast()), i)
            guard d <= UInt64.max / 100 else { throw bad }
            return (n, d * 100)
        }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard let n = UInt64(parts[0]), let d = UInt64(parts[1]), d > 0 else { throw bad }
            return (n, d)
        }
        let dp = s.split(separator: ".", omittingEmptySubsequences: false)
        guard dp.count <= 2, dp.allSatisfy({ $0.allSatisfy(\.isNumber) }), !s.isEmpty, s != "." else { throw bad }
        let frac = dp.count == 2 ? String(dp[1]) : ""
        guard frac.count <= 9, let n = UInt64(String(dp[0]) + frac) else { throw bad }
        var d: UInt64 = 1
        for _ in 0..<frac.count { d *= 10 }
        return (n, d)
    }

    /// Runs `pagetable-cost`.
    static func run(_ a: inout LabArgs, readFile: ((String) -> String?)?, kernel: Kernel?) throws -> (String, JSON) {
        let va = try a.int("va-bits", default: 32, in: 2...64)
        let ps = try a.number("page-size", default: 4096, in: 2...(1 << 40))
        guard ps.nonzeroBitCount == 1 else { throw LabError("--page-size must be a power of two") }
        let eb = try a.number("entry-size", default: 4, in: 1...64)
        var levelBits: [Int]? = nil
        if let (s, i) = try a.value("levels") {
            levelBits = try s.split(separator: ",", omittingEmptySubsequences: false).map {
                guard let b = Int($0), b >= 1, b <= 64 else { throw LabError(argument: i, "--levels: '\(s)' is not a list of index bits per level (e.g. 10,10)") }
                return b
            }
        }
        var num: UInt64 = 1, den: UInt64 = 1
        if let (s, i) = try a.value("used") { (num, den) = try fraction(s, i) }
        let procs = try a.number("processes", default: 1, in: 1...(1 << 20))
        let measured = a.flag("measured")
        _ = try a.positionals().first.map { throw LabError(argument: $0.1, "unexpected '\($0.0)'") }
        let c = PageTableCost(vaBits: va, pageShift: ps.trailingZeroBitCount, entryBytes: eb, levelBits: levelBits,
                              usedNumerator: num, usedDenominator: den, processes: procs)
        if let e = c.validate() { throw LabError(e) }
        var out = "address space 2^\(va) bytes, \(exact(ps)) pages, \(eb)-byte entries: \(1 << UInt64(va - c.pageShift)) virtual pages\n"
        out += "linear table: \(1 << UInt64(va - c.pageShift)) entries x \(eb) bytes = \(exact(c.linearBytes)) per process"
        if procs > 1 { out += "; \(procs) processes: \(exact(c.linearBytes * procs))" }
        out += "\n"
        out += "multi-level: \(c.levelBits.count) levels of \(c.levelBits.map(String.init).joined(separator: " + ")) index bits\n"
        for i in c.levelBits.indices {
            out += "  level \(i + 1): tables of \(1 << UInt64(c.levelBits[i])) entries (\(exact(c.tableBytes(i)))); \(c.fullTables(i)) when all is mapped\n"
        }
        out += "  fully mapped: \(exact(c.fullBytes))\n"
        let pct = num * 100 / den
        let usedText = num == den ? "100%" : (num * 100 % den == 0 ? "\(pct)%" : "\(num)/\(den)")
        out += "with \(usedText) of the space in use: top table \(exact(c.tableBytes(0))) + \(usedText) x \(exact(c.fullBytes - c.tableBytes(0))) = \(mib(c.estimateScaled, den))"
        if procs > 1 { out += "; \(procs) processes: \(mib(c.estimateScaled * procs, den))" }
        out += "\n"
        out += "  in whole tables (the used part contiguous from 0): \(c.wholeTables.map(String.init).joined(separator: " + ")) tables = \(exact(c.wholeBytes)) (\(mib(c.wholeBytes, 1)))\n"
        var json: [(String, JSON)] = [("vaBits", .int(Int64(va))), ("pageSize", .uint(ps)), ("entrySize", .uint(eb)),
                                      ("levelBits", .array(c.levelBits.map { .int(Int64($0)) })), ("processes", .uint(procs)),
                                      ("linearBytes", .uint(c.linearBytes)), ("linearBytesAllProcesses", .uint(c.linearBytes * procs)),
                                      ("fullMultiLevelBytes", .uint(c.fullBytes)), ("used", .string(usedText)),
                                      ("estimateMiB", .string(mib(c.estimateScaled, den))), ("wholeTables", .array(c.wholeTables.map { .uint($0) })),
                                      ("wholeTableBytes", .uint(c.wholeBytes))]
        if measured {
            if let k = kernel {
                let m = measure(k)
                out += "measured in the model (x86-64, 4 levels of 512 8-byte entries): PageTables: \(m.pages * 4) kB = \(m.pages) page-table pages for \(m.processes) address space\(m.processes == 1 ? "" : "s")\n"
                json.append(("measuredPageTablesKB", .uint(m.pages * 4)))
                json.append(("measuredAddressSpaces", .uint(m.processes)))
            } else if readFile != nil {
                throw LabError("--measured reports the model's PageTables inside a scenario; on the command line use --scenario FILE or --example NAME")
            }
        }
        return (out, .object(json))
    }

    /// The model's page-table pages (NR_PAGETABLE) and the number of address spaces.
    static func measure(_ k: Kernel) -> (pages: UInt64, processes: UInt64) {
        var mms = Set<ObjectIdentifier>()
        for t in k.tasks.values where t.state.isAlive { if let mm = t.mm { mms.insert(ObjectIdentifier(mm)) } }
        return (UInt64(max(k.stat.nrPageTable, 0)), UInt64(mms.count))
    }
}
