/// Sweeps: a grid of machine configurations over a set of traces, one replay per combination,
/// run in parallel (one Kernel per run, each on its own thread; kernels share nothing), written as
/// one table with a row per run. Shards select every N-th run so that a cluster can split a
/// sweep; `mergeSweepTables` joins the shards' tables and checks that no run is missing.
import Foundation
import MMCore

/// A parsed sweep specification (JSON; see README "Sweeps").
public struct SweepSpec: Sendable {
    /// Trace paths (resolved against the spec's directory).
    public var traces: [String]
    /// Grid axes in the order they vary (sorted by key; the last varies fastest) and their values.
    public var axes: [(key: String, values: [String])]
    /// Options applied to every run.
    public var fixed: [(String, String)]
    /// "csv" or "jsonl".
    public var format: String

    /// Number of runs: traces × the product of the axes' lengths.
    public var runCount: Int { axes.reduce(traces.count) { $0 * $1.values.count } }

    /// The trace and the option values of run `i` (0-based).
    public func run(_ i: Int) -> (trace: String, options: [(String, String)]) {
        var rest = i
        var opts: [(String, String)] = []
        for a in axes.reversed() {
            opts.append((a.key, a.values[rest % a.values.count]))
            rest /= a.values.count
        }
        return (traces[rest], fixed + opts.reversed())
    }

    /// Parses the JSON text of a spec at `path`. Throws `MachineOptionError` naming the file and
    /// the offending key for anything malformed (unknown keys, bad values, missing traces).
    public static func parse(_ data: Data, path: String) throws -> SweepSpec {
        func err(_ s: String) -> MachineOptionError { MachineOptionError("\(path): \(s)") }
        let obj: Any
        do { obj = try JSONSerialization.jsonObject(with: data) } catch { throw err("not valid JSON") }
        guard let d = obj as? [String: Any] else { throw err("expected a JSON object with \"traces\" and \"grid\"") }
        for k in d.keys where !["traces", "grid", "fixed", "format"].contains(k) { throw err("unknown key '\(k)' (known: traces, grid, fixed, format)") }
        guard let ts = d["traces"] as? [String], !ts.isEmpty else { throw err("\"traces\" must be a non-empty array of trace paths") }
        let dir = (path as NSString).deletingLastPathComponent
        let traces = ts.map { $0.hasPrefix("/") || dir.isEmpty ? $0 : dir + "/" + $0 }
        var axes: [(String, [String])] = []
        let grid = d["grid"] as? [String: Any] ?? [:]
        if d["grid"] != nil && d["grid"] as? [String: Any] == nil { throw err("\"grid\" must be an object of option: [values]") }
        var probe = MachineConfig()
        for key in grid.keys.sorted() {
            guard let vs = grid[key] as? [Any], !vs.isEmpty else { throw err("grid.\(key) must be a non-empty array") }
            var texts: [String] = []
            for (i, v) in vs.enumerated() {
                guard let t = jsonOptionText(v) else { throw err("grid.\(key)[\(i)] must be a string, a number or a boolean") }
                do { try applyMachineOption(&probe, key, t) } catch let e as MachineOptionError { throw err("grid.\(key)[\(i)]: \(e.message)") }
                texts.append(t)
            }
            axes.append((key, texts))
        }
        var fixed: [(String, String)] = []
        if let f = d["fixed"] {
            guard let fd = f as? [String: Any] else { throw err("\"fixed\" must be an object of option: value") }
            for key in fd.keys.sorted() {
                guard let t = jsonOptionText(fd[key]!) else { throw err("fixed.\(key) must be a string, a number or a boolean") }
                do { try applyMachineOption(&probe, key, t) } catch let e as MachineOptionError { throw err("fixed.\(key): \(e.message)") }
                fixed.append((key, t))
            }
        }
        let format = d["format"] as? String ?? "csv"
        guard format == "csv" || format == "jsonl" else { throw err("\"format\" must be \"csv\" or \"jsonl\"") }
        return SweepSpec(traces: traces, axes: axes.map { (key: $0.0, values: $0.1) }, fixed: fixed, format: format)
    }
}

/// Parses a shard `K/N` (1 ≤ K ≤ N); nil when malformed.
public func parseShard(_ s: String) -> (Int, Int)? {
    let p = s.split(separator: "/")
    guard p.count == 2, let k = Int(p[0]), let n = Int(p[1]), n >= 1, k >= 1, k <= n, n <= 100_000 else { return nil }
    return (k, n)
}

/// The column names of a sweep table.
public func sweepColumns() -> [String] {
    ["run", "total_runs", "trace"] + machineOptionKeys + ReplayCounters().fields.map { $0.0 } + ["syscall_problems"]
}

/// Runs the runs of `spec` that belong to shard `shard` (K, N) on `jobs` threads and returns
/// the table rows (without header) in run order. `progress` is called after each run with the
/// number done. Throws the first error (unreadable or corrupt trace) after all runs end.
public func runSweep(_ spec: SweepSpec, shard: (Int, Int) = (1, 1), jobs: Int,
                     progress: ((Int, Int) -> Void)? = nil) throws -> [String] {
    let selected = (0..<spec.runCount).filter { $0 % shard.1 == shard.0 - 1 }
    var rows = [String?](repeating: nil, count: selected.count)
    var errors = [String?](repeating: nil, count: selected.count)
    let lock = NSLock()
    var done = 0
    let next = ManagedAtomicCounter()
    let workers = max(1, min(jobs, selected.count))
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
            let j = next.increment()
            if j >= selected.count { return }
            let i = selected[j]
            let (trace, opts) = spec.run(i)
            var config = MachineConfig()
            var row: String? = nil, failure: String? = nil
            do {
                for (k, v) in opts { try applyMachineOption(&config, k, v) }
                let r = try Replayer(config: config).run(TraceReader(path: trace))
                row = sweepRow(run: i, of: spec.runCount, trace: trace, config: config, report: r, format: spec.format)
            } catch { failure = "run \(i) (\(trace)): \(error)" }
            lock.lock()
            rows[j] = row; errors[j] = failure
            done += 1
            let d = done
            lock.unlock()
            progress?(d, selected.count)
        }
    }
    if let e = errors.compactMap({ $0 }).first { throw MachineOptionError(e) }
    return rows.map { $0! }
}

/// A counter shared by worker threads.
final class ManagedAtomicCounter {
    let lock = NSLock()
    var value = 0
    /// Returns the current value and adds one.
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value - 1 }
}

/// One table row (CSV line or JSON object) for a run.
public func sweepRow(run: Int, of total: Int, trace: String, config: MachineConfig, report: ReplayReport, format: String) -> String {
    let m = machineFields(config).map { $0.1 }
    let metrics = report.total.fields.map { String($0.1) } + [String(report.syscallProblemCount)]
    if format == "jsonl" {
        let cols = sweepColumns()
        var vals: [String] = [String(run), String(total), jsonString(trace)] + m.map { jsonString($0) } + metrics
        vals = zip(cols, vals).map { "\(jsonString($0.0)): \($0.1)" }
        return "{" + vals.joined(separator: ", ") + "}"
    }
    return ([String(run), String(total), csvField(trace)] + m.map(csvField) + metrics).joined(separator: ",")
}

/// Quotes a CSV field when it holds a comma, quote or newline.
func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// Returns the header line of a table in `format` (JSON lines have none: nil).
public func sweepHeader(_ format: String) -> String? { format == "csv" ? sweepColumns().joined(separator: ",") : nil }

/// Joins shard tables (CSV with the sweep header, or JSON lines) into one, in run order.
/// Throws `MachineOptionError` for a file that is not a sweep table, mixed formats, a run that
/// appears twice, or missing runs (listed).
public func mergeSweepTables(_ files: [(name: String, text: String)]) throws -> String {
    var format: String? = nil
    var rows: [Int: String] = [:]
    var total: Int? = nil
    for f in files {
        var lines = f.text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard let first = lines.first else { continue }
        let fmt = first.hasPrefix("{") ? "jsonl" : "csv"
        if let g = format, g != fmt { throw MachineOptionError("\(f.name): mixes CSV and JSON-lines tables") }
        format = fmt
        if fmt == "csv" {
            guard first == sweepHeader("csv") else { throw MachineOptionError("\(f.name):1: not a sweep table (unexpected header)") }
            lines.removeFirst()
        }
        for (n, l) in lines.enumerated() {
            let lineNo = n + (fmt == "csv" ? 2 : 1)
            let run: Int?, of: Int?
            if fmt == "csv" {
                let c = l.split(separator: ",", maxSplits: 2)
                run = c.count > 1 ? Int(c[0]) : nil; of = c.count > 1 ? Int(c[1]) : nil
            } else {
                let o = (try? JSONSerialization.jsonObject(with: Data(l.utf8))) as? [String: Any]
                run = o?["run"] as? Int; of = o?["total_runs"] as? Int
            }
            guard let r = run, let t = of, r >= 0, r < t else { throw MachineOptionError("\(f.name):\(lineNo): not a sweep row") }
            if let tt = total, tt != t { throw MachineOptionError("\(f.name):\(lineNo): from a sweep of \(t) runs, the others have \(tt)") }
            total = t
            guard rows[r] == nil else { throw MachineOptionError("\(f.name):\(lineNo): run \(r) appears twice") }
            rows[r] = l
        }
    }
    guard let t = total else { throw MachineOptionError("no rows to merge") }
    let missing = (0..<t).filter { rows[$0] == nil }
    if !missing.isEmpty {
        throw MachineOptionError("\(missing.count) of \(t) runs missing: " + missing.prefix(20).map(String.init).joined(separator: ", ") + (missing.count > 20 ? ", …" : ""))
    }
    var out = format == "csv" ? sweepHeader("csv")! + "\n" : ""
    for r in 0..<t { out += rows[r]! + "\n" }
    return out
}

/// Writes `text` to `path` through a temporary file renamed into place. Throws `TraceError.write`.
public func writeFileAtomically(_ path: String, _ text: String) throws {
    let tmp = path + ".tmp-\(getpid())"
    guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) else { throw TraceError.write(path, "cannot create \(tmp)") }
    guard rename(tmp, path) == 0 else { unlink(tmp); throw TraceError.write(path, String(cString: strerror(errno))) }
}

/// The batch script of a Slurm job array that runs shard $SLURM_ARRAY_TASK_ID of `tasks` with
/// `mmsim` (absolute path) and writes part-K files into `dir`.
public func slurmScript(mmsim: String, spec: String, tasks: Int, dir: String, jobs: Int) -> String {
    """
    #!/bin/sh
    #SBATCH --job-name=mmsim-sweep
    #SBATCH --array=1-\(tasks)
    #SBATCH --cpus-per-task=\(jobs)
    #SBATCH --output=\(dir)/slurm-%A_%a.out
    exec '\(mmsim)' sweep '\(spec)' --shard "${SLURM_ARRAY_TASK_ID}/\(tasks)" --jobs \(jobs) -o '\(dir)/part-'"${SLURM_ARRAY_TASK_ID}"

    """
}
