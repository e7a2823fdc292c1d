/// A recorded run of a scenario: the light record of every event, and full snapshots made on
/// demand by replaying the (deterministic) run up to the event asked for.
import Foundation
import MMCore
import MMProcFS
import MMScenario

/// Limits on a scenario run for the web visualizer (the pasted scenarios of a server are hostile
/// input: these keep one from hanging or exhausting it).
public struct RunLimits: Sendable, Equatable {
    /// Most steps a scenario may have.
    public var maxSteps: Int
    /// Most wall-clock seconds one run (or replay) may take; the run stops after the step that
    /// crosses it.
    public var maxSeconds: Double
    /// Largest `machine ram=` accepted.
    public var maxRAMBytes: UInt64
    /// Largest request body (a pasted scenario) in bytes.
    public var maxBodyBytes: Int
    /// Most recordings a server keeps (the oldest is dropped first).
    public var maxRecordings: Int
    /// Runs of at most this many steps keep the snapshot and page tables of every event from the
    /// first run (no replay); longer runs replay windows of events on demand.
    public var recordAllSteps: Int

    public init(maxSteps: Int = 200_000, maxSeconds: Double = 20, maxRAMBytes: UInt64 = 4 << 30,
                maxBodyBytes: Int = 4 << 20, maxRecordings: Int = 8, recordAllSteps: Int = 2000) {
        self.recordAllSteps = recordAllSteps
        self.maxSteps = maxSteps; self.maxSeconds = maxSeconds; self.maxRAMBytes = maxRAMBytes
        self.maxBodyBytes = maxBodyBytes; self.maxRecordings = maxRecordings
    }
}

/// Why a scenario could not be recorded: a parse error or a refused limit, with its position.
public struct RecordingError: Error, Sendable, Equatable, Codable {
    public var file: String
    public var line: Int, column: Int
    public var message: String
    /// The diagnostic as `mmsim run` prints it (FILE:LINE:COL: error: MESSAGE, the line, a caret).
    public var rendered: String
}

/// One run of a scenario, recorded event by event.
public final class Recording: @unchecked Sendable {
    /// The scenario's file name ("demo.mmsim", "pasted.mmsim").
    public let file: String
    public let source: String
    /// The scenario replayed for snapshots on demand; nil for a trace replay (whose snapshots are
    /// all kept from the one run).
    let scenario: Scenario?
    /// The machine the run booted.
    let machine: MachineConfig
    let limits: RunLimits
    /// The light record of every event.
    public let events: [EventRecord]
    /// Why the run stopped before its last step ("time limit of 20 s"), if it did.
    public let stoppedEarly: String?
    /// The runner's exit status and its diagnostics (a failed expectation, say).
    public let exitStatus: Int32
    public let diagnostics: String
    /// The name of every user process seen, by pid: the scenario's name, else its command name.
    public let processNames: [String: String]
    /// Number of CPUs of the machine.
    public var cpuCount: Int { machine.cpus }
    /// The metrics before the first step (after boot).
    public let initialMetrics: Metrics

    /// The snapshots (without walk) and page-table copies of every event, for short runs.
    private let recorded: [Snapshot]?
    private let tableCopies: [PageTableCopy]?

    /// Snapshot windows made so far, keyed by "window/pid/va"; bounded.
    private var cache: [String: [Snapshot]] = [:]
    private var cacheOrder: [String] = []
    private let lock = NSLock()
    /// Events per replay window: a request replays up to the end of its window and keeps the
    /// snapshots of the whole window, so stepping within it does not replay.
    public static let window = 32

    /// Parses `source` and runs it to the end (or to a limit), recording every event; throws a
    /// `RecordingError` for a parse error or a machine beyond the limits.
    public init(source: String, file: String, limits: RunLimits = RunLimits()) throws {
        self.file = file; self.source = source; self.limits = limits
        let sc: Scenario
        do {
            sc = try Parser.parse(source, file: file)
        } catch let e as ScenarioError {
            throw RecordingError(file: e.file, line: e.line, column: e.column, message: e.message, rendered: e.rendered)
        }
        func refuse(_ message: String, word: String) -> RecordingError {
            let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
            let i = lines.firstIndex(where: { $0.drop(while: { $0 == " " }).hasPrefix(word) }) ?? 0
            let text = i < lines.count ? String(lines[i]) : ""
            let col = (text.firstIndex(where: { $0 != " " }).map { text.distance(from: text.startIndex, to: $0) } ?? 0) + 1
            return RecordingError(file: file, line: i + 1, column: col, message: message,
                                  rendered: "\(file):\(i + 1):\(col): error: \(message)\n\(text)\n" + String(repeating: " ", count: col - 1) + "^\n")
        }
        if sc.stepCount > limits.maxSteps {
            throw refuse("the scenario has \(sc.stepCount) steps; the server runs at most \(limits.maxSteps)", word: "")
        }
        if sc.machine.ramBytes > limits.maxRAMBytes {
            throw refuse("ram=\(sc.machine.ramBytes >> 20)M is above the server's limit of \(limits.maxRAMBytes >> 20)M", word: "machine")
        }
        scenario = sc
        machine = sc.machine
        var events: [EventRecord] = []
        events.reserveCapacity(sc.stepCount)
        var initial: Metrics? = nil
        var stopped: String? = nil
        var diag = ""
        var names: [String: String] = [:]
        let recordAll = sc.stepCount <= limits.recordAllSteps
        var snaps: [Snapshot] = [], copies: [PageTableCopy] = []
        let started = DispatchTime.now().uptimeNanoseconds
        let runner = Runner(scenario: sc, options: RunOptions(explain: true, allowHostFiles: false))
        runner.onStep = { r, k in
            events.append(EventRecord(index: r.index, line: r.line, column: r.column, text: r.text, result: r.result,
                                      output: r.output, narration: r.narration, kernelLog: r.kernelLog, pid: r.pid, cpu: r.cpu,
                                      metrics: SnapshotBuilder.metrics(k)))
            for p in events[events.count - 1].metrics.rssKB.keys where names[p] == nil {
                names[p] = Int32(p).flatMap { r.names[$0] ?? k.task($0)?.comm } ?? p
            }
            if recordAll {
                let (s, t) = SnapshotBuilder.snapshot(k, event: r.index, names: r.names, walkPID: nil, walkVA: nil, previousCPUs: snaps.last?.cpus,
                                                      previousTables: copies.last)
                snaps.append(s); copies.append(t)
            }
            if Double(DispatchTime.now().uptimeNanoseconds &- started) / 1e9 > limits.maxSeconds {
                stopped = "stopped at the time limit of \(Int(limits.maxSeconds)) s"
                return false
            }
            return true
        }
        // The metrics after boot: taken from a kernel booted the same way.
        if let k = try? Kernel(config: sc.machine) { initial = SnapshotBuilder.metrics(k) }
        exitStatus = runner.run(out: { _ in }, err: { diag += $0 })
        self.events = events
        self.stoppedEarly = stopped
        self.diagnostics = diag
        self.processNames = names
        self.recorded = recordAll ? snaps : nil
        self.tableCopies = recordAll ? copies : nil
        self.initialMetrics = initial ?? Metrics(timeNs: 0, freeKB: 0, availableKB: 0, faults: 0, majorFaults: 0,
                                                 tlbLookups: 0, tlbMisses: 0, swapPages: 0, rssKB: [:])
    }

    /// Makes a recording of a run made elsewhere (a trace replay): `snapshots` and `tables` hold
    /// one entry per event. Never fails.
    init(file: String, source: String, machine: MachineConfig, events: [EventRecord], snapshots: [Snapshot],
         tables: [PageTableCopy], stoppedEarly: String?, exitStatus: Int32, diagnostics: String,
         processNames: [String: String], initialMetrics: Metrics) {
        self.file = file; self.source = source; self.scenario = nil; self.machine = machine
        self.limits = RunLimits(); self.events = events; self.stoppedEarly = stoppedEarly
        self.exitStatus = exitStatus; self.diagnostics = diagnostics; self.processNames = processNames
        self.initialMetrics = initialMetrics; self.recorded = snapshots; self.tableCopies = tables
    }

    /// Returns the snapshot after event `event` (clamped to the recorded events), with the walk of
    /// `va` in process `pid` when given; nil when the run recorded no event. Replays the run up
    /// to the end of the event's window unless that window is cached.
    public func snapshot(event: Int, pid: Int32?, va: UInt64?) -> Snapshot? {
        guard !events.isEmpty else { return nil }
        let e = min(max(0, event), events.count - 1)
        if let rec = recorded, let copies = tableCopies, e < rec.count {
            var s = rec[e]
            s.walk = copies[e].walk(in: s, pid: pid, va: va)
            return s
        }
        guard let scenario else { return nil }
        let w = e / Recording.window
        let key = "\(w)/\(pid.map(String.init) ?? "-")/\(va.map { String($0) } ?? "-")"
        lock.lock(); defer { lock.unlock() }
        if let snaps = cache[key] { return snaps[e - w * Recording.window] }
        let first = w * Recording.window
        let last = min(events.count - 1, first + Recording.window - 1)
        var snaps: [Snapshot] = []
        var previous: [CPUSnapshot]? = nil
        var tables: PageTableCopy? = nil
        let runner = Runner(scenario: scenario, options: RunOptions(allowHostFiles: false))
        runner.onStep = { r, k in
            if r.index == first - 1 { previous = SnapshotBuilder.cpus(k, previous: nil) }
            if r.index >= first {
                let (s, t) = SnapshotBuilder.snapshot(k, event: r.index, names: r.names, walkPID: pid, walkVA: va, previousCPUs: previous,
                                                      previousTables: tables)
                previous = s.cpus; tables = t
                snaps.append(s)
            }
            return r.index < last
        }
        _ = runner.run(out: { _ in }, err: { _ in })
        guard snaps.count == last - first + 1 else { return snaps.last }
        cache[key] = snaps
        cacheOrder.append(key)
        if cacheOrder.count > 8 { cache[cacheOrder.removeFirst()] = nil }
        return snaps[e - first]
    }

    /// The timelines, with at most `maxPoints` points (the last event of each bucket of events).
    public func timeline(maxPoints: Int = 1000) -> Timeline {
        let n = events.count
        let per = max(1, (n + max(1, maxPoints) - 1) / max(1, maxPoints))
        var t = Timeline(eventsPerPoint: per, event: [], timeNs: [], freeKB: [], availableKB: [], faults: [],
                         majorFaults: [], tlbMissRate: [], swapPages: [], rss: [:], processes: processNames)
        var prevLookups = initialMetrics.tlbLookups, prevMisses = initialMetrics.tlbMisses
        var pids: [String] = []
        for e in events { for p in e.metrics.rssKB.keys where !pids.contains(p) { pids.append(p) } }
        for p in pids { t.rss[p] = [] }
        var i = per - 1
        while n > 0 {
            let idx = min(i, n - 1)
            let m = events[idx].metrics
            t.event.append(idx); t.timeNs.append(m.timeNs); t.freeKB.append(m.freeKB); t.availableKB.append(m.availableKB)
            t.faults.append(m.faults); t.majorFaults.append(m.majorFaults); t.swapPages.append(m.swapPages)
            let dl = m.tlbLookups &- prevLookups, dm = m.tlbMisses &- prevMisses
            t.tlbMissRate.append(dl > 0 ? Double(dm) / Double(dl) : 0)
            prevLookups = m.tlbLookups; prevMisses = m.tlbMisses
            for p in pids { t.rss[p]!.append(m.rssKB[p] ?? 0) }
            if idx == n - 1 { break }
            i += per
        }
        return t
    }
}

/// The timelines of a run, sampled at `event`.
public struct Timeline: Codable, Sendable, Equatable {
    public var eventsPerPoint: Int
    public var event: [Int]
    public var timeNs: [UInt64]
    public var freeKB: [UInt64], availableKB: [UInt64]
    public var faults: [UInt64], majorFaults: [UInt64]
    /// STLB misses per L1 TLB lookup over each point's interval (0 when no lookups).
    public var tlbMissRate: [Double]
    public var swapPages: [UInt64]
    /// RSS in KiB per pid, one value per point (0 before the process exists and after it dies).
    public var rss: [String: [Int]]
    /// Process names by pid (filled by the caller that has them).
    public var processes: [String: String]
}
