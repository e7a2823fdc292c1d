/// The composition: one machine running the simulated kernel.

/// Everything that shapes a machine at boot.
public struct MachineConfig: Sendable, Equatable {
    /// RAM in bytes.
    public var ramBytes: UInt64
    /// `vm.min_free_kbytes`; nil = computed as Linux does.
    public var minFreeKbytes: Int?
    /// TLB geometry of each CPU.
    public var tlb: TLBConfig
    /// Bytes of the swap file /swapfile made and enabled at boot (0 = none; see swapon).
    public var swapBytes: UInt64
    /// Transparent huge pages mode; khugepaged runs (and raises min_free_kbytes) unless `never`.
    public var thp: THPMode
    /// Seed of the machine's random source (ASLR offsets, AT_RANDOM bytes).
    public var seed: UInt64 = 0
    /// Number of CPUs (1...64), each with its own MMU, CR3 and current task.
    public var cpus: Int
    /// Pages a read fault on a file maps around itself (debugfs fault_around_bytes / PAGE_SIZE:
    /// a power of two from 1 to 512; 16 = 64 KiB by default; 1 turns fault-around off).
    public var faultAroundPages: Int = 16
    /// The slab allocator the kernel is built with (SLUB by default).
    public var slab: SlabAllocatorKind = .slub
    /// The paging format the machine runs on (x86-64 4-level by default; see PageTableFormat).
    public var arch: Architecture = .x86_64(la57: false)
    /// Physical-memory layout the architecture implies: x86-32 boots with ZONE_HIGHMEM.
    public var physicalLayout: PhysicalLayout {
        switch arch {
        case .x86_32, .x86PAE: return .x86_32
        case .arm32: return .arm32
        default: return .x86_64
        }
    }
    /// Boot-time hugetlb pools: 2 MiB and 1 GiB pages (`hugepagesz=2M hugepages=N
    /// hugepagesz=1G hugepages=M` on the kernel command line); see `parseHugepages`.
    public var hugepages2M = 0, hugepages1G = 0
    public init(ramBytes: UInt64 = 2 << 30, minFreeKbytes: Int? = nil, tlb: TLBConfig = TLBConfig(), swapBytes: UInt64 = 0,
                thp: THPMode = .madvise, cpus: Int = 1) {
        self.ramBytes = ramBytes; self.minFreeKbytes = minFreeKbytes; self.tlb = tlb; self.swapBytes = swapBytes
        self.thp = thp; self.cpus = cpus
    }
    /// Largest number of CPUs a machine may have (mm_cpumask is one 64-bit word).
    public static let maxCPUs = 64

    /// The fault-around page count for a fault_around_bytes value: at least one page, rounded down
    /// to a power of two; nil above PTRS_PER_PTE pages (EINVAL). Linux: fault_around_bytes_set(), mm/memory.c
    public static func faultAroundPages(bytes: UInt64) -> Int? {
        guard bytes / PAGE_SIZE <= UInt64(PTRS_PER_PTE) else { return nil }
        var pages = max(bytes, PAGE_SIZE) >> PAGE_SHIFT
        while pages & (pages - 1) != 0 { pages &= pages - 1 }
        return Int(pages)
    }
}

/// The vm.* sysctls the model honours.
public struct Sysctl: Sendable, Equatable {
    /// vm.overcommit_memory: 0 heuristic, 1 always, 2 never.
    public var overcommitMemory = 0
    /// vm.overcommit_ratio (percent of RAM for CommitLimit under mode 2).
    public var overcommitRatio = 50
    /// vm.overcommit_kbytes (overrides the ratio when non-zero).
    public var overcommitKbytes = 0
    /// vm.admin_reserve_kbytes.
    public var adminReserveKbytes = 8192
    /// vm.user_reserve_kbytes (set at boot to min(3% of free, 128 MiB)).
    public var userReserveKbytes = 131072
    /// vm.panic_on_oom: 0, 1 or 2.
    public var panicOnOOM = 0
    /// vm.oom_kill_allocating_task.
    public var oomKillAllocatingTask = 0
    /// vm.max_map_count.
    public var maxMapCount = 65530
    /// kernel.randomize_va_space: 0 off (the model's default, as under `setarch -R`), 1 stack,
    /// mmap base, PIE and vDSO randomised, 2 also the brk.
    public var randomizeVaSpace = 0
    /// vm.drop_caches: the last value written (reading it back shows that value).
    public var dropCaches = 0
    public init() {}
}

/// Signals the memory system delivers.
public enum Signal: Int32, Sendable {
    case SIGBUS = 7, SIGKILL = 9, SIGSEGV = 11
    public var name: String { String(describing: self) }
}

/// Life of a task.
public enum TaskState: Equatable, Sendable {
    case running
    /// Exited normally with this status.
    case exited(Int32)
    /// Killed by a signal.
    case killed(Signal)
    public var isAlive: Bool { self == .running }
}

/// A process (task_struct).
public final class Task {
    public let pid: PID
    /// Command name (task->comm, at most 15 characters).
    public var comm: String
    /// The address space; nil for kernel threads and after exit.
    public var mm: MMStruct?
    /// /proc/PID/oom_score_adj, -1000...1000.
    public var oomScoreAdj: Int = 0
    /// The lowest oom_score_adj an unprivileged write may set (signal->oom_score_adj_min): 0
    /// until a privileged writer lowers it.
    public var oomScoreAdjMin: Int = 0
    public var state: TaskState = .running
    /// Instruction and stack pointers reported in segfault lines (simulated).
    public var ip: UInt64 = 0
    public var sp: UInt64 = 0
    /// Thread-group id: the pid of the group leader (the pid itself for a process).
    public var tgid: PID
    /// The thread-group leader, for a thread made by `cloneThread`; nil for a process.
    public var groupLeader: Task?
    /// Whether this is a kernel thread (no mm; it runs on a borrowed active_mm).
    public var isKernelThread = false
    /// The slab objects the task holds (task_struct, pid, signal, sighand, files), in
    /// allocation order (kernel_objects.swift).
    var kernelObjects: [(KernelObjectKind, UInt64)] = []
    /// The mm whose page tables are loaded while this task runs (task->active_mm) when it has no
    /// mm of its own: a kernel thread's borrowed mm, set only while it runs.
    public var activeMM: MMStruct?
    /// This task's own malloc state (threads use their leader's).
    var ownMalloc = MallocState()
    /// The simplified glibc malloc state of this process (shared by all its threads: one arena).
    public var malloc: MallocState {
        get { groupLeader?.ownMalloc ?? ownMalloc }
        set { if let l = groupLeader { l.ownMalloc = newValue } else { ownMalloc = newValue } }
    }
    /// Minor and major faults (task->min_flt, maj_flt).
    public var minFlt = 0, majFlt = 0
    /// User id (0 = root, which has CAP_SYS_ADMIN for overcommit reserves).
    public var uid: UInt32 = 1000
    /// si_code of the SIGSEGV that killed the task, if one did.
    public var fatalSegvCode: SegvCode?
    /// The image the task runs.
    public var image: ProgramImage?
    /// The arguments the program was started with (/proc/PID/cmdline, ps's args): set by spawn
    /// and execve; empty for kernel threads.
    public var cmdline: [String] = []
    /// The CPU the task runs on, or ran on last (task_cpu(); ps's PSR).
    public var cpu = 0
    /// The parent's tgid (0 for processes the scenario starts and for kernel threads).
    public var ppid: PID = 0
    /// While this task waits in vfork(): the child it waits for (task->vfork_done pending).
    public var vforkChild: Task?
    /// For a child created with CLONE_VFORK: the parent waiting for it to exit or exec.
    public var vforkParent: Task?

    public init(pid: PID, comm: String, mm: MMStruct?) {
        self.pid = pid
        self.tgid = pid
        self.comm = String(comm.prefix(15))
        self.mm = mm
    }
}

/// A line written to the kernel log, with its simulated timestamp.
public struct KernelLogLine: Sendable, Equatable {
    public var timeNs: UInt64
    public var text: String
    /// The line as dmesg prints it: "[    1.234567] text".
    public var formatted: String {
        let sec = timeNs / 1_000_000_000, usec = (timeNs / 1000) % 1_000_000
        let s = String(sec), u = String(usec)
        return "[" + String(repeating: " ", count: max(0, 5 - s.count)) + s + "."
            + String(repeating: "0", count: 6 - u.count) + u + "] " + text
    }
}

/// Event counters (a subset of /proc/vmstat; names as there).
public struct VMStat: Sendable, Equatable {
    public var pgfault: UInt64 = 0
    public var pgmajfault: UInt64 = 0
    public var pgalloc: UInt64 = 0
    public var pgfree: UInt64 = 0
    public var oomKill: UInt64 = 0
    public var zeroPageMaps: UInt64 = 0
    /// Pages marked dirty (nr_dirtied) and written back (nr_written).
    public var nrDirtied: UInt64 = 0
    public var nrWritten: UInt64 = 0
    /// KiB read from and written to files (pgpgin, pgpgout).
    public var pgpgin: UInt64 = 0
    public var pgpgout: UInt64 = 0
    /// Writes to vm.drop_caches with bit 1 (drop_pagecache) and bit 2 (drop_slab).
    public var dropPagecache: UInt64 = 0
    public var dropSlab: UInt64 = 0
    /// Page reclaim (mm/vmscan.c): pages scanned and reclaimed by kswapd and by direct reclaim,
    /// activated, deactivated, scanned on the active lists (pgrefill), marked and freed lazily
    /// (pglazyfree, pglazyfreed); swap I/O in pages (pswpin, pswpout);
    /// refaults of evicted pages (a shadow entry was left); direct-reclaim stalls.
    public var pgstealKswapd: UInt64 = 0, pgstealDirect: UInt64 = 0
    public var pgscanKswapd: UInt64 = 0, pgscanDirect: UInt64 = 0
    public var pgstealAnon: UInt64 = 0, pgstealFile: UInt64 = 0, pgscanAnon: UInt64 = 0, pgscanFile: UInt64 = 0
    public var pgactivate: UInt64 = 0, pgdeactivate: UInt64 = 0, pgrefill: UInt64 = 0
    public var pglazyfree: UInt64 = 0, pglazyfreed: UInt64 = 0
    public var pswpin: UInt64 = 0, pswpout: UInt64 = 0
    public var workingsetRefaultAnon: UInt64 = 0, workingsetRefaultFile: UInt64 = 0
    public var allocstallNormal: UInt64 = 0, allocstallDMA32: UInt64 = 0
    /// Transparent huge pages (mm/huge_memory.c, mm/khugepaged.c): thp_fault_alloc,
    /// thp_fault_fallback, thp_collapse_alloc, thp_collapse_alloc_failed, thp_split_page,
    /// thp_deferred_split_page, thp_split_pmd, thp_scan_exceed_{none,swap,shared}_pte,
    /// thp_zero_page_alloc, thp_zero_page_alloc_failed, thp_swpout, thp_swpout_fallback.
    public var thpFaultAlloc: UInt64 = 0, thpFaultFallback: UInt64 = 0
    public var thpCollapseAlloc: UInt64 = 0, thpCollapseAllocFailed: UInt64 = 0
    public var thpSplitPage: UInt64 = 0, thpDeferredSplitPage: UInt64 = 0, thpSplitPMD: UInt64 = 0
    public var thpScanExceedNonePTE: UInt64 = 0, thpScanExceedSwapPTE: UInt64 = 0, thpScanExceedSharedPTE: UInt64 = 0
    public var thpZeroPageAlloc: UInt64 = 0, thpZeroPageAllocFailed: UInt64 = 0
    public var thpSwpout: UInt64 = 0, thpSwpoutFallback: UInt64 = 0
    /// swap_ra and swap_ra_hit: pages read ahead into the swap cache, and read-ahead pages later faulted.
    public var swapRa: UInt64 = 0, swapRaHit: UInt64 = 0
    public init() {}
}

/// Node-wide page counters (enum node_stat_item / zone_stat_item), in pages unless named KB.
public struct NodeStat: Sendable, Equatable {
    public var nrAnonMapped = 0      // NR_ANON_MAPPED (AnonPages)
    public var nrFileMapped = 0      // NR_FILE_MAPPED (Mapped)
    public var nrFilePages = 0       // NR_FILE_PAGES (Cached + Buffers + SwapCached)
    public var nrShmem = 0           // NR_SHMEM (Shmem)
    public var nrPageTable = 0       // NR_PAGETABLE (PageTables)
    public var nrKernelStackKB = 0   // NR_KERNEL_STACK_KB (KernelStack)
    public var nrSlabReclaimable = 0 // NR_SLAB_RECLAIMABLE_B in pages (SReclaimable)
    public var nrSlabUnreclaimable = 0
    public var nrMlock = 0           // NR_MLOCK (Mlocked)
    public var nrActiveAnon = 0, nrInactiveAnon = 0, nrActiveFile = 0, nrInactiveFile = 0, nrUnevictable = 0
    public var nrDirty = 0, nrWriteback = 0
    /// NR_ANON_THPS: anonymous THPs mapped by at least one PMD (AnonHugePages, in THPs).
    public var nrAnonTHPs = 0
    public init() {}
}

/// Why a machine configuration cannot boot.
public enum MachineConfigError: Error, Equatable, CustomStringConvertible {
    /// The CPU count is outside 1...MachineConfig.maxCPUs.
    case cpus(Int)
    /// The architecture's paging format cannot run the kernel (the reason says why).
    case arch(String)
    public var description: String {
        switch self {
        case .cpus(let n): return "cpus=\(n) is out of range (1...\(MachineConfig.maxCPUs))"
        case .arch(let why): return why
        }
    }
}

/// The simulated kernel of one machine.
public final class Kernel {
    public let config: MachineConfig
    public var sysctl = Sysctl()
    /// /sys/kernel/mm/transparent_hugepage (settings, the huge zero page, khugepaged's state).
    public var thp: TransparentHugepage
    /// hugetlbfs pools, reservations and the objects behind MAP_HUGETLB mappings (hugetlb.swift).
    public var hugetlb = HugeTLB()
    public let phys: PhysicalMemory
    /// The CPUs, each with its MMU, its current task and its TLB state (cpu_tlbstate).
    public let cpus: [CPU]
    /// The CPU the scenario (and every kernel call) acts on; see `selectCPU`.
    public internal(set) var cpuID = 0
    /// The MMU of the CPU the scenario acts on.
    public var mmu: MMU { cpus[cpuID].mmu }
    /// init_mm: the kernel's own address space (no user mappings); a CPU loads it at boot and
    /// when a lazy CPU is told that page tables it may cache were freed.
    public let initMM: MMStruct
    /// LRU lists, reverse-map keys, swap areas, the swap cache and kswapd (Reclaim/).
    public let reclaim: ReclaimState
    /// The simulated file system (files, and each file's page cache).
    public let fs = FileSystem()
    public private(set) var tasks: [PID: Task] = [:]
    /// PIDs in creation order.
    public private(set) var taskOrder: [PID] = []
    public var nextPID: PID = 1000
    /// Next PCID to hand out (1...4095; 0 is the kernel's).
    var nextPCID: UInt16 = 1
    public var vmstat = VMStat()
    /// Node-wide page counters behind /proc/meminfo.
    public var stat = NodeStat()
    /// The kernel log (dmesg).
    public var log: [KernelLogLine] = []
    /// Simulated time since boot, in nanoseconds.
    public var clockNs: UInt64 = 1_000_000_000
    /// vm_committed_as, in pages.
    public var committedPages = 0
    /// The shared zero page.
    public private(set) var zeroPFN = PFN(0)
    /// Set once the machine has panicked; nothing runs afterwards.
    public var panicMessage: String?
    /// The task running on the CPU the scenario acts on.
    public internal(set) var current: Task? {
        get { cpus[cpuID].current }
        set { cpus[cpuID].current = newValue }
    }
    /// When set, every mechanism narrates its steps here (`--explain`).
    public var explain: ((String) -> Void)?
    /// How many page faults are narrated in full per step before narration is summarised.
    public var explainFaultBudget = 3
    /// Faults left to narrate in this step, and faults taken silently beyond the budget.
    public var explainFaultsLeft = 3
    public var explainFaultsSuppressed = 0
    /// The machine's random source, seeded from `config.seed`.
    public var random: KernelRandom
    /// The slab allocator (SLUB), kmalloc and vmalloc state (Sources/MMCore/Slab/).
    public let kmem: KmemState
    public let vmap = VmapState()
    /// 32-bit machines only: swapper_pg_dir and the kernel's page tables (MMU/init_32.swift, MMU/mmu_arm32.swift).
    public private(set) var kernelTables32: KernelPageTables32?
    /// x86-32 only: the kernel's pkmap and kmap_atomic state over this machine's HighMem frames.
    public private(set) var highmem32: Highmem32?
    public let percpu = PcpuState()

    /// Boots a machine. Throws when the configuration cannot be booted (RAM size out of range).
    public init(config: MachineConfig = MachineConfig()) throws {
        try config.tlb.validate()
        var config = config
        // x86-32 (non-PAE): no transparent huge pages are modelled (a PMD there maps 4 MiB).
        if config.physicalLayout != .x86_64 { config.thp = .never }
        self.config = config
        random = KernelRandom(seed: config.seed)
        phys = try PhysicalMemory(config: PhysicalMemoryConfig(ramBytes: config.ramBytes, minFreeKbytes: config.minFreeKbytes,
                                                                    kernelImageBytes: config.physicalLayout.defaultKernelImageBytes,
                                                                    layout: config.physicalLayout))
        reclaim = ReclaimState(frames: phys.frameCount)
        thp = TransparentHugepage(enabled: config.thp)
        guard config.cpus >= 1, config.cpus <= MachineConfig.maxCPUs else { throw MachineConfigError.cpus(config.cpus) }
        guard let paging = PageTableFormat(machine: config.arch) else {
            throw MachineConfigError.arch(PageTableFormat.rejection(config.arch) ?? "\(config.arch) cannot run a machine")
        }
        phys.paging = paging
        initMM = MMStruct(pgd: PFN(0))
        initMM.mmUsers = 1; initMM.mmCount = 1
        var cs: [CPU] = []
        for i in 0..<config.cpus { cs.append(CPU(id: i, mmu: MMU(config: config.tlb), initMM: initMM)) }
        for c in cs { c.mmu.usePaging(paging) }
        cpus = cs
        initMM.cpumask = config.cpus == 64 ? UInt64.max : (UInt64(1) << UInt64(config.cpus)) - 1
        kmem = KmemState(nrCPUs: config.cpus, kind: config.slab)
        if let k = pagingInit32() ?? pagingInitARM32() {
            kernelTables32 = k
            let h = Highmem32(ramBytes: UInt64(phys.frameCount) << PAGE_SHIFT, pae: phys.paging.encoding == .x86PAE,
                              arch: phys.paging.encoding == .arm32 ? .arm32 : .x86_32)
            h.setPTE = { [unowned self] va, pfn in self.setKmapPTE(va, pfn) }
            highmem32 = h
            (vmap.start, vmap.end) = h.vmallocRange
        }
        bootMemory()
        kmemCacheInit()
    }

    /// Sets up the zero page and the boot-time sysctl defaults.
    func bootMemory() {
        if config.minFreeKbytes == nil && config.thp != .never { setRecommendedMinFreeKbytes() }
        if let z = phys.allocPages(order: 0, gfp: [.zero]) {
            zeroPFN = z
            phys.memMap.flags[z.index].insert([.zeroPage, .reserved])
        }
        // `machine swap=SIZE`: a swap file enabled at boot (as by swapon -a from /etc/fstab).
        if config.swapBytes >= 2 * PAGE_SIZE { swapon(path: "/swapfile", bytes: config.swapBytes) }
        // user_reserve_kbytes = min(3% of free, 128 MiB): init_user_reserve(), mm/util.c
        let freeKB = phys.freePageCount * Int(PAGE_SIZE / 1024)
        sysctl.userReserveKbytes = min(freeKB / 32, 1 << 17)
        // admin_reserve_kbytes = min(3% of free, 8 MiB): init_admin_reserve(), mm/util.c
        sysctl.adminReserveKbytes = min(freeKB / 32, 1 << 13)
        // Boot-time hugetlb pools, gigantic pages first while large ranges are still free
        // (Linux takes them from memblock before the buddy allocator starts: hugetlb_hstate_alloc_pages()).
        if config.hugepages1G > 0 { setMaxHugePages(1, config.hugepages1G) }
        if config.hugepages2M > 0 { setMaxHugePages(0, config.hugepages2M) }
    }

    /// Raises min_free_kbytes to what khugepaged recommends when it starts: two free pageblocks
    /// per zone plus MIGRATE_PCPTYPES² pageblocks per zone, at most 5% of lowmem (nr_free_buffer_pages).
    /// Linux: set_recommended_min_free_kbytes(), mm/khugepaged.c
    func setRecommendedMinFreeKbytes() {
        let nrZones = phys.zones.filter { $0.type.rawValue <= ZoneType.normal.rawValue }.count
        var recommended = PAGEBLOCK_NR_PAGES * nrZones * 2
        recommended += PAGEBLOCK_NR_PAGES * nrZones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
        // nr_free_buffer_pages(): managed pages above the high watermark in zones <= ZONE_NORMAL.
        let buffer = phys.zones.filter { $0.type.rawValue <= ZoneType.normal.rawValue }
            .reduce(0) { $0 + max(0, $1.managedPages - $1.watermarkHigh) }
        recommended = min(recommended, buffer / 20)
        let kb = recommended << (Int(PAGE_SHIFT) - 10)
        if kb > phys.minFreeKbytes { phys.setMinFreeKbytes(kb) }
    }

    /// The task with this pid, alive or dead, or nil.
    public func task(_ pid: PID) -> Task? { tasks[pid] }

    /// All tasks in creation order.
    public var allTasks: [Task] { taskOrder.compactMap { tasks[$0] } }

    /// Registers a new task and returns it.
    @discardableResult
    public func addTask(comm: String, mm: MMStruct?) -> Task {
        let t = Task(pid: nextPID, comm: comm, mm: mm)
        nextPID += 1
        tasks[t.pid] = t
        taskOrder.append(t.pid)
        return t
    }

    /// Removes a task that never ran (its kernel objects could not be allocated); its pid is not reused.
    func unregisterTask(_ t: Task) {
        tasks[t.pid] = nil
        taskOrder.removeAll { $0 == t.pid }
    }

    /// Makes `task` current on the CPU the scenario acts on: the previous task there is switched
    /// out and the task's mm is loaded (switch_mm, see tlb.swift). A task that already runs on
    /// another CPU is not moved: that CPU becomes the one acted on (a task runs on one CPU at a
    /// time; `schedule(_:on:)` refuses such a request instead).
    ///
    /// A kernel thread has no mm: it borrows the previous task's active mm (lazy TLB mode), taking
    /// an mm_count reference, and CR3 is left alone. Switching between tasks of the same mm
    /// (threads, or a kernel thread and the owner of the mm it borrowed) does not reload CR3.
    /// Linux: context_switch() → enter_lazy_tlb() / switch_mm_irqs_off(), kernel/sched/core.c
    public func switchTo(_ task: Task) {
        if current === task { return }
        if let other = cpuRunning(task) { cpuID = other; return }
        let c = cpus[cpuID]
        let prev = current
        let prevActive = prev?.mm ?? prev?.activeMM
        reclaim.contextSwitches &+= 1
        narrate("CPU\(c.id): context_switch: \(prev.map { "\($0.comm)[\($0.pid)]" } ?? "idle") → \(task.comm)[\(task.pid)]")
        if task.mm == nil {
            if let b = prevActive { b.mmCount += 1 }
            task.activeMM = prevActive
            enterLazyTLB(c)
            if task.isKernelThread { narrate("switch to kernel thread \(task.comm): no mm, it borrows the previous active_mm (lazy TLB); CR3 unchanged") }
        } else if let mm = task.mm {
            switchMM(c, mm)
        }
        current = task
        task.cpu = c.id
        // A kernel thread switched away from drops its borrowed reference (mmdrop).
        if let p = prev, p.mm == nil, let b = p.activeMM {
            p.activeMM = nil
            mmdrop(b)
        }
    }

    /// Creates a kernel thread: a task with no mm of its own. Linux: kthread_create(), kernel/kthread.c
    @discardableResult
    public func spawnKernelThread(_ name: String) -> Task {
        // A kernel thread's objects come from boot-time memory in practice; if they cannot be
        // had, the thread is still registered (kthread_create() would retry) without them.
        let t = copyProcess(comm: name, mm: nil, kernelThread: true) ?? {
            let t = addTask(comm: name, mm: nil)
            t.isKernelThread = true
            return t
        }()
        t.uid = 0
        return t
    }

    /// Appends a line to the kernel log.
    public func printk(_ text: String) {
        log.append(KernelLogLine(timeNs: clockNs, text: text))
    }

    /// Starts a new scenario step for narration: the fault budget is refilled.
    public func beginExplainStep() {
        explainFaultsLeft = explainFaultBudget
        explainFaultsSuppressed = 0
    }

    /// Narrates a step when `--explain` is on.
    @inline(__always) func narrate(_ text: @autoclosure () -> String) {
        if let e = explain { e(text()) }
    }
}
