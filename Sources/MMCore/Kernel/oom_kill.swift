/// The OOM killer (Linux 6.x mm/oom_kill.c, global OOM only: no memcg, cpuset or mempolicy
/// constraints, so the constraint is always CONSTRAINT_NONE).
///
/// The report follows the kernel's text line by line: the "invoked oom-killer" line with the gfp
/// mask rendered as %pGg does, the "Tasks state" table, the one-line "oom-kill:" summary, the
/// "Killed process" line and the oom_reaper line. Omitted from dump_header: the stack dump and
/// the Mem-Info (show_mem) block.

/// Lowest and highest /proc/PID/oom_score_adj. Linux: include/uapi/linux/oom.h
public let OOM_SCORE_ADJ_MIN = -1000
public let OOM_SCORE_ADJ_MAX = 1000

/// The gfp flag names %pGg prints, composites first, in the kernel's table order
/// (Linux 6.4–6.14 __def_gfpflag_names, include/trace/events/mmflags.h).
private let gfpflagNames: [(mask: UInt32, name: String)] = {
    let highuserMovable = GFP.highuserMovable.rawValue
    let reclaim = GFP.reclaim.rawValue
    let transhugeLight = (highuserMovable | GFP.comp.rawValue | GFP.nomemalloc.rawValue | GFP.nowarn.rawValue) & ~reclaim
    let transhuge = transhugeLight | GFP.directReclaim.rawValue
    return [
        (transhuge, "GFP_TRANSHUGE"), (transhugeLight, "GFP_TRANSHUGE_LIGHT"),
        (highuserMovable, "GFP_HIGHUSER_MOVABLE"), (GFP.highuser.rawValue, "GFP_HIGHUSER"),
        (GFP.user.rawValue, "GFP_USER"), (GFP.kernelAccount.rawValue, "GFP_KERNEL_ACCOUNT"),
        (GFP.kernel.rawValue, "GFP_KERNEL"), (GFP.nofs.rawValue, "GFP_NOFS"),
        (GFP.atomic.rawValue, "GFP_ATOMIC"), (GFP.noio.rawValue, "GFP_NOIO"),
        (GFP.nowait.rawValue, "GFP_NOWAIT"), (GFP.dma.rawValue, "GFP_DMA"),
        (GFP.highmem.rawValue, "__GFP_HIGHMEM"), (GFP.dma32.rawValue, "GFP_DMA32"),
        (GFP.high.rawValue, "__GFP_HIGH"), (GFP.io.rawValue, "__GFP_IO"), (GFP.fs.rawValue, "__GFP_FS"),
        (GFP.nowarn.rawValue, "__GFP_NOWARN"), (GFP.retryMayfail.rawValue, "__GFP_RETRY_MAYFAIL"),
        (GFP.nofail.rawValue, "__GFP_NOFAIL"), (GFP.noretry.rawValue, "__GFP_NORETRY"),
        (GFP.comp.rawValue, "__GFP_COMP"), (GFP.zero.rawValue, "__GFP_ZERO"),
        (GFP.nomemalloc.rawValue, "__GFP_NOMEMALLOC"), (GFP.memalloc.rawValue, "__GFP_MEMALLOC"),
        (GFP.hardwall.rawValue, "__GFP_HARDWALL"), (0x200000, "__GFP_THISNODE"),
        (GFP.reclaimable.rawValue, "__GFP_RECLAIMABLE"), (GFP.movable.rawValue, "__GFP_MOVABLE"),
        (GFP.account.rawValue, "__GFP_ACCOUNT"), (GFP.write.rawValue, "__GFP_WRITE"),
        (reclaim, "__GFP_RECLAIM"), (GFP.directReclaim.rawValue, "__GFP_DIRECT_RECLAIM"),
        (GFP.kswapdReclaim.rawValue, "__GFP_KSWAPD_RECLAIM"), (0x800000, "__GFP_ZEROTAGS"),
    ]
}()

/// Renders a gfp mask as the kernel's "%#x(%pGg)" does, e.g. "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)".
/// Linux: format_flags() / flags_string(), lib/vsprintf.c
public func formatGFPMask(_ gfp: GFP) -> String {
    var flags = gfp.rawValue
    var out = "0x" + String(gfp.rawValue, radix: 16) + "("
    for (mask, name) in gfpflagNames where flags != 0 {
        guard flags & mask == mask else { continue }
        out += name
        flags &= ~mask
        if flags != 0 { out += "|" }
    }
    if flags != 0 { out += "0x" + String(flags, radix: 16) }
    return out + ")"
}

/// printf-style right alignment in a field of `width` characters.
private func rjust(_ v: CustomStringConvertible, _ width: Int) -> String {
    let s = v.description
    return s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

extension Kernel {
    /// Pages the OOM killer scales oom_score_adj against in a global OOM: RAM plus swap.
    /// Linux: constrained_alloc() (CONSTRAINT_NONE), mm/oom_kill.c
    public var oomTotalPages: Int { totalRAMPages + totalSwapPages }

    /// True for tasks the OOM killer never considers: init (pid 1) and kernel threads (no mm).
    /// Linux: oom_unkillable_task(), mm/oom_kill.c
    public func oomUnkillableTask(_ task: Task) -> Bool {
        task.pid == 1 || task.mm == nil
    }

    /// The badness of a task: rss + swap entries + page-table pages, plus oom_score_adj scaled by
    /// totalPages/1000 (not clamped); nil (LONG_MIN) for an unkillable task, one without an mm,
    /// or one with oom_score_adj −1000. Linux: oom_badness(), mm/oom_kill.c
    public func oomBadness(_ task: Task, totalPages: Int) -> Int64? {
        guard task.state.isAlive, !oomUnkillableTask(task), let mm = task.mm else { return nil }
        guard task.oomScoreAdj != OOM_SCORE_ADJ_MIN else { return nil }
        var points = Int64(mm.rss.total) + Int64(mm.rss.swapents) + Int64(mm.pgtablesBytes) / Int64(PAGE_SIZE)
        // Normalise to oom_score_adj units: the kernel divides totalpages first.
        let adj = Int64(task.oomScoreAdj) * Int64(totalPages / 1000)
        points += adj
        return points
    }

    /// Writes /proc/PID/oom_score_adj: sets `value` for `task`'s thread group and every other
    /// process sharing its mm (a vfork child). Returns EINVAL outside −1000...1000 and EACCES when
    /// an unprivileged writer (uid ≠ 0) goes below the group's oom_score_adj_min; a privileged
    /// write also sets that minimum. Linux: oom_score_adj_write() / __set_oom_adj(), fs/proc/base.c
    public func setOomScoreAdj(_ task: Task, _ value: Int, writerUID: UInt32) -> Result<Void, Errno> {
        guard (OOM_SCORE_ADJ_MIN...OOM_SCORE_ADJ_MAX).contains(value) else { return .failure(.EINVAL) }
        guard task.state.isAlive else { return .failure(.ESRCH) }
        if value < task.oomScoreAdjMin && writerUID != 0 { return .failure(.EACCES) }
        let sharers = allTasks.filter { t in
            t.state.isAlive && (t.tgid == task.tgid || (task.mm != nil && t.mm === task.mm))
        }
        for t in sharers {
            t.oomScoreAdj = value
            if writerUID == 0 { t.oomScoreAdjMin = value }
        }
        return .success(())
    }

    /// The value of /proc/PID/oom_score: the badness mapped onto 0...2000, 0 for an unkillable
    /// task. Linux: proc_oom_score(), fs/proc/base.c
    public func oomScore(_ task: Task) -> Int {
        let total = Int64(oomTotalPages)
        guard total > 0, let badness = oomBadness(task, totalPages: Int(total)) else { return 0 }
        return Int(max(0, (1000 + badness * 1000 / total) * 2 / 3))
    }

    /// The task with the highest badness (on a tie the one found last, in task order) and its
    /// points, or nil when no task is killable. Linux: select_bad_process() / oom_evaluate_task(), mm/oom_kill.c
    public func selectBadProcess(totalPages: Int) -> (task: Task, points: Int64)? {
        var chosen: (task: Task, points: Int64)?
        for t in allTasks where t.pid == t.tgid {   // for_each_process: group leaders only
            guard let points = oomBadness(t, totalPages: totalPages) else { continue }
            if let c = chosen, points < c.points { continue }
            chosen = (t, points)
        }
        return chosen
    }

    /// Logs the state of every task with an mm, one row each under the kernel's header.
    /// Linux: dump_tasks() / dump_task(), mm/oom_kill.c
    public func dumpTasks() {
        printk("Tasks state (memory values in pages):")
        printk("[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name")
        for t in allTasks where t.pid == t.tgid && t.state.isAlive && !oomUnkillableTask(t) {
            guard let mm = t.mm else { continue }
            printk("[\(rjust(t.pid, 7))] \(rjust(t.uid, 5)) \(rjust(t.pid, 5)) \(rjust(mm.totalVM, 8)) "
                + "\(rjust(mm.rss.total, 8)) \(rjust(mm.rss.anon, 8)) \(rjust(mm.rss.file, 8)) "
                + "\(rjust(mm.rss.shmem, 9)) \(rjust(mm.pgtablesBytes, 8)) \(rjust(mm.rss.swapents, 8))"
                + "         \(rjust(t.oomScoreAdj, 5)) \(t.comm)")
        }
    }

    /// Logs the header of an OOM report: who invoked the killer with which mask and order, then
    /// the task table (the stack dump and Mem-Info block are not rendered).
    /// Linux: dump_header(), mm/oom_kill.c
    public func dumpHeader(task: Task?, gfp: GFP, order: Int) {
        let who = task ?? current
        printk("\(who?.comm ?? "swapper/0") invoked oom-killer: gfp_mask=\(formatGFPMask(gfp)), order=\(order), oom_score_adj=\(who?.oomScoreAdj ?? 0)")
        dumpTasks()
    }

    /// Logs the one-line summary of the OOM context and the victim. Linux: dump_oom_victim(), mm/oom_kill.c
    public func dumpOOMVictim(_ victim: Task) {
        printk("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=\(victim.comm),pid=\(victim.pid),uid=\(victim.uid)")
    }

    /// Reports and kills `victim` (and any other killable task sharing its mm), counts oom_kill,
    /// then logs what the reaper left. Values in the "Killed process" line are read before the kill.
    /// Linux: oom_kill_process() / __oom_kill_process() / oom_reap_task_mm(), mm/oom_kill.c
    public func oomKillProcess(_ victim: Task, task: Task?, gfp: GFP, order: Int, message: String) {
        guard let mm = victim.mm else { return }
        dumpHeader(task: task, gfp: gfp, order: order)
        dumpOOMVictim(victim)
        let k = { (pages: Int) in pages << Int(PAGE_SHIFT - 10) }
        vmstat.oomKill += 1
        printk("\(message): Killed process \(victim.pid) (\(victim.comm)) total-vm:\(k(mm.totalVM))kB, "
            + "anon-rss:\(k(mm.rss.anon))kB, file-rss:\(k(mm.rss.file))kB, shmem-rss:\(k(mm.rss.shmem))kB, "
            + "UID:\(victim.uid) pgtables:\(mm.pgtablesBytes >> 10)kB oom_score_adj:\(victim.oomScoreAdj)")
        // Every other process sharing the mm must die too, or the memory would not be freed.
        var sharers: [Task] = []
        for t in allTasks where t !== victim && t.state.isAlive && t.mm === mm {
            if oomUnkillableTask(t) || t.oomScoreAdj == OOM_SCORE_ADJ_MIN {
                printk("oom killer \(t.pid) (\(t.comm)) has mm pinned by \(victim.pid) (\(victim.comm))")
                continue
            }
            sharers.append(t)
        }
        killTask(victim, signal: .SIGKILL)
        for t in sharers { killTask(t, signal: .SIGKILL) }
        printk("oom_reaper: reaped process \(victim.pid) (\(victim.comm)), now anon-rss:\(k(mm.rss.anon))kB, "
            + "file-rss:\(k(mm.rss.file))kB, shmem-rss:\(k(mm.rss.shmem))kB")
    }

    /// Stops the machine: logs the panic lines and sets `panicMessage` to `message`.
    /// Linux: panic(), kernel/panic.c
    func oomPanic(_ message: String) {
        printk("Kernel panic - not syncing: \(message)")
        printk("---[ end Kernel panic - not syncing: \(message) ]---")
        panicMessage = message
    }

    /// Called when an allocation for `task` found no free page even after reclaim: kills a victim
    /// and returns true (the caller retries), or returns false when nothing was killed — the
    /// machine has panicked (panic_on_oom, or no killable task), or the allocation lacks
    /// __GFP_FS (the kernel then reports progress without killing; the allocation fails).
    /// Linux: out_of_memory(), mm/oom_kill.c
    public func outOfMemory(task: Task?, gfp: GFP, order: Int) -> Bool {
        if panicMessage != nil { return false }
        if !gfp.contains(.fs) { return false }
        // check_panic_on_oom(): without cpusets or memcg, modes 1 and 2 behave alike.
        if sysctl.panicOnOOM != 0 {
            dumpHeader(task: task, gfp: gfp, order: order)
            oomPanic("Out of memory: \(sysctl.panicOnOOM == 2 ? "compulsory" : "system-wide") panic_on_oom is enabled")
            return false
        }
        if sysctl.oomKillAllocatingTask != 0, let t = task, t.state.isAlive, t.mm != nil,
           !oomUnkillableTask(t), t.oomScoreAdj != OOM_SCORE_ADJ_MIN {
            oomKillProcess(t, task: task, gfp: gfp, order: order, message: "Out of memory (oom_kill_allocating_task)")
            return true
        }
        guard let (victim, _) = selectBadProcess(totalPages: oomTotalPages) else {
            dumpHeader(task: task, gfp: gfp, order: order)
            printk("Out of memory and no killable processes...")
            oomPanic("System is deadlocked on memory")
            return false
        }
        oomKillProcess(victim, task: task, gfp: gfp, order: order, message: "Out of memory")
        return true
    }
}
