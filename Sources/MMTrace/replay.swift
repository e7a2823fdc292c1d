/// Streaming replay of a trace through a simulated machine: the initial address space is rebuilt
/// from the trace's REGION and FILE records (files go into the simulated file system, so file
/// faults go through its page cache), system calls are re-issued with their recorded results
/// (MAP_FIXED at the address the real kernel returned), and every access is translated by the
/// MMU of CPU 0, taking page faults through the kernel's fault path. Memory use does not depend
/// on the trace's length: one block is decoded at a time, and the counters are per process.
import Foundation
import MMCore

/// The counters of one process (or the total), with the names reports print: the kernel's
/// vmstat and /proc/PID/status names where they exist.
public struct ReplayCounters: Sendable, Equatable {
    public var accesses: UInt64 = 0
    /// Accesses by kind: instruction fetches, loads, stores, modifies.
    public var instrFetches: UInt64 = 0, loads: UInt64 = 0, stores: UInt64 = 0, modifies: UInt64 = 0
    public var tlb = TLBStats()
    public var pgfault: UInt64 = 0, pgmajfault: UInt64 = 0, cowFaults: UInt64 = 0
    /// Faults that mapped a THP and faults that wanted one but fell back to 4 KiB pages
    /// (vmstat thp_fault_alloc, thp_fault_fallback), and huge PMD splits (thp_split_pmd).
    public var thpFaultAlloc: UInt64 = 0, thpFaultFallback: UInt64 = 0, thpSplitPMD: UInt64 = 0
    public var segvMaperr: UInt64 = 0, segvAccerr: UInt64 = 0, sigbus: UInt64 = 0
    /// Final RSS by type (pages) and page-table bytes; taken at exit or at the end of the trace.
    public var rss = RSSCounters()
    public var pgtablesBytes = 0
    public init() {}

    /// The counters as (name, value) pairs in report order.
    public var fields: [(String, UInt64)] {
        [("accesses", accesses), ("instr_fetches", instrFetches), ("loads", loads), ("stores", stores),
         ("modifies", modifies),
         ("dtlb_hits", UInt64(tlb.l1dHits)), ("dtlb_misses", UInt64(tlb.l1dMisses)),
         ("itlb_hits", UInt64(tlb.l1iHits)), ("itlb_misses", UInt64(tlb.l1iMisses)),
         ("stlb_hits", UInt64(tlb.stlbHits)), ("stlb_misses", UInt64(tlb.stlbMisses)),
         ("dtlb_2m_hits", UInt64(tlb.l1d2MHits)), ("dtlb_1g_hits", UInt64(tlb.l1d1GHits)), ("itlb_2m_hits", UInt64(tlb.l1i2MHits)),
         ("stlb_2m_hits", UInt64(tlb.stlb2MHits)), ("stlb_1g_hits", UInt64(tlb.stlb1GHits)),
         ("page_walks", UInt64(tlb.pageWalks)), ("walk_mem_refs", UInt64(tlb.walkMemoryRefs)),
         ("pwc_pml4e_hits", UInt64(tlb.pwcPML4EHits)), ("pwc_pdpte_hits", UInt64(tlb.pwcPDPTEHits)), ("pwc_pde_hits", UInt64(tlb.pwcPDEHits)),
         ("pgfault", pgfault), ("pgmajfault", pgmajfault), ("minor_faults", pgfault &- pgmajfault),
         ("cow_faults", cowFaults), ("thp_fault_alloc", thpFaultAlloc), ("thp_fault_fallback", thpFaultFallback),
         ("thp_split_pmd", thpSplitPMD), ("segv_maperr", segvMaperr), ("segv_accerr", segvAccerr), ("sigbus", sigbus),
         ("VmRSS", UInt64(rss.total) * 4), ("RssAnon", UInt64(rss.anon) * 4), ("RssFile", UInt64(rss.file) * 4),
         ("RssShmem", UInt64(rss.shmem) * 4), ("VmPTE", UInt64(pgtablesBytes / 1024))]
    }

    /// Adds `o` into these counters.
    mutating func add(_ o: ReplayCounters) {
        accesses &+= o.accesses
        instrFetches &+= o.instrFetches; loads &+= o.loads; stores &+= o.stores; modifies &+= o.modifies
        tlb.add(o.tlb)
        pgfault &+= o.pgfault; pgmajfault &+= o.pgmajfault; cowFaults &+= o.cowFaults
        thpFaultAlloc &+= o.thpFaultAlloc; thpFaultFallback &+= o.thpFaultFallback; thpSplitPMD &+= o.thpSplitPMD
        segvMaperr &+= o.segvMaperr; segvAccerr &+= o.segvAccerr; sigbus &+= o.sigbus
        rss.anon += o.rss.anon; rss.file += o.rss.file; rss.shmem += o.rss.shmem; rss.swapents += o.rss.swapents
        pgtablesBytes += o.pgtablesBytes
    }
}

extension TLBStats {
    /// Adds the counters of `o`.
    mutating func add(_ o: TLBStats) {
        l1dHits += o.l1dHits; l1dMisses += o.l1dMisses; l1iHits += o.l1iHits; l1iMisses += o.l1iMisses
        stlbHits += o.stlbHits; stlbMisses += o.stlbMisses; pageWalks += o.pageWalks
        l1d2MHits += o.l1d2MHits; l1d1GHits += o.l1d1GHits; l1i2MHits += o.l1i2MHits
        stlb2MHits += o.stlb2MHits; stlb1GHits += o.stlb1GHits
        pwcPML4EHits += o.pwcPML4EHits; pwcPDPTEHits += o.pwcPDPTEHits; pwcPDEHits += o.pwcPDEHits
        walkMemoryRefs += o.walkMemoryRefs; adUpdates += o.adUpdates; pageFaults += o.pageFaults
        generalProtectionFaults += o.generalProtectionFaults; fullFlushes += o.fullFlushes
        singlePageFlushes += o.singlePageFlushes; cr3Loads += o.cr3Loads
    }
    /// The counters of `self` minus those of `o`.
    func minus(_ o: TLBStats) -> TLBStats {
        var r = TLBStats()
        r.l1dHits = l1dHits - o.l1dHits; r.l1dMisses = l1dMisses - o.l1dMisses
        r.l1iHits = l1iHits - o.l1iHits; r.l1iMisses = l1iMisses - o.l1iMisses
        r.stlbHits = stlbHits - o.stlbHits; r.stlbMisses = stlbMisses - o.stlbMisses
        r.l1d2MHits = l1d2MHits - o.l1d2MHits; r.l1d1GHits = l1d1GHits - o.l1d1GHits; r.l1i2MHits = l1i2MHits - o.l1i2MHits
        r.stlb2MHits = stlb2MHits - o.stlb2MHits; r.stlb1GHits = stlb1GHits - o.stlb1GHits
        r.pwcPML4EHits = pwcPML4EHits - o.pwcPML4EHits; r.pwcPDPTEHits = pwcPDPTEHits - o.pwcPDPTEHits
        r.pwcPDEHits = pwcPDEHits - o.pwcPDEHits
        r.pageWalks = pageWalks - o.pageWalks; r.walkMemoryRefs = walkMemoryRefs - o.walkMemoryRefs
        r.adUpdates = adUpdates - o.adUpdates; r.pageFaults = pageFaults - o.pageFaults
        r.generalProtectionFaults = generalProtectionFaults - o.generalProtectionFaults
        r.fullFlushes = fullFlushes - o.fullFlushes; r.singlePageFlushes = singlePageFlushes - o.singlePageFlushes
        r.cr3Loads = cr3Loads - o.cr3Loads
        return r
    }
}

/// One process of the replay.
public struct ReplayProcess: Sendable {
    /// The pid in the trace (the real kernel's pid).
    public var pid: UInt32
    public var comm: String
    public var counters = ReplayCounters()
    /// Minor and major fault counts of the process at each getrusage() call it made (what the
    /// program read from ru_minflt and ru_majflt then).
    public var getrusage: [(UInt64, UInt64)] = []
    public var exited = false
}

/// Faults and resident pages of one VMA (per-VMA breakdown).
public struct ReplayVMA: Sendable, Equatable {
    public var pid: UInt32
    public var start: UInt64, end: UInt64
    public var perms: String
    public var name: String
    public var faults: UInt64
    public var residentPages: Int
}

/// An access no mapping allowed (reported, never mapped).
public struct ReplayBadAccess: Sendable, Equatable {
    public var pid: UInt32
    public var kind: TraceAccessKind
    public var addr: UInt64
    /// "SEGV_MAPERR" (no mapping), "SEGV_ACCERR" (the mapping forbids it) or "SIGBUS".
    public var reason: String
}

/// What a replay found.
public struct ReplayReport: Sendable {
    public var trace: String
    public var machine: MachineConfig
    public var records: UInt64 = 0
    public var processes: [ReplayProcess] = []
    public var total = ReplayCounters()
    public var vmas: [ReplayVMA] = []
    /// The first bad accesses (at most `ReplayReport.badAccessLimit`).
    public var badAccesses: [ReplayBadAccess] = []
    /// System calls that could not be re-issued, with why (first 20), and how many there were.
    public var syscallProblems: [String] = []
    public var syscallProblemCount: UInt64 = 0
    public var syscalls: UInt64 = 0
    /// The program files the trace carries (FILE records), with what their ELF headers say
    /// (parsed by the kernel's ELF parser, `ElfFile.parse`).
    public var programFiles: [(path: String, elf: String)] = []
    public static let badAccessLimit = 20
    /// getrusage() snapshots kept per process.
    public static let getrusageLimit = 1000
}

/// Replays traces. One replayer runs one trace on one freshly booted machine.
public final class Replayer {
    public let kernel: Kernel
    let config: MachineConfig
    /// Called with the fraction read, every few million records, when set.
    public var progress: ((Double) -> Void)?
    /// Whether to collect the per-VMA breakdown.
    public var perVMA = false
    /// When set, the replay and the kernel narrate here: the setup, every system call, and the
    /// first `explainFaults` faults in full (later faults are counted silently).
    public var explain: ((String) -> Void)? {
        didSet { kernel.explain = explain }
    }
    /// Faults narrated in full when `explain` is set.
    public var explainFaults = 3
    /// Records between two calls of `onSample`; checked once per block (never per access), so
    /// samples fall on block ends. May be changed by `onSample` (to thin a long trace).
    public var sampleEvery: UInt64 = 1
    /// When set, called with the kernel and the number of records replayed so far after each block
    /// that ends `sampleEvery` or more records after the previous sample, and once after the last
    /// block; returning false stops the replay there (the report covers the records replayed).
    public var onSample: ((Kernel, UInt64) -> Bool)?

    var procs: [UInt32: Int] = [:]        // trace pid → index in report.processes
    var tasks: [Task] = []                // by index
    var report: ReplayReport
    var pendingRegions: [TraceRegion] = []
    var files: [String: (UInt64, [UInt8])] = [:]
    var comm = "traced"
    var vmaFaults: [String: (UInt32, UInt64, UInt64, String, String, UInt64)] = [:]

    // The running process.
    var cur = -1
    var curTask: Task!
    var mmu: MMU!
    var phys: PhysicalMemory
    var statsAtSwitch = TLBStats()
    var counters = ReplayCounters()
    /// Whether the running process is alive (updated on switches, faults and exits).
    var curAlive = false

    /// Boots a machine with `config`. Throws when the configuration cannot boot.
    /// How many access records the replay loop decodes ahead of the one it replays (a power of
    /// two), and the ring holding them (owned by this replayer).
    static let lookaheadDepth = 8
    static let lookaheadMask = lookaheadDepth - 1
    let lookahead = UnsafeMutablePointer<(TraceAccessKind, UInt64, UInt32)>.allocate(capacity: Replayer.lookaheadDepth)

    deinit { lookahead.deallocate() }
    /// Whether `run` may replay blocks with lookahead (tests turn it off to compare), and how
    /// many blocks it replayed so.
    var lookaheadAllowed = true
    var blocksAhead = 0

    public init(config: MachineConfig) throws {
        kernel = try Kernel(config: config)
        self.config = config
        phys = kernel.phys
        report = ReplayReport(trace: "", machine: config)
    }

    /// Narrates one replay step when `explain` is set.
    func narrate(_ text: @autoclosure () -> String) { if let e = explain { e(text()) } }

    /// Records a system call the model could not repeat (the first 20 are kept, all counted).
    func problem(_ s: String) {
        narrate("replay: \(s)")
        report.syscallProblemCount += 1
        if report.syscallProblems.count < 20 { report.syscallProblems.append(s) }
    }

    /// Makes process `idx` current: the previous one's MMU counters are settled.
    func switchProcess(_ idx: Int) {
        if idx == cur { return }
        settle()
        cur = idx
        curTask = tasks[idx]
        curAlive = curTask.state.isAlive
        if curAlive { kernel.switchTo(curTask) }
        mmu = kernel.mmu
        statsAtSwitch = mmu.stats
        counters = report.processes[idx].counters
    }

    /// Moves the running process's counters (and its MMU counters since the switch) into the report.
    func settle() {
        guard cur >= 0 else { return }
        counters.tlb.add(mmu.stats.minus(statsAtSwitch))
        statsAtSwitch = mmu.stats
        report.processes[cur].counters = counters
    }

    /// Returns the index of the process with trace pid `pid`, creating it (with the pending
    /// initial regions) when it is new.
    func process(_ pid: UInt32) throws -> Int {
        if let i = procs[pid] { return i }
        let t: Task
        switch kernel.spawnEmpty(comm: comm) {
        case .success(let x): t = x
        case .failure(let e): throw MachineOptionError("cannot create process \(pid): \(e.name)")
        }
        let idx = report.processes.count
        report.processes.append(ReplayProcess(pid: pid, comm: t.comm))
        tasks.append(t)
        procs[pid] = idx
        let regions = pendingRegions
        pendingRegions = []
        narrate("replay: process \(pid) of the trace is \(t.comm)[\(t.pid)]; \(regions.count) recorded regions are mapped at their recorded addresses (MAP_FIXED)")
        for r in regions { mapRegion(t, r) }
        return idx
    }

    /// The simulated file for `path`, created (with its recorded head bytes) when new, grown to
    /// at least `size` bytes.
    func file(_ path: String, size: UInt64) -> MappedFile? {
        if let i = kernel.fs.lookup(path) {
            if i.size < size { i.size = size }
            return i.mappedFile
        }
        let rec = files[path]
        let sz = max(size, rec?.0 ?? 0)
        do { return try kernel.fs.create(path: path.hasPrefix("/") ? path : "/" + path, size: sz, data: rec?.1 ?? []).mappedFile }
        catch { problem("cannot create file \(path): \(error)"); return nil }
    }

    /// Maps one initial region into `t`.
    func mapRegion(_ t: Task, _ r: TraceRegion) {
        let prot = Prot(rawValue: UInt32(r.prot & 7))
        let len = r.end - r.start
        switch r.kind {
        case .brk:
            // Valgrind's brk segment: the break starts here; the area is mapped by brk() calls.
            t.mm?.startBrk = r.start; t.mm?.brk = r.start
            return
        case .stack:
            if case .failure(let e) = kernel.mmap(t, addr: r.start, length: len, prot: prot, flags: [.private, .anonymous, .fixed, .growsdown]) {
                problem("initial stack \(hex(r.start))-\(hex(r.end)): \(e.name)")
            }
            t.mm?.startStack = r.end
        case .anon:
            if case .failure(let e) = kernel.mmap(t, addr: r.start, length: len, prot: prot, flags: [.private, .anonymous, .fixed]) {
                problem("initial region \(hex(r.start))-\(hex(r.end)): \(e.name)")
            }
        case .file, .exe, .interp:
            let (o, ov) = r.offset.addingReportingOverflow(len)
            guard !ov, let f = file(r.path, size: o) else { return }
            if case .failure(let e) = kernel.mmap(t, addr: r.start, length: len, prot: prot, flags: [.private, .fixed], file: f, offset: r.offset) {
                problem("initial region \(hex(r.start))-\(hex(r.end)) \(r.path): \(e.name)")
            }
            if r.kind == .exe && prot.contains(.exec) { t.mm?.startCode = r.start; t.mm?.endCode = r.end }
        }
    }

    /// Replays the trace read by `reader` (calling `onSample` between blocks when set) and returns
    /// the report. Throws `TraceError` on corruption.
    public func run(_ reader: TraceReader) throws -> ReplayReport {
        report.trace = reader.name
        var sinceProgress = 0
        var lastSample: UInt64 = 0, stopped = false
        // Blocks where more than one access in 32 walked the page tables are replayed with
        // lookahead (page-table prefetches); the others record by record, which costs less per
        // TLB hit. Both do exactly the same to the model; the choice follows the previous block.
        var ahead = false
        while try reader.nextBlock() {
            let walks = mmu?.stats.pageWalks ?? 0
            try reader.payload.withUnsafeBytes { p in
                if ahead { try replayBlockAhead(p, reader); blocksAhead &+= 1 } else { try replayBlock(p, reader) }
            }
            ahead = lookaheadAllowed && ((mmu?.stats.pageWalks ?? 0) &- walks) &* 32 > reader.blockRecords
            sinceProgress += reader.blockRecords
            if sinceProgress >= 1 << 21, let p = progress { p(reader.progress); sinceProgress = 0 }
            if let s = onSample, reader.seenRecords &- lastSample >= max(1, sampleEvery) {
                lastSample = reader.seenRecords
                settle()
                if !s(kernel, lastSample) { stopped = true; break }
            }
        }
        if !stopped, let s = onSample, reader.seenRecords != lastSample || reader.seenRecords == 0 {
            settle()
            _ = s(kernel, reader.seenRecords)
        }
        report.records = reader.seenRecords
        return finishReport()
    }

    /// Replays one block of records, one record at a time. Throws `TraceError` on corruption.
    func replayBlock(_ p: UnsafeRawBufferPointer, _ reader: TraceReader) throws {
        var d = RecordDecoder(p, reader: reader)
        var n = reader.blockRecords
        // The running MMU and physical memory, held in locals: calls on them need no
        // reference counting. Reloaded after every other record (it may switch process).
        // Unmanaged: this replayer (`mmu`, `phys`) and its kernel keep both alive.
        var m: Unmanaged<MMU>? = mmu.map { Unmanaged.passUnretained($0) }
        let ph = Unmanaged.passUnretained(phys)
        while n > 0 {
            n -= 1
            let t = try d.type()
            if t < 0x40 {
                let (kind, addr, size) = try d.access(t)
                if m == nil { switchProcess(try process(1)); m = Unmanaged.passUnretained(mmu) }
                access(m.unsafelyUnwrapped, ph, kind, addr, size)
            } else if let e = try d.other(t) {
                try event(e)
                m = mmu.map { Unmanaged.passUnretained($0) }
            }
        }
        try d.finishBlock()
    }

    /// Replays one block of records as `replayBlock` does, decoding accesses up to
    /// `lookaheadDepth` records ahead of the one replayed and asking the host to prefetch the
    /// page-table entry each will need (once per new page): under random accesses the walk's
    /// PTE read would otherwise wait on host memory. Only well-formed access records are decoded
    /// ahead; any other record (and any error) is decoded once the accesses before it have been
    /// replayed, so the model sees exactly what `replayBlock` gives it.
    func replayBlockAhead(_ p: UnsafeRawBufferPointer, _ reader: TraceReader) throws {
        var d = RecordDecoder(p, reader: reader)
        var n = reader.blockRecords
        var m: Unmanaged<MMU>? = mmu.map { Unmanaged.passUnretained($0) }
        let ph = Unmanaged.passUnretained(phys)
        let ring = lookahead
        var head = 0, tail = 0
        var lastPrefetched = UInt64.max
        while true {
            while tail &- head < Replayer.lookaheadDepth && n > 0, let a = d.nextPlainAccess() {
                n -= 1
                ring[tail & Replayer.lookaheadMask] = a
                tail &+= 1
                if a.1 >> 12 != lastPrefetched, let mm = m {
                    lastPrefetched = a.1 >> 12
                    mm._withUnsafeGuaranteedRef { mmu in
                        ph._withUnsafeGuaranteedRef { mem in mmu.prefetchTranslation(VirtAddr(a.1), mem: mem) }
                    }
                }
            }
            if head == tail {
                // Every record decoded ahead is replayed: now an event, an access the loop
                // above leaves to the checked decoder, END, or an error, in trace order.
                if n == 0 { break }
                n -= 1
                if try otherRecord(&d, into: ring + (tail & Replayer.lookaheadMask)) {
                    tail &+= 1
                } else {
                    m = mmu.map { Unmanaged.passUnretained($0) }
                    lastPrefetched = UInt64.max
                }
                continue
            }
            let (kind, addr, size) = ring[head & Replayer.lookaheadMask]
            head &+= 1
            if m == nil { switchProcess(try process(1)); m = Unmanaged.passUnretained(mmu) }
            access(m.unsafelyUnwrapped, ph, kind, addr, size)
        }
        try d.finishBlock()
    }

    /// Decodes the next record, which the replay loop's fast decoder did not take: stores an
    /// access at `slot` and returns true, or handles an event (or END) and returns false.
    /// Throws `TraceError` on corruption and what handling the event throws.
    @inline(never)
    func otherRecord(_ d: inout RecordDecoder, into slot: UnsafeMutablePointer<(TraceAccessKind, UInt64, UInt32)>) throws -> Bool {
        let t = try d.type()
        if t < 0x40 {
            slot.pointee = try d.access(t)
            return true
        }
        if let e = try d.other(t) { try event(e) }
        return false
    }

    /// Replays one access (two for a modify, one more per page boundary crossed).
    @inline(__always)
    func access(_ m: Unmanaged<MMU>, _ ph: Unmanaged<PhysicalMemory>, _ kind: TraceAccessKind, _ addr: UInt64, _ size: UInt32) {
        counters.accesses &+= 1
        switch kind {
        case .instr: counters.instrFetches &+= 1
        case .load: counters.loads &+= 1
        case .store: counters.stores &+= 1
        case .modify: counters.modifies &+= 1
        }
        guard curAlive else { return }
        let ak: AccessKind = kind == .instr ? .exec : kind == .load ? .read : .write
        if kind == .modify { translate(m, ph, addr, .read) }
        translate(m, ph, addr, ak)
        let last = addr &+ UInt64(size) &- 1
        if last >> 12 != addr >> 12 && last > addr { accessNextPages(m, ph, kind, ak, addr, last) }
    }

    /// Replays the pages after the first of an access that crosses page boundaries (out of line:
    /// rare, and it keeps `access` small enough to inline).
    @inline(never)
    func accessNextPages(_ m: Unmanaged<MMU>, _ ph: Unmanaged<PhysicalMemory>, _ kind: TraceAccessKind, _ ak: AccessKind,
                         _ addr: UInt64, _ last: UInt64) {
        var page = (addr | 0xfff) &+ 1
        while page <= last && page != 0 {
            if kind == .modify { translate(m, ph, page, .read) }
            translate(m, ph, page, ak)
            page &+= 0x1000
        }
    }

    /// Translates one access; a fault goes to the slow path.
    @inline(__always)
    func translate(_ m: Unmanaged<MMU>, _ ph: Unmanaged<PhysicalMemory>, _ addr: UInt64, _ kind: AccessKind) {
        let r = m._withUnsafeGuaranteedRef { mmu in
            ph._withUnsafeGuaranteedRef { mem in mmu.translate(VirtAddr(addr), kind, user: true, mem: mem) }
        }
        if case .fault(let code) = r { fault(addr, kind, code) }
    }

    /// The fault path: the kernel handles the fault (as do_user_addr_fault), and the access is
    /// retried; an access outside every mapping is counted and reported, never mapped.
    @inline(never)
    func fault(_ addr: UInt64, _ kind: AccessKind, _ first: PFErrorCode) {
        var code = first
        let task: Task = curTask
        let saved = kernel.explain
        if saved != nil {
            if explainFaults > 0 {
                explainFaults -= 1
                narrate("replay: pid \(report.processes[cur].pid) \(kind == .exec ? "fetches" : kind == .read ? "reads" : "writes") \(hex(addr)): "
                    + "the MMU raises #PF (error code \(code.rawValue)); the kernel handles it as do_user_addr_fault"
                    + (explainFaults == 0 ? " (later faults are not narrated)" : ""))
            } else {
                kernel.explain = nil
            }
        }
        defer { kernel.explain = saved }
        for _ in 0..<8 {
            if code.contains(.prot) && code.contains(.write), let mm = task.mm, let v = mm.vmas.vmaLookup(VirtAddr(addr)),
               v.flags.contains(.write) {
                counters.cowFaults &+= 1
            }
            let thp0 = (kernel.vmstat.thpFaultAlloc, kernel.vmstat.thpFaultFallback, kernel.vmstat.thpSplitPMD)
            let r = kernel.doUserAddrFault(task, VirtAddr(addr), code)
            counters.thpFaultAlloc &+= kernel.vmstat.thpFaultAlloc &- thp0.0
            counters.thpFaultFallback &+= kernel.vmstat.thpFaultFallback &- thp0.1
            counters.thpSplitPMD &+= kernel.vmstat.thpSplitPMD &- thp0.2
            switch r {
            case .minor: counters.pgfault &+= 1
            case .major: counters.pgfault &+= 1; counters.pgmajfault &+= 1
            case .sigsegv(let si):
                if kernel.explain != nil { narrate("replay: \(hex(addr)) is not allowed by any mapping (\(si == .accErr ? "SEGV_ACCERR" : "SEGV_MAPERR")): counted and listed, not mapped; the process goes on") }
                if si == .accErr { counters.segvAccerr &+= 1 } else { counters.segvMaperr &+= 1 }
                bad(addr, kind, si == .accErr ? "SEGV_ACCERR" : "SEGV_MAPERR")
                return
            case .sigbus:
                counters.sigbus &+= 1
                bad(addr, kind, "SIGBUS")
                return
            case .oom:
                bad(addr, kind, "OOM")
                curAlive = task.state.isAlive
                return
            }
            if perVMA, let mm = task.mm, let v = mm.vmas.vmaLookup(VirtAddr(addr)) { noteVMAFault(v) }
            curAlive = task.state.isAlive
            guard curAlive else { return }
            switch mmu.translate(VirtAddr(addr), kind, user: true, mem: phys) {
            case .ok: return
            case .fault(let c): code = c
            }
        }
        counters.sigbus &+= 1
        bad(addr, kind, "SIGBUS")
    }

    /// Charges one fault to VMA `v` of the running process (per-VMA breakdown).
    func noteVMAFault(_ v: VMA) {
        let pid = report.processes[cur].pid
        let name = v.file?.path ?? (v.flags.contains(.growsdown) ? "[stack]" : "")
        let key = "\(pid):\(v.start.raw):\(name)"
        let perms = (v.flags.contains(.read) ? "r" : "-") + (v.flags.contains(.write) ? "w" : "-") + (v.flags.contains(.exec) ? "x" : "-")
        let old = vmaFaults[key]
        vmaFaults[key] = (pid, v.start.raw, max(v.end.raw, old?.2 ?? 0), perms, name, (old?.5 ?? 0) + 1)
    }

    /// Lists an access that no mapping allowed (the first `badAccessLimit`).
    func bad(_ addr: UInt64, _ kind: AccessKind, _ reason: String) {
        guard report.badAccesses.count < ReplayReport.badAccessLimit else { return }
        let k: TraceAccessKind = kind == .exec ? .instr : kind == .read ? .load : .store
        report.badAccesses.append(ReplayBadAccess(pid: report.processes[cur].pid, kind: k, addr: addr, reason: reason))
    }

    /// Handles a record other than an access.
    func event(_ e: TraceEvent) throws {
        switch e {
        case .access: break
        case .meta(let k, let v):
            if k == "command", let first = v.split(separator: " ").first {
                comm = String(first.split(separator: "/").last ?? first)
            }
        case .file(let path, let size, let head):
            files[path] = (size, head)
            report.programFiles.append((path, describeELF(head, size: size)))
        case .region(let r):
            if cur < 0 { pendingRegions.append(r) } else { mapRegion(curTask, r) }
        case .thread(let pid, let tid):
            let idx: Int
            // Threads of a process share its pid (valgrind's tid is its own thread index).
            _ = tid
            if let i = procs[pid] { idx = i } else { idx = try process(pid) }
            switchProcess(idx)
        case .syscall(let s):
            report.syscalls += 1
            if cur < 0 { switchProcess(try process(1)) }
            syscall(s)
        }
    }

    /// Re-issues a recorded system call in the running process.
    func syscall(_ s: TraceSyscall) {
        let t: Task = curTask
        narrate("replay: pid \(report.processes[cur].pid) \(SyscallNr.names[s.nr] ?? "syscall \(s.nr)")(" + s.args.map { hex($0) }.joined(separator: ", ")
            + ") returned \(s.result < 0 ? String(s.result) : hex(UInt64(s.result))) in the trace: repeated with that result")
        guard t.state.isAlive, s.result >= 0 || s.nr == SyscallNr.exit || s.nr == SyscallNr.exitGroup else { return }
        let a = s.args + [UInt64](repeating: 0, count: max(0, 6 - s.args.count))
        let name = SyscallNr.names[s.nr] ?? "syscall \(s.nr)"
        func check<T>(_ r: Result<T, Errno>) {
            if case .failure(let e) = r { problem("\(name)(\(a.prefix(3).map { hex($0) }.joined(separator: ", "))) succeeded in the trace, \(e.name) in the model") }
        }
        switch s.nr {
        case SyscallNr.mmap:
            let addr = UInt64(s.result)
            var flags = MapFlags(rawValue: UInt32(truncatingIfNeeded: a[3]) & ~(MapFlags.fixedNoreplace.rawValue | MapFlags.populate.rawValue))
            flags.insert(.fixed)
            var file: MappedFile? = nil
            if !flags.contains(.anonymous) {
                if s.path.isEmpty {
                    problem("mmap of fd \(Int32(truncatingIfNeeded: a[4])) at \(hex(addr)): the file is unknown; mapped anonymous")
                    flags.insert(.anonymous)
                } else {
                    let (end, o) = a[5].addingReportingOverflow(pageAlignUp(a[1]) ?? a[1])
                    file = self.file(s.path, size: o ? a[5] : max(end, s.fileSize))
                    if file == nil { flags.insert(.anonymous) }
                }
            }
            check(kernel.mmap(t, addr: addr, length: a[1], prot: Prot(rawValue: UInt32(a[2] & 7)), flags: flags, file: file, offset: a[5]))
        case SyscallNr.munmap: check(kernel.munmap(t, addr: a[0], length: a[1]))
        case SyscallNr.mprotect: check(kernel.mprotect(t, addr: a[0], length: a[1], prot: Prot(rawValue: UInt32(a[2] & 7))))
        case SyscallNr.madvise: check(kernel.madvise(t, addr: a[0], length: a[1], behavior: Int32(truncatingIfNeeded: a[2])))
        case SyscallNr.brk:
            let want = UInt64(s.result)
            if let mm = t.mm, mm.startBrk == 0 && mm.brk == 0 { mm.startBrk = want; mm.brk = want }
            if kernel.brk(t, want) != want { problem("brk(\(hex(want))) refused by the model") }
        case SyscallNr.mremap:
            let newAddr = UInt64(s.result)
            var flags = MremapFlags(rawValue: UInt32(truncatingIfNeeded: a[3]) & 7)
            if newAddr != a[0] { flags.insert([.maymove, .fixed]) }
            check(kernel.mremap(t, oldAddr: a[0], oldSize: a[1], newSize: a[2], flags: flags, newAddr: newAddr))
        case SyscallNr.clone, SyscallNr.fork, SyscallNr.vfork, SyscallNr.clone3:
            guard s.result > 0, s.result <= Int64(Int32.max) else { return }
            let child = UInt32(s.result)
            // CLONE_THREAD: a thread of this process (its accesses carry this pid).
            if s.nr == SyscallNr.clone && a[0] & 0x10000 != 0 { return }
            let sharesVM = (s.nr == SyscallNr.clone && a[0] & 0x100 != 0) || s.nr == SyscallNr.vfork
            switch sharesVM ? kernel.vfork(t) : kernel.fork(t) {
            case .success(let c):
                settle()
                let idx = report.processes.count
                report.processes.append(ReplayProcess(pid: child, comm: c.comm))
                tasks.append(c)
                procs[child] = idx
                kernel.switchTo(t)
            case .failure(let e): problem("fork: \(e.name) in the model")
            }
        case SyscallNr.exit, SyscallNr.exitGroup:
            finishProcess(cur)
            kernel.exitTask(t, status: Int32(truncatingIfNeeded: a[0]))
            curAlive = false
        case SyscallNr.read, SyscallNr.pread64, SyscallNr.write, SyscallNr.pwrite64:
            // File I/O at a recorded offset: the pages go through the page cache (read-ahead
            // for reads; written pages are cached and dirty), so later mappings find them there.
            guard !s.path.isEmpty, a.count >= 4 else { return }
            let count = UInt64(s.result), off = a[3]
            let (end, o) = off.addingReportingOverflow(count)
            guard !o, let mf = file(s.path, size: s.nr == SyscallNr.read || s.nr == SyscallNr.pread64 ? max(end, s.fileSize) : 0),
                  let inode = kernel.fs.inode(for: mf) else { return }
            if s.nr == SyscallNr.read || s.nr == SyscallNr.pread64 {
                kernel.fileRead(inode, offset: off, length: count)
            } else {
                var done: UInt64 = 0
                while done < count {
                    let n = min(count - done, 1 << 16)
                    if case .failure(let e) = kernel.fileWrite(inode, offset: off + done, [UInt8](repeating: 0, count: Int(n))) {
                        problem("write of \(s.path) at \(off + done): \(e.name) in the model"); break
                    }
                    done += n
                }
            }
        case SyscallNr.getrusage:
            // Kept for the first calls only, so that memory does not grow with the trace.
            if report.processes[cur].getrusage.count < ReplayReport.getrusageLimit {
                report.processes[cur].getrusage.append((UInt64(t.minFlt), UInt64(t.majFlt)))
            }
        case SyscallNr.execve:
            // A successful execve: the process continues in a new address space, built from the
            // REGION records that follow (the new image's layout), through the kernel's exec path.
            if perVMA, let mm = t.mm { collectVMAs(cur, mm) }
            let path = s.path.isEmpty ? comm : s.path
            let base = path.split(separator: "/").last.map(String.init) ?? path
            switch kernel.execEmpty(t, comm: base, argv: [path]) {
            case .success:
                report.processes[cur].comm = t.comm
                narrate("replay: pid \(report.processes[cur].pid) execve(\(path)): the old address space is released; later REGION records describe the new image")
            case .failure(let e): problem("execve(\(path)) succeeded in the trace, \(e.name) in the model")
            }
        default: break
        }
    }

    /// Takes the final RSS and page-table size of process `idx` (at exit or at the end).
    func finishProcess(_ idx: Int) {
        guard !report.processes[idx].exited else { return }
        if idx == cur { settle() }
        if let mm = tasks[idx].mm {
            var c = idx == cur ? counters : report.processes[idx].counters
            c.rss = mm.rss
            c.pgtablesBytes = mm.pgtablesBytes
            if idx == cur { counters = c }
            report.processes[idx].counters = c
            if perVMA { collectVMAs(idx, mm) }
        }
        report.processes[idx].exited = true
    }

    /// Adds the final VMAs of process `idx` to the breakdown, with their faults and resident pages.
    func collectVMAs(_ idx: Int, _ mm: MMStruct) {
        let pid = report.processes[idx].pid
        for v in mm.vmas.vmas {
            let name = v.file?.path ?? (v.flags.contains(.growsdown) ? "[stack]" : "")
            let perms = (v.flags.contains(.read) ? "r" : "-") + (v.flags.contains(.write) ? "w" : "-") + (v.flags.contains(.exec) ? "x" : "-")
            let key = "\(pid):\(v.start.raw):\(name)"
            let faults = vmaFaults.removeValue(forKey: key)?.5 ?? 0
            report.vmas.append(ReplayVMA(pid: pid, start: v.start.raw, end: v.end.raw, perms: perms, name: name,
                                         faults: faults, residentPages: kernel.residentPages(mm, v.start, v.end)))
        }
        // Faults in VMAs that were unmapped (or moved) before the end.
        for (k, f) in vmaFaults where f.0 == pid {
            report.vmas.append(ReplayVMA(pid: pid, start: f.1, end: f.2, perms: f.3, name: f.4 + " (unmapped)", faults: f.5, residentPages: 0))
            vmaFaults[k] = nil
        }
        report.vmas.sort { ($0.pid, $0.start, $0.name) < ($1.pid, $1.start, $1.name) }
    }

    /// Settles every process (final RSS, page tables, VMAs) and returns the report with its total.
    func finishReport() -> ReplayReport {
        settle()
        for i in report.processes.indices { finishProcess(i) }
        var total = ReplayCounters()
        for p in report.processes { total.add(p.counters) }
        report.total = total
        return report
    }
}

/// Returns what the ELF headers in `head` (the first bytes of a file of `size` bytes) say: type,
/// entry point, PT_LOAD count and interpreter, or why the kernel's parser refuses them. The
/// rest of the file reads as zeros (files over 256 MiB are not parsed).
func describeELF(_ head: [UInt8], size: UInt64) -> String {
    guard size <= 256 << 20 else { return "not parsed (\(size) bytes)" }
    let bytes = head.count >= Int(size) ? Array(head.prefix(Int(size))) : head + [UInt8](repeating: 0, count: Int(size) - head.count)
    do {
        let e = try ElfFile.parse(bytes)
        return "ELF \(e.type == ET_DYN ? "ET_DYN" : "ET_EXEC"), entry \(hex(e.entry)), \(e.loads.count) PT_LOAD"
            + (e.interpreter.map { ", interpreter \($0)" } ?? "")
    } catch { return "not a loadable ELF file: \(error)" }
}

/// Returns `v` as 0x-prefixed hexadecimal.
public func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// Returns `v` right-aligned in `w` columns.
func rjust(_ v: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - v.count)) + v }

extension ReplayReport {
    /// The human-readable report: the machine, then one column per process and the total.
    public func text() -> String {
        var s = "replay: \(trace): \(records) records, \(total.accesses) accesses, \(syscalls) system calls, "
            + "\(processes.count) process\(processes.count == 1 ? "" : "es")\n"
        s += "machine: \(describeMachine(machine))\n"
        for f in programFiles { s += "file: \(f.path): \(f.elf)\n" }
        s += "\n"
        let cols = processes.map { "pid \($0.pid)" } + (processes.count > 1 ? ["total"] : [])
        let values = processes.map { $0.counters.fields } + (processes.count > 1 ? [total.fields] : [])
        let w = max(14, (values.flatMap { $0.map { String($0.1).count } }.max() ?? 0) + 2)
        // The name column fits the longest counter name (thp_fault_fallback).
        let units = ["VmRSS", "RssAnon", "RssFile", "RssShmem", "VmPTE"]
        let nw = max(16, (total.fields.map { $0.0.count + (units.contains($0.0) ? 3 : 0) }.max() ?? 0) + 1)
        s += "counter".padding(toLength: nw, withPad: " ", startingAt: 0) + cols.map { rjust($0, w) }.joined() + "\n"
        for (i, f) in total.fields.enumerated() {
            let unit = units.contains(f.0) ? " kB" : ""
            s += (f.0 + unit).padding(toLength: nw, withPad: " ", startingAt: 0) + values.map { rjust(String($0[i].1), w) }.joined() + "\n"
        }
        for p in processes where !p.getrusage.isEmpty {
            s += "\npid \(p.pid) getrusage() calls (ru_minflt ru_majflt):"
            for (mi, ma) in p.getrusage { s += " \(mi)/\(ma)" }
            s += "\n"
        }
        if !vmas.isEmpty {
            s += "\nper VMA:\n  pid  start-end                        perms   faults  resident  name\n"
            for v in vmas {
                s += rjust(String(v.pid), 5) + "  " + "\(String(v.start, radix: 16))-\(String(v.end, radix: 16))".padding(toLength: 32, withPad: " ", startingAt: 0)
                    + " " + v.perms + rjust(String(v.faults), 9) + rjust(String(v.residentPages), 10) + "  " + v.name + "\n"
            }
        }
        if total.segvMaperr + total.segvAccerr + total.sigbus > 0 {
            s += "\naccesses no mapping allowed (not mapped; first \(badAccesses.count)):\n"
            for b in badAccesses { s += "  pid \(b.pid) \(b.kind.letter) \(hex(b.addr)) \(b.reason)\n" }
        }
        if syscallProblemCount > 0 {
            s += "\nsystem calls the model could not repeat (\(syscallProblemCount)):\n"
            for p in syscallProblems { s += "  \(p)\n" }
        }
        return s
    }

    /// The report as one JSON document (keys in a fixed order).
    public func json() -> String {
        func obj(_ f: [(String, UInt64)]) -> String { "{" + f.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}" }
        var s = "{\n  \"trace\": \(jsonString(trace)),\n  \"records\": \(records),\n  \"syscalls\": \(syscalls),\n"
        s += "  \"machine\": {" + machineFields(machine).map { "\"\($0.0)\": \(jsonString($0.1))" }.joined(separator: ", ") + "},\n"
        s += "  \"files\": [" + programFiles.map { "{\"path\": \(jsonString($0.path)), \"elf\": \(jsonString($0.elf))}" }.joined(separator: ", ") + "],\n"
        s += "  \"processes\": [\n" + processes.map { p in
            "    {\"pid\": \(p.pid), \"comm\": \(jsonString(p.comm)), \"counters\": \(obj(p.counters.fields)), \"getrusage\": ["
                + p.getrusage.map { "[\($0.0), \($0.1)]" }.joined(separator: ", ") + "]}"
        }.joined(separator: ",\n") + "\n  ],\n"
        s += "  \"total\": \(obj(total.fields)),\n"
        s += "  \"vmas\": [" + vmas.map { v in
            "\n    {\"pid\": \(v.pid), \"start\": \(jsonString(hex(v.start))), \"end\": \(jsonString(hex(v.end))), \"perms\": \(jsonString(v.perms)), "
                + "\"name\": \(jsonString(v.name)), \"faults\": \(v.faults), \"resident_pages\": \(v.residentPages)}"
        }.joined(separator: ",") + (vmas.isEmpty ? "" : "\n  ") + "],\n"
        s += "  \"bad_accesses\": [" + badAccesses.map { "{\"pid\": \($0.pid), \"kind\": \"\($0.kind.letter)\", \"addr\": \(jsonString(hex($0.addr))), \"reason\": \"\($0.reason)\"}" }.joined(separator: ", ") + "],\n"
        s += "  \"syscall_problems\": \(syscallProblemCount)\n}\n"
        return s
    }

    /// The report as CSV: a header, one row per process, and a `total` row.
    public func csv() -> String {
        var s = "pid," + total.fields.map { $0.0 }.joined(separator: ",") + "\n"
        for p in processes { s += "\(p.pid)," + p.counters.fields.map { String($0.1) }.joined(separator: ",") + "\n" }
        s += "total," + total.fields.map { String($0.1) }.joined(separator: ",") + "\n"
        return s
    }
}

/// The machine's options as (key, value) text pairs, in `machineOptionKeys` order.
public func machineFields(_ c: MachineConfig) -> [(String, String)] {
    func g(_ x: TLBGeometry) -> String { "\(x.entries):\(x.ways)" }
    return [("ram", formatSize(c.ramBytes)), ("swap", formatSize(c.swapBytes)), ("cpus", String(c.cpus)),
     ("l1d", g(c.tlb.l1d)), ("l1d2m", g(c.tlb.l1d2M)), ("l1d1g", g(c.tlb.l1d1G)), ("l1i", g(c.tlb.l1i)), ("l1i2m", g(c.tlb.l1i2M)),
     ("stlb", g(c.tlb.stlb)), ("stlb1g", g(c.tlb.stlb1G)),
     ("pwc-pml4e", "\(c.tlb.pwcPML4E)"), ("pwc-pdpte", "\(c.tlb.pwcPDPTE)"), ("pwc-pde", "\(c.tlb.pwcPDE)"),
     ("pcid", c.tlb.pcid ? "on" : "off"),
     ("thp", c.thp.rawValue), ("fault-around", String(c.faultAroundPages)), ("seed", String(c.seed)),
     ("arch", c.arch.description),
     ("hugepages", c.hugepagesText)]
}

/// Returns `s` as a JSON string literal.
public func jsonString(_ s: String) -> String {
    var o = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": o += "\\\""
        case "\\": o += "\\\\"
        case "\n": o += "\\n"
        case "\t": o += "\\t"
        default:
            if u.value < 0x20 { o += String(format: "\\u%04x", u.value) } else { o.unicodeScalars.append(u) }
        }
    }
    return o + "\""
}
