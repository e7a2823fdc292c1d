/// What the replay of a recorded program needs from the kernel beyond the system calls: a
/// process whose address space starts empty (the recording supplies its layout), and the
/// resident pages of a range (per-VMA breakdowns).

extension Kernel {
    /// Creates a process with an empty address space: a new mm with only its PGD and the mmap
    /// layout chosen, and no mappings at all, so that a recorded layout can be rebuilt with
    /// MAP_FIXED mappings. Returns ENOMEM when no page is left for the PGD.
    /// Linux: mm_alloc() + kernel_clone(), kernel/fork.c (what exec does before it maps anything)
    public func spawnEmpty(comm: String, argv: [String] = []) -> Result<Task, Errno> {
        guard panicMessage == nil else { return .failure(.ENOMEM) }
        guard let mm = mmAlloc(for: nil) else { return .failure(.ENOMEM) }
        archPickMmapLayout(mm)
        guard let task = copyProcess(comm: comm, mm: mm) else {
            mmdrop(mm)
            return .failure(.ENOMEM)
        }
        task.cmdline = argv.isEmpty ? [comm] : argv
        switchTo(task)
        narrate("spawn \(task.comm)[\(task.pid)] with an empty address space (mm_alloc): the recorded layout is mapped next")
        return .success(task)
    }

    /// Replaces `task`'s address space at a recorded execve: a new mm with only its PGD and the
    /// mmap layout chosen, the other threads of the group ended, the old mm released (torn down
    /// with its last user), so that the recording can map the new image's layout with MAP_FIXED.
    /// Returns EINVAL for a dead task or a kernel thread, ENOMEM when no mm can be allocated (the
    /// old image is then intact). Linux: begin_new_exec() → de_thread() / exec_mmap(), fs/exec.c
    public func execEmpty(_ task: Task, comm: String, argv: [String]) -> Result<Void, Errno> {
        guard panicMessage == nil else { return .failure(.ENOMEM) }
        guard task.state.isAlive, !task.isKernelThread else { return .failure(.EINVAL) }
        guard let mm = mmAlloc(for: task) else { return .failure(.ENOMEM) }
        if let old = task.mm {
            // Resource limits belong to the process and survive exec.
            mm.stackRlimit = old.stackRlimit; mm.memlockRlimit = old.memlockRlimit
            mm.asRlimit = old.asRlimit; mm.dataRlimit = old.dataRlimit; mm.legacyVALayout = old.legacyVALayout
        }
        // The point of no return.
        deThread(task)
        execMmap(task, mm)
        archPickMmapLayout(mm)
        task.comm = String(comm.prefix(15))
        task.malloc = MallocState()
        task.image = nil
        task.cmdline = argv
        switchTo(task)
        narrate("execve: \(task.comm)[\(task.pid)] continues in a new, empty address space (PGD at PFN \(mm.pgd)): the recorded layout of the new image is mapped next")
        return .success(())
    }

    /// Returns the number of present pages `mm` maps in [start, end) (a VMA's share of the RSS).
    /// Allocates nothing. Linux: the Rss: line of smaps_pte_range(), fs/proc/task_mmu.c
    public func residentPages(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) -> Int {
        var n = 0
        forEachPresentPTE(mm, start, end) { _, _, pte in if pte.isPresent { n += 1 } }
        return n
    }
}
