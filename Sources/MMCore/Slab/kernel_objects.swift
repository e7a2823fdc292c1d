/// The kernel's own objects for tasks and address spaces, allocated from their slab caches at
/// the places Linux allocates them, so that /proc/slabinfo, slabtop and meminfo's Slab lines
/// follow the workload at every moment, also for library users that never run a scenario:
/// task_struct, pid and the kernel stack for every task (copy_process), signal_struct,
/// sighand_struct and files_struct for every thread group; mm_struct for every address space
/// (mm_alloc, freed by __mmdrop); vm_area_struct for every VMA (vm_area_alloc at mmap, brk,
/// exec and mremap, vm_area_dup at a split and at fork, vm_area_free at munmap, at a merge that
/// removes a VMA and at exit_mmap); anon_vma for every distinct anon_vma of an address space
/// (anon_vma_prepare, anon_vma_fork; freed when the last VMA of the mm using it goes,
/// unlink_anon_vmas). A failed allocation makes the system call fail with ENOMEM (a fault
/// with VM_FAULT_OOM), as in Linux.
///
/// Sizes: the object sizes of a Linux 6.18 x86-64 kernel (what its /proc/slabinfo shows as
/// objsize, before SLUB's rounding), with each cache's flags from its kmem_cache_create() call.
/// Simplifications: a dead task is reaped by its parent at once (release_task at exit); a child
/// of fork gets one anon_vma per distinct anon_vma of its parent's copied VMAs (Linux's
/// anon_vma_fork() gives each copied VMA its own and links them with anon_vma_chain objects,
/// which are not modelled).

/// A kernel object cache of the model: name, object size, alignment, flags, constructor.
public struct KernelObjectCache: Sendable {
    public let name: String, size: Int, align: Int, flags: SlabFlags, ctor: Bool
}

/// The kernel object kinds, in the order of `kernelObjectCaches`.
public enum KernelObjectKind: Int, Sendable, CaseIterable {
    case taskStruct, pid, sighand, signal, files, mmStruct, vmAreaStruct, anonVMA
}

/// The caches the model allocates kernel objects from, in the order the kernel creates them at boot.
/// Linux: fork_init() / proc_caches_init() (kernel/fork.c), pid_idr_init() (kernel/pid.c),
/// anon_vma_init() (mm/rmap.c), vma_state_init() (mm/vma_init.c)
public let kernelObjectCaches: [KernelObjectCache] = [
    KernelObjectCache(name: "task_struct", size: 5888, align: 64, flags: [.account, .panic], ctor: false),
    KernelObjectCache(name: "pid", size: 136, align: 8, flags: [.hwcacheAlign, .account, .panic], ctor: false),
    KernelObjectCache(name: "sighand_cache", size: 2088, align: 0, flags: [.hwcacheAlign, .typesafeByRCU, .account, .panic], ctor: true),
    KernelObjectCache(name: "signal_cache", size: 1136, align: 0, flags: [.hwcacheAlign, .account, .panic], ctor: false),
    KernelObjectCache(name: "files_cache", size: 704, align: 0, flags: [.hwcacheAlign, .account, .panic], ctor: false),
    KernelObjectCache(name: "mm_struct", size: 1592, align: 64, flags: [.hwcacheAlign, .account, .panic], ctor: false),
    KernelObjectCache(name: "vm_area_struct", size: 176, align: 0, flags: [.hwcacheAlign, .account, .panic], ctor: false),
    KernelObjectCache(name: "anon_vma", size: 96, align: 0, flags: [.typesafeByRCU, .account, .panic], ctor: true),
]

/// The slab objects one address space holds: its mm_struct, one vm_area_struct per VMA and one
/// anon_vma per distinct anon_vma id of its VMAs (kept sorted by id, so that teardown frees in a
/// fixed order).
struct MMObjects {
    var mmStruct: UInt64 = 0
    var vmas: [UInt64] = []
    var anonVMAs: [(id: UInt64, addr: UInt64)] = []
}

extension Kernel {
    /// Creates the kernel object caches at boot. Linux: the *_init() functions listed above.
    func createKernelObjectCaches() {
        kmem.objectCaches = kernelObjectCaches.map { c in
            if case .success(let cache) = kmemCacheCreate(c.name, size: c.size, align: c.align, flags: c.flags, ctor: c.ctor) { return cache }
            return nil
        }
    }

    /// Allocates one object of `kind`; returns its address (0 when the kernel has no such cache,
    /// which only a boot that ran out of memory leaves), or nil when memory ran out.
    /// Linux: kmem_cache_alloc(cachep, GFP_KERNEL_ACCOUNT), mm/slub.c
    private func allocKernelObject(_ kind: KernelObjectKind) -> UInt64? {
        guard kind.rawValue < kmem.objectCaches.count, let c = kmem.objectCaches[kind.rawValue] else { return 0 }
        return kmemCacheAlloc(c, gfp: .kernelAccount)
    }

    /// Frees the object of `kind` at `addr` (nothing for address 0). Linux: kmem_cache_free(), mm/slub.c
    private func freeKernelObject(_ kind: KernelObjectKind, _ addr: UInt64) {
        guard addr != 0, kind.rawValue < kmem.objectCaches.count, let c = kmem.objectCaches[kind.rawValue] else { return }
        _ = kmemCacheFree(c, addr)
    }

    // MARK: - Tasks

    /// Allocates a new task's kernel objects: task_struct and its kernel stack, then
    /// sighand_struct, signal_struct and files_struct unless it shares its group's (a thread) or
    /// kthreadd's files (a kernel thread), then its pid. Returns false (with nothing left
    /// allocated) when memory ran out. Linux: copy_process() → dup_task_struct() / copy_files() /
    /// copy_sighand() / copy_signal() / alloc_pid(), kernel/fork.c, kernel/pid.c
    @discardableResult
    public func allocTaskObjects(_ task: Task) -> Bool {
        var kinds: [KernelObjectKind] = [.taskStruct]
        let thread = task.groupLeader != nil
        if !thread {
            if !task.isKernelThread { kinds.append(.files) }
            kinds += [.sighand, .signal]
        }
        kinds.append(.pid)
        var got: [(KernelObjectKind, UInt64)] = []
        var stack = false
        for (i, kind) in kinds.enumerated() {
            guard let a = allocKernelObject(kind) else {
                for (k, a) in got.reversed() { freeKernelObject(k, a) }
                if stack { freeThreadStack(task) }
                return false
            }
            got.append((kind, a))
            if i == 0 {
                stack = allocThreadStack(task)
                if !stack { freeKernelObject(kind, a); return false }
            }
        }
        task.kernelObjects = got
        narrate("pid \(task.pid): task_struct, pid\(thread ? "" : ", signal_struct, sighand_struct\(task.isKernelThread ? "" : ", files_struct")") from their slab caches, a \(threadSize >> 10) KiB \(vmapStack ? "vmapped" : "lowmem") kernel stack")
        return true
    }

    /// Frees a dead task's kernel objects and stack (its parent reaps it at once); nothing for a
    /// task that holds none. Linux: release_task() → __exit_signal() / free_pid() /
    /// put_task_struct() → free_task(), kernel/exit.c, kernel/fork.c
    public func freeTaskObjects(_ task: Task) {
        guard !task.kernelObjects.isEmpty else { return }
        for (k, a) in task.kernelObjects.reversed() { freeKernelObject(k, a) }
        task.kernelObjects = []
        freeThreadStack(task)
    }

    /// Registers a new task for a system call and gives it its kernel objects; nil (and no task
    /// left behind) when they cannot be allocated, which the caller reports as ENOMEM.
    /// Linux: copy_process(), kernel/fork.c
    func copyProcess(comm: String, mm: MMStruct?, groupLeader: Task? = nil, kernelThread: Bool = false) -> Task? {
        let t = addTask(comm: comm, mm: mm)
        t.groupLeader = groupLeader
        t.isKernelThread = kernelThread
        if allocTaskObjects(t) { return t }
        unregisterTask(t)
        return nil
    }

    // MARK: - Address spaces

    /// Allocates `mm`'s mm_struct object; false when memory ran out.
    /// Linux: allocate_mm() in mm_alloc() / dup_mm(), kernel/fork.c
    func allocMMObject(_ mm: MMStruct) -> Bool {
        guard let a = allocKernelObject(.mmStruct) else { return false }
        mm.objects.mmStruct = a
        return true
    }

    /// Frees an address space's mm_struct and any VMA and anon_vma objects it still holds (after
    /// exit_mmap there are none). Linux: __mmdrop() → free_mm(), kernel/fork.c
    func freeMMObjects(_ mm: MMStruct) {
        vmAreaFree(mm, count: mm.objects.vmas.count)
        for e in mm.objects.anonVMAs.reversed() { freeKernelObject(.anonVMA, e.addr) }
        mm.objects.anonVMAs = []
        freeKernelObject(.mmStruct, mm.objects.mmStruct)
        mm.objects.mmStruct = 0
    }

    // MARK: - VMAs

    /// Allocates the vm_area_struct of a VMA about to enter `mm`'s tree (a new mapping, or the
    /// second half of a split and a VMA copied at fork: vm_area_dup); false when memory ran out.
    /// Linux: vm_area_alloc() / vm_area_dup(), mm/vma_init.c
    func vmAreaAlloc(_ mm: MMStruct) -> Bool {
        guard let a = allocKernelObject(.vmAreaStruct) else { return false }
        mm.objects.vmas.append(a)
        return true
    }

    /// Frees the vm_area_structs of `count` VMAs that left `mm`'s tree (munmap, a merge, exit).
    /// Linux: vm_area_free(), mm/vma_init.c
    func vmAreaFree(_ mm: MMStruct, count: Int = 1) {
        for _ in 0..<max(0, count) {
            guard let a = mm.objects.vmas.popLast() else { return }
            freeKernelObject(.vmAreaStruct, a)
        }
    }

    /// Allocates the anon_vma object for the new anon_vma `id` of `mm`; false when memory ran
    /// out. Nothing when `mm` already holds one for `id`. Linux: anon_vma_alloc(), mm/rmap.c
    func anonVMAAlloc(_ mm: MMStruct, _ id: UInt64) -> Bool {
        guard id != 0 else { return true }
        var lo = 0, hi = mm.objects.anonVMAs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if mm.objects.anonVMAs[mid].id < id { lo = mid + 1 } else { hi = mid }
        }
        if lo < mm.objects.anonVMAs.count && mm.objects.anonVMAs[lo].id == id { return true }
        guard let a = allocKernelObject(.anonVMA) else { return false }
        mm.objects.anonVMAs.insert((id, a), at: lo)
        return true
    }

    /// Frees the anon_vma objects of `mm` that no VMA of `mm` uses any more (after VMAs left the
    /// tree). Linux: unlink_anon_vmas() → put_anon_vma() → anon_vma_free(), mm/rmap.c
    func unlinkAnonVMAs(_ mm: MMStruct) {
        guard !mm.objects.anonVMAs.isEmpty else { return }
        var used: [UInt64] = []
        for v in mm.vmas.vmas where v.anonVMA != 0 { used.append(v.anonVMA) }
        mm.objects.anonVMAs.removeAll { e in
            if used.contains(e.id) { return false }
            freeKernelObject(.anonVMA, e.addr)
            return true
        }
    }

    /// Gives the child `mm` of a fork an anon_vma object for each distinct anon_vma of its
    /// copied VMAs; false when memory ran out. Linux: anon_vma_fork(), mm/rmap.c
    func anonVMAFork(_ mm: MMStruct) -> Bool {
        for v in mm.vmas.vmas where v.anonVMA != 0 {
            if !anonVMAAlloc(mm, v.anonVMA) { return false }
        }
        return true
    }

    /// The number of vm_area_struct, anon_vma and mm_struct objects `mm` holds (for checks).
    public func objectCounts(_ mm: MMStruct) -> (vmas: Int, anonVMAs: Int, mmStruct: Int) {
        (mm.objects.vmas.count, mm.objects.anonVMAs.count, mm.objects.mmStruct != 0 ? 1 : 0)
    }
}
