/// Recordings of trace replays: the replay of a recorded trace (`mmsim replay`) sampled between
/// blocks, each sample an event of the visualizer with its full snapshot.
import Foundation
import MMCore
import MMTrace

extension Recording {
    /// Replays the trace at `path` on a machine booted with `machine`, sampling the kernel after
    /// every block of records (at most `maxSamples` samples are kept: past that, every other one
    /// is dropped and the sampling interval doubles) and once at the end. Throws `RecordingError`
    /// (line 0) when the machine cannot boot or the trace cannot be read or is corrupt.
    /// Linux: none (the replay is mmsim's; the snapshots are the same as a scenario's).
    public convenience init(trace path: String, machine: MachineConfig, maxSamples: Int = 100) throws {
        let name = (path as NSString).lastPathComponent
        func fail(_ message: String) -> RecordingError {
            RecordingError(file: name, line: 0, column: 0, message: message, rendered: "mmsim: error: \(name): \(message)\n")
        }
        let reader: TraceReader, replayer: Replayer
        do { reader = try TraceReader(path: path) } catch { throw fail("\(error)") }
        do { replayer = try Replayer(config: machine) } catch { throw fail("cannot boot the machine: \(error)") }
        let cap = max(2, maxSamples)
        var events: [EventRecord] = [], snaps: [Snapshot] = [], tables: [PageTableCopy] = []
        var names: [String: String] = [:]
        var previousFaults: UInt64 = 0
        replayer.sampleEvery = 1
        replayer.onSample = { k, records in
            if events.count >= cap {
                // Keep every other sample (the 2nd, 4th, ...) and sample half as often.
                let keep = stride(from: 1, to: events.count, by: 2)
                events = keep.map { events[$0] }; snaps = keep.map { snaps[$0] }; tables = keep.map { tables[$0] }
                replayer.sampleEvery = replayer.sampleEvery &* 2
                previousFaults = events.last?.metrics.faults ?? 0
            }
            let m = SnapshotBuilder.metrics(k)
            var pidNames: [Int32: String] = [:]
            for p in m.rssKB.keys {
                if let pid = Int32(p), let t = k.task(pid) { pidNames[pid] = t.comm; names[p] = names[p] ?? t.comm }
            }
            let rss = m.rssKB.keys.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }.map { "\(names[$0] ?? $0)[\($0)] \(m.rssKB[$0]!) kB" }
            let text = "after \(records) records"
            let narration = ["replay: \(records) records of \(name) replayed; \(m.faults &- previousFaults) page faults since the previous sample, \(m.faults) in all"
                             + (rss.isEmpty ? "" : "; RSS " + rss.joined(separator: ", "))]
            previousFaults = m.faults
            events.append(EventRecord(index: events.count, line: 0, column: 0, text: text, result: "ok", output: [], narration: narration,
                                      kernelLog: [], pid: nil, cpu: 0, metrics: m))
            let (s, t) = SnapshotBuilder.snapshot(k, event: events.count - 1, names: pidNames, walkPID: nil, walkVA: nil,
                                                  previousCPUs: snaps.last?.cpus, previousTables: tables.last)
            snaps.append(s); tables.append(t)
            return true
        }
        let report: ReplayReport
        do { report = try replayer.run(reader) } catch { throw fail("\(error)") }
        for i in events.indices { events[i].index = i; snaps[i].event = i }
        let initial = (try? Kernel(config: machine)).map { SnapshotBuilder.metrics($0) }
            ?? Metrics(timeNs: 0, freeKB: 0, availableKB: 0, faults: 0, majorFaults: 0, tlbLookups: 0, tlbMisses: 0, swapPages: 0, rssKB: [:])
        let source = "# replay of the trace \(name): \(report.records) records, \(report.processes.count) processes, "
            + "\(events.count) samples (one per \(replayer.sampleEvery) or more records, and the end)\n"
        self.init(file: name, source: source, machine: machine, events: events, snapshots: snaps, tables: tables,
                  stoppedEarly: nil, exitStatus: 0, diagnostics: "", processNames: names, initialMetrics: initial)
    }
}
