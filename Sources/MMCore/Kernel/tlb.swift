/// Several CPUs: context switches (switch_mm with dynamic ASIDs / PCIDs), lazy TLB mode and TLB
/// shootdowns, as Linux 6.1–6.12 does them on x86-64 (arch/x86/mm/tlb.c).
///
/// Each mm has a TLB generation (`tlbGen`), raised by every flush request, and a cpumask of the
/// CPUs that have it loaded. Each CPU has TLB_NR_DYN_ASIDS = 6 ASID slots (`ctxs`) that remember
/// which mm they last held and up to which generation its entries are flushed; with PCID the
/// entries of an mm survive a switch away under PCID = ASID + 1 and are kept at the switch back
/// when the slot is still up to date, else flushed. A flush request for an mm runs locally when
/// this CPU has it loaded and is sent by IPI to the other CPUs in the mm's cpumask, except to
/// lazy ones (running a kernel thread on a borrowed mm) unless page tables were freed; a lazy CPU
/// catches up at its next switch, and a lazy CPU told of freed tables switches to init_mm.

/// One ASID slot of a CPU. Linux: struct tlb_context, arch/x86/include/asm/tlbflush.h
public struct TLBContext {
    /// The mm whose entries the slot holds (its ctx_id); nil for a slot never used.
    public var mm: MMStruct?
    /// The mm generation the slot's entries are flushed up to.
    public var tlbGen: UInt64
}

/// One CPU: its MMU and what Linux keeps in cpu_tlbstate and the runqueue.
public final class CPU {
    /// CPU number (0-based).
    public let id: Int
    /// This CPU's MMU: CR3, TLBs, walker and counters.
    public let mmu: MMU
    /// The task running here (rq->curr); nil while the CPU idles.
    public internal(set) var current: Task?
    /// The mm whose page tables CR3 holds (cpu_tlbstate.loaded_mm); `Kernel.initMM` for none.
    public internal(set) var loadedMM: MMStruct
    /// The ASID slot of `loadedMM` (cpu_tlbstate.loaded_mm_asid).
    public internal(set) var loadedASID = 0
    /// Whether the CPU runs a kernel thread on a borrowed mm (cpu_tlbstate_shared.is_lazy).
    public internal(set) var isLazy = false
    /// The ASID slots (cpu_tlbstate.ctxs[TLB_NR_DYN_ASIDS]).
    public internal(set) var ctxs: [TLBContext]
    /// The next slot to hand out (cpu_tlbstate.next_asid).
    var nextASID = 1
    /// TLB shootdown IPIs this CPU received (irq_stat.irq_tlb_count: /proc/interrupts "TLB").
    public internal(set) var tlbShootdownsReceived = 0
    /// TLB shootdown IPIs this CPU sent to other CPUs.
    public internal(set) var tlbShootdownsSent = 0

    /// A CPU at boot: init_mm loaded in ASID slot 0. Linux: initialize_tlbstate_and_flush()
    init(id: Int, mmu: MMU, initMM: MMStruct) {
        self.id = id
        self.mmu = mmu
        loadedMM = initMM
        ctxs = Array(repeating: TLBContext(mm: nil, tlbGen: 0), count: Kernel.tlbNrDynASIDs)
        ctxs[0] = TLBContext(mm: initMM, tlbGen: initMM.tlbGen)
    }

    /// The mm_cpumask bit of this CPU.
    var bit: UInt64 { UInt64(1) << UInt64(id) }
}

/// What one flush request covers. Linux: struct flush_tlb_info, arch/x86/include/asm/tlbflush.h
struct FlushTLBInfo {
    var mm: MMStruct
    var start: UInt64
    /// UInt64.max = TLB_FLUSH_ALL.
    var end: UInt64
    var strideShift: UInt64
    var newTLBGen: UInt64
    var freedTables: Bool
    var initiatingCPU: Int
}

/// Why a task cannot be put on a CPU.
public enum SchedError: Error, Equatable, CustomStringConvertible {
    /// No such CPU.
    case noSuchCPU(Int, cpus: Int)
    /// The task already runs on another CPU.
    case runningElsewhere(pid: PID, cpu: Int)
    /// The task sleeps in vfork() until this child exits or execs.
    case vforkWaiting(pid: PID, child: PID)
    public var description: String {
        switch self {
        case .noSuchCPU(let k, let n): return "no CPU \(k): the machine has \(n) CPU\(n == 1 ? "" : "s") (0...\(n - 1))"
        case .runningElsewhere(let p, let c): return "pid \(p) is running on CPU\(c); a task runs on one CPU at a time (switch CPU\(c) to another task first)"
        case .vforkWaiting(let p, let c): return "pid \(p) is waiting in vfork() until its child \(c) exits or execs"
        }
    }
}

extension Kernel {
    /// ASID slots per CPU. Linux: TLB_NR_DYN_ASIDS, arch/x86/include/asm/tlbflush.h
    static let tlbNrDynASIDs = 6

    /// The CPU the scenario acts on.
    public var thisCPU: CPU { cpus[cpuID] }

    /// Makes CPU `id` the one later operations act on; returns `.noSuchCPU` when out of range.
    public func selectCPU(_ id: Int) -> Result<Void, SchedError> {
        guard id >= 0, id < cpus.count else { return .failure(.noSuchCPU(id, cpus: cpus.count)) }
        cpuID = id
        return .success(())
    }

    /// The CPU `task` is running on (it is that CPU's current task), or nil.
    public func cpuRunning(_ task: Task) -> Int? { cpus.firstIndex { $0.current === task } }

    /// Whether `task` is some CPU's current task. Linux: task_is_running() / task_curr()
    public func isRunning(_ task: Task) -> Bool { cpuRunning(task) != nil }

    /// Switches CPU `id` to `task` and makes it the CPU acted on. Returns an error (and changes
    /// nothing) when the CPU does not exist, the task runs on another CPU, or it waits in vfork().
    /// Linux: schedule() → context_switch(), kernel/sched/core.c
    public func schedule(_ task: Task, on id: Int) -> Result<Void, SchedError> {
        guard id >= 0, id < cpus.count else { return .failure(.noSuchCPU(id, cpus: cpus.count)) }
        if let c = cpuRunning(task), c != id { return .failure(.runningElsewhere(pid: task.pid, cpu: c)) }
        if let child = task.vforkChild, task.state.isAlive { return .failure(.vforkWaiting(pid: task.pid, child: child.pid)) }
        cpuID = id
        switchTo(task)
        return .success(())
    }

    /// The PCID of ASID slot `asid`: ASID + 1 with PCID on (0 is left to the kernel), else 0.
    /// Linux: kern_pcid(), arch/x86/mm/tlb.c
    func kernPCID(_ asid: Int) -> UInt16 { config.tlb.pcid ? UInt16(asid + 1) : 0 }

    /// Picks the ASID slot for `next` on CPU `c`: the slot that already holds it (flush only if
    /// the mm's generation moved on since), else the next slot round-robin (flush). Without PCID
    /// always slot 0 with a flush. Returns the slot and whether it must be flushed.
    /// Linux: choose_new_asid(), arch/x86/mm/tlb.c
    func chooseNewASID(_ c: CPU, _ next: MMStruct) -> (asid: Int, needFlush: Bool) {
        guard config.tlb.pcid else { return (0, true) }
        for asid in 0..<Kernel.tlbNrDynASIDs where c.ctxs[asid].mm === next {
            return (asid, c.ctxs[asid].tlbGen < next.tlbGen)
        }
        var asid = c.nextASID
        c.nextASID += 1
        if asid >= Kernel.tlbNrDynASIDs { asid = 0; c.nextASID = 1 }
        return (asid, true)
    }

    /// Loads `next`'s page tables on CPU `c`: leaves a lazy state, moves the CPU from the old
    /// mm's cpumask to the new one's, picks an ASID and writes CR3, flushing the slot only when it
    /// is stale. Staying on the same mm costs nothing unless the CPU was lazy and the mm's
    /// generation moved on (then it flushes). Linux: switch_mm_irqs_off(), arch/x86/mm/tlb.c
    func switchMM(_ c: CPU, _ next: MMStruct) {
        let prev = c.loadedMM
        let wasLazy = c.isLazy
        c.isLazy = false
        var asid: Int, needFlush: Bool
        if prev === next {
            guard wasLazy, c.ctxs[c.loadedASID].tlbGen != next.tlbGen else {
                narrate("CPU\(c.id): switch_mm: same mm (PGD at PFN \(next.pgd)\(wasLazy ? ", left lazy TLB mode, up to date" : "")): CR3 unchanged")
                return
            }
            asid = c.loadedASID; needFlush = true
            narrate("CPU\(c.id): switch_mm: leaving lazy TLB mode on the same mm, whose tlb_gen moved on (\(c.ctxs[asid].tlbGen) → \(next.tlbGen)): flush")
        } else {
            prev.cpumask &= ~c.bit
            next.cpumask |= c.bit
            (asid, needFlush) = chooseNewASID(c, next)
        }
        let pcid = kernPCID(asid)
        if needFlush { c.ctxs[asid] = TLBContext(mm: next, tlbGen: next.tlbGen) }
        if next === initMM {
            c.mmu.loadKernelCR3(pcid: pcid, noFlush: !needFlush)
        } else {
            c.mmu.loadCR3(next.pgd, pcid: pcid, noFlush: !needFlush)
        }
        c.loadedMM = next
        c.loadedASID = asid
        if prev !== next {
            let what = next === initMM ? "init_mm (kernel page tables only)" : "PGD at PFN \(next.pgd)"
            let why: String
            if next === initMM { why = needFlush ? "flush" : "keep: init_mm maps no user pages" }
            else if !config.tlb.pcid { why = "flush: without PCID every CR3 write drops the old entries" }
            else if needFlush { why = "flush: the ASID slot was new or its entries are older than the mm's tlb_gen \(next.tlbGen)" }
            else { why = "keep: the ASID slot still holds this mm's entries, up to date (tlb_gen \(next.tlbGen))" }
            narrate("CPU\(c.id): switch_mm: load CR3 = \(what), ASID \(asid), PCID \(pcid) (\(why))")
        }
    }

    /// Marks CPU `c` lazy: it keeps the previous mm loaded while a kernel thread runs.
    /// Linux: enter_lazy_tlb(), arch/x86/mm/tlb.c
    func enterLazyTLB(_ c: CPU) {
        if c.loadedMM === initMM { return }
        c.isLazy = true
    }

    /// Flushes `mm`'s TLB entries for [start, end) on every CPU that may cache them: raises the
    /// mm's generation; runs the flush here when this CPU has the mm loaded, and sends an IPI to
    /// every other CPU in the mm's cpumask that is not lazy (lazy ones too when `freedTables`).
    /// A range over tlb_single_page_flush_ceiling strides becomes a full flush. Never fails.
    /// Linux: flush_tlb_mm_range(), arch/x86/mm/tlb.c
    func flushTLBMMRange(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, strideShift: UInt64 = PAGE_SHIFT, freedTables: Bool = false) {
        guard end > start else { return }
        mm.tlbGen &+= 1
        var s = start.raw, e = end.raw
        if e != UInt64.max, (e - s) >> strideShift > UInt64(mmu.singlePageFlushCeiling) { s = 0; e = UInt64.max }
        let info = FlushTLBInfo(mm: mm, start: s, end: e, strideShift: strideShift, newTLBGen: mm.tlbGen,
                                freedTables: freedTables, initiatingCPU: cpuID)
        let me = thisCPU
        if mm.cpumask & ~me.bit != 0 {
            flushTLBMulti(mm.cpumask, info)
        } else if me.loadedMM === mm {
            flushTLBFunc(me, info)
        }
    }

    /// Flushes the whole of `mm` on every CPU that may cache it (page tables may have been
    /// freed, so lazy CPUs are told too). Linux: flush_tlb_mm(), arch/x86/include/asm/tlbflush.h
    func flushTLBMM(_ mm: MMStruct) {
        flushTLBMMRange(mm, VirtAddr(0), VirtAddr(UInt64.max), freedTables: true)
    }

    /// Tells the lazy CPUs in `mm`'s cpumask that page tables in [start, end) were freed (the
    /// zap before already flushed the CPUs running the mm): each gets an IPI and switches to
    /// init_mm. Linux: the freed_tables part of tlb_finish_mmu() → flush_tlb_mm_range(), mm/mmu_gather.c
    func flushTLBFreedTables(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) {
        let me = thisCPU
        var lazies: UInt64 = 0
        for c in cpus where c !== me && mm.cpumask & c.bit != 0 && c.isLazy && c.loadedMM === mm { lazies |= c.bit }
        guard lazies != 0 else { return }
        // Part of the same gather as the zap's flush: no new generation (a lazy CPU leaves the mm anyway).
        let info = FlushTLBInfo(mm: mm, start: start.raw, end: end.raw, strideShift: PAGE_SHIFT, newTLBGen: mm.tlbGen,
                                freedTables: true, initiatingCPU: cpuID)
        flushTLBMulti(lazies, info)
    }

    /// Runs the flush on every CPU of `mask`: here directly, elsewhere by IPI; without freed
    /// tables lazy CPUs are skipped (they catch up at their next switch_mm).
    /// Linux: native_flush_tlb_multi() → on_each_cpu_cond_mask(tlb_is_not_lazy, …), arch/x86/mm/tlb.c
    func flushTLBMulti(_ mask: UInt64, _ info: FlushTLBInfo) {
        let me = thisCPU
        var targets: [CPU] = []
        for c in cpus where mask & c.bit != 0 {
            if !info.freedTables && c.isLazy { continue }
            targets.append(c)
        }
        let remote = targets.filter { $0 !== me }
        if !remote.isEmpty {
            me.tlbShootdownsSent += remote.count
            let range = info.end == UInt64.max ? "all" : "\(VirtAddr(info.start))-\(VirtAddr(info.end))"
            narrate("CPU\(me.id): TLB shootdown for PGD \(info.mm.pgd) (\(range), tlb_gen \(info.newTLBGen)\(info.freedTables ? ", page tables freed" : "")): IPI to "
                + remote.map { "CPU\($0.id)" }.joined(separator: ", "))
        }
        for c in targets { flushTLBFunc(c, info) }
    }

    /// The flush on one CPU (the IPI handler on a remote one): nothing if the CPU no longer has
    /// the mm loaded or is already up to date; a lazy CPU switches to init_mm; otherwise INVLPG
    /// per stride when this request is the only one missed, else a full flush of the ASID; the
    /// slot is then up to date. Linux: flush_tlb_func(), arch/x86/mm/tlb.c
    func flushTLBFunc(_ c: CPU, _ info: FlushTLBInfo) {
        let local = c.id == info.initiatingCPU
        if !local {
            c.tlbShootdownsReceived += 1
            if info.mm !== c.loadedMM { return }
        }
        if c.loadedMM === initMM { return }
        if c.isLazy {
            narrate("CPU\(c.id): lazy TLB and page tables were freed: switch to init_mm")
            switchMM(c, initMM)
            return
        }
        let localGen = c.ctxs[c.loadedASID].tlbGen
        if info.newTLBGen <= localGen { return }
        let mmGen = c.loadedMM.tlbGen
        let pcid = kernPCID(c.loadedASID)
        if info.end != UInt64.max && info.newTLBGen == localGen + 1 && info.newTLBGen == mmGen {
            c.mmu.flushRange(VirtAddr(info.start), VirtAddr(info.end), strideShift: info.strideShift, pcid: pcid)
            if !local { narrate("CPU\(c.id): flush_tlb_func: INVLPG \(VirtAddr(info.start))-\(VirtAddr(info.end))") }
        } else {
            c.mmu.flushAll(pcid: pcid)
            if !local { narrate("CPU\(c.id): flush_tlb_func: full flush of ASID \(c.loadedASID)") }
        }
        c.ctxs[c.loadedASID].tlbGen = mmGen
    }

    /// The TLB invariants of every CPU: the loaded mm has the CPU in its cpumask; a CPU running
    /// (not lazy) on an mm is up to date with its generation; and no ASID slot that claims to be
    /// up to date holds an entry the page tables contradict (a slot behind the mm's generation
    /// is flushed before use, so its entries are never translated through). Returns the violations.
    func tlbInvariantViolations() -> [String] {
        var out: [String] = []
        for c in cpus {
            let lm = c.loadedMM
            if lm !== initMM {
                if lm.cpumask & c.bit == 0 { out.append("CPU\(c.id): loaded mm PGD \(lm.pgd) lacks the CPU in its cpumask") }
                if !c.isLazy && c.ctxs[c.loadedASID].tlbGen != lm.tlbGen {
                    out.append("CPU\(c.id): runs PGD \(lm.pgd) at tlb_gen \(c.ctxs[c.loadedASID].tlbGen) but the mm is at \(lm.tlbGen)")
                }
            }
            for asid in 0..<Kernel.tlbNrDynASIDs {
                guard let mm = c.ctxs[asid].mm, mm !== initMM, mm.mmCount > 0, c.ctxs[asid].tlbGen == mm.tlbGen else { continue }
                // Without PCID only the loaded mm's entries exist (slot 0); an unloaded slot was flushed by the CR3 write.
                if !config.tlb.pcid && !(lm === mm) { continue }
                out += c.mmu.staleEntries(pgd: mm.pgd, pcid: kernPCID(asid), mem: phys).map { "CPU\(c.id) ASID \(asid): \($0)" }
            }
        }
        return out
    }
}
