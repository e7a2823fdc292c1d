/// fork(): a new process whose address space is a copy-on-write copy of its parent's
/// (Linux kernel/fork.c copy_mm/dup_mm/dup_mmap, mm/memory.c copy_page_range).

extension Kernel {
    /// Creates a child of `parent` with a copy of its address space: VMAs duplicated (without
    /// VM_LOCKED; VM_DONTCOPY areas left out), page tables copied with private writable pages
    /// write-protected in both processes, page refcounts and mapcounts raised. Returns the child,
    /// ENOMEM when memory or the commit charge runs out (nothing of the child is left behind), or
    /// ESRCH when the parent is not running.
    /// Linux: kernel_clone() → copy_mm() → dup_mm() → dup_mmap(), kernel/fork.c
    public func fork(_ parent: Task) -> Result<Task, Errno> {
        guard panicMessage == nil, parent.state.isAlive, let old = parent.mm else { return .failure(.ESRCH) }
        guard let pgd = allocPageOrOOM(gfp: [.reclaim, .io, .fs, .account, .zero], task: parent) else { return .failure(.ENOMEM) }
        phys.contents.clear(pgd)
        phys.memMap.flags[pgd.index].insert(.pageTable)
        stat.nrPageTable += 1
        let mm = MMStruct(pgd: pgd)
        copyLayout(from: old, to: mm)
        mm.pcid = nextPCID
        nextPCID = nextPCID >= 4095 ? 1 : nextPCID + 1
        let child = addTask(comm: parent.comm, mm: mm)
        child.image = parent.image
        child.ip = parent.ip; child.sp = parent.sp
        child.oomScoreAdj = parent.oomScoreAdj
        child.uid = parent.uid
        child.malloc = parent.malloc
        if case .failure(let e) = dupMmap(child, mm, old) {
            exitTask(child, status: 0)
            return .failure(e)
        }
        // The parent's writable private PTEs became read-only: its TLB must forget them.
        if config.tlb.pcid { mmu.flushAll(pcid: old.pcid) } else if let cur = current, cur.mm === old { mmu.flushAll() }
        narrate("fork: pid \(child.pid) gets a copy of \(old.vmas.count) VMAs; private writable pages are now read-only in both processes (copy-on-write)")
        return .success(child)
    }

    /// Copies the layout fields of an mm (the memcpy of dup_mm before mm_init resets counters).
    func copyLayout(from old: MMStruct, to mm: MMStruct) {
        mm.taskSize = old.taskSize; mm.mmapBase = old.mmapBase; mm.mmapLegacyBase = old.mmapLegacyBase
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
            mm.vmas.insert(n)
            vmStatAccount(mm, n.flags, n.pages)
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
        var ok = true
        forEachPresentPTE(src, vma.start, vma.end) { va, slot, pte in
            guard ok, pte.isPresent else { return }
            guard let dslot = pteAlloc(dst, va, task: child) else { ok = false; return }
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
        let t = addTask(comm: parent.comm, mm: mm)
        t.tgid = leader.tgid
        t.groupLeader = leader
        t.image = parent.image
        t.ip = parent.ip
        t.sp = stack.raw + guardSize + stackSize - 0x10
        t.oomScoreAdj = parent.oomScoreAdj
        t.uid = parent.uid
        mm.mmUsers += 1
        narrate("clone(CLONE_VM|CLONE_THREAD): tid \(t.pid) shares the address space (mm_users = \(mm.mmUsers)); its stack is \(stack)-\(VirtAddr(stack.raw + guardSize + stackSize)) with a guard page")
        return .success(t)
    }
}
