/// mremap(2). Linux: mm/mremap.c

extension Kernel {
    /// Finds the VMA holding the whole old range and checks that it may grow to `newLen`;
    /// returns its index or EFAULT (no VMA, range crosses a VMA end, VM_DONTEXPAND/VM_PFNMAP),
    /// EINVAL (zero old length — duplicating a shared mapping is not modelled — pgoff overflow,
    /// DONTUNMAP of a special area), EAGAIN (RLIMIT_MEMLOCK) or ENOMEM (RLIMIT_AS/DATA).
    /// Linux: vma_to_resize(), mm/mremap.c
    func vmaToResize(_ mm: MMStruct, _ addr: UInt64, _ oldLen: UInt64, _ newLen: UInt64,
                     _ flags: MremapFlags) -> Result<Int, Errno> {
        guard let i = mm.vmas.lookupIndex(VirtAddr(addr)) else { return .failure(.EFAULT) }
        let v = mm.vmas[i]
        if oldLen > v.end.raw - addr { return .failure(.EFAULT) }
        if oldLen == 0 { return .failure(.EINVAL) }
        if flags.contains(.dontunmap) && v.flags.intersects([.dontexpand, .pfnmap]) { return .failure(.EINVAL) }
        if newLen == oldLen { return .success(i) }
        let pgoff = v.pgoff &+ ((addr - v.start.raw) >> PAGE_SHIFT)
        if pgoff.addingReportingOverflow(newLen >> PAGE_SHIFT).overflow { return .failure(.EINVAL) }
        if v.flags.intersects([.dontexpand, .pfnmap]) { return .failure(.EFAULT) }
        let delta = newLen > oldLen ? newLen - oldLen : 0
        if !mlockFutureOK(mm, v.flags, delta) { return .failure(.EAGAIN) }
        if !mayExpandVM(mm, v.flags, delta >> PAGE_SHIFT) { return .failure(.ENOMEM) }
        return .success(i)
    }

    /// True when the VMA at `index` can grow in place by `delta` bytes: the space after it is
    /// free and below TASK_SIZE. Linux: vma_expandable(), mm/mremap.c
    func vmaExpandable(_ mm: MMStruct, _ index: Int, _ delta: UInt64) -> Bool {
        let v = mm.vmas[index]
        let (end, o) = v.end.raw.addingReportingOverflow(delta)
        if o || end > mm.taskSize { return false }
        return mm.vmas.overlapping(v.end, VirtAddr(end)).isEmpty
    }

    /// Moves [oldAddr, oldAddr+oldLen) of the VMA at `index` to a new VMA of `newLen` bytes at
    /// `newAddr` (merged with neighbours when possible), moves the page tables, then unmaps the
    /// old range (unless MREMAP_DONTUNMAP), carrying over the commit charge; returns newAddr, or
    /// ENOMEM (vm.max_map_count, commit refused, page tables could not be moved — the old
    /// mapping is then left intact). Linux: move_vma() / copy_vma(), mm/mremap.c, mm/vma.c
    func moveVMA(_ task: Task, _ mm: MMStruct, _ index: Int, _ oldAddr: UInt64, _ oldLen: UInt64,
                 _ newLen: UInt64, _ newAddr: UInt64, _ flags: MremapFlags) -> Result<VirtAddr, Errno> {
        if mm.vmas.count >= sysctl.maxMapCount - 3 { return .failure(.ENOMEM) }
        let dontUnmap = flags.contains(.dontunmap)
        let v = mm.vmas[index]
        let vmFlags = v.flags
        let toAccount = dontUnmap ? Int(newLen >> PAGE_SHIFT) : Int(newLen >> PAGE_SHIFT) - Int(oldLen >> PAGE_SHIFT)
        if vmFlags.contains(.account) {
            if toAccount > 0 && !securityVMEnoughMemory(mm, UInt64(toAccount)) { return .failure(.ENOMEM) }
            if toAccount < 0 { vmUnacctMemory(pages: -toAccount) }
        }
        // copy_vma(): an anonymous VMA never faulted (no anon_vma) gets a fresh pgoff.
        var pgoff = v.pgoff &+ ((oldAddr - v.start.raw) >> PAGE_SHIFT)
        if v.vmaIsAnonymous && v.anonVMA == 0 { pgoff = newAddr >> PAGE_SHIFT }
        let p = VMAMergeState(start: VirtAddr(newAddr), end: VirtAddr(newAddr + newLen), flags: vmFlags, pgoff: pgoff,
                              file: v.file, anonVMA: v.anonVMA, special: v.special, shmemObject: v.shmemObject)
        if vmaMergeNewRange(mm, p) == nil {
            // copy_vma() → vm_area_dup().
            if !vmAreaAlloc(mm) {
                if vmFlags.contains(.account) && toAccount > 0 { vmUnacctMemory(pages: toAccount) }
                return .failure(.ENOMEM)
            }
            mm.vmas.insert(VMA(start: p.start, end: p.end, flags: vmFlags, pgoff: pgoff, file: v.file,
                               special: v.special, anonVMA: v.anonVMA, shmemObject: v.shmemObject))
        }
        var unmapStart = oldAddr, unmapLen = oldLen
        var failed = false
        if !movePageTables(mm, from: VirtAddr(oldAddr), to: VirtAddr(newAddr), length: oldLen) {
            // Move back what was moved and unmap the new area instead of the old one.
            _ = movePageTables(mm, from: VirtAddr(newAddr), to: VirtAddr(oldAddr), length: oldLen)
            unmapStart = newAddr
            unmapLen = newLen
            failed = true
            if vmFlags.contains(.account) && toAccount > 0 { vmUnacctMemory(pages: toAccount) }
        }
        guard let u = mm.vmas.lookupIndex(VirtAddr(unmapStart)) else { return .failure(.ENOMEM) }
        // Conceal VM_ACCOUNT so that unmapping does not undo the charge that moved along.
        var accountStart = false, accountEnd = false
        if vmFlags.contains(.account) && !dontUnmap {
            mm.vmas[u].flags.remove(.account)
            accountStart = mm.vmas[u].start.raw < unmapStart
            accountEnd = mm.vmas[u].end.raw > unmapStart + unmapLen
        }
        let hiwater = mm.hiwaterVM
        vmStatAccount(mm, vmFlags, Int(newLen >> PAGE_SHIFT))
        if !failed && dontUnmap {
            // The old range stays mapped but loses VM_LOCKED (its pages moved away).
            if vmFlags.intersects(VMFlags.lockedMask) {
                _ = mlockFixup(mm, u, VirtAddr(oldAddr), VirtAddr(oldAddr + oldLen), vmFlags.subtracting(VMFlags.lockedMask))
            }
            if vmFlags.contains(.locked) { mm.lockedVM += Int(newLen >> PAGE_SHIFT) }
            mm.updateHiwater()
            return .success(VirtAddr(newAddr))
        }
        if case .failure = doVmiAlignMunmap(mm, VirtAddr(unmapStart), VirtAddr(unmapStart + unmapLen)) {
            // Could not split (cannot happen below max_map_count - 3): keep the charge visible.
            if let k = mm.vmas.lookupIndex(VirtAddr(unmapStart)), vmFlags.contains(.account) { mm.vmas[k].flags.insert(.account) }
            accountStart = false
            accountEnd = false
        }
        if vmFlags.contains(.locked) { mm.lockedVM += Int(newLen >> PAGE_SHIFT) }
        mm.hiwaterVM = hiwater
        if accountStart, let k = mm.vmas.prevIndex(before: VirtAddr(unmapStart)) { mm.vmas[k].flags.insert(.account) }
        if accountEnd, let k = mm.vmas.lookupIndex(VirtAddr(unmapStart + unmapLen)) { mm.vmas[k].flags.insert(.account) }
        if failed { return .failure(.ENOMEM) }
        narrate("mremap: moved \(VirtAddr(oldAddr)) to \(VirtAddr(newAddr))")
        return .success(VirtAddr(newAddr))
    }

    /// The MREMAP_FIXED / MREMAP_DONTUNMAP path: checks the new range (EINVAL unaligned, beyond
    /// TASK_SIZE or overlapping the old one; ENOMEM near vm.max_map_count), unmaps what is at
    /// the new address (FIXED) and the tail of a shrinking old range, then moves.
    /// Linux: mremap_to(), mm/mremap.c
    func mremapTo(_ task: Task, _ mm: MMStruct, _ addr: UInt64, _ oldLen: UInt64, _ newAddr: UInt64,
                  _ newLen: UInt64, _ flags: MremapFlags) -> Result<VirtAddr, Errno> {
        if newAddr & ~PAGE_MASK != 0 { return .failure(.EINVAL) }
        if newLen > mm.taskSize || newAddr > mm.taskSize - newLen { return .failure(.EINVAL) }
        // The old and new ranges must not overlap.
        let (oldEnd, o) = addr.addingReportingOverflow(oldLen)
        if (o || oldEnd > newAddr) && newAddr + newLen > addr { return .failure(.EINVAL) }
        if mm.vmas.count + 2 >= sysctl.maxMapCount - 3 { return .failure(.ENOMEM) }
        var oldLen = oldLen
        if flags.contains(.fixed) {
            if case .failure(let e) = doMunmap(mm, newAddr, newLen) { return .failure(e) }
        }
        if oldLen > newLen {
            if case .failure(let e) = doMunmap(mm, addr + newLen, oldLen - newLen) { return .failure(e) }
            oldLen = newLen
        }
        let i: Int
        switch vmaToResize(mm, addr, oldLen, newLen, flags) {
        case .failure(let e): return .failure(e)
        case .success(let k): i = k
        }
        let v = mm.vmas[i]
        if flags.contains(.dontunmap) && !mayExpandVM(mm, v.flags, oldLen >> PAGE_SHIFT) { return .failure(.ENOMEM) }
        var mapFlags: MapFlags = flags.contains(.fixed) ? [.fixed] : []
        if v.flags.contains(.mayshare) { mapFlags.insert(.shared) }
        let pgoff = v.pgoff &+ ((addr - v.start.raw) >> PAGE_SHIFT)
        var target = newAddr
        switch getUnmappedArea(mm, file: v.file, addr: newAddr, len: newLen, pgoff: pgoff, flags: mapFlags) {
        case .failure(let e): return .failure(e)
        case .success(let a): if !flags.contains(.fixed) { target = a }
        }
        return moveVMA(task, mm, i, addr, oldLen, newLen, target, flags)
    }

    /// mremap(2): shrinks, grows in place, or (MREMAP_MAYMOVE) moves a mapping; returns its new
    /// address. EINVAL for unknown flags, FIXED without MAYMOVE, DONTUNMAP without MAYMOVE or
    /// with a size change, an unaligned old address, a zero new size or sizes that overflow;
    /// EFAULT when the old range is not within one VMA; ENOMEM when it cannot grow in place and
    /// may not move, or there is no room. Linux: SYSCALL_DEFINE5(mremap), mm/mremap.c
    public func mremap(_ task: Task, oldAddr: UInt64, oldSize: UInt64, newSize: UInt64, flags: MremapFlags,
                       newAddr: UInt64 = 0) -> Result<VirtAddr, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        defer { shmemReleaseUnused() }
        if flags.rawValue & ~UInt32(7) != 0 { return .failure(.EINVAL) }
        if flags.contains(.fixed) && !flags.contains(.maymove) { return .failure(.EINVAL) }
        if flags.contains(.dontunmap) && (!flags.contains(.maymove) || oldSize != newSize) { return .failure(.EINVAL) }
        if oldAddr & ~PAGE_MASK != 0 { return .failure(.EINVAL) }
        // PAGE_ALIGN of a size near 2^64 wraps to 0 in C; both cases end in EINVAL.
        guard let oldLen = pageAlignUp(oldSize) else { return .failure(.EINVAL) }
        guard let newLen = pageAlignUp(newSize), newLen != 0 else { return .failure(.EINVAL) }
        guard let vi = mm.vmas.lookupIndex(VirtAddr(oldAddr)) else { return .failure(.EFAULT) }
        // Moving hugetlb page tables (move_hugetlb_page_tables()) is not modelled.
        if mm.vmas[vi].hugetlbObject != 0 { return .failure(.EINVAL) }
        if flags.contains(.fixed) || flags.contains(.dontunmap) {
            return mremapTo(task, mm, oldAddr, oldLen, newAddr, newLen, flags)
        }
        // Always allow a shrinking remap: it just unmaps the tail.
        if oldLen >= newLen {
            if oldLen == newLen { return .success(VirtAddr(oldAddr)) }
            if case .failure(let e) = doMunmap(mm, oldAddr + newLen, oldLen - newLen) { return .failure(e) }
            narrate("mremap: shrunk \(VirtAddr(oldAddr)) to \(newLen) bytes")
            return .success(VirtAddr(oldAddr))
        }
        let i: Int
        switch vmaToResize(mm, oldAddr, oldLen, newLen, flags) {
        case .failure(let e): return .failure(e)
        case .success(let k): i = k
        }
        let v = mm.vmas[i]
        if oldLen == v.end.raw - oldAddr {
            let delta = newLen - oldLen
            if vmaExpandable(mm, i, delta) {
                let pages = delta >> PAGE_SHIFT
                var charged: UInt64 = 0
                if v.flags.contains(.account) {
                    if !securityVMEnoughMemory(mm, pages) { return .failure(.ENOMEM) }
                    charged = pages
                }
                // vma_merge_extend(): grow into the free space, maybe joining the next VMA.
                let p = VMAMergeState(v, start: v.end, end: VirtAddr(v.end.raw + delta), flags: v.flags)
                guard vmaMergeNewRange(mm, p) != nil else {
                    if charged > 0 { vmUnacctMemory(pages: Int(charged)) }
                    return .failure(.ENOMEM)
                }
                vmStatAccount(mm, v.flags, Int(pages))
                mm.updateHiwater()
                narrate("mremap: grew \(VirtAddr(oldAddr)) in place to \(newLen) bytes")
                if v.flags.contains(.locked) {
                    mm.lockedVM += Int(pages)
                    mmPopulate(task, VirtAddr(oldAddr + oldLen), VirtAddr(oldAddr + newLen))
                }
                return .success(VirtAddr(oldAddr))
            }
        }
        guard flags.contains(.maymove) else { return .failure(.ENOMEM) }
        let mapFlags: MapFlags = v.flags.contains(.mayshare) ? [.shared] : []
        let pgoff = v.pgoff &+ ((oldAddr - v.start.raw) >> PAGE_SHIFT)
        let target: UInt64
        switch getUnmappedArea(mm, file: v.file, addr: 0, len: newLen, pgoff: pgoff, flags: mapFlags) {
        case .failure(let e): return .failure(e)
        case .success(let a): target = a
        }
        let r = moveVMA(task, mm, i, oldAddr, oldLen, newLen, target, flags)
        if case .success(let a) = r, v.flags.contains(.locked) {
            mmPopulate(task, VirtAddr(a.raw + oldLen), VirtAddr(a.raw + newLen))
        }
        return r
    }
}
