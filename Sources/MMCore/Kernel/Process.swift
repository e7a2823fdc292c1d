/// Creating and ending processes, and the user-visible memory accesses they make.
/// PLACEHOLDER bodies, implemented by the kernel core (memory.c side).

/// The segments of the program a process runs (the core loads no ELF files: it lays out a
/// program of these sizes as exec would; see the processes work for real ELF loading).
public struct ProgramImage: Sendable, Equatable {
    /// Path shown in /proc/PID/maps.
    public var path: String
    /// Whether the program is position independent (loads at ELF_ET_DYN_BASE = 0x555555554000
    /// with ASLR off) or fixed at 0x400000.
    public var pie: Bool
    /// Bytes of text (r-x), read-only data (r--), initialised data (rw-) and bss.
    public var textBytes: UInt64, rodataBytes: UInt64, dataBytes: UInt64, bssBytes: UInt64
    public init(path: String, pie: Bool = true, textBytes: UInt64 = 0x1000, rodataBytes: UInt64 = 0x1000,
                dataBytes: UInt64 = 0x1000, bssBytes: UInt64 = 0x1000) {
        self.path = path; self.pie = pie; self.textBytes = textBytes; self.rodataBytes = rodataBytes
        self.dataBytes = dataBytes; self.bssBytes = bssBytes
    }
}

/// Why a user memory access did not complete.
public enum AccessFailure: Error, Equatable, Sendable {
    /// The task was killed by SIGSEGV (or SIGBUS) at this address.
    case signal(Signal, VirtAddr)
    /// The task was killed by the OOM killer while faulting.
    case oomKilled
    /// The machine panicked (panic_on_oom).
    case panic
    /// The task is not running.
    case notRunning
}

extension Kernel {
    /// Creates a process running `image` (as fork+exec would): a new mm with the program's
    /// segments, heap start, stack and the vdso. Returns ENOMEM if its page tables cannot be allocated.
    public func spawn(_ image: ProgramImage) -> Result<Task, Errno> { .failure(.ENOSYS) }

    /// Performs one user access of `kind` to `va`, taking page faults as needed.
    public func access(_ task: Task, _ va: VirtAddr, _ kind: AccessKind) -> Result<PhysAddr, AccessFailure> { .failure(.notRunning) }

    /// Writes `bytes` at `va` (faulting pages in); every byte reads back the same afterwards.
    public func store(_ task: Task, _ va: VirtAddr, _ bytes: [UInt8]) -> Result<Void, AccessFailure> { .failure(.notRunning) }

    /// Reads `count` bytes at `va` (faulting pages in).
    public func load(_ task: Task, _ va: VirtAddr, count: Int) -> Result<[UInt8], AccessFailure> { .failure(.notRunning) }

    /// Touches every page of [start, start+length) with an access of `kind` (memset/read loop).
    public func touch(_ task: Task, _ start: VirtAddr, length: UInt64, _ kind: AccessKind) -> Result<Void, AccessFailure> { .failure(.notRunning) }

    /// Ends a task normally: tears down its mm (exit_mm / mmput / exit_mmap).
    public func exitTask(_ task: Task, status: Int32) {}

    /// Kills a task with a signal and tears down its mm.
    public func killTask(_ task: Task, signal: Signal) {}

    /// Runs every invariant check and returns the violations (empty when all hold).
    public func checkInvariants() -> [String] { [] }
}
