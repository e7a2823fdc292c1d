/// PLACEHOLDERS for malloc, overcommit and the OOM killer. That work deletes this file and
/// implements them in malloc.swift (simplified glibc), util.swift/overcommit and oom_kill.swift.

/// Per-process state of the simplified glibc malloc.
public struct MallocState: Sendable {
    public init() {}
}

extension Kernel {
    /// malloc(3) inside the simulated process: the user pointer, or nil (errno ENOMEM).
    public func malloc(_ task: Task, _ size: UInt64) -> VirtAddr? { nil }
    /// free(3).
    public func free(_ task: Task, _ ptr: VirtAddr) {}
    /// calloc(3).
    public func calloc(_ task: Task, _ count: UInt64, _ size: UInt64) -> VirtAddr? { nil }
    /// realloc(3).
    public func realloc(_ task: Task, _ ptr: VirtAddr?, _ size: UInt64) -> VirtAddr? { nil }

    /// Decides whether `pages` more pages may be committed, and commits them if so.
    /// Linux: __vm_enough_memory(), mm/util.c
    public func vmEnoughMemory(_ mm: MMStruct?, pages: Int, capSysAdmin: Bool) -> Bool { committedPages += pages; return true }
    /// Uncommits pages. Linux: vm_unacct_memory(), include/linux/mman.h
    public func vmUnacctMemory(pages: Int) { committedPages -= pages }
    /// CommitLimit in pages. Linux: vm_commit_limit(), mm/util.c
    public func vmCommitLimit() -> Int { 0 }

    /// Called when an allocation for `task` found no free page even after reclaim: selects and
    /// kills a victim (or panics). Returns true if memory was freed and the allocation may be retried.
    /// Linux: out_of_memory(), mm/oom_kill.c
    public func outOfMemory(task: Task?, gfp: GFP, order: Int) -> Bool { false }
}
