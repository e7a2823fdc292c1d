/// The state of the simulated machine after one event, as the web visualizer and the reports draw it.
///
/// Every panel is its own optional field so that models added later (slab caches, LRU lists, swap
/// slots) become new fields here and new panels in the page, without changing the existing ones.
import MMCore
import MMProcFS

/// The light, per-event record kept for every event of a run: what the step printed and narrated,
/// and the numbers the timelines plot.
public struct EventRecord: Codable, Sendable, Equatable {
    /// 0-based event index.
    public var index: Int
    /// Source line and column of the step.
    public var line: Int, column: Int
    /// The step's source text.
    public var text: String
    /// How the step ended (`ok`, `error`, `skipped`, `killed`, `panic`, `failed`).
    public var result: String
    /// The lines the step printed, its `--explain` narration and its kernel log lines.
    public var output: [String], narration: [String], kernelLog: [String]
    /// The process the step acted on, and the selected CPU.
    public var pid: Int32?, cpu: Int
    /// The numbers of the timelines after this event.
    public var metrics: Metrics
}

/// The numbers the timelines plot, taken after each event.
public struct Metrics: Codable, Sendable, Equatable {
    /// Simulated time in nanoseconds (the kernel clock).
    public var timeNs: UInt64
    /// MemFree and MemAvailable in KiB.
    public var freeKB: UInt64, availableKB: UInt64
    /// Cumulative page faults (pgfault) and major faults (pgmajfault).
    public var faults: UInt64, majorFaults: UInt64
    /// Cumulative data-TLB lookups and misses summed over the CPUs (L1 dTLB accesses; a miss is an
    /// STLB miss too, i.e. a page walk).
    public var tlbLookups: Int, tlbMisses: Int
    /// Cumulative swap traffic in pages (pswpin + pswpout); 0 until the model has swap.
    public var swapPages: UInt64
    /// Resident set size in KiB of each live process, by pid.
    public var rssKB: [String: Int]
}

/// One VMA of a process, as /proc/PID/maps shows it.
public struct VMASnapshot: Codable, Sendable, Equatable {
    public var start: UInt64, end: UInt64
    /// "rw-p" etc.
    public var perms: String
    /// The maps name ("[heap]", a path) or "".
    public var name: String
    /// Resident pages of the VMA.
    public var rssPages: Int
}

/// One process: identity, counters and its address space.
public struct ProcessSnapshot: Codable, Sendable, Equatable {
    public var pid: Int32
    public var name: String
    public var state: String
    public var rssKB: Int
    public var minFlt: Int, majFlt: Int
    public var vmas: [VMASnapshot]
}

/// One level of a page walk.
public struct WalkLevelSnapshot: Codable, Sendable, Equatable {
    /// "PGD", "PUD", "PMD" or "PTE".
    public var level: String
    /// The table's frame and the index used in it.
    public var table: UInt64, index: Int
    /// The raw entry and its flags as text ("P RW US A D NX pfn=0x1234", or "none").
    public var entry: UInt64, bits: String
    /// "next", "leaf", "not present" or "reserved".
    public var outcome: String
}

/// The page walk of one virtual address in one process's page tables.
public struct WalkSnapshot: Codable, Sendable, Equatable {
    public var pid: Int32
    public var va: UInt64
    public var levels: [WalkLevelSnapshot]
    /// The physical address reached, if the walk translated.
    public var physAddr: UInt64?
    /// The walk's narration lines (as `translate` prints them).
    public var lines: [String]
}

/// One TLB entry.
public struct TLBEntrySnapshot: Codable, Sendable, Equatable, Hashable {
    /// "L1d", "L1i" or "STLB".
    public var tlb: String
    public var set: Int, way: Int
    public var page: UInt64
    public var frame: UInt64
    public var size: String
    public var pcid: Int
    public var global: Bool
    /// "filled" when the entry appeared with this event, else "".
    public var mark: String
}

/// The TLBs of one CPU.
public struct CPUSnapshot: Codable, Sendable, Equatable {
    public var id: Int
    /// Pid of the task running there, if any.
    public var current: Int32?
    public var entries: [TLBEntrySnapshot]
    /// Entries that were there before this event and are gone now.
    public var evicted: [TLBEntrySnapshot]
    /// Capacity of L1d, L1i and STLB.
    public var capacity: [String: Int]
}

/// One zone: its span and its buddy free lists.
public struct ZoneSnapshot: Codable, Sendable, Equatable {
    public var name: String
    public var startPFN: UInt64, spannedPages: Int
    public var freePages: Int
    public var watermarks: [Int]
    /// nr_free per order, 0...MAX_PAGE_ORDER.
    public var freeByOrder: [Int]
}

/// Physical memory: every frame classified, drawn as cells of `framesPerCell` frames each.
public struct PhysSnapshot: Codable, Sendable, Equatable {
    public var frames: Int
    public var framesPerCell: Int
    /// One character per cell: the use of most of its frames: f free, a anon, c file (page
    /// cache), p page table, s slab, k kernel or reserved, o other.
    public var cells: String
    /// Frames per use over the whole memory, keyed by the same letters.
    public var counts: [String: Int]
    public var zones: [ZoneSnapshot]
}

/// The `free`/meminfo panel.
public struct FreeSnapshot: Codable, Sendable, Equatable {
    /// `free` (KiB) as the command prints it.
    public var text: String
    public var totalKB: UInt64, usedKB: UInt64, freeKB: UInt64, sharedKB: UInt64, buffCacheKB: UInt64, availableKB: UInt64
    public var swapTotalKB: UInt64, swapFreeKB: UInt64
}

/// The whole picture after one event.
public struct Snapshot: Codable, Sendable, Equatable {
    public var event: Int
    public var processes: [ProcessSnapshot]
    public var walk: WalkSnapshot?
    public var cpus: [CPUSnapshot]
    public var phys: PhysSnapshot
    public var free: FreeSnapshot
    /// Panels whose model is not in the simulator yet ("slab", "lru", "swap"): the page shows them
    /// as not modelled. A later model fills its own field and drops its name from this list.
    public var notModelled: [String]
}

/// Builds snapshots and metrics from a kernel.
public enum SnapshotBuilder {
    /// Returns the timeline numbers of `k` now.
    public static func metrics(_ k: Kernel) -> Metrics {
        let m = Meminfo.gather(k)
        var lookups = 0, misses = 0
        for c in k.cpus {
            let s = c.mmu.stats
            lookups &+= s.l1dHits &+ s.l1dMisses
            misses &+= s.stlbMisses
        }
        var rss: [String: Int] = [:]
        for pid in k.taskOrder {
            guard let t = k.task(pid), t.state.isAlive, !t.isKernelThread, t.tgid == t.pid, let mm = t.mm else { continue }
            rss[String(pid)] = mm.rss.total * Int(MMCore.PAGE_SIZE / 1024)
        }
        return Metrics(timeNs: k.clockNs, freeKB: m.memFree, availableKB: FreeValues(m).available,
                       faults: k.vmstat.pgfault, majorFaults: k.vmstat.pgmajfault,
                       tlbLookups: lookups, tlbMisses: misses, swapPages: 0, rssKB: rss)
    }

    /// Returns the user processes of `k` (thread-group leaders with an mm), with `names` giving the
    /// scenario's names by pid.
    public static func processes(_ k: Kernel, names: [Int32: String]) -> [ProcessSnapshot] {
        var out: [ProcessSnapshot] = []
        for pid in k.taskOrder {
            guard let t = k.task(pid), !t.isKernelThread, t.tgid == t.pid else { continue }
            var vmas: [VMASnapshot] = []
            if t.state.isAlive, let mm = t.mm {
                for vma in mm.vmasWithGate {
                    let l = Maps.line(of: vma, in: mm)
                    let perms = (l.read ? "r" : "-") + (l.write ? "w" : "-") + (l.exec ? "x" : "-") + (l.mayShare ? "s" : "p")
                    let rssPages = Int(Smaps.gatherCounts(k, mm, vma).resident / MMCore.PAGE_SIZE)
                    vmas.append(VMASnapshot(start: l.start, end: l.end, perms: perms, name: l.name ?? "", rssPages: rssPages))
                }
            }
            let state: String
            switch t.state {
            case .running: state = "running"
            case .exited(let c): state = "exited \(c)"
            case .killed(let s): state = "killed \(s.name)"
            }
            out.append(ProcessSnapshot(pid: pid, name: names[pid] ?? t.comm, state: state,
                                       rssKB: (t.state.isAlive ? t.mm?.rss.total ?? 0 : 0) * Int(MMCore.PAGE_SIZE / 1024),
                                       minFlt: t.minFlt, majFlt: t.majFlt, vmas: vmas))
        }
        return out
    }

    /// Returns the page walk of `va` in the page tables of process `pid`, or nil when there is no
    /// such live process with an mm.
    public static func walk(_ k: Kernel, pid: Int32, va: UInt64) -> WalkSnapshot? {
        guard let t = k.task(pid), t.state.isAlive, let mm = t.mm else { return nil }
        let w = WalkExplanation(pgd: mm.pgd, va: VirtAddr(va), mem: k.phys)
        let levels = w.steps.map { s -> WalkLevelSnapshot in
            let outcome: String
            switch s.outcome {
            case .nextTable: outcome = "next"
            case .leaf: outcome = "leaf"
            case .notPresent: outcome = "not present"
            case .reservedBit: outcome = "reserved"
            }
            return WalkLevelSnapshot(level: s.level.name, table: s.table.raw, index: s.index, entry: s.entry.raw,
                                     bits: s.entry.description, outcome: outcome)
        }
        var pa: UInt64? = nil
        if case .translated(let p, _) = w.stop { pa = p.raw }
        return WalkSnapshot(pid: pid, va: va, levels: levels, physAddr: pa, lines: w.lines)
    }

    /// Returns the TLB contents of every CPU, marking entries new since `previous` (the same CPUs'
    /// snapshot after the event before) and listing the ones it had that are gone.
    public static func cpus(_ k: Kernel, previous: [CPUSnapshot]?) -> [CPUSnapshot] {
        k.cpus.map { c in
            var entries: [TLBEntrySnapshot] = []
            for (name, tlb) in [("L1d", c.mmu.l1d), ("L1i", c.mmu.l1i), ("STLB", c.mmu.stlb)] {
                for e in tlb.entries() {
                    entries.append(TLBEntrySnapshot(tlb: name, set: e.set, way: e.way, page: e.page.raw,
                                                    frame: e.translation.pageBase.raw >> MMCore.PAGE_SHIFT,
                                                    size: e.pageSize.description, pcid: Int(e.pcid), global: e.global, mark: ""))
                }
            }
            var evicted: [TLBEntrySnapshot] = []
            if let prev = previous?.first(where: { $0.id == c.id }) {
                func key(_ e: TLBEntrySnapshot) -> TLBEntrySnapshot { var x = e; x.mark = ""; return x }
                let before = Set(prev.entries.map(key))
                let now = Set(entries)
                for i in entries.indices where !before.contains(entries[i]) { entries[i].mark = "filled" }
                evicted = prev.entries.map(key).filter { !now.contains($0) }
            }
            return CPUSnapshot(id: c.id, current: c.current?.pid, entries: entries, evicted: evicted,
                               capacity: ["L1d": c.mmu.l1d.geometry.entries, "L1i": c.mmu.l1i.geometry.entries,
                                          "STLB": c.mmu.stlb.geometry.entries])
        }
    }

    /// Returns the use letter of frame `i` (see `PhysSnapshot.cells`).
    static func use(_ mm: MemMap, _ i: Int) -> Character {
        let f = mm.flags[i]
        if f.contains(.reserved) { return "k" }
        if f.contains(.pageTable) { return "p" }
        if f.contains(.slab) { return "s" }
        if f.contains(.anon) || f.contains(.swapbacked) { return "a" }
        if f.contains(.lru) || f.contains(.mappedtodisk) || f.contains(.uptodate) { return "c" }
        if f.contains(.buddy) || mm.refcount[i] == 0 { return "f" }
        return "k"
    }

    /// Returns the physical-memory panel with at most `maxCells` cells.
    public static func phys(_ k: Kernel, maxCells: Int = 4096) -> PhysSnapshot {
        let p = k.phys
        let n = p.frameCount
        let per = max(1, (n + maxCells - 1) / max(1, maxCells))
        var counts: [Character: Int] = [:]
        var cells = ""
        cells.reserveCapacity(n / per + 1)
        var cellCounts: [Character: Int] = [:]
        for i in 0..<n {
            let u = use(p.memMap, i)
            counts[u, default: 0] += 1
            cellCounts[u, default: 0] += 1
            if (i + 1) % per == 0 || i == n - 1 {
                // The most frequent use; ties go to the first in this order.
                let order: [Character] = ["a", "c", "p", "s", "k", "o", "f"]
                let best = order.max { (cellCounts[$0] ?? 0) < (cellCounts[$1] ?? 0) } ?? "f"
                cells.append(best)
                cellCounts.removeAll(keepingCapacity: true)
            }
        }
        let zones = p.zones.map { z in
            ZoneSnapshot(name: z.name, startPFN: z.startPFN.raw, spannedPages: z.spannedPages, freePages: z.freePages,
                         watermarks: [z.watermarkMin, z.watermarkLow, z.watermarkHigh],
                         freeByOrder: (0..<NR_PAGE_ORDERS).map { z.nrFree(order: $0) })
        }
        var c: [String: Int] = [:]
        for (key, v) in counts { c[String(key)] = v }
        return PhysSnapshot(frames: n, framesPerCell: per, cells: cells, counts: c, zones: zones)
    }

    /// Returns the `free`/meminfo panel.
    public static func free(_ k: Kernel) -> FreeSnapshot {
        let v = FreeValues(Meminfo.gather(k))
        return FreeSnapshot(text: Free.format(v), totalKB: v.memTotal, usedKB: v.used, freeKB: v.memFree, sharedKB: v.shmem,
                            buffCacheKB: v.buffCache, availableKB: v.available, swapTotalKB: v.swapTotal, swapFreeKB: v.swapFree)
    }

    /// Returns the whole snapshot of `k` after event `event`.
    public static func snapshot(_ k: Kernel, event: Int, names: [Int32: String], walkPID: Int32?, walkVA: UInt64?,
                                previousCPUs: [CPUSnapshot]?) -> Snapshot {
        let procs = processes(k, names: names)
        var w: WalkSnapshot? = nil
        if let va = walkVA, let pid = walkPID ?? procs.first(where: { $0.state == "running" })?.pid {
            w = walk(k, pid: pid, va: va)
        }
        return Snapshot(event: event, processes: procs, walk: w, cpus: cpus(k, previous: previousCPUs),
                        phys: phys(k), free: free(k), notModelled: ["slab", "lru", "swap"])
    }
}
