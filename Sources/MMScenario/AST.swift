/// The parsed form of a scenario.
import MMCore
import MMProcFS

/// A parsed scenario: the machine it boots and the steps it runs.
public struct Scenario {
    /// The file name used in diagnostics.
    public let file: String
    /// The source lines, for diagnostics.
    public let lines: [String]
    /// The machine booted before the first step.
    public let machine: MachineConfig
    /// The steps in source order (comments, blank lines and `machine` are not steps).
    let statements: [Statement]

    /// The number of steps.
    public var stepCount: Int { statements.count }
}

/// Word size of `read` and `write`.
enum Width: Int, Equatable {
    case u8 = 1, u16 = 2, u32 = 4, u64 = 8
    /// The largest value of this width.
    var max: UInt64 { self == .u64 ? UInt64.max : (UInt64(1) << UInt64(rawValue * 8)) - 1 }
    var name: String { "u\(rawValue * 8)" }
}

/// How `${…}` prints a value.
enum InterpolationFormat: Equatable { case hex, decimal }

/// A piece of an `echo`/`note` text.
enum Segment: Equatable {
    case text(String)
    case value(Expr, InterpolationFormat)
}

/// Which process a `show`/`cat` is about.
enum ProcRef: Equatable {
    /// The current process (`/proc/self`).
    case current
    /// A process named by `spawn … as NAME` or its program name.
    case named(String)
    /// A numeric pid.
    case pid(Int32)
}

/// What `show`/`cat` prints.
enum ShowWhat: String, Equatable, CaseIterable {
    case maps, smaps, status, vmas, meminfo, buddyinfo, vmstat, dmesg, tlb, mm, auxv, ps, interrupts, cache, swaps
    case smapsRollup = "smaps_rollup", oomScore = "oom_score", oomScoreAdj = "oom_score_adj"
    /// pmap(1) and pmap -x.
    case pmap, pmapExtended = "pmap-x"
    /// Kernel memory: /proc/slabinfo, slabtop, /proc/vmallocinfo, /proc/pagetypeinfo, the extfrag indices.
    case slabinfo, slabtop, vmallocinfo, pagetypeinfo
    case unusableIndex = "unusable_index", extfragIndex = "extfrag_index"
    /// Whether it is about one process.
    var perProcess: Bool { [.maps, .smaps, .status, .vmas, .smapsRollup, .oomScore, .oomScoreAdj, .pmap, .pmapExtended, .auxv].contains(self) }
    /// The files under /proc/PID/ that `cat` reads.
    static let procFiles: [ShowWhat] = [.maps, .smaps, .smapsRollup, .status, .oomScore, .oomScoreAdj]
}

/// What `spawn` starts.
struct SpawnSpec: Equatable {
    var image: ProgramImage
    var name: String
    var oomScoreAdj: Int
    var uid: UInt32
    /// Column of the first option that only a synthetic image takes (pie, nopie, text=…), if any:
    /// such options are an error when PATH names an imported ELF file.
    var syntheticOptionColumn: Int? = nil
}

/// One step of a scenario.
struct Statement {
    /// 1-based line of the step.
    var line: Int
    /// Column of the command word.
    var column: Int
    /// The source text of the step without comment and surrounding spaces.
    var text: String
    var command: Command
    /// `| grep PATTERN`: keep only output lines containing PATTERN.
    var filter: String? = nil
}

/// A value `write` stores.
enum WriteValue: Equatable {
    case integer(Expr, Width)
    case bytes([UInt8])
}

/// The commands of the language.
enum Command {
    case sysctl([(name: String, value: Int?)])
    case spawn(SpawnSpec)
    /// Run the named process on a CPU (the selected one, or CPU K with `on cpu K`, which becomes selected).
    case use(String, cpu: Int?)
    /// Select the CPU later commands act on.
    case cpu(Int)
    /// vfork() of the current process; the child is named and runs while the parent waits.
    case vfork(String)
    /// clone() of the current process with explicit flags; the child is named.
    case clone(String, CloneFlags)
    /// fork() of the current process; the child is named.
    case fork(String)
    /// pthread_create() in the current process; the thread is named.
    case thread(String)
    /// A kernel thread, named.
    case kthread(String)
    /// Bring a host file into the simulated file system (`import HOST [as PATH]`).
    case importFile(host: String, as: String?)
    /// execve of an imported ELF file in the current process (`exec PATH [ARG...]`).
    case exec(path: String, argv: [String])
    case echo([Segment])
    case note([Segment])
    case mmap(addr: Expr?, length: Expr, prot: Prot, flags: MapFlags, bind: String?)
    case munmap(Expr, Expr)
    case mprotect(Expr, Expr, Prot)
    case brk(Expr, bind: String?)
    case sbrk(Int64, bind: String?)
    case mremap(old: Expr, oldLength: Expr, newLength: Expr, flags: MremapFlags, newAddr: Expr?, bind: String?)
    case madvise(Expr, Expr, Advice)
    case mlock(Expr, Expr, MlockFlags)
    case munlock(Expr, Expr)
    case malloc(Expr, bind: String?)
    case calloc(Expr, Expr, bind: String?)
    case realloc(Expr, Expr, bind: String?)
    case freePointer(Expr)
    case write(Expr, WriteValue)
    case read(Expr, Width, expect: Expr?, bind: String?)
    case touch(Expr, Expr, AccessKind)
    case exit(Int32)
    case show(ShowWhat, ProcRef, catPath: String?)
    case freeCommand(FreeUnit, flag: String)
    case getpagesize
    /// pagewalk ADDR: the page-table walk of ADDR in the current process, in the machine's format.
    case pagewalk(Expr)
    /// `policy NAMES frames COUNTS refs PAGES [seed S] [compare]`: the page-replacement lab.
    case policy([ReplacementPolicy], frames: [Int], refs: [UInt64], seed: UInt64, compare: Bool)
    /// `translate|exercise|pagetable-cost|no-mmu|segmentation ARGS...`: an address-translation lab (Labs.swift).
    case lab([String])
    /// `echo VALUE > /proc/PID/oom_score_adj`.
    case writeOomScoreAdj(ProcRef, Int, path: String)
    /// `echo VALUE > /sys/kernel/mm/transparent_hugepage/FILE` (FILE relative to that directory).
    case writeTHPSysfs(file: String, value: String, path: String)
    /// `cat /sys/kernel/mm/transparent_hugepage/FILE`.
    case readTHPSysfs(file: String)
    /// `echo VALUE > /sys/kernel/mm/hugepages/DIR/FILE`.
    case writeHugetlbSysfs(dir: String, file: String, value: String, path: String)
    /// `cat /sys/kernel/mm/hugepages/DIR/FILE`.
    case readHugetlbSysfs(dir: String, file: String)
    /// `khugepaged [N]`: N khugepaged wakeups (1 by default).
    case khugepaged(Int)
    // Files and the page cache.
    /// `file create PATH size N [tmpfs] [fill BYTE]`.
    case fileCreate(path: String, size: UInt64, kind: FileSystemKind, fill: UInt8?)
    /// `file write PATH offset N VALUE [WIDTH]` (write(2) through the page cache).
    case fileWrite(path: String, offset: UInt64, WriteValue)
    /// `file read PATH [OFFSET LENGTH]` (read(2): brings pages into the page cache).
    case fileRead(path: String, offset: UInt64, length: UInt64?)
    /// `mmap [ADDR] LENGTH PROT FLAGS file PATH [offset N]`.
    case mmapFile(addr: Expr?, length: Expr, prot: Prot, flags: MapFlags, path: String, offset: UInt64, bind: String?)
    case msync(Expr, Expr, MsyncFlags)
    /// sync(2).
    case sync
    /// Kernel memory (Sources/MMScenario/KernelMemoryCommands.swift): slab, kmalloc, vmalloc, pages, layout.
    case kmem(KmemCommand)
    /// `swapon PATH [priority N]` and `swapoff PATH`.
    case swapon(String, Int?)
    case swapoff(String)
    /// `vmstat [DELAY COUNT]`, `sar -r [INTERVAL COUNT]` and `sleep SECONDS` (simulated time).
    case vmstat(delay: UInt64?, count: UInt64)
    case sar(interval: UInt64?, count: UInt64)
    case sleep(UInt64)

    /// Whether the step is something the current process does (skipped once it is dead).
    var isProcessStep: Bool {
        switch self {
        case .sysctl, .spawn, .kthread, .use, .note, .show, .freeCommand, .policy, .importFile, .cpu, .lab, .kmem: return false
        case .fileCreate, .fileWrite, .fileRead, .sync: return false
        case .swapon, .swapoff, .vmstat, .sar, .sleep: return false
        case .writeTHPSysfs, .readTHPSysfs, .khugepaged, .writeHugetlbSysfs, .readHugetlbSysfs: return false
        default: return true
        }
    }
}
