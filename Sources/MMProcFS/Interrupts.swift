/// /proc/interrupts (the TLB shootdown row, the one interrupt source the model has) and a
/// ps(1)-style task list with each task's mm and CPU.
import MMCore

extension ProcFS {
    /// /proc/interrupts with its header and the "TLB" row: one count of TLB shootdown IPIs
    /// received per CPU. The first column is 3 wide (nr_irqs below 1000, true up to 64 CPUs).
    /// Linux: show_interrupts(), kernel/irq/proc.c; arch_show_interrupts(), arch/x86/kernel/irq.c
    public static func interrupts(_ k: Kernel) -> String {
        let prec = 3
        var head = String(repeating: " ", count: prec + 8)
        var row = Fmt.right("TLB", prec) + ": "
        for c in k.cpus {
            head += Fmt.left("CPU\(c.id)", 11)
            row += Fmt.right(String(c.tlbShootdownsReceived), 10) + " "
        }
        return head + "\n" + row + "  TLB shootdowns\n"
    }

    /// Every live task, one line per thread, sorted by process then thread id, in the column
    /// layout of procps-ng 4 `ps -eLo pid,lwp,ppid,psr,stat,vsz,rss,args` with three columns of
    /// the model inserted before COMMAND: MM (the PGD frame naming the mm; `(0x…)` for a kernel
    /// thread's borrowed active_mm, `-` for none), USERS (mm_users) and COUNT (mm_count).
    /// STAT is R (on a CPU), D (waiting in vfork()), S (asleep) or I (idle kernel thread), with
    /// `l` for a multi-threaded process; PSR is the CPU the task runs or last ran on; VSZ and RSS
    /// are in KiB; kernel threads show VSZ and RSS 0 and their name in brackets.
    /// Linux/procps: pr_stat(), pr_args() in ps/output.c; task_cpu(), kernel/sched
    public static func ps(_ k: Kernel) -> String {
        var out = Fmt.right("PID", 7) + " " + Fmt.right("LWP", 7) + " " + Fmt.right("PPID", 7) + " PSR STAT "
            + Fmt.right("VSZ", 6) + " " + Fmt.right("RSS", 5) + " " + Fmt.right("MM", 10) + " USERS COUNT COMMAND\n"
        let live = k.allTasks.filter { $0.state.isAlive }.sorted { ($0.tgid, $0.pid) < ($1.tgid, $1.pid) }
        for t in live {
            let threads = live.filter { $0.tgid == t.tgid }.count
            var stat = k.isRunning(t) ? "R" : t.vforkChild != nil ? "D" : t.isKernelThread ? "I" : "S"
            if threads > 1 { stat += "l" }
            let kb = Int(PAGE_SIZE / 1024)
            let vsz = (t.mm?.totalVM ?? 0) * kb, rss = (t.mm?.rss.total ?? 0) * kb
            let mmText: String, users: String, count: String
            if let mm = t.mm {
                mmText = "\(mm.pgd)"; users = String(mm.mmUsers); count = String(mm.mmCount)
            } else if let b = t.activeMM {
                mmText = "(\(b.pgd))"; users = String(b.mmUsers); count = String(b.mmCount)
            } else {
                mmText = "-"; users = "-"; count = "-"
            }
            let args = t.isKernelThread ? "[\(t.comm)]" : (t.cmdline.isEmpty ? t.comm : t.cmdline.joined(separator: " "))
            out += Fmt.right(String(t.tgid), 7) + " " + Fmt.right(String(t.pid), 7) + " " + Fmt.right(String(t.ppid), 7) + " "
                + Fmt.right(String(t.cpu), 3) + " " + Fmt.left(stat, 4) + " " + Fmt.right(String(vsz), 6) + " "
                + Fmt.right(String(rss), 5) + " " + Fmt.right(mmText, 10) + " " + Fmt.right(users, 5) + " "
                + Fmt.right(count, 5) + " " + args + "\n"
        }
        return out
    }
}
