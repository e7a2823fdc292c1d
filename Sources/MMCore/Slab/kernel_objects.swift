/// The kernel's own objects for tasks and address spaces, allocated from their slab caches so
/// that /proc/slabinfo, slabtop and meminfo's Slab lines follow the workload: task_struct, pid
/// and the kernel stack for every task; signal_struct, sighand_struct and files_struct for every
/// thread group; mm_struct for every address space; vm_area_struct for every VMA and anon_vma
/// for every distinct anon_vma of an address space.
///
/// Sizes: the object sizes of a Linux 6.18 x86-64 kernel (what its /proc/slabinfo shows as
/// objsize, before SLUB's rounding), with each cache's flags from its kmem_cache_create() call.
/// Model: task objects are allocated when the task is created and freed when it dies (its parent
/// reaps it at once); the mm_struct lives until the last mm_count reference (mmdrop); the
/// vm_area_struct and anon_vma objects of an address space are reconciled with its VMA tree after
/// each step and when it is torn down, rather than at each vm_area_alloc()/vm_area_free().

/// A kernel object cache of the model: name, object size, alignment, flags, constructor.
public struct KernelObjectCache: Sendable {
    public let name: String, size: Int, align: Int, flags: SlabFlags, ctor: Bool
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

/// Objects the model holds for one task or one address space.
struct KernelObjects {
    var objects: [(cache: KmemCache, addr: UInt64)] = []
}

extension KmemState {
    /// The cache for `name` among the kernel object caches (nil if it could not be created).
    func objectCache(_ name: String) -> KmemCache? { cache(named: name) }
}

extension Kernel {
    /// Creates the kernel object caches at boot. Linux: the *_init() functions listed above.
    func createKernelObjectCaches() {
        for c in kernelObjectCaches {
            _ = kmemCacheCreate(c.name, size: c.size, align: c.align, flags: c.flags, ctor: c.ctor)
        }
    }

    /// Allocates one object of the cache `name` for `owner`'s list; false when memory ran out.
    private func allocObject(_ name: String, into list: inout KernelObjects) -> Bool {
        guard let c = kmem.cache(named: name), let a = kmemCacheAlloc(c, gfp: .kernelAccount) else { return false }
        list.objects.append((c, a))
        return true
    }

    /// Allocates a new task's kernel objects: task_struct, pid and its kernel stack, plus
    /// signal_struct, sighand_struct and files_struct unless it shares its group's (a thread) or
    /// kthreadd's files (a kernel thread). Linux: dup_task_struct() / alloc_pid() / copy_signal() /
    /// copy_sighand() / copy_files(), kernel/fork.c, kernel/pid.c
    public func allocTaskObjects(_ task: Task) {
        var list = KernelObjects()
        _ = allocObject("task_struct", into: &list)
        allocThreadStack(task)
        _ = allocObject("pid", into: &list)
        let thread = task.groupLeader != nil
        if !thread {
            _ = allocObject("sighand_cache", into: &list)
            _ = allocObject("signal_cache", into: &list)
            if !task.isKernelThread { _ = allocObject("files_cache", into: &list) }
        }
        kmem.taskObjects[task.pid] = list
        narrate("pid \(task.pid): task_struct, pid\(thread ? "" : ", signal_struct, sighand_struct\(task.isKernelThread ? "" : ", files_struct")") from their slab caches, a \(THREAD_SIZE >> 10) KiB vmapped kernel stack")
    }

    /// Frees a dead task's kernel objects and stack (as if its parent reaped it at once).
    /// Linux: release_task() → put_task_struct() / free_pid() / __exit_signal(), kernel/exit.c
    public func freeTaskObjects(_ task: Task) {
        guard let list = kmem.taskObjects.removeValue(forKey: task.pid) else { return }
        for (c, a) in list.objects.reversed() { _ = kmemCacheFree(c, a) }
        freeThreadStack(task)
    }

    /// Allocates an address space's mm_struct. Linux: mm_alloc() / dup_mm() → allocate_mm(), kernel/fork.c
    public func allocMMObject(_ mm: MMStruct) {
        var list = KernelObjects()
        _ = allocObject("mm_struct", into: &list)
        kmem.mmObjects[ObjectIdentifier(mm)] = list
    }

    /// Frees an address space's mm_struct and every VMA and anon_vma object it still holds.
    /// Linux: __mmdrop() → free_mm(), kernel/fork.c
    public func freeMMObjects(_ mm: MMStruct) {
        syncVMAObjects(mm, gone: true)
        guard let list = kmem.mmObjects.removeValue(forKey: ObjectIdentifier(mm)) else { return }
        for (c, a) in list.objects.reversed() { _ = kmemCacheFree(c, a) }
    }

    /// Makes the vm_area_struct objects of `mm` match its VMAs and its anon_vma objects match its
    /// distinct anon_vmas (all freed when `gone`). Linux: vm_area_alloc() / vm_area_free(),
    /// kernel/fork.c; anon_vma_alloc() / anon_vma_free(), mm/rmap.c
    public func syncVMAObjects(_ mm: MMStruct, gone: Bool = false) {
        let key = ObjectIdentifier(mm)
        var vmas = kmem.vmaObjects[key] ?? KernelObjects()
        var anons = kmem.anonVMAObjects[key] ?? KernelObjects()
        let wantVMAs = gone ? 0 : mm.vmas.count
        let wantAnon = gone ? 0 : Set(mm.vmas.vmas.map(\.anonVMA).filter { $0 != 0 }).count
        func reconcile(_ list: inout KernelObjects, _ name: String, _ want: Int) {
            while list.objects.count > want, let (c, a) = list.objects.popLast() { _ = kmemCacheFree(c, a) }
            while list.objects.count < want { if !allocObject(name, into: &list) { break } }
        }
        reconcile(&vmas, "vm_area_struct", wantVMAs)
        reconcile(&anons, "anon_vma", wantAnon)
        if gone {
            kmem.vmaObjects[key] = nil
            kmem.anonVMAObjects[key] = nil
        } else {
            kmem.vmaObjects[key] = vmas
            kmem.anonVMAObjects[key] = anons
        }
    }

    /// Brings the kernel objects in line with the tasks and address spaces (run after each
    /// scenario step): a new task gets its objects and stack, a dead one loses them; a new
    /// address space gets its mm_struct, one whose mm_count fell to 0 (mmdrop) loses it with its
    /// VMA objects; every live address space's vm_area_struct and anon_vma objects follow its VMAs.
    public func syncKernelObjects() {
        for t in allTasks {
            if t.state.isAlive {
                if kmem.taskObjects[t.pid] == nil { allocTaskObjects(t) }
            } else if kmem.taskObjects[t.pid] != nil {
                freeTaskObjects(t)
            }
            for mm in [t.mm, t.activeMM].compactMap({ $0 }) where mm !== initMM && mm.mmCount > 0 && kmem.trackedMMs[ObjectIdentifier(mm)] == nil {
                kmem.trackedMMs[ObjectIdentifier(mm)] = mm
                allocMMObject(mm)
            }
        }
        for (key, mm) in kmem.trackedMMs.sorted(by: { $0.value.pgd < $1.value.pgd }) {
            if mm.mmCount <= 0 {
                freeMMObjects(mm)
                kmem.trackedMMs[key] = nil
            } else {
                syncVMAObjects(mm)
            }
        }
    }
}
