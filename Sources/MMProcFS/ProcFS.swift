/// The entry points: each procfs file or command output rendered from a machine's state.
import MMCore

/// Renders procfs files and the kernel log from a kernel's state. Every renderer is deterministic:
/// the same state gives the same bytes.
public enum ProcFS {
    /// /proc/meminfo. Linux: meminfo_proc_show(), fs/proc/meminfo.c
    public static func meminfo(_ k: Kernel) -> String { Meminfo.format(Meminfo.gather(k)) }

    /// /proc/PID/maps. Linux: show_map_vma(), fs/proc/task_mmu.c
    public static func maps(_ k: Kernel, _ t: Task) -> String { Maps.format(Maps.gather(t)) }

    /// /proc/PID/smaps (THP in "always" mode, Debian's default).
    /// Linux: show_smap(), fs/proc/task_mmu.c
    public static func smaps(_ k: Kernel, _ t: Task) -> String { Smaps.format(Smaps.gather(k, t)) }

    /// /proc/PID/smaps_rollup. Linux: show_smaps_rollup(), fs/proc/task_mmu.c
    public static func smapsRollup(_ k: Kernel, _ t: Task) -> String { Smaps.rollup(k, t) }

    /// /proc/PID/status. Linux: proc_pid_status(), fs/proc/array.c
    public static func status(_ k: Kernel, _ t: Task) -> String { Status.format(Status.gather(k, t)) }

    /// /proc/buddyinfo. Linux: frag_show(), mm/vmstat.c
    public static func buddyinfo(_ k: Kernel) -> String { Buddyinfo.format(Buddyinfo.gather(k)) }

    /// /proc/slabinfo. Linux: slab_show(), mm/slab_common.c
    public static func slabinfo(_ k: Kernel) -> String { Slabinfo.format(Slabinfo.gather(k)) }

    /// slabtop --once (procps-ng). Linux: procps-ng slabtop.c
    public static func slabtop(_ k: Kernel) -> String { Slabinfo.slabtop(Slabinfo.gather(k)) }

    /// /proc/vmallocinfo. Linux: vmalloc_info_show(), mm/vmalloc.c
    public static func vmallocinfo(_ k: Kernel) -> String { Vmallocinfo.format(k) }

    /// /proc/pagetypeinfo. Linux: pagetypeinfo_show(), mm/vmstat.c
    public static func pagetypeinfo(_ k: Kernel) -> String { Pagetypeinfo.format(k) }

    /// /proc/PID/oom_score_adj: the value and a newline. Linux: oom_score_adj_read(), fs/proc/base.c
    public static func oomScoreAdj(_ t: Task) -> String { "\(t.oomScoreAdj)\n" }

    /// The kernel log as `dmesg` prints it: one "[seconds.micros] text" line per message.
    public static func dmesg(_ k: Kernel) -> String { k.log.map { $0.formatted + "\n" }.joined() }
}
