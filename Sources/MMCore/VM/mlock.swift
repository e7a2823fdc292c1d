/// mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2). Linux: mm/mlock.c
///
/// The VMA side (VM_LOCKED / VM_LOCKONFAULT, split and merge, locked_vm) is done here; the
/// pages are faulted in through `populateRange`. Marking pages PG_mlocked / unevictable is the
/// page side's business (the populate and zap hooks see the VMA flags).

/// `MCL_*` flags of mlockall(2).
public struct MlockallFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let current = MlockallFlags(rawValue: 1)
    public static let future = MlockallFlags(rawValue: 2)
    public static let onfault = MlockallFlags(rawValue: 4)
}

extension Kernel {
    /// Sets the lock flags of [start, end) of the VMA at `index` (skipping VM_SPECIAL and
    /// hugetlb areas) and updates locked_vm; returns the index of the VMA now covering the range,
    /// or ENOMEM when a split would exceed vm.max_map_count. Linux: mlock_fixup(), mm/mlock.c
    func mlockFixup(_ mm: MMStruct, _ index: Int, _ start: VirtAddr, _ end: VirtAddr, _ newFlags: VMFlags) -> Result<Int, Errno> {
        let oldFlags = mm.vmas[index].flags
        if newFlags == oldFlags || oldFlags.intersects(.special) || oldFlags.contains(.hugetlb) { return .success(index) }
        switch vmaModifyFlags(mm, index, start, end, newFlags) {
        case .failure(let e): return .failure(e)
        case .success(let j):
            var n = Int((end.raw - start.raw) >> PAGE_SHIFT)
            if !newFlags.contains(.locked) { n = -n } else if oldFlags.contains(.locked) { n = 0 }
            mm.lockedVM += n
            if newFlags.contains(.locked) != oldFlags.contains(.locked) {
                mlockPageRange(mm, start, end, lock: newFlags.contains(.locked))
            }
            return .success(j)
        }
    }

    /// Replaces the lock flags of every VMA piece in the page-aligned [start, start+len) with
    /// `flags`; ENOMEM when the range is not fully mapped (pieces before the hole keep the
    /// change), EINVAL on overflow. Linux: apply_vma_lock_flags(), mm/mlock.c
    func applyVMALockFlags(_ mm: MMStruct, _ start: UInt64, _ len: UInt64, _ flags: VMFlags) -> Result<Void, Errno> {
        let (endRaw, o) = start.addingReportingOverflow(len)
        if o { return .failure(.EINVAL) }
        if endRaw == start { return .success(()) }
        let end = VirtAddr(endRaw)
        guard var i = mm.vmas.lookupIndex(VirtAddr(start)) else { return .failure(.ENOMEM) }
        var nstart = VirtAddr(start)
        var tmp = mm.vmas[i].start
        while i < mm.vmas.count && mm.vmas[i].start < end {
            let v = mm.vmas[i]
            if v.start != tmp { return .failure(.ENOMEM) }
            let newFlags = v.flags.subtracting(VMFlags.lockedMask).union(flags)
            tmp = min(v.end, end)
            switch mlockFixup(mm, i, nstart, tmp, newFlags) {
            case .failure(let e): return .failure(e)
            case .success(let j):
                tmp = mm.vmas[j].end
                nstart = tmp
                i = j + 1
            }
        }
        if tmp < end { return .failure(.ENOMEM) }
        return .success(())
    }

    /// Pages of VM_LOCKED VMAs inside [start, start+len). Linux: count_mm_mlocked_page_nr(), mm/mlock.c
    func countMMMlockedPageNr(_ mm: MMStruct, _ start: UInt64, _ len: UInt64) -> UInt64 {
        let end = start.addingReportingOverflow(len).overflow ? UInt64.max : start + len
        var count: UInt64 = 0
        for i in mm.vmas.overlapping(VirtAddr(start), VirtAddr(end)) where mm.vmas[i].flags.contains(.locked) {
            let v = mm.vmas[i]
            count += min(end, v.end.raw) - max(start, v.start.raw)
        }
        return count >> PAGE_SHIFT
    }

    /// Locks [addr, addr+length) (rounded out to pages) with `vmFlags`, then faults it in.
    /// EPERM when RLIMIT_MEMLOCK is 0 for non-root, ENOMEM over the limit or on a hole, EAGAIN
    /// when faulting in ran out of memory. Linux: do_mlock(), mm/mlock.c
    func doMlock(_ task: Task, _ addr: UInt64, _ length: UInt64, _ vmFlags: VMFlags) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        if !canDoMlock(task) { return .failure(.EPERM) }
        // PAGE_ALIGN(len + offset_in_page(start)) wraps in C for lengths near 2^64; the model
        // rejects such a range with EINVAL instead of treating it as empty.
        let (withOffset, o) = length.addingReportingOverflow(addr & ~PAGE_MASK)
        guard !o, let len = pageAlignUp(withOffset) else { return .failure(.EINVAL) }
        let start = addr & PAGE_MASK
        let root = task.uid == 0
        let lockLimit = mm.memlockRlimit >> PAGE_SHIFT
        var locked = (len >> PAGE_SHIFT) + UInt64(max(mm.lockedVM, 0))
        if locked > lockLimit && !root {
            // Pages already locked in the range do not count twice.
            locked -= countMMMlockedPageNr(mm, start, len)
        }
        guard locked <= lockLimit || root else { return .failure(.ENOMEM) }
        if case .failure(let e) = applyVMALockFlags(mm, start, len, vmFlags) { return .failure(e) }
        narrate("mlock \(VirtAddr(start))-\(VirtAddr(start + len))")
        // __mlock_posix_error_return(): ENOMEM while faulting in becomes EAGAIN.
        if case .failure(let e) = mmPopulate(task, VirtAddr(start), VirtAddr(start + len)) {
            return .failure(e == .ENOMEM ? .EAGAIN : (e == .EFAULT ? .ENOMEM : e))
        }
        return .success(())
    }

    /// mlock(2) / mlock2(2): locks and faults in [addr, addr+length) (VM_LOCKONFAULT with
    /// MLOCK_ONFAULT: lock only what gets faulted later). EINVAL for unknown flags, otherwise as
    /// `doMlock`. Linux: do_mlock(), mm/mlock.c
    public func mlock(_ task: Task, addr: UInt64, length: UInt64, flags: MlockFlags = []) -> Result<Void, Errno> {
        if flags.rawValue & ~MlockFlags.onfault.rawValue != 0 { return .failure(.EINVAL) }
        var vmFlags: VMFlags = [.locked]
        if flags.contains(.onfault) { vmFlags.insert(.lockonfault) }
        return doMlock(task, addr, length, vmFlags)
    }

    /// munlock(2): clears VM_LOCKED / VM_LOCKONFAULT on [addr, addr+length); ENOMEM on a hole,
    /// EINVAL on overflow. Linux: SYSCALL_DEFINE2(munlock), mm/mlock.c
    public func munlock(_ task: Task, addr: UInt64, length: UInt64) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        let (withOffset, o) = length.addingReportingOverflow(addr & ~PAGE_MASK)
        guard !o, let len = pageAlignUp(withOffset) else { return .failure(.EINVAL) }
        return applyVMALockFlags(mm, addr & PAGE_MASK, len, [])
    }

    /// Sets mm.def_flags for MCL_FUTURE and the lock flags of every VMA for MCL_CURRENT (errors
    /// on single VMAs are ignored, as in Linux). Linux: apply_mlockall_flags(), mm/mlock.c
    func applyMlockallFlags(_ mm: MMStruct, _ flags: MlockallFlags) {
        mm.defFlags.subtract(VMFlags.lockedMask)
        if flags.contains(.future) {
            mm.defFlags.insert(.locked)
            if flags.contains(.onfault) { mm.defFlags.insert(.lockonfault) }
            if !flags.contains(.current) { return }
        }
        var toAdd: VMFlags = []
        if flags.contains(.current) {
            toAdd.insert(.locked)
            if flags.contains(.onfault) { toAdd.insert(.lockonfault) }
        }
        var cursor = VirtAddr(0)
        while let i = mm.vmas.findVMAIndex(cursor) {
            let v = mm.vmas[i]
            let newFlags = v.flags.subtracting(VMFlags.lockedMask).union(toAdd)
            var j = i
            if case .success(let k) = mlockFixup(mm, i, v.start, v.end, newFlags) { j = k }
            cursor = mm.vmas[j].end
        }
    }

    /// mlockall(2): EINVAL for no, unknown or only MCL_ONFAULT flags, EPERM when RLIMIT_MEMLOCK
    /// is 0 for non-root, ENOMEM when MCL_CURRENT and total_vm exceeds RLIMIT_MEMLOCK (non-root).
    /// MCL_CURRENT faults everything in (errors ignored). Linux: SYSCALL_DEFINE1(mlockall), mm/mlock.c
    public func mlockall(_ task: Task, flags: MlockallFlags) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        if flags.isEmpty || flags.rawValue & ~UInt32(7) != 0 || flags == .onfault { return .failure(.EINVAL) }
        if !canDoMlock(task) { return .failure(.EPERM) }
        let lockLimit = mm.memlockRlimit >> PAGE_SHIFT
        guard !flags.contains(.current) || UInt64(max(mm.totalVM, 0)) <= lockLimit || task.uid == 0 else {
            return .failure(.ENOMEM)
        }
        applyMlockallFlags(mm, flags)
        if flags.contains(.current) { mmPopulate(task, VirtAddr(0), VirtAddr(mm.taskSize)) }
        return .success(())
    }

    /// munlockall(2): clears the lock flags of every VMA and of mm.def_flags; always succeeds.
    /// Linux: SYSCALL_DEFINE0(munlockall), mm/mlock.c
    public func munlockall(_ task: Task) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        applyMlockallFlags(mm, [])
        return .success(())
    }
}
