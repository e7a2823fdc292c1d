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
        guard let pgd = allocPageOrOOM(gfp: [.reclaim, .io, .fs, .account, .zero], task: nil) else { return .failure(.ENOMEM) }
        phys.contents.clear(pgd)
        phys.memMap.flags[pgd.index].insert(.pageTable)
        stat.nrPageTable += 1
        let mm = MMStruct(pgd: pgd)
        mm.taskSize = phys.paging.taskSize
        mm.mapWindow = phys.paging.mapWindow
        mm.hasVsyscallGate = phys.paging.encoding == .x86_64
        mm.ia32 = phys.paging.is32Bit
        pgdCtor(pgd)
        mm.pcid = nextPCID
        nextPCID = nextPCID >= 4095 ? 1 : nextPCID + 1
        archPickMmapLayout(mm)
        let task = addTask(comm: comm, mm: mm)
        task.cmdline = argv.isEmpty ? [comm] : argv
        switchTo(task)
        narrate("spawn \(task.comm)[\(task.pid)] with an empty address space (mm_alloc): the recorded layout is mapped next")
        return .success(task)
    }

    /// Returns the number of present pages `mm` maps in [start, end) (a VMA's share of the RSS).
    /// Allocates nothing. Linux: the Rss: line of smaps_pte_range(), fs/proc/task_mmu.c
    public func residentPages(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) -> Int {
        var n = 0
        forEachPresentPTE(mm, start, end) { _, _, pte in if pte.isPresent { n += 1 } }
        return n
    }
}
