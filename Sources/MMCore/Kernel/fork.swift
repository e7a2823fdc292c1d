/// fork(): a new process whose address space is a copy-on-write copy of its parent's
/// (Linux kernel/fork.c copy_mm/dup_mm/dup_mmap, mm/memory.c copy_page_range).

extension Kernel {
    /// Allocates an empty address space: its mm_struct object, a zeroed PGD page (accounted in
    /// PageTables:) and a PCID hint. Returns nil when the object or no page can be found even
    /// after the OOM killer ran on behalf of `task`.
    /// Linux: mm_alloc() → allocate_mm() / mm_init() → pgd_alloc(), kernel/fork.c, arch/x86/mm/pgtable.c
    func mmAlloc(for task: Task?) -> MMStruct? {
        let probe = MMStruct(pgd: PFN(0))
        guard allocMMObject(probe) else { return nil }
        // ARM 2-level: the 16 KiB first-level table is an order-2 block (16 KiB aligned, as TTBR0
        // requires); accounted in PageTables as the generic pagetable_alloc() does.
        let rootFrames = phys.paging.rootFrames
        guard let pgd = rootFrames == 1 ? allocPageOrOOM(gfp: [.reclaim, .io, .fs, .account, .zero], task: task)
                                         : allocKernelPages(order: 2, gfp: [.reclaim, .io, .fs, .account, .zero]) else {
            freeMMObjects(probe)
            return nil
        }
        for i in 0..<rootFrames {
            phys.contents.clear(pgd.advanced(by: i))
            phys.memMap.flags[pgd.index + i].insert(.pageTable)
        }
        stat.nrPageTable += rootFrames
        let mm = probe
        mm.pgd = pgd
        mm.taskSize = phys.paging.taskSize
        mm.mapWindow = phys.paging.mapWindow
        mm.hasVsyscallGate = phys.paging.encoding == .x86_64
        mm.hasVectorsPage = phys.paging.encoding == .arm32
        // A 32-bit kernel: user space ends at PAGE_OFFSET (TASK_SIZE, 3G/1G split), 4-byte pointers.
        mm.ia32 = phys.paging.is32Bit
        pgdCtor(pgd)
        mm.pcid = nextPCID
        nextPCID = nextPCID >= 4095 ? 1 : nextPCID + 1
        return mm
    }

    /// Creates a child of `parent` with a copy of its address space: VMAs duplicated (without
    /// VM_LOCKED; VM_DONTCOPY areas left out), page tables copied with private writable pages
    /// write-protected in both processes, page refcounts and mapcounts raised. Returns the child,
    /// ENOMEM when memory or the commit charge runs out (nothing of the child is left behind), or
    /// ESRCH when the parent is not running.
    /// Linux: kernel_clone() → copy_mm() → dup_mm() → dup_mmap(), kernel/fork.c
    public func fork(_ parent: Task) -> Result<Task, Errno> {
        guard panicMessage == nil, parent.state.isAlive, let old = parent.mm else { return .failure(.ESRCH) }
        guard let mm = mmAlloc(for: parent) else { return .failure(.ENOMEM) }
        copyLayout(from: old, to: mm)
        guard let child = copyProcess(comm: parent.comm, mm: mm) else {
            mmdrop(mm)
            return .failure(.ENOMEM)
        }
        child.image = parent.image
        child.cmdline = parent.cmdline; child.oomScoreAdjMin = parent.oomScoreAdjMin
        child.ip = parent.ip; child.sp = parent.sp
        child.oomScoreAdj = parent.oomScoreAdj
        child.uid = parent.uid
        child.malloc = parent.malloc
        child.ppid = parent.tgid
        if case .failure(let e) = dupMmap(child, mm, old) {
            exitTask(child, status: 0)
            return .failure(e)
        }
        // The parent's writable private PTEs became read-only: its TLB must forget them.
        flushTLBMM(old)
        narrate("fork: pid \(child.pid) gets a copy of \(old.vmas.count) VMAs; private writable pages are now read-only in both processes (copy-on-write)")
        return .success(child)
    }

    /// Copies the layout fields of an mm (the memcpy of dup_mm before mm_init resets counters).
    func copyLayout(from old: MMStruct, to mm: MMStruct) {
        mm.taskSize = old.taskSize; mm.ia32 = old.ia32; mm.mmapBase = old.mmapBase; mm.mmapLegacyBase = old.mmapLegacyBase
        mm.topDown = old.topDown; mm.legacyVALayout = old.legacyVALayout
        mm.startCode = old.startCode; mm.endCode = old.endCode; mm.startData = old.startData; mm.endData = old.endData
        mm.startBrk = old.startBrk; mm.brk = old.brk; mm.startStack = old.startStack
        mm.argStart = old.argStart; mm.argEnd = old.argEnd; mm.envStart = old.envStart; mm.envEnd = old.envEnd
        mm.stackRlimit = old.stackRlimit; mm.memlockRlimit = old.memlockRlimit
        mm.asRlimit = old.asRlimit; mm.dataRlimit = old.dataRlimit
        mm.nextAnonVMA = old.nextAnonVMA
    }

    /// Duplicates the VMAs of `old` into `mm`, charging VM_ACCOUNT areas, and copies their page
    /// tables. Returns ENOMEM on the first charge or page-table allocation that fails.
    /// Linux: dup_mmap(), kernel/fork.c
    func dupMmap(_ child: Task, _ mm: MMStruct, _ old: MMStruct) -> Result<Void, Errno> {
        for v in old.vmas.vmas {
            if v.flags.contains(.dontcopy) { continue }
            if v.flags.contains(.account) && !securityVMEnoughMemory(old, UInt64(v.pages)) { return .failure(.ENOMEM) }
            var n = v
            n.flags.subtract(VMFlags.lockedMask)
            if v.flags.contains(.wipeonfork) { n.anonVMA = 0 }
            // vm_area_dup(), then anon_vma_fork() for a VMA with anonymous pages.
            if !vmAreaAlloc(mm) { return .failure(.ENOMEM) }
            if !anonVMAAlloc(mm, n.anonVMA) { vmAreaFree(mm); return .failure(.ENOMEM) }
            if v.hugetlbObject != 0 { n.hugetlbObject = hugetlbForkObject(v) }
            mm.vmas.insert(n)
            vmStatAccount(mm, n.flags, n.pages)
            if v.hugetlbObject != 0 {
                if !v.flags.contains(.wipeonfork) && !copyHugetlbPageRange(child, mm, old, v) { return .failure(.ENOMEM) }
                continue
            }
            // Linux copies page tables only where faults could not rebuild them: areas with
            // anonymous pages (anon_vma) or raw PFN maps; file pages fault back in.
            if v.flags.contains(.wipeonfork) || (v.anonVMA == 0 && !v.flags.contains(.pfnmap) && !v.flags.contains(.shared)) { continue }
            if !copyPageRange(child, mm, old, v) { return .failure(.ENOMEM) }
        }
        mm.updateHiwater()
        return .success(())
    }

    /// Copies the present PTEs of `vma` from `src` to `dst`: each page gains a reference and a
    /// mapping; in a copy-on-write mapping (private, may be written) the PTE is write-protected in
    /// both; the child's copy is marked old (and clean in shared mappings). Returns false when a
    /// page table for the child could not be allocated. Linux: copy_page_range() / copy_present_pte(), mm/memory.c
    func copyPageRange(_ child: Task, _ dst: MMStruct, _ src: MMStruct, _ vma: VMA) -> Bool {
        let cow = !vma.flags.contains(.shared) && vma.flags.contains(.maywrite)
        var ok = copyHugePMDs(child, dst, src, vma)
        forEachPresentPTE(src, vma.start, vma.end) { va, slot, pte in
            guard ok else { return }
            guard let dslot = pteAlloc(dst, va, task: child) else { ok = false; return }
            if pte.isSwap {
                // copy_nonpresent_pte(): the child shares the slot (swap_duplicate).
                swapDuplicate(pte.swapEntry)
                dst.rss.swapents += 1
                phys.writePTE(dslot, pte)
                return
            }
            var p = pte.raw & ~PTE.accessed
            if cow && pte.isWritable {
                phys.writePTE(slot, PTE(raw: pte.raw & ~PTE.rw))
                p &= ~PTE.rw
            }
            if vma.flags.contains(.shared) { p &= ~PTE.dirty }
            let pfn = pte.pfn
            if pfn != zeroPFN {
                phys.getPage(pfn)
                phys.memMap.mapcount[pfn.index] += 1
                let f = phys.memMap.flags[pfn.index]
                if f.contains(.anon) { dst.rss.anon += 1 } else if f.contains(.swapbacked) { dst.rss.shmem += 1 } else { dst.rss.file += 1 }
            }
            phys.writePTE(dslot, PTE(raw: p))
        }
        return ok
    }

    /// pthread_create(): maps the new thread's stack as glibc does (8 MiB, MAP_STACK, with a
    /// PROT_NONE guard page below it), then clones a task that shares `parent`'s mm (CLONE_VM:
    /// mm_users is raised, nothing is copied) and its thread group. Returns the thread, or the
    /// errno of the stack mapping. Linux: clone(CLONE_VM|CLONE_THREAD|…) → copy_mm(), kernel/fork.c
    public func cloneThread(_ parent: Task) -> Result<Task, Errno> {
        guard panicMessage == nil, parent.state.isAlive, let mm = parent.mm else { return .failure(.ESRCH) }
        let stackSize = mm.stackRlimit, guardSize = PAGE_SIZE
        let stack: VirtAddr
        switch mmap(parent, addr: 0, length: stackSize + guardSize, prot: [.read, .write], flags: [.private, .anonymous, .stack]) {
        case .failure(let e): return .failure(e)
        case .success(let a): stack = a
        }
        if case .failure(let e) = mprotect(parent, addr: stack.raw, length: guardSize, prot: .none) { return .failure(e) }
        let leader = parent.groupLeader ?? parent
        guard let t = copyProcess(comm: parent.comm, mm: mm, groupLeader: leader) else {
            _ = munmap(parent, addr: stack.raw, length: stackSize + guardSize)
            return .failure(.ENOMEM)
        }
        t.tgid = leader.tgid
        t.image = parent.image
        t.cmdline = parent.cmdline; t.oomScoreAdjMin = parent.oomScoreAdjMin
        t.ip = parent.ip
        t.sp = stack.raw + guardSize + stackSize - 0x10
        t.oomScoreAdj = parent.oomScoreAdj
        t.uid = parent.uid
        t.ppid = parent.ppid
        mm.mmUsers += 1
        narrate("clone(CLONE_VM|CLONE_THREAD): tid \(t.pid) shares the address space (mm_users = \(mm.mmUsers)); its stack is \(stack)-\(VirtAddr(stack.raw + guardSize + stackSize)) with a guard page")
        return .success(t)
    }
}

/// clone() flags the model honours. Linux: include/uapi/linux/sched.h
public struct CloneFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// CLONE_VM: share the parent's mm (mm_users + 1) instead of copying it.
    public static let vm = CloneFlags(rawValue: 0x100)
    /// CLONE_VFORK: the parent sleeps until the child exits or execs (mm_release()).
    public static let vfork = CloneFlags(rawValue: 0x4000)
    /// CLONE_THREAD (with CLONE_SIGHAND): the child joins the parent's thread group.
    public static let thread = CloneFlags(rawValue: 0x10000 | 0x800)

    /// "CLONE_VM|CLONE_VFORK|SIGCHLD" as strace prints the flags word (SIGCHLD unless a thread).
    public var straceText: String {
        var parts: [String] = []
        if contains(.vm) { parts.append("CLONE_VM") }
        if contains(.thread) { parts.append("CLONE_SIGHAND") }
        if contains(.vfork) { parts.append("CLONE_VFORK") }
        if contains(.thread) { parts.append("CLONE_THREAD") } else { parts.append("SIGCHLD") }
        return parts.joined(separator: "|")
    }
}

extension Kernel {
    /// vfork(): clone(CLONE_VM|CLONE_VFORK). Returns the child (now running on the parent's CPU
    /// while the parent sleeps) or the errno. Linux: sys_vfork(), kernel/fork.c
    public func vfork(_ parent: Task) -> Result<Task, Errno> { kernelClone(parent, flags: [.vm, .vfork]) }

    /// Creates a child of `parent` as clone() does with `flags`: with CLONE_VM it shares the
    /// parent's mm (mm_users + 1, nothing copied; with CLONE_THREAD it joins the thread group),
    /// without it gets a copy-on-write copy (fork). With CLONE_VFORK the parent waits until the
    /// child exits or execs (`mmRelease`): the child takes the parent's CPU. Returns the child,
    /// EINVAL for CLONE_THREAD without CLONE_VM, ESRCH when the parent is not running, or the
    /// errno of the copy. Linux: kernel_clone() → copy_process() → copy_mm(), kernel/fork.c
    public func kernelClone(_ parent: Task, flags: CloneFlags) -> Result<Task, Errno> {
        if flags.contains(.thread) && !flags.contains(.vm) { return .failure(.EINVAL) }
        guard panicMessage == nil, parent.state.isAlive, let mm = parent.mm, parent.vforkChild == nil else { return .failure(.ESRCH) }
        let child: Task
        if flags.contains(.vm) {
            let leader = parent.groupLeader ?? parent
            guard let c = copyProcess(comm: parent.comm, mm: mm, groupLeader: flags.contains(.thread) ? leader : nil) else {
                return .failure(.ENOMEM)
            }
            child = c
            mm.mmUsers += 1
            if flags.contains(.thread) {
                child.tgid = leader.tgid
                child.ppid = parent.ppid
            } else {
                child.ppid = parent.tgid
                child.malloc = parent.malloc
            }
            child.image = parent.image
            child.cmdline = parent.cmdline; child.oomScoreAdjMin = parent.oomScoreAdjMin
            child.ip = parent.ip; child.sp = parent.sp
            child.oomScoreAdj = parent.oomScoreAdj
            child.uid = parent.uid
            narrate("clone(\(flags.straceText)): pid \(child.pid) shares the address space of pid \(parent.pid) (mm_users = \(mm.mmUsers), mm_count = \(mm.mmCount))")
        } else {
            switch fork(parent) {
            case .failure(let e): return .failure(e)
            case .success(let c): child = c
            }
        }
        if flags.contains(.vfork) {
            parent.vforkChild = child
            child.vforkParent = parent
            let cpu = cpuRunning(parent) ?? cpuID
            let saved = cpuID
            cpuID = cpu
            switchTo(child)
            cpuID = saved
            narrate("vfork: pid \(parent.pid) sleeps (wait_for_vfork_done) until pid \(child.pid) exits or execs; the child runs on CPU\(cpu)")
        }
        return .success(child)
    }

    /// Ends `task`'s use of its mm as seen by others at exit or exec: a vfork() parent waiting for
    /// it wakes up (it may be scheduled again). Does nothing for a task nobody waits for. Exec of
    /// a new image must call it too, before the old mm is dropped.
    /// Linux: mm_release() → complete_vfork_done(), kernel/fork.c
    public func mmRelease(_ task: Task) {
        guard let parent = task.vforkParent else { return }
        task.vforkParent = nil
        if parent.vforkChild === task { parent.vforkChild = nil }
        narrate("mm_release: complete_vfork_done: pid \(parent.pid) wakes up from vfork(); pid \(task.pid) no longer holds it")
    }
}
