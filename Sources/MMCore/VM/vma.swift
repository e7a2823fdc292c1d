/// VMA bookkeeping shared by every memory system call: statistics, merging, splitting,
/// unmapping and the mm invariants. Linux: mm/vma.c (and parts of mm/mmap.c before 6.11).
///
/// How merging is decided (Linux: is_mergeable_vma(), is_mergeable_anon_vma(),
/// can_vma_merge_before/after(), vma_merge_new_range(), vma_merge_existing_range()):
/// - flags equal, ignoring VM_SOFTDIRTY; nothing merges when VM_SPECIAL (IO, DONTEXPAND, PFNMAP,
///   MIXEDMAP) is set;
/// - same file (and, for shared anonymous memory, the same shmem object);
/// - anon_vmas compatible: equal, or at least one of them not yet allocated (id 0); when merging
///   with both neighbours, prev's and next's anon_vmas must also be compatible with each other;
/// - pgoff contiguous, for anonymous VMAs too (their pgoff is the start page at creation, so an
///   area moved by mremap keeps its old pgoff and does not merge with its new neighbours);
/// - the same `special` kind. [heap] and [stack] are not properties of a VMA in Linux:
///   show_map_vma() names a VMA [heap] when it overlaps [start_brk, brk] and [stack] when it
///   contains start_stack, so the brk area merges with an adjacent anonymous mmap of equal flags
///   (the merged VMA is then all shown as [heap]), while the stack never merges with anything
///   because VM_GROWSDOWN makes its flags differ. The VM code therefore never tags VMAs .heap or
///   .stack; renderers should use `MMStruct.vmaIsHeap` / `vmaIsInitialStack`. VMAs that someone
///   else tagged (vdso, vvar, vsyscall — VM_SPECIAL-like in Linux) merge only with the same tag.

/// `stack_guard_gap`: the gap kept below a VM_GROWSDOWN VMA, 256 pages = 1 MiB (mm/mmap.c).
public let STACK_GUARD_GAP: UInt64 = 256 << PAGE_SHIFT
/// `vm.mmap_min_addr`: the lowest address a non-root mmap may use; CONFIG_DEFAULT_MMAP_MIN_ADDR
/// is 65536 on x86 distribution kernels (security/min_addr.c).
public let MMAP_MIN_ADDR: UInt64 = 65536
/// `RLIM_INFINITY`.
public let RLIM_INFINITY: UInt64 = .max
/// `SZ_128M`: the smallest gap between mmap_base and the top of the address space.
public let MMAP_MIN_GAP: UInt64 = 128 << 20

extension VMFlags {
    /// `VM_SPECIAL`: flags of areas that never merge or get mlocked.
    public static let special: VMFlags = [.io, .dontexpand, .pfnmap, .mixedmap]
    /// `VM_DATA_DEFAULT_FLAGS` on x86-64 (no READ_IMPLIES_EXEC personality).
    public static let dataDefault: VMFlags = [.read, .write, .mayread, .maywrite, .mayexec]
    /// `VM_STACK_DEFAULT_FLAGS | VM_STACK_FLAGS` on x86-64: a growsdown, accounted rw data area.
    public static let stackDefault: VMFlags = [.read, .write, .mayread, .maywrite, .mayexec, .growsdown, .account]

    /// True when any flag of `other` is set.
    @inlinable public func intersects(_ other: VMFlags) -> Bool { !isDisjoint(with: other) }

    /// `is_exec_mapping()`: executable, neither writable nor a stack.
    public var isExecMapping: Bool { intersection([.exec, .write, .growsdown]) == .exec }
    /// `is_stack_mapping()`: VM_STACK (VM_GROWSDOWN on x86).
    public var isStackMapping: Bool { contains(.growsdown) }
    /// `is_data_mapping()`: private writable, not a stack.
    public var isDataMapping: Bool { intersection([.write, .shared, .growsdown]) == .write }
}

extension VMA {
    /// Start of the area including the guard gap below a stack (0 if that underflows).
    /// Linux: vm_start_gap(), include/linux/mm.h
    public var vmStartGap: UInt64 {
        guard flags.contains(.growsdown) else { return start.raw }
        return start.raw >= STACK_GUARD_GAP ? start.raw - STACK_GUARD_GAP : 0
    }
    /// End of the area including any guard gap above it (none on x86). Linux: vm_end_gap()
    public var vmEndGap: UInt64 { end.raw }
    /// True when any of read/write/exec is allowed. Linux: vma_is_accessible()
    public var isAccessible: Bool { !flags.accessBits.isEmpty }
    /// True for private anonymous memory (Linux: vma_is_anonymous(), i.e. no vm_ops; shared
    /// anonymous memory has shmem's vm_ops and is not anonymous in this sense).
    public var vmaIsAnonymous: Bool { file == nil && shmemObject == 0 && !flags.contains(.mayshare) }
}

/// The candidate area of a merge. Linux: struct vma_merge_struct, mm/vma.h
struct VMAMergeState {
    var start: VirtAddr
    var end: VirtAddr
    var flags: VMFlags
    var pgoff: UInt64
    var file: MappedFile?
    var anonVMA: UInt64
    var special: VMASpecial
    var shmemObject: UInt64
    var pages: UInt64 { (end.raw - start.raw) >> PAGE_SHIFT }

    init(start: VirtAddr, end: VirtAddr, flags: VMFlags, pgoff: UInt64, file: MappedFile?, anonVMA: UInt64 = 0,
         special: VMASpecial = .none, shmemObject: UInt64 = 0) {
        self.start = start; self.end = end; self.flags = flags; self.pgoff = pgoff; self.file = file
        self.anonVMA = anonVMA; self.special = special; self.shmemObject = shmemObject
    }
    /// The state describing [start, end) of `vma` with new flags.
    init(_ vma: VMA, start: VirtAddr, end: VirtAddr, flags: VMFlags) {
        self.init(start: start, end: end, flags: flags,
                  pgoff: vma.pgoff &+ ((start.raw &- vma.start.raw) >> PAGE_SHIFT), file: vma.file,
                  anonVMA: vma.anonVMA, special: vma.special, shmemObject: vma.shmemObject)
    }
}

/// True when `a` and `b` may share one VMA: equal, or one not yet allocated.
/// Linux: is_mergeable_anon_vma() / are_anon_vmas_compatible(), mm/vma.c
@inline(__always) func isMergeableAnonVMA(_ a: UInt64, _ b: UInt64) -> Bool { a == 0 || b == 0 || a == b }

/// The first non-zero anon_vma id of the list (the one a merged VMA keeps), or 0.
@inline(__always) func firstAnonVMA(_ ids: UInt64...) -> UInt64 { ids.first { $0 != 0 } ?? 0 }

/// True when `vma` and the proposed area agree on everything but position.
/// Linux: is_mergeable_vma(), mm/vma.c
func isMergeableVMA(_ vma: VMA, _ p: VMAMergeState) -> Bool {
    vma.flags.subtracting(.softdirty) == p.flags.subtracting(.softdirty)
        && vma.file == p.file && vma.shmemObject == p.shmemObject && vma.special == p.special
}

/// True when the proposed area may be appended to `prev`. Linux: can_vma_merge_after(), mm/vma.c
func canVMAMergeAfter(_ prev: VMA, _ p: VMAMergeState) -> Bool {
    prev.end == p.start && isMergeableVMA(prev, p) && isMergeableAnonVMA(prev.anonVMA, p.anonVMA)
        && prev.pgoff &+ UInt64(prev.pages) == p.pgoff
}

/// True when the proposed area may be prepended to `next`. Linux: can_vma_merge_before(), mm/vma.c
func canVMAMergeBefore(_ next: VMA, _ p: VMAMergeState) -> Bool {
    next.start == p.end && isMergeableVMA(next, p) && isMergeableAnonVMA(next.anonVMA, p.anonVMA)
        && next.pgoff == p.pgoff &+ p.pages
}

extension MMStruct {
    /// Number of VMAs (Linux: mm->map_count).
    public var mapCount: Int { vmas.count }

    /// True when maps shows `vma` as [heap]: it overlaps [start_brk, brk].
    /// Linux: show_map_vma() / vma_is_initial_heap(), fs/proc/task_mmu.c
    public func vmaIsHeap(_ vma: VMA) -> Bool {
        vma.start.raw <= brk && vma.end.raw >= startBrk && vma.file == nil
    }
    /// True when maps shows `vma` as [stack]: it contains start_stack.
    /// Linux: vma_is_initial_stack(), include/linux/mm.h
    public func vmaIsInitialStack(_ vma: VMA) -> Bool {
        vma.start.raw <= startStack && vma.end.raw >= startStack
    }

    /// Checks the VMA tree (sorted, disjoint, aligned) and that total_vm, data_vm, exec_vm,
    /// stack_vm and locked_vm equal the sums recomputed from the VMAs by vm_stat_account()'s
    /// rules, and that brk ≥ start_brk; returns the problems found (empty when all hold).
    public func invariantViolations() -> [String] {
        var out = vmas.invariantViolations()
        var total = 0, data = 0, exec = 0, stack = 0, locked = 0
        for v in vmas.vmas {
            total += v.pages
            if v.flags.isExecMapping { exec += v.pages } else if v.flags.isStackMapping { stack += v.pages } else if v.flags.isDataMapping { data += v.pages }
            if v.flags.contains(.locked) { locked += v.pages }
            if v.end.raw > taskSize { out.append("VMA \(v.start)-\(v.end) extends beyond TASK_SIZE") }
        }
        if total != totalVM { out.append("total_vm \(totalVM) != \(total) pages in VMAs") }
        if data != dataVM { out.append("data_vm \(dataVM) != \(data) pages in data VMAs") }
        if exec != execVM { out.append("exec_vm \(execVM) != \(exec) pages in exec VMAs") }
        if stack != stackVM { out.append("stack_vm \(stackVM) != \(stack) pages in stack VMAs") }
        if locked != lockedVM { out.append("locked_vm \(lockedVM) != \(locked) pages in VM_LOCKED VMAs") }
        if brk < startBrk { out.append("brk \(VirtAddr(brk)) below start_brk \(VirtAddr(startBrk))") }
        return out
    }
}

extension Kernel {
    /// Adds `npages` (negative to remove) to total_vm and to exec_vm, stack_vm or data_vm by the
    /// kind of `flags`. Linux: vm_stat_account(), mm/mmap.c
    public func vmStatAccount(_ mm: MMStruct, _ flags: VMFlags, _ npages: Int) {
        mm.totalVM += npages
        if flags.isExecMapping { mm.execVM += npages } else if flags.isStackMapping { mm.stackVM += npages } else if flags.isDataMapping { mm.dataVM += npages }
    }

    /// True when `npages` more pages of kind `flags` fit RLIMIT_AS and (for data) RLIMIT_DATA.
    /// Linux: may_expand_vm(), mm/mmap.c
    public func mayExpandVM(_ mm: MMStruct, _ flags: VMFlags, _ npages: UInt64) -> Bool {
        let total = UInt64(max(mm.totalVM, 0))
        if mm.asRlimit != RLIM_INFINITY {
            let (n, o) = total.addingReportingOverflow(npages)
            if o || n > mm.asRlimit >> PAGE_SHIFT { return false }
        }
        if flags.isDataMapping && mm.dataRlimit != RLIM_INFINITY {
            let (n, o) = UInt64(max(mm.dataVM, 0)).addingReportingOverflow(npages)
            // The Valgrind workaround (RLIMIT_DATA 0 allowed up to the hard limit) holds
            // trivially: the model has no separate hard limit, i.e. it is RLIM_INFINITY.
            if mm.dataRlimit == 0 { return true }
            if o || n > mm.dataRlimit >> PAGE_SHIFT { return false }
        }
        return true
    }

    /// True when the task owning `mm` is root (CAP_SYS_ADMIN, CAP_IPC_LOCK, CAP_SYS_RAWIO).
    func mmOwnerIsRoot(_ mm: MMStruct) -> Bool {
        if let c = current, c.mm === mm { return c.uid == 0 }
        return allTasks.first { $0.mm === mm }?.uid == 0
    }

    /// Charges `pages` to the commit accounting for `mm`; false when overcommit refuses.
    /// Linux: security_vm_enough_memory_mm(), include/linux/security.h
    func securityVMEnoughMemory(_ mm: MMStruct, _ pages: UInt64) -> Bool {
        guard pages > 0 else { return true }
        guard pages <= UInt64(Int.max) else { return false }
        return vmEnoughMemory(mm, pages: Int(pages), capSysAdmin: mmOwnerIsRoot(mm))
    }

    /// True when a VM_LOCKED area may grow by `bytes` within RLIMIT_MEMLOCK.
    /// Linux: mlock_future_ok(), mm/mmap.c
    func mlockFutureOK(_ mm: MMStruct, _ flags: VMFlags, _ bytes: UInt64) -> Bool {
        if !flags.contains(.locked) || mmOwnerIsRoot(mm) { return true }
        let (n, o) = (bytes >> PAGE_SHIFT).addingReportingOverflow(UInt64(max(mm.lockedVM, 0)))
        return !o && n <= mm.memlockRlimit >> PAGE_SHIFT
    }

    /// Gives the VMA containing `addr` an anon_vma if it has none, reusing a neighbour's when
    /// the two could merge; returns the id, or nil when no VMA contains `addr`.
    /// Linux: anon_vma_prepare() / find_mergeable_anon_vma(), mm/rmap.c
    @discardableResult
    public func anonVMAPrepare(_ mm: MMStruct, _ addr: VirtAddr) -> UInt64? {
        guard let i = mm.lookupIndexCached(addr) else { return nil }
        let known = mm.vmas.vmas[i].anonVMA
        if known != 0 { return known }
        let v = mm.vmas[i]
        // reusable_anon_vma(): an adjacent VMA that differs at most in access bits and softdirty.
        func compatible(_ a: VMA, _ b: VMA) -> Bool {
            a.end == b.start && a.file == b.file && a.shmemObject == b.shmemObject
                && a.flags.symmetricDifference(b.flags).subtracting([.read, .write, .exec, .softdirty]).isEmpty
                && a.pgoff &+ UInt64(a.pages) == b.pgoff
        }
        var id: UInt64 = 0
        if i + 1 < mm.vmas.count, compatible(v, mm.vmas[i + 1]), mm.vmas[i + 1].anonVMA != 0 { id = mm.vmas[i + 1].anonVMA }
        if id == 0, i > 0, compatible(mm.vmas[i - 1], v), mm.vmas[i - 1].anonVMA != 0 { id = mm.vmas[i - 1].anonVMA }
        if id == 0 {
            // anon_vma_alloc(): a failure is the fault's VM_FAULT_OOM.
            if !anonVMAAlloc(mm, mm.nextAnonVMA) { return nil }
            id = mm.nextAnonVMA; mm.nextAnonVMA += 1
        }
        mm.vmas[i].anonVMA = id
        return id
    }

    /// Merges the free range `p` into its neighbours if Linux would; returns the index of the
    /// VMA that now covers it, or nil when no merge is possible (the tree is then unchanged).
    /// `justExpand` only tries the previous VMA (brk). Linux: vma_merge_new_range(), mm/vma.c
    @discardableResult
    func vmaMergeNewRange(_ mm: MMStruct, _ p: VMAMergeState, justExpand: Bool = false) -> Int? {
        if p.flags.intersects(.special) { return nil }
        var prevI = mm.vmas.prevIndex(before: p.start)
        if let i = prevI, mm.vmas[i].end != p.start { prevI = nil }
        var nextI = mm.vmas.findVMAIndex(p.start)
        if let i = nextI, mm.vmas[i].start != p.end { nextI = nil }
        let canLeft = prevI.map { canVMAMergeAfter(mm.vmas[$0], p) } ?? false
        var canRight = !justExpand && (nextI.map { canVMAMergeBefore(mm.vmas[$0], p) } ?? false)
        if canLeft && canRight, let a = prevI, let b = nextI,
           !isMergeableAnonVMA(mm.vmas[a].anonVMA, mm.vmas[b].anonVMA) {
            canRight = false
        }
        switch (canLeft, canRight) {
        case (true, true):
            let a = prevI!, b = nextI!
            var v = mm.vmas[a]
            v.end = mm.vmas[b].end
            v.anonVMA = firstAnonVMA(v.anonVMA, mm.vmas[b].anonVMA, p.anonVMA)
            mm.vmas[a] = v
            mm.vmas.remove(at: b)
            vmAreaFree(mm)
            return a
        case (true, false):
            let a = prevI!
            mm.vmas[a].end = p.end
            mm.vmas[a].anonVMA = firstAnonVMA(mm.vmas[a].anonVMA, p.anonVMA)
            return a
        case (false, true):
            let b = nextI!
            mm.vmas[b].start = p.start
            mm.vmas[b].pgoff = p.pgoff
            mm.vmas[b].anonVMA = firstAnonVMA(mm.vmas[b].anonVMA, p.anonVMA)
            return b
        case (false, false):
            return nil
        }
    }

    /// Merges [start, end) of the VMA at `index`, given new flags, into prev and/or next if Linux
    /// would; returns the index of the VMA that now covers the range, or nil when no merge is
    /// possible (the tree is then unchanged). Linux: vma_merge_existing_range(), mm/vma.c
    func vmaMergeExistingRange(_ mm: MMStruct, _ index: Int, _ start: VirtAddr, _ end: VirtAddr, _ newFlags: VMFlags) -> Int? {
        let mid = mm.vmas[index]
        let p = VMAMergeState(mid, start: start, end: end, flags: newFlags)
        let leftSide = start == mid.start, rightSide = end == mid.end
        if newFlags.intersects(.special) || (!leftSide && !rightSide) { return nil }
        let prevI: Int? = index > 0 ? index - 1 : nil
        let nextI: Int? = index + 1 < mm.vmas.count ? index + 1 : nil
        let mergeLeft = leftSide && (prevI.map { canVMAMergeAfter(mm.vmas[$0], p) } ?? false)
        var mergeRight = rightSide && (nextI.map { canVMAMergeBefore(mm.vmas[$0], p) } ?? false)
        if mergeLeft && mergeRight && !isMergeableAnonVMA(mm.vmas[prevI!].anonVMA, mm.vmas[nextI!].anonVMA) {
            mergeRight = false
        }
        switch (mergeLeft, mergeRight) {
        case (true, true):
            let a = prevI!, b = nextI!
            mm.vmas[a].end = mm.vmas[b].end
            mm.vmas[a].anonVMA = firstAnonVMA(mm.vmas[a].anonVMA, mid.anonVMA, mm.vmas[b].anonVMA)
            mm.vmas.removeSubrange(index..<(b + 1))
            vmAreaFree(mm, count: 2)
            return a
        case (true, false):
            let a = prevI!
            mm.vmas[a].end = end
            mm.vmas[a].anonVMA = firstAnonVMA(mm.vmas[a].anonVMA, mid.anonVMA)
            if end == mid.end {
                mm.vmas.remove(at: index)
                vmAreaFree(mm)
            } else {
                mm.vmas[index].start = end
                mm.vmas[index].pgoff = mid.pgoff &+ ((end.raw - mid.start.raw) >> PAGE_SHIFT)
            }
            return a
        case (false, true):
            let b = nextI!
            mm.vmas[b].start = start
            mm.vmas[b].pgoff = p.pgoff
            mm.vmas[b].anonVMA = firstAnonVMA(mm.vmas[b].anonVMA, mid.anonVMA)
            if start == mid.start {
                mm.vmas.remove(at: index)
                vmAreaFree(mm)
                return b - 1
            }
            mm.vmas[index].end = start
            return b
        case (false, false):
            return nil
        }
    }

    /// Splits the VMA at `index` at `addr` into two VMAs with the same backing (the new one's
    /// vm_area_struct from vm_area_dup()); ENOMEM when `checkMapCount` is set and the mm already
    /// has vm.max_map_count VMAs, or when the object cannot be allocated.
    /// Linux: split_vma() / __split_vma(), mm/vma.c
    func splitVMA(_ mm: MMStruct, _ index: Int, _ addr: VirtAddr, checkMapCount: Bool = true) -> Result<Void, Errno> {
        if checkMapCount && mm.vmas.count >= sysctl.maxMapCount { return .failure(.ENOMEM) }
        if !vmAreaAlloc(mm) { return .failure(.ENOMEM) }
        let v = mm.vmas[index]
        precondition(v.start < addr && addr < v.end && addr.isPageAligned, "split outside the VMA")
        // hugetlb_vm_op_split(): a hugetlb VMA splits only at a huge page boundary.
        if let o = hugetlb.objects[v.hugetlbObject], addr.raw & (hugetlb.hstates[o.h].size - 1) != 0 {
            vmAreaFree(mm)
            return .failure(.EINVAL)
        }
        // vma_adjust_trans_huge(): a huge PMD cannot straddle two VMAs.
        splitHugePMDBoundaries(mm, addr, addr)
        var lo = v, hi = v
        lo.end = addr
        hi.start = addr
        hi.pgoff = v.pgoff &+ ((addr.raw - v.start.raw) >> PAGE_SHIFT)
        mm.vmas[index] = lo
        mm.vmas.insert(hi)
        return .success(())
    }

    /// Gives [start, end) of the VMA at `index` the flags `newFlags`, merging with a neighbour
    /// when possible and splitting otherwise; returns the index of the VMA now covering exactly
    /// or including the range, or ENOMEM when a split would exceed vm.max_map_count.
    /// Linux: vma_modify_flags() / vma_modify(), mm/vma.c
    func vmaModifyFlags(_ mm: MMStruct, _ index: Int, _ start: VirtAddr, _ end: VirtAddr, _ newFlags: VMFlags) -> Result<Int, Errno> {
        if let m = vmaMergeExistingRange(mm, index, start, end, newFlags) {
            mm.vmas[m].flags = newFlags
            return .success(m)
        }
        var i = index
        if mm.vmas[i].start < start {
            if case .failure(let e) = splitVMA(mm, i, start) { return .failure(e) }
            i += 1
        }
        if mm.vmas[i].end > end {
            if case .failure(let e) = splitVMA(mm, i, end) { return .failure(e) }
        }
        mm.vmas[i].flags = newFlags
        return .success(i)
    }

    /// Unmaps the page-aligned range [start, end): splits the VMAs at both ends, zaps their
    /// pages, frees unused page tables and updates the counters; `unacct` false keeps the
    /// commit charge of VM_ACCOUNT areas (MAP_FIXED over an accountable mapping). Returns the
    /// number of VM_ACCOUNT pages removed, or ENOMEM when the split in the middle of one VMA
    /// would exceed vm.max_map_count. Linux: do_vmi_align_munmap(), mm/vma.c
    @discardableResult
    func doVmiAlignMunmap(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, unacct: Bool = true) -> Result<Int, Errno> {
        let r = mm.vmas.overlapping(start, end)
        if r.isEmpty { return .success(0) }
        splitHugePMDsForUnmap(mm, start, end)
        var first = r.lowerBound
        let v = mm.vmas[first]
        if start > v.start {
            // munmap may leave map_count just above the limit, but not split one VMA in three.
            if end < v.end && mm.vmas.count >= sysctl.maxMapCount { return .failure(.ENOMEM) }
            if case .failure(let e) = splitVMA(mm, first, start, checkMapCount: false) { return .failure(e) }
            first += 1
        }
        var last = first
        while last < mm.vmas.count && mm.vmas[last].start < end { last += 1 }
        if mm.vmas[last - 1].end > end {
            if case .failure(let e) = splitVMA(mm, last - 1, end, checkMapCount: false) { return .failure(e) }
        }
        mm.updateHiwater()
        for i in first..<last { zapPageRange(mm, mm.vmas[i].start, mm.vmas[i].end) }
        var accounted = 0
        for i in first..<last {
            let u = mm.vmas[i]
            vmStatAccount(mm, u.flags, -u.pages)
            if u.flags.contains(.locked) { mm.lockedVM -= u.pages }
            if u.flags.contains(.account) { accounted += u.pages }
        }
        narrate("munmap \(start)-\(end): \(last - first) VMA(s) removed")
        mm.vmas.removeSubrange(first..<last)
        vmAreaFree(mm, count: last - first)
        unlinkAnonVMAs(mm)
        let floor = first > 0 ? mm.vmas[first - 1].end : VirtAddr(0)
        let ceiling = first < mm.vmas.count ? mm.vmas[first].start : VirtAddr(mm.taskSize &+ PAGE_SIZE)
        freePgtables(mm, floor: floor, ceiling: ceiling)
        if unacct && accounted > 0 { vmUnacctMemory(pages: accounted) }
        return .success(accounted)
    }

    /// Unmaps [start, start+len) after Linux's checks: EINVAL for an unaligned start, a zero
    /// length or a range beyond TASK_SIZE; ENOMEM when a split would exceed vm.max_map_count.
    /// Linux: do_munmap() / do_vmi_munmap(), mm/mmap.c
    public func doMunmap(_ mm: MMStruct, _ start: UInt64, _ len: UInt64) -> Result<Void, Errno> {
        if start & ~PAGE_MASK != 0 || start > mm.taskSize || len > mm.taskSize - start { return .failure(.EINVAL) }
        guard let alen = pageAlignUp(len), alen != 0 else { return .failure(.EINVAL) }
        switch doVmiAlignMunmap(mm, VirtAddr(start), VirtAddr(start + alen)) {
        case .success: return .success(())
        case .failure(let e): return .failure(e)
        }
    }

    /// munmap(2): removes the mappings in [addr, addr+length); success also when nothing was
    /// mapped there. EINVAL/ENOMEM as `doMunmap`. Linux: __vm_munmap(), mm/mmap.c
    public func munmap(_ task: Task, addr: UInt64, length: UInt64) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        defer { shmemReleaseUnused() }
        return doMunmap(mm, addr, length)
    }

    /// Inserts a ready-made VMA (exec's stack, vdso, program segments) that overlaps nothing,
    /// accounting it like mmap does (vm_stat_account, locked_vm, commit charge for VM_ACCOUNT);
    /// ENOMEM when it overlaps an existing VMA, lies outside [0, TASK_SIZE) or the charge is
    /// refused. Anonymous VMAs get pgoff = start >> PAGE_SHIFT. Linux: insert_vm_struct(), mm/mmap.c
    public func insertVMA(_ mm: MMStruct, _ vma: VMA) -> Result<Void, Errno> {
        guard vma.start < vma.end, vma.start.isPageAligned, vma.end.isPageAligned, vma.end.raw <= mm.taskSize,
              mm.vmas.overlapping(vma.start, vma.end).isEmpty else { return .failure(.ENOMEM) }
        var v = vma
        if v.vmaIsAnonymous { v.pgoff = v.start.raw >> PAGE_SHIFT }
        if v.flags.contains(.account) && !securityVMEnoughMemory(mm, UInt64(v.pages)) { return .failure(.ENOMEM) }
        if !vmAreaAlloc(mm) {
            if v.flags.contains(.account) { vmUnacctMemory(pages: v.pages) }
            return .failure(.ENOMEM)
        }
        if !anonVMAAlloc(mm, v.anonVMA) {
            vmAreaFree(mm)
            if v.flags.contains(.account) { vmUnacctMemory(pages: v.pages) }
            return .failure(.ENOMEM)
        }
        mm.vmas.insert(v)
        vmStatAccount(mm, v.flags, v.pages)
        if v.flags.contains(.locked) { mm.lockedVM += v.pages }
        return .success(())
    }
}
