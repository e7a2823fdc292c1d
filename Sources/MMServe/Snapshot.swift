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
    /// Cumulative TLB lookups (L1 dTLB and iTLB accesses) and STLB misses (page walks), summed
    /// over the CPUs.
    public var tlbLookups: Int, tlbMisses: Int
    /// Cumulative swap traffic in pages (pswpin + pswpout).
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
    /// The frame of its top-level page table (CR3 when it runs); 0 once it has no mm.
    public var pgd: UInt64
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

/// One slab cache, as its /proc/slabinfo line shows it.
public struct SlabCacheSnapshot: Codable, Sendable, Equatable {
    public var name: String
    public var activeObjs: Int, numObjs: Int, objSize: Int, objPerSlab: Int, pagesPerSlab: Int
    public var activeSlabs: Int, numSlabs: Int
}

/// The LRU lists: their sizes and, for the physical-memory view, the list of each cell's frames.
public struct LRUSnapshot: Codable, Sendable, Equatable {
    /// Pages on inactive_anon, active_anon, inactive_file, active_file, unevictable (Linux's
    /// `enum lru_list` order).
    public var sizes: [Int]
    /// One character per cell of `PhysSnapshot.cells` (same frames per cell): the list most of
    /// its frames on a list are on: i inactive anon, a active anon, f inactive file, F active
    /// file, u unevictable; - when none of its frames is on a list.
    public var cells: String
}

/// One swap area: its /proc/swaps line and a compact map of its slots.
public struct SwapAreaSnapshot: Codable, Sendable, Equatable {
    public var type: Int
    public var path: String
    /// "file" or "partition".
    public var kind: String
    public var priority: Int
    /// Slots in use and usable slots (offsets 1...total).
    public var used: Int, total: Int
    /// Slots per cell of `cells` (at most 256 cells).
    public var slotsPerCell: Int
    /// Slots in use in each cell, cell c covering offsets 1 + c*slotsPerCell onwards.
    public var cells: [Int]
}

/// The whole picture after one event.
public struct Snapshot: Codable, Sendable, Equatable {
    public var event: Int
    public var processes: [ProcessSnapshot]
    public var walk: WalkSnapshot?
    public var cpus: [CPUSnapshot]
    public var phys: PhysSnapshot
    public var free: FreeSnapshot
    /// The slab caches, newest first (the order of /proc/slabinfo).
    public var slab: [SlabCacheSnapshot]?
    /// The LRU lists.
    public var lru: LRUSnapshot?
    /// The swap areas, in swap-type order (empty when none is enabled).
    public var swap: [SwapAreaSnapshot]?
    /// Panels whose model is not in the simulator yet: the page shows them as not modelled
    /// (empty now that slab caches, LRU lists and swap are modelled).
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
            lookups &+= s.l1dHits &+ s.l1dMisses &+ s.l1iHits &+ s.l1iMisses
            misses &+= s.stlbMisses
        }
        var rss: [String: Int] = [:]
        for pid in k.taskOrder {
            guard let t = k.task(pid), t.state.isAlive, !t.isKernelThread, t.tgid == t.pid, let mm = t.mm else { continue }
            rss[String(pid)] = mm.rss.total * Int(MMCore.PAGE_SIZE / 1024)
        }
        return Metrics(timeNs: k.clockNs, freeKB: m.memFree, availableKB: FreeValues(m).available,
                       faults: k.vmstat.pgfault, majorFaults: k.vmstat.pgmajfault,
                       tlbLookups: lookups, tlbMisses: misses, swapPages: k.vmstat.pswpin &+ k.vmstat.pswpout, rssKB: rss)
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
                                       minFlt: t.minFlt, majFlt: t.majFlt,
                                       pgd: t.state.isAlive ? t.mm?.pgd.raw ?? 0 : 0, vmas: vmas))
        }
        return out
    }

    /// Returns the TLB contents of every CPU, marking entries new since `previous` (the same CPUs'
    /// snapshot after the event before) and listing the ones it had that are gone.
    public static func cpus(_ k: Kernel, previous: [CPUSnapshot]?) -> [CPUSnapshot] {
        k.cpus.map { c in
            var entries: [TLBEntrySnapshot] = []
            for (name, tlb) in [("L1d", c.mmu.l1d), ("L1d 2M", c.mmu.l1d2M), ("L1d 1G", c.mmu.l1d1G), ("L1i", c.mmu.l1i),
                                ("L1i 2M", c.mmu.l1i2M), ("STLB", c.mmu.stlb), ("STLB 1G", c.mmu.stlb1G)] {
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
                               capacity: ["L1d": c.mmu.l1d.geometry.entries, "L1d 2M": c.mmu.l1d2M.geometry.entries,
                                          "L1d 1G": c.mmu.l1d1G.geometry.entries, "L1i": c.mmu.l1i.geometry.entries,
                                          "L1i 2M": c.mmu.l1i2M.geometry.entries, "STLB": c.mmu.stlb.geometry.entries,
                                          "STLB 1G": c.mmu.stlb1G.geometry.entries])
        }
    }

    /// The use letters of `PhysSnapshot.cells`, by code.
    static let useLetters: [UInt8] = Array("fackpso".utf8)

    /// Returns the use code of a frame with flags `f` (raw bits) and reference count `refcount`:
    /// an index into `useLetters` (see `PhysSnapshot.cells`). `phys` inlines the same tests.
    static func useCode(_ f: UInt32, _ refcount: Int32) -> Int {
        if f & reservedBit != 0 { return 3 }
        if f & pageTableBit != 0 { return 4 }
        if f & slabBit != 0 { return 5 }
        if f & anonBits != 0 { return 1 }
        if f & fileBits != 0 { return 2 }
        if f & buddyBit != 0 || refcount == 0 { return 0 }
        return 3
    }
    static let reservedBit = PageFlags.reserved.rawValue, pageTableBit = PageFlags.pageTable.rawValue
    static let slabBit = PageFlags.slab.rawValue, buddyBit = PageFlags.buddy.rawValue
    static let anonBits = PageFlags.anon.rawValue | PageFlags.swapbacked.rawValue
    static let fileBits = PageFlags.lru.rawValue | PageFlags.mappedtodisk.rawValue | PageFlags.uptodate.rawValue

    /// Returns the physical-memory panel with at most `maxCells` cells, and the frames that hold
    /// page tables.
    public static func phys(_ k: Kernel, maxCells: Int = 4096) -> (PhysSnapshot, [PFN]) {
        let p = k.phys
        let n = p.frameCount
        let per = max(1, (n + maxCells - 1) / max(1, maxCells))
        let flags = p.memMap.flags, refs = p.memMap.refcount
        var counts = [Int](repeating: 0, count: 7)
        var cellCounts = [Int](repeating: 0, count: 7)
        var cells: [UInt8] = []
        cells.reserveCapacity(n / per + 1)
        var tables: [PFN] = []
        // The most frequent use of a cell wins; ties go to the first in this order.
        let order = [1, 2, 4, 5, 3, 6, 0]
        let rb = reservedBit, pb = pageTableBit, sb = slabBit, ab = anonBits, fb = fileBits, bb = buddyBit
        var i = 0
        while i < n {
            // As useCode(), inlined: this loop runs over every frame of every event.
            let f = flags[i].rawValue
            let u = f & rb != 0 ? 3 : f & pb != 0 ? 4 : f & sb != 0 ? 5 : f & ab != 0 ? 1 : f & fb != 0 ? 2
                : (f & bb != 0 || refs[i] == 0) ? 0 : 3
            if u == 4 { tables.append(PFN(index: i)) }
            counts[u] += 1
            cellCounts[u] += 1
            i += 1
            if i % per == 0 || i == n {
                var best = 0, bestCount = -1
                for c in order where cellCounts[c] > bestCount { best = c; bestCount = cellCounts[c] }
                cells.append(useLetters[best])
                for c in 0..<7 { cellCounts[c] = 0 }
            }
        }
        let zones = p.zones.map { z in
            ZoneSnapshot(name: z.name, startPFN: z.startPFN.raw, spannedPages: z.spannedPages, freePages: z.freePages,
                         watermarks: [z.watermarkMin, z.watermarkLow, z.watermarkHigh],
                         freeByOrder: (0..<NR_PAGE_ORDERS).map { z.nrFree(order: $0) })
        }
        var c: [String: Int] = [:]
        for (code, v) in counts.enumerated() where v > 0 { c[String(UnicodeScalar(useLetters[code]))] = v }
        return (PhysSnapshot(frames: n, framesPerCell: per, cells: String(decoding: cells, as: UTF8.self), counts: c, zones: zones), tables)
    }

    /// Returns the slab caches of `k` as /proc/slabinfo shows them (newest first).
    /// Linux: get_slabinfo(), mm/slub.c
    public static func slab(_ k: Kernel) -> [SlabCacheSnapshot] {
        Slabinfo.gather(k).map {
            SlabCacheSnapshot(name: $0.name, activeObjs: $0.activeObjs, numObjs: $0.numObjs, objSize: $0.objSize,
                              objPerSlab: $0.objPerSlab, pagesPerSlab: $0.pagesPerSlab, activeSlabs: $0.activeSlabs, numSlabs: $0.numSlabs)
        }
    }

    /// The letters of `LRUSnapshot.cells`, by `LRUList` raw value, then "-" for no list.
    static let lruLetters: [UInt8] = Array("iafFu-".utf8)

    /// Returns the LRU panel of `k`, with cells of `framesPerCell` frames (as the phys panel's).
    /// Linux: the node's lruvec lists, include/linux/mmzone.h
    public static func lru(_ k: Kernel, framesPerCell: Int) -> LRUSnapshot {
        let r = k.reclaim, n = k.phys.frameCount, per = max(1, framesPerCell)
        var cells: [UInt8] = []
        cells.reserveCapacity(n / per + 1)
        var counts = [Int](repeating: 0, count: 6)
        var i = 0
        while i < n {
            counts[r.list(of: PFN(index: i))?.rawValue ?? 5] += 1
            i += 1
            if i % per == 0 || i == n {
                // The list most of the cell's listed frames are on (ties: enum order); "-" only
                // when none of its frames is on a list, so that sparse pages stay visible.
                var best = 5, bestCount = 0
                for c in 0..<5 where counts[c] > bestCount { best = c; bestCount = counts[c] }
                cells.append(lruLetters[best])
                for c in 0..<6 { counts[c] = 0 }
            }
        }
        return LRUSnapshot(sizes: r.lruSize, cells: String(decoding: cells, as: UTF8.self))
    }

    /// Returns the swap areas of `k` with a slot map of at most `maxCells` cells each.
    /// Linux: swap_show(), mm/swapfile.c (and si->swap_map for the map)
    public static func swap(_ k: Kernel, maxCells: Int = 256) -> [SwapAreaSnapshot] {
        k.swapAreas.map { si in
            let total = si.pages
            let per = max(1, (total + maxCells - 1) / max(1, maxCells))
            var cells = [Int](repeating: 0, count: total == 0 ? 0 : (total + per - 1) / per)
            for slot in si.usedSlots where slot >= 1 && slot <= total { cells[(slot - 1) / per] += 1 }
            return SwapAreaSnapshot(type: si.type, path: si.path, kind: si.isPartition ? "partition" : "file", priority: si.priority,
                                    used: si.inuse, total: total, slotsPerCell: per, cells: cells)
        }
    }

    /// Returns the `free`/meminfo panel.
    public static func free(_ k: Kernel) -> FreeSnapshot {
        let v = FreeValues(Meminfo.gather(k))
        return FreeSnapshot(text: Free.format(v), totalKB: v.memTotal, usedKB: v.used, freeKB: v.memFree, sharedKB: v.shmem,
                            buffCacheKB: v.buffCache, availableKB: v.available, swapTotalKB: v.swapTotal, swapFreeKB: v.swapFree)
    }

    /// Returns the whole snapshot of `k` after event `event` (processes named by `names`), with the walk of `walkVA` in process
    /// `walkPID` (or the first running process) when an address is given; `previousCPUs` are the
    /// CPUs after the event before, for the filled and evicted marks, and `previousTables` the page
    /// tables then (to share unchanged copies). Also returns this event's page-table copy.
    public static func snapshot(_ k: Kernel, event: Int, names: [Int32: String], walkPID: Int32?, walkVA: UInt64?, previousCPUs: [CPUSnapshot]?,
                                previousTables: PageTableCopy?) -> (Snapshot, PageTableCopy) {
        let (ph, frames) = phys(k)
        var s = Snapshot(event: event, processes: processes(k, names: names), walk: nil, cpus: cpus(k, previous: previousCPUs),
                         phys: ph, free: free(k), slab: slab(k), lru: lru(k, framesPerCell: ph.framesPerCell), swap: swap(k),
                         notModelled: [])
        let tables = PageTableCopy.take(k, frames: frames, previous: previousTables)
        s.walk = tables.walk(in: s, pid: walkPID, va: walkVA)
        return (s, tables)
    }
}

/// A copy of every page-table frame of the machine after one event, so that the walk of any
/// address can be drawn later without replaying the run. Unchanged tables share storage with the
/// copy of the event before.
public struct PageTableCopy: Sendable {
    /// The 512 entries of each page-table frame, by frame number.
    public var tables: [UInt64: [UInt64]] = [:]
    /// The machine's page-table format (how to index and decode the copied entries).
    public var paging: PageTableFormat = .x86_64

    /// Returns the copy of the page-table frames `frames` of `k`, reusing the arrays of
    /// `previous` where a table did not change.
    public static func take(_ k: Kernel, frames: [PFN], previous: PageTableCopy?) -> PageTableCopy {
        var copy = PageTableCopy()
        copy.paging = k.phys.paging
        let contents = k.phys.contents
        for f in frames {
            var words = [UInt64](repeating: 0, count: 512)
            for i in 0..<512 { words[i] = contents.readWord(f, i) }
            if let old = previous?.tables[f.raw], old == words { copy.tables[f.raw] = old } else { copy.tables[f.raw] = words }
        }
        return copy
    }

    /// Returns the walk of `va` in process `pid` (or the first running process) of snapshot `s`,
    /// or nil when no address is given or the process has no page tables.
    public func walk(in s: Snapshot, pid: Int32?, va: UInt64?) -> WalkSnapshot? {
        guard let va = va,
              let p = pid.flatMap({ pid in s.processes.first { $0.pid == pid } }) ?? s.processes.first(where: { $0.state == "running" }),
              p.pgd != 0 else { return nil }
        return walk(pid: p.pid, pgd: p.pgd, va: va)
    }

    /// Returns entry `index` of the copied table `table` at `level` as `PageTableFormat.readRaw(_:_:_:level:)`
    /// reads it: 4-byte entries (x86-32) are halves of the copied words; an ARM 2-level PGD entry
    /// is a word of the four-frame root, an ARM PTE the Linux half with the hardware half (+2048).
    func rawEntry(_ table: UInt64, _ index: Int, level: Int) -> UInt64 {
        func half(_ t: UInt64, _ i: Int) -> UInt64 {
            let w = tables[t]?[i >> 1] ?? 0
            return i & 1 == 0 ? w & 0xffff_ffff : w >> 32
        }
        if paging.encoding == .arm32 {
            if level == 0 { return tables[table &+ UInt64(index >> 9)]?[index & 511] ?? 0 }
            return half(table, index) | half(table, 512 + index) << 32
        }
        if paging.entryBytes == 4 { return half(table, index) }
        return tables[table]?[index] ?? 0
    }

    /// Returns the x86-64 four-level walk of `va` from the table in frame `pgd`, as the MMU does
    /// it (a huge entry at PUD or PMD level ends the walk), without changing anything; the result
    /// has the form the page draws. Linux: the hardware walk, cf. walk() in
    /// MMCore's HardwareWalker.
    public func walk(pid: Int32, pgd: UInt64, va: UInt64) -> WalkSnapshot {
        let f = paging
        let v = VirtAddr(va)
        let split = (0..<f.levels).map { "\(f.linuxName($0)) \(f.index(v, level: $0))" }.joined(separator: " | ")
        let canonical = f.isCanonical(v)
        var lines = ["\(v): \(split) | offset 0x\(String(v.pageOffset, radix: 16))" + (canonical ? "" : " (non-canonical)")]
        var levels: [WalkLevelSnapshot] = []
        var table = pgd
        var pa: UInt64? = nil
        if !canonical {
            lines.append(f.encoding == .x86_64 ? "=> #GP: non-canonical address" : "=> fault: address outside the user range of \(f.rootRegister)")
            return WalkSnapshot(pid: pid, va: va, levels: [], physAddr: nil, lines: lines)
        }
        for level in 0..<f.levels {
            let name = f.linuxName(level)
            let index = f.index(v, level: level)
            let raw = rawEntry(table, index, level: level)
            let e = f.decode(f.encoding == .arm32 && level == 0 && va & (1 << 20) != 0 ? raw >> 32 : raw, level: level)
            let valid = f.hardwareValid(raw, level: level)
            let outcome: String
            let leaf = valid && (level == f.pteLevel || e.isHuge)
            if !valid { outcome = "not present" } else if leaf { outcome = "leaf" } else { outcome = "next" }
            let bits = f.encoding == .x86_64 ? e.description : f.describe(raw, level: level)
            levels.append(WalkLevelSnapshot(level: name, table: table, index: index, entry: raw, bits: bits, outcome: outcome))
            lines.append("\(name)  table 0x\(String(table, radix: 16))[\(index)] = \(bits) -> \(outcome)")
            if !valid { lines.append("=> page fault: \(name) entry not present"); break }
            if leaf {
                let shift = f.shift(level)
                let mask: UInt64 = (1 << shift) - 1
                let p = ((e.pfn.raw << 12) & ~mask) | (va & mask)
                pa = p
                lines.append("=> 0x\(String(p, radix: 16)) (\(shift == 12 ? "4K page" : f.encoding == .arm32 ? "1M section" : shift == 21 ? "2M page" : shift == 22 ? "4M page" : "1G page"), R\(e.isWritable ? "W" : "")\(e.isNX ? "" : "X") \(e.isUser ? "user" : "kernel"))")
                break
            }
            table = e.pfn.raw
        }
        return WalkSnapshot(pid: pid, va: va, levels: levels, physAddr: pa, lines: lines)
    }
}
