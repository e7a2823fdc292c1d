/// /proc/PID/status.
import MMCore

/// The memory lines of /proc/PID/status (present only for a task with an mm), sizes in kB.
public struct StatusMem: Sendable, Equatable {
    public var vmPeak: UInt64 = 0, vmSize: UInt64 = 0, vmLck: UInt64 = 0, vmPin: UInt64 = 0
    public var vmHWM: UInt64 = 0, vmRSS: UInt64 = 0
    public var rssAnon: UInt64 = 0, rssFile: UInt64 = 0, rssShmem: UInt64 = 0
    public var vmData: UInt64 = 0, vmStk: UInt64 = 0, vmExe: UInt64 = 0, vmLib: UInt64 = 0
    public var vmPTE: UInt64 = 0, vmSwap: UInt64 = 0
    public var hugetlbPages: UInt64 = 0
    public var coreDumping = false
    /// THP_enabled: THP is built in and not disabled for this mm by prctl(PR_SET_THP_DISABLE).
    public var thpEnabled = true
    /// untag_mask: all ones on x86-64 without LAM.
    public var untagMask: UInt64 = ~0
    public init() {}

    /// The memory lines computed from an mm as task_mem() does: peaks are the larger of the current
    /// value and the high-water mark, VmExe is the page-aligned code range capped by the executable
    /// pages, VmLib the remaining executable pages. Linux: task_mem(), fs/proc/task_mmu.c
    public init(_ mm: MMStruct) {
        let kbPerPage = UInt64(PAGE_SIZE >> 10)
        func kb(_ pages: Int) -> UInt64 { UInt64(max(0, pages)) * kbPerPage }
        let anon = mm.rss.anon, file = mm.rss.file, shmem = mm.rss.shmem
        let totalRSS = anon + file + shmem
        vmPeak = kb(max(mm.totalVM, mm.hiwaterVM))
        vmSize = kb(mm.totalVM)
        vmLck = kb(mm.lockedVM)
        vmPin = kb(mm.pinnedVM)
        vmHWM = kb(max(totalRSS, mm.hiwaterRSS))
        vmRSS = kb(totalRSS)
        rssAnon = kb(anon)
        rssFile = kb(file)
        rssShmem = kb(shmem)
        vmData = kb(mm.dataVM)
        vmStk = kb(mm.stackVM)
        let execBytes = UInt64(max(0, mm.execVM)) << PAGE_SHIFT
        let codeEnd = (mm.endCode &+ PAGE_SIZE &- 1) & PAGE_MASK
        let codeStart = mm.startCode & PAGE_MASK
        let text = min(codeEnd >= codeStart ? codeEnd - codeStart : 0, execBytes)
        vmExe = text >> 10
        vmLib = (execBytes - text) >> 10
        vmPTE = UInt64(max(0, mm.pgtablesBytes)) >> 10
        vmSwap = kb(mm.rss.swapents)
        hugetlbPages = kb(mm.hugetlbUsage)
    }
}

/// Everything /proc/PID/status prints.
public struct StatusValues: Sendable, Equatable {
    public var name: String
    /// nil for a task without an fs_struct (a zombie): no Umask line.
    public var umask: UInt32? = 0o022
    /// The state text, e.g. "R (running)", "S (sleeping)", "Z (zombie)".
    public var state: String = "S (sleeping)"
    public var tgid: Int32
    public var ngid: Int32 = 0
    public var pid: Int32
    public var ppid: Int32 = 1
    public var tracerPid: Int32 = 0
    /// Real, effective, saved and filesystem ids.
    public var uid: [UInt32] = [1000, 1000, 1000, 1000]
    public var gid: [UInt32] = [1000, 1000, 1000, 1000]
    public var fdSize: Int = 64
    public var groups: [UInt32] = [1000]
    public var nsTgid: [Int32], nsPid: [Int32], nsPgid: [Int32], nsSid: [Int32]
    public var kthread = false
    public var mem: StatusMem?
    public var threads = 1
    public var sigQueued = 0
    /// RLIMIT_SIGPENDING.
    public var sigQueueLimit = 0
    public var sigPnd: UInt64 = 0, shdPnd: UInt64 = 0, sigBlk: UInt64 = 0, sigIgn: UInt64 = 0, sigCgt: UInt64 = 0
    public var capInh: UInt64 = 0, capPrm: UInt64 = 0, capEff: UInt64 = 0
    /// CAP_LAST_CAP = 40 (Linux 6.12): 41 bits.
    public var capBnd: UInt64 = 0x1ff_ffff_ffff
    public var capAmb: UInt64 = 0
    public var noNewPrivs = 0
    public var seccomp = 0
    public var seccompFilters = 0
    public var speculationStoreBypass = "thread vulnerable"
    public var speculationIndirectBranch = "conditional enabled"
    /// nr_cpu_ids and the CPUs the task may run on.
    public var nrCPUs = 2
    public var cpusAllowed: [Int] = [0, 1]
    /// MAX_NUMNODES (Debian: NODES_SHIFT = 10) and the allowed memory nodes.
    public var maxNumNodes = 1024
    public var memsAllowed: [Int] = [0]
    public var voluntaryCtxtSwitches = 0
    public var nonvoluntaryCtxtSwitches = 0
    /// x86 user shadow-stack features ("shstk ", "wrss "), usually empty.
    public var x86ThreadFeatures = ""
    public var x86ThreadFeaturesLocked = ""

    public init(name: String, pid: Int32) {
        self.name = name; self.tgid = pid; self.pid = pid
        nsTgid = [pid]; nsPid = [pid]; nsPgid = [pid]; nsSid = [pid]
    }
}

/// /proc/PID/status: formatter and gatherer.
public enum Status {
    /// The command name as status prints it: newline and backslash escaped.
    /// Linux: proc_task_name() with seq_escape_str(..., ESCAPE_SPACE | ESCAPE_SPECIAL, "\n\\")
    static func escapeName(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "\n": out += "\\n"
            case "\\": out += "\\\\"
            default: out.append(ch)
            }
        }
        return out
    }

    /// The text of /proc/PID/status.
    /// Linux: proc_pid_status(), task_state(), task_sig(), task_cap(), task_seccomp(), fs/proc/array.c;
    /// task_mem(), fs/proc/task_mmu.c; cpuset_task_status_allowed(), kernel/cgroup/cpuset.c;
    /// arch_proc_pid_thread_features(), arch/x86/kernel/cpu/proc.c
    public static func format(_ v: StatusValues) -> String {
        var s = "Name:\t" + escapeName(v.name) + "\n"
        if let u = v.umask {
            // "%#04o": octal with a leading 0 (none for 0 itself), zero-padded to 4 digits.
            let alt = u == 0 ? "0" : "0" + String(u, radix: 8)
            s += "Umask:\t" + String(repeating: "0", count: max(0, 4 - alt.count)) + alt + "\n"
        }
        s += "State:\t" + v.state + "\n"
        s += "Tgid:\t\(v.tgid)\nNgid:\t\(v.ngid)\nPid:\t\(v.pid)\nPPid:\t\(v.ppid)\nTracerPid:\t\(v.tracerPid)\n"
        s += "Uid:\t" + v.uid.map(String.init).joined(separator: "\t") + "\n"
        s += "Gid:\t" + v.gid.map(String.init).joined(separator: "\t") + "\n"
        s += "FDSize:\t\(v.fdSize)\n"
        // Each group separated by a space, and a trailing space the kernel keeps for compatibility.
        s += "Groups:\t" + v.groups.map(String.init).joined(separator: " ") + " \n"
        s += "NStgid:" + v.nsTgid.map { "\t\($0)" }.joined() + "\n"
        s += "NSpid:" + v.nsPid.map { "\t\($0)" }.joined() + "\n"
        s += "NSpgid:" + v.nsPgid.map { "\t\($0)" }.joined() + "\n"
        s += "NSsid:" + v.nsSid.map { "\t\($0)" }.joined() + "\n"
        s += "Kthread:\t" + (v.kthread ? "1" : "0") + "\n"
        if let m = v.mem {
            func kb(_ label: String, _ value: UInt64) { s += label + ":\t" + Fmt.dec(value, 8) + " kB\n" }
            kb("VmPeak", m.vmPeak); kb("VmSize", m.vmSize); kb("VmLck", m.vmLck); kb("VmPin", m.vmPin)
            kb("VmHWM", m.vmHWM); kb("VmRSS", m.vmRSS)
            kb("RssAnon", m.rssAnon); kb("RssFile", m.rssFile); kb("RssShmem", m.rssShmem)
            kb("VmData", m.vmData); kb("VmStk", m.vmStk); kb("VmExe", m.vmExe); kb("VmLib", m.vmLib)
            kb("VmPTE", m.vmPTE); kb("VmSwap", m.vmSwap)
            kb("HugetlbPages", m.hugetlbPages)
            s += "CoreDumping:\t" + (m.coreDumping ? "1" : "0") + "\n"
            s += "THP_enabled:\t" + (m.thpEnabled ? "1" : "0") + "\n"
            s += "untag_mask:\t0x" + Fmt.hex(m.untagMask) + "\n"
        }
        s += "Threads:\t\(v.threads)\nSigQ:\t\(v.sigQueued)/\(v.sigQueueLimit)\n"
        // render_sigset_t(): 64 signals as 16 hex digits, signal 1 in the lowest bit.
        for (label, set) in [("SigPnd", v.sigPnd), ("ShdPnd", v.shdPnd), ("SigBlk", v.sigBlk),
                             ("SigIgn", v.sigIgn), ("SigCgt", v.sigCgt)] {
            s += label + ":\t" + Fmt.hex(set, minDigits: 16) + "\n"
        }
        for (label, cap) in [("CapInh", v.capInh), ("CapPrm", v.capPrm), ("CapEff", v.capEff),
                             ("CapBnd", v.capBnd), ("CapAmb", v.capAmb)] {
            s += label + ":\t" + Fmt.hex(cap, minDigits: 16) + "\n"
        }
        s += "NoNewPrivs:\t\(v.noNewPrivs)\nSeccomp:\t\(v.seccomp)\nSeccomp_filters:\t\(v.seccompFilters)\n"
        s += "Speculation_Store_Bypass:\t" + v.speculationStoreBypass + "\n"
        s += "SpeculationIndirectBranch:\t" + v.speculationIndirectBranch + "\n"
        s += "Cpus_allowed:\t" + Fmt.bitmap(nbits: v.nrCPUs, set: v.cpusAllowed) + "\n"
        s += "Cpus_allowed_list:\t" + Fmt.bitmapList(v.cpusAllowed) + "\n"
        s += "Mems_allowed:\t" + Fmt.bitmap(nbits: v.maxNumNodes, set: v.memsAllowed) + "\n"
        s += "Mems_allowed_list:\t" + Fmt.bitmapList(v.memsAllowed) + "\n"
        s += "voluntary_ctxt_switches:\t\(v.voluntaryCtxtSwitches)\n"
        s += "nonvoluntary_ctxt_switches:\t\(v.nonvoluntaryCtxtSwitches)\n"
        s += "x86_Thread_features:\t" + v.x86ThreadFeatures + "\n"
        s += "x86_Thread_features_locked:\t" + v.x86ThreadFeaturesLocked + "\n"
        return s
    }

    /// RLIMIT_SIGPENDING of init, inherited by every task: max_threads / 2, where max_threads is
    /// the number of 16 KiB kernel stacks that fit in an eighth of RAM, clamped to [20, 2^30].
    /// Linux: set_max_threads() / fork_init(), kernel/fork.c
    public static func sigPendingLimit(totalRAMPages: Int) -> Int {
        let threadSize = 16 * 1024
        let threads = min(max(totalRAMPages * Int(PAGE_SIZE) / (threadSize * 8), 20), 0x3fff_ffff)
        return threads / 2
    }

    /// Fills the values from a task. The model has no credentials, namespaces, signals, files or
    /// scheduler, so those lines use fixed values of a user process started by systemd on a 2-CPU
    /// machine: PPid 1, session and process-group leader of its own, uid = gid = t.uid with that one
    /// group, umask 0022, FDSize 64, capabilities only for root, 0 context switches, CPUs 0-1, node 0.
    /// State is "R (running)" for a task some CPU runs, "D (disk sleep)" while it waits in vfork(), "S (sleeping)" for other live tasks and
    /// "Z (zombie)" after exit (then without Umask and memory lines, FDSize 0).
    public static func gather(_ k: Kernel, _ t: Task) -> StatusValues {
        var v = StatusValues(name: t.comm, pid: t.pid)
        v.uid = [UInt32](repeating: t.uid, count: 4)
        v.gid = v.uid
        v.groups = [t.uid]
        if t.uid == 0 { v.capPrm = v.capBnd; v.capEff = v.capBnd }
        v.sigQueueLimit = sigPendingLimit(totalRAMPages: k.phys.totalManagedPages)
        v.threads = max(1, k.allTasks.filter { $0.tgid == t.tgid && $0.state.isAlive }.count)
        if t.state.isAlive {
            v.state = k.isRunning(t) ? "R (running)" : t.vforkChild != nil ? "D (disk sleep)" : "S (sleeping)"
            if let mm = t.mm { v.mem = StatusMem(mm) }
        } else {
            v.state = "Z (zombie)"
            v.umask = nil
            v.fdSize = 0
        }
        return v
    }
}
