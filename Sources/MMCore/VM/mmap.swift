/// The address-space layout, get_unmapped_area, mmap(2), brk(2) and stack growth.
/// Linux: mm/mmap.c, mm/vma.c, arch/x86/mm/mmap.c, arch/x86/kernel/sys_x86_64.c
///
/// Modelled kernel: x86-64 with 4-level paging, ASLR off (as under `setarch -R`), no THP
/// alignment of large anonymous mappings (kernels before 6.7 or with THP disabled: this is
/// what makes a new anonymous mapping merge with the one above it, as in the seed material's
/// 100 MiB example), vm.mmap_min_addr = 65536, no hugetlb pages reserved.

extension Kernel {
    /// getpagesize(2): the base page size in bytes. Linux: SYSCALL_DEFINE0(getpagesize), kernel/sys.c
    public func getpagesize() -> Int { Int(PAGE_SIZE) }

    /// Sets up the user layout of a new mm: top-down from mmap_base below the stack gap, or
    /// bottom-up from TASK_UNMAPPED_BASE when `mm.legacyVALayout` is set.
    /// Linux: arch_pick_mmap_layout() / arch_pick_mmap_base(), arch/x86/mm/mmap.c
    /// With `randomize` (PF_RANDOMIZE, set by exec when kernel.randomize_va_space is non-zero) both
    /// bases move down by arch_mmap_rnd() and the gap includes the stack's random range.
    public func archPickMmapLayout(_ mm: MMStruct, randomize: Bool = false) {
        // __TASK_UNMAPPED_BASE(task_size) = PAGE_ALIGN(task_size / 3); mmap_legacy_base adds the
        // random factor, which is 0 with ASLR off.
        let rnd = randomize ? archMmapRnd() : 0
        mm.mmapLegacyBase = (pageAlignUp(mm.mapWindow / 3) ?? 0) &+ rnd
        if mm.legacyVALayout {
            mm.topDown = false
            mm.mmapBase = mm.mmapLegacyBase
        } else {
            mm.topDown = true
            mm.mmapBase = Kernel.mmapBase(taskSize: mm.mapWindow, stackRlimit: mm.stackRlimit, randomize: randomize, rnd: rnd)
        }
        narrate("mmap layout: \(mm.topDown ? "top-down" : "legacy bottom-up"), mmap_base \(VirtAddr(mm.mmapBase))")
    }

    /// The top of the top-down mmap area: PAGE_ALIGN(TASK_SIZE − gap), where gap is the stack
    /// rlimit plus the pad (stack_guard_gap + stack_maxrandom_size(), the latter 0 with ASLR off
    /// because PF_RANDOMIZE is clear) clamped to [128 MiB, TASK_SIZE/6*5]; a pad that would
    /// overflow (rlimit near RLIM_INFINITY) is not added. Linux: mmap_base(), arch/x86/mm/mmap.c
    /// With `randomize` the pad includes stack_maxrandom_size() and `rnd` is subtracted too.
    public static func mmapBase(taskSize: UInt64, stackRlimit: UInt64, randomize: Bool = false, rnd: UInt64 = 0) -> UInt64 {
        var gap = stackRlimit
        let pad: UInt64 = (randomize ? STACK_MAXRANDOM_SIZE : 0) + STACK_GUARD_GAP
        let (padded, o) = gap.addingReportingOverflow(pad)
        if !o && padded > gap { gap = padded }
        gap = min(max(gap, MMAP_MIN_GAP), taskSize / 6 * 5)
        return pageAlignUp(taskSize - gap &- rnd) ?? 0
    }

    /// Finds the highest free range of `length` bytes within [low, high) that keeps the stack
    /// guard gap below a VM_GROWSDOWN VMA above it; returns its start, or nil.
    /// Linux: unmapped_area_topdown(), mm/vma.c
    func unmappedAreaTopdown(_ mm: MMStruct, length: UInt64, low: UInt64, high: UInt64) -> UInt64? {
        let low = max(low, MMAP_MIN_ADDR)
        var high = high
        let vmas = mm.vmas.vmas
        while true {
            guard high > low, high - low >= length else { return nil }
            // Gap i lies between vmas[i-1] and vmas[i]; gaps above `high` are empty once clipped.
            var i = mm.vmas.findVMAIndex(VirtAddr(high)) ?? vmas.count
            var found: (end: UInt64, next: Int?)? = nil
            while true {
                let gs = i > 0 ? vmas[i - 1].end.raw : 0
                let ge = i < vmas.count ? vmas[i].start.raw : UInt64.max
                let s = max(gs, low), e = min(ge, high)
                if e > s && e - s >= length { found = (e, i < vmas.count ? i : nil); break }
                if gs <= low || i == 0 { break }
                i -= 1
            }
            guard let f = found else { return nil }
            if let n = f.next, vmas[n].flags.contains(.growsdown), vmas[n].vmStartGap < f.end {
                high = vmas[n].vmStartGap
                continue
            }
            return f.end - length
        }
    }

    /// Finds the lowest free range of `length` bytes within [low, high) that keeps the stack
    /// guard gap below a VM_GROWSDOWN VMA above it; returns its start, or nil.
    /// Linux: unmapped_area(), mm/vma.c
    func unmappedArea(_ mm: MMStruct, length: UInt64, low: UInt64, high: UInt64) -> UInt64? {
        var low = max(low, MMAP_MIN_ADDR)
        let vmas = mm.vmas.vmas
        while true {
            guard high > low, high - low >= length else { return nil }
            var i = mm.vmas.findVMAIndex(VirtAddr(low)) ?? vmas.count
            var found: (start: UInt64, next: Int?)? = nil
            while true {
                let gs = i > 0 ? vmas[i - 1].end.raw : 0
                let ge = i < vmas.count ? vmas[i].start.raw : UInt64.max
                let s = max(gs, low), e = min(ge, high)
                if e > s && e - s >= length { found = (s, i < vmas.count ? i : nil); break }
                if ge >= high || i >= vmas.count { break }
                i += 1
            }
            guard let f = found else { return nil }
            if let n = f.next, vmas[n].flags.contains(.growsdown), vmas[n].vmStartGap < f.start + length - 1 {
                low = vmas[n].end.raw
                continue
            }
            return f.start
        }
    }

    /// True when a hint range [addr, addr+len) lies below TASK_SIZE (and, with 5-level paging,
    /// on one side of the 47-bit window; always so here). Linux: mmap_address_hint_valid(),
    /// arch/x86/kernel/sys_x86_64.c
    func mmapAddressHintValid(_ mm: MMStruct, _ addr: UInt64, _ len: UInt64) -> Bool {
        mm.taskSize - len >= addr
    }

    /// Bottom-up search: the hint if [hint, hint+len) is free, else the lowest free range above
    /// mmap_legacy_base; ENOMEM when none. Linux: arch_get_unmapped_area(), arch/x86/kernel/sys_x86_64.c
    func archGetUnmappedArea(_ mm: MMStruct, _ addr: UInt64, _ len: UInt64, _ flags: MapFlags) -> Result<UInt64, Errno> {
        if flags.contains(.fixed) { return .success(addr) }
        // mmap_end: DEFAULT_MAP_WINDOW unless the hint lies above it (LA57, Sv57). Linux: arch_get_mmap_end()
        let begin = mm.mmapLegacyBase, end = addr > mm.mapWindow ? mm.taskSize : mm.mapWindow
        if len > end { return .failure(.ENOMEM) }
        if addr != 0, let a = pageAlignUp(addr), a != 0, end - len >= a {
            if let v = mm.vmas.findVMA(VirtAddr(a)) {
                if a + len <= v.vmStartGap { return .success(a) }
            } else {
                return .success(a)
            }
        }
        guard let g = unmappedArea(mm, length: len, low: begin, high: end) else { return .failure(.ENOMEM) }
        return .success(g)
    }

    /// Top-down search: the hint if [hint, hint+len) is free, else the highest free range below
    /// mmap_base, falling back to a bottom-up search. Linux: arch_get_unmapped_area_topdown(),
    /// arch/x86/kernel/sys_x86_64.c
    func archGetUnmappedAreaTopdown(_ mm: MMStruct, _ addr: UInt64, _ len: UInt64, _ flags: MapFlags) -> Result<UInt64, Errno> {
        if len > mm.taskSize { return .failure(.ENOMEM) }
        if flags.contains(.fixed) { return .success(addr) }
        if addr != 0 {
            let a = addr & PAGE_MASK
            if mmapAddressHintValid(mm, a, len) {
                if let v = mm.vmas.findVMA(VirtAddr(a)) {
                    if a + len <= v.vmStartGap { return .success(a) }
                } else {
                    return .success(a)
                }
            }
        }
        // info.low_limit = PAGE_SIZE (raised to mmap_min_addr), info.high_limit = mmap_base.
        if let g = unmappedAreaTopdown(mm, length: len, low: PAGE_SIZE, high: mm.mmapBase) { return .success(g) }
        // A failed mmap() very likely kills the program: fall back to bottom-up.
        return archGetUnmappedArea(mm, 0, len, [])
    }

    /// Chooses (or, for MAP_FIXED, checks) where a mapping of `len` bytes goes; returns the
    /// address, ENOMEM when it does not fit below TASK_SIZE and EINVAL for an unaligned
    /// MAP_FIXED address. Linux: __get_unmapped_area(), mm/mmap.c
    public func getUnmappedArea(_ mm: MMStruct, file: MappedFile?, addr: UInt64, len: UInt64, pgoff: UInt64,
                                flags: MapFlags) -> Result<UInt64, Errno> {
        if len > mm.taskSize { return .failure(.ENOMEM) }
        let r = mm.topDown ? archGetUnmappedAreaTopdown(mm, addr, len, flags) : archGetUnmappedArea(mm, addr, len, flags)
        guard case .success(let a) = r else { return r }
        if a > mm.taskSize - len { return .failure(.ENOMEM) }
        if a & ~PAGE_MASK != 0 { return .failure(.EINVAL) }
        return .success(a)
    }

    /// VM_READ/WRITE/EXEC from PROT_* bits. Linux: calc_vm_prot_bits(), include/linux/mman.h
    public static func calcVMProtBits(_ prot: Prot) -> VMFlags {
        var f: VMFlags = []
        if prot.contains(.read) { f.insert(.read) }
        if prot.contains(.write) { f.insert(.write) }
        if prot.contains(.exec) { f.insert(.exec) }
        return f
    }

    /// VM_GROWSDOWN, VM_LOCKED and VM_NOHUGEPAGE (for MAP_STACK, 6.7+) from MAP_* flags.
    /// Linux: calc_vm_flag_bits(), include/linux/mman.h
    public static func calcVMFlagBits(_ flags: MapFlags) -> VMFlags {
        var f: VMFlags = []
        if flags.contains(.growsdown) { f.insert(.growsdown) }
        if flags.contains(.locked) { f.insert(.locked) }
        if flags.contains(.stack) { f.insert(.nohugepage) }
        return f
    }

    /// True when a mapping must be charged to the commit: private and writable, without
    /// VM_NORESERVE. Linux: accountable_mapping(), mm/vma.h
    public static func accountableMapping(_ file: MappedFile?, _ flags: VMFlags) -> Bool {
        flags.intersection([.noreserve, .shared, .write, .hugetlb]) == .write
    }

    /// True when the task may mlock at all: RLIMIT_MEMLOCK is not 0, or it is root
    /// (CAP_IPC_LOCK). Linux: can_do_mlock(), mm/mlock.c
    func canDoMlock(_ task: Task) -> Bool {
        (task.mm?.memlockRlimit ?? 0) != 0 || task.uid == 0
    }

    /// Validates an mmap request and creates the mapping; returns its address and how many bytes
    /// to populate, or Linux's errno. Linux: do_mmap(), mm/mmap.c
    func doMmap(_ task: Task, _ mm: MMStruct, file: MappedFile?, addr: UInt64, len: UInt64, prot: Prot,
                flags: MapFlags, pgoff: UInt64) -> Result<(VirtAddr, UInt64), Errno> {
        if len == 0 { return .failure(.EINVAL) }
        var flags = flags
        if flags.contains(.fixedNoreplace) { flags.insert(.fixed) }
        var addr = addr
        if !flags.contains(.fixed) {
            // round_hint_to_min(): a hint below mmap_min_addr is raised to it.
            addr &= PAGE_MASK
            if addr != 0 && addr < MMAP_MIN_ADDR { addr = MMAP_MIN_ADDR }
        }
        guard let alen = pageAlignUp(len), alen != 0 else { return .failure(.ENOMEM) }
        let pages = alen >> PAGE_SHIFT
        if pgoff.addingReportingOverflow(pages).overflow { return .failure(.EOVERFLOW) }
        if mm.vmas.count > sysctl.maxMapCount { return .failure(.ENOMEM) }
        switch getUnmappedArea(mm, file: file, addr: addr, len: alen, pgoff: pgoff, flags: flags) {
        case .failure(let e): return .failure(e)
        case .success(let a): addr = a
        }
        // security_mmap_addr() -> cap_mmap_addr(): below mmap_min_addr needs CAP_SYS_RAWIO.
        if addr < MMAP_MIN_ADDR && task.uid != 0 { return .failure(.EPERM) }
        if flags.contains(.fixedNoreplace) && !mm.vmas.overlapping(VirtAddr(addr), VirtAddr(addr + alen)).isEmpty {
            return .failure(.EEXIST)
        }
        var vmFlags = Kernel.calcVMProtBits(prot).union(Kernel.calcVMFlagBits(flags)).union(mm.defFlags)
            .union([.mayread, .maywrite, .mayexec])
        if flags.contains(.locked) && !canDoMlock(task) { return .failure(.EPERM) }
        if !mlockFutureOK(mm, vmFlags, alen) { return .failure(.EAGAIN) }
        var pgoff = pgoff
        var shmem: UInt64 = 0
        let mapType = flags.rawValue & 0x0f
        if file != nil {
            switch mapType {
            case MapFlags.shared.rawValue, MapFlags.sharedValidate.rawValue:
                // The model's files are opened read-write, so MAP_SHARED keeps VM_MAYWRITE.
                vmFlags.formUnion([.shared, .mayshare])
                if vmFlags.contains(.growsdown) { return .failure(.EINVAL) }
            case MapFlags.private.rawValue:
                if vmFlags.contains(.growsdown) { return .failure(.EINVAL) }
            default:
                return .failure(.EINVAL)
            }
        } else {
            switch mapType {
            case MapFlags.shared.rawValue:
                if vmFlags.contains(.growsdown) { return .failure(.EINVAL) }
                pgoff = 0
                vmFlags.formUnion([.shared, .mayshare])
                // shmem_zero_setup(): each shared anonymous mapping gets its own shmem object.
                shmem = fs.newShmemObjectID()
            case MapFlags.private.rawValue:
                pgoff = addr >> PAGE_SHIFT
            default:
                return .failure(.EINVAL)
            }
        }
        if flags.contains(.noreserve) && sysctl.overcommitMemory != 2 { vmFlags.insert(.noreserve) }
        switch mmapRegion(mm, file: file, addr: VirtAddr(addr), len: alen, vmFlags: vmFlags, pgoff: pgoff, shmem: shmem) {
        case .failure(let e): return .failure(e)
        case .success(let a):
            if shmem != 0 { mm.nextAnonVMA += 1 }
            let populate = vmFlags.contains(.locked)
                || flags.intersection([.populate, .nonblock]) == .populate
            return .success((a, populate ? alen : 0))
        }
    }

    /// Creates the VMA for [addr, addr+len): unmaps what was there, checks RLIMIT_AS/DATA and
    /// the commit charge, then merges with a neighbour or inserts a new VMA and accounts it;
    /// returns the address or ENOMEM. Linux: mmap_region() / __mmap_region(), mm/vma.c
    func mmapRegion(_ mm: MMStruct, file: MappedFile?, addr: VirtAddr, len: UInt64, vmFlags: VMFlags,
                    pgoff: UInt64, shmem: UInt64) -> Result<VirtAddr, Errno> {
        let end = VirtAddr(addr.raw + len)
        let pglen = len >> PAGE_SHIFT
        var vmFlags = vmFlags
        // What MAP_FIXED replaces (count_vma_pages_range() / vms->nr_pages, nr_accounted).
        var nrPages: UInt64 = 0, nrAccounted: UInt64 = 0
        let overlap = mm.vmas.overlapping(addr, end)
        for i in overlap {
            let v = mm.vmas[i]
            let n = (min(end, v.end).raw - max(addr, v.start).raw) >> PAGE_SHIFT
            nrPages += n
            if v.flags.contains(.account) { nrAccounted += n }
        }
        if !mayExpandVM(mm, vmFlags, pglen - nrPages) { return .failure(.ENOMEM) }
        let accountable = Kernel.accountableMapping(file, vmFlags)
        var charged: UInt64 = 0
        if accountable {
            charged = pglen - nrAccounted
            if charged > 0 && !securityVMEnoughMemory(mm, charged) { return .failure(.ENOMEM) }
            vmFlags.insert(.account)
        }
        // The new VMA's vm_area_struct is allocated before the old mappings go, so that running
        // out of memory leaves them intact (Linux: vm_area_alloc() in __mmap_new_vma(); a merge
        // frees it again).
        if !vmAreaAlloc(mm) {
            if charged > 0 { vmUnacctMemory(pages: Int(charged)) }
            return .failure(.ENOMEM)
        }
        if !overlap.isEmpty {
            // The replaced areas' charge carries over to an accountable new mapping.
            if case .failure(let e) = doVmiAlignMunmap(mm, addr, end, unacct: !accountable) {
                vmAreaFree(mm)
                if charged > 0 { vmUnacctMemory(pages: Int(charged)) }
                return .failure(e)
            }
        }
        let p = VMAMergeState(start: addr, end: end, flags: vmFlags, pgoff: pgoff, file: file, shmemObject: shmem)
        let idx: Int
        if let m = vmaMergeNewRange(mm, p) {
            idx = m
            vmAreaFree(mm)
            narrate("mmap \(addr)-\(end): merged into \(mm.vmas[m].start)-\(mm.vmas[m].end)")
        } else {
            idx = mm.vmas.insert(VMA(start: addr, end: end, flags: vmFlags, pgoff: pgoff, file: file, shmemObject: shmem))
            narrate("mmap \(addr)-\(end): new VMA")
        }
        vmStatAccount(mm, vmFlags, Int(pglen))
        if vmFlags.contains(.locked) {
            if vmFlags.intersects(.special) || vmFlags.contains(.hugetlb) {
                mm.vmas[idx].flags.subtract(VMFlags.lockedMask)
            } else {
                mm.lockedVM += Int(pglen)
            }
        }
        // New mappings start soft-dirty (CONFIG_MEM_SOFT_DIRTY).
        mm.vmas[idx].flags.insert(.softdirty)
        mm.updateHiwater()
        return .success(addr)
    }

    /// mmap(2): maps `length` bytes (anonymous, or `file` from `offset`) and returns the address,
    /// or Linux's errno: EINVAL (unaligned offset, zero length, bad MAP_TYPE, unaligned MAP_FIXED
    /// address), ENOMEM (length overflow, no room, beyond TASK_SIZE, too many maps, overcommit
    /// refused), EEXIST (MAP_FIXED_NOREPLACE over a mapping), EBADF (no file without
    /// MAP_ANONYMOUS), EOVERFLOW (offset + length overflows), EPERM, EAGAIN (mlock limit).
    /// MAP_POPULATE / MAP_LOCKED fault the pages in afterwards; errors there are ignored, as in
    /// Linux. MAP_HUGETLB goes to hugetlbMmap (hugetlb.swift).
    /// Linux: ksys_mmap_pgoff() / vm_mmap_pgoff() / do_mmap(), mm/mmap.c, mm/util.c
    public func mmap(_ task: Task, addr: UInt64, length: UInt64, prot: Prot, flags: MapFlags,
                     file: MappedFile? = nil, offset: UInt64 = 0) -> Result<VirtAddr, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        // sys_mmap() on x86-64: the byte offset must be page aligned.
        if offset & ~PAGE_MASK != 0 { return .failure(.EINVAL) }
        let anonymous = flags.contains(.anonymous)
        let file = anonymous ? nil : file
        if !anonymous && file == nil { return .failure(.EBADF) }
        if flags.contains(.hugetlb) {
            defer { shmemReleaseUnused() }
            return hugetlbMmap(task, mm, addr: addr, length: length, prot: prot, flags: flags)
        }
        // A MAP_FIXED mapping may have replaced the last mapping of a shmem object.
        defer { shmemReleaseUnused() }
        switch doMmap(task, mm, file: file, addr: addr, len: length, prot: prot, flags: flags, pgoff: offset >> PAGE_SHIFT) {
        case .failure(let e): return .failure(e)
        case .success(let (a, populate)):
            if populate > 0 { mmPopulate(task, a, VirtAddr(a.raw + populate)) }
            return .success(a)
        }
    }

    /// Faults in the accessible, non-IO parts of [start, end) that are not VM_LOCKONFAULT;
    /// returns the first error of populateRange (callers that ignore errors drop it).
    /// Linux: __mm_populate() / populate_vma_page_range(), mm/gup.c
    @discardableResult
    func mmPopulate(_ task: Task, _ start: VirtAddr, _ end: VirtAddr) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .success(()) }
        var cursor = start
        var firstError: Errno? = nil
        while cursor < end, let i = mm.vmas.findVMAIndex(cursor), mm.vmas[i].start < end {
            let v = mm.vmas[i]
            let s = max(cursor, v.start), e = min(end, v.end)
            cursor = v.end
            if v.flags.intersects([.io, .pfnmap]) || v.flags.contains(.lockonfault) || !v.isAccessible { continue }
            if case .failure(let err) = populateRange(task, s, e), firstError == nil { firstError = err }
        }
        return firstError.map { .failure($0) } ?? .success(())
    }

    // MARK: brk

    /// Extends the brk area by the anonymous range [addr, addr+len): merges with `brkIndex` (the
    /// VMA ending at addr) when it can, else creates a new VMA; returns ENOMEM when RLIMIT_AS/
    /// DATA, vm.max_map_count or the commit charge refuse. Linux: do_brk_flags(), mm/vma.c
    func doBrkFlags(_ mm: MMStruct, brkIndex: Int?, addr: VirtAddr, len: UInt64, flags: VMFlags) -> Result<Void, Errno> {
        let flags = flags.union(.dataDefault).union(.account).union(mm.defFlags)
        let pages = len >> PAGE_SHIFT
        if !mayExpandVM(mm, flags, pages) { return .failure(.ENOMEM) }
        if mm.vmas.count > sysctl.maxMapCount { return .failure(.ENOMEM) }
        if !securityVMEnoughMemory(mm, pages) { return .failure(.ENOMEM) }
        let end = VirtAddr(addr.raw + len)
        var idx: Int? = nil
        if let b = brkIndex, mm.vmas[b].end == addr {
            idx = vmaMergeNewRange(mm, VMAMergeState(start: addr, end: end, flags: flags, pgoff: addr.raw >> PAGE_SHIFT, file: nil),
                                   justExpand: true)
        }
        if idx == nil {
            // vm_area_alloc(): a failure returns the charge and ENOMEM.
            if !vmAreaAlloc(mm) {
                vmUnacctMemory(pages: Int(pages))
                return .failure(.ENOMEM)
            }
            idx = mm.vmas.insert(VMA(start: addr, end: end, flags: flags, pgoff: addr.raw >> PAGE_SHIFT))
        }
        mm.totalVM += Int(pages)
        mm.dataVM += Int(pages)
        if flags.contains(.locked) { mm.lockedVM += Int(pages) }
        mm.vmas[idx!].flags.insert(.softdirty)
        mm.updateHiwater()
        return .success(())
    }

    /// Adds an anonymous data area [addr, addr+len) the way exec maps the bss; EINVAL on
    /// overflow, ENOMEM when there is no room or the charge is refused.
    /// Linux: vm_brk_flags(), mm/mmap.c
    public func vmBrkFlags(_ mm: MMStruct, _ addr: UInt64, _ len: UInt64, flags: VMFlags = []) -> Result<Void, Errno> {
        guard let alen = pageAlignUp(len) else { return .failure(.ENOMEM) }
        if alen == 0 { return .success(()) }
        let (end, o) = addr.addingReportingOverflow(alen)
        if o || addr & ~PAGE_MASK != 0 || end > mm.taskSize { return .failure(.EINVAL) }
        if !mm.vmas.overlapping(VirtAddr(addr), VirtAddr(end)).isEmpty {
            if case .failure(let e) = doVmiAlignMunmap(mm, VirtAddr(addr), VirtAddr(end)) { return .failure(e) }
        }
        var prev = mm.vmas.prevIndex(before: VirtAddr(addr))
        if let p = prev, mm.vmas[p].end != VirtAddr(addr) { prev = nil }
        return doBrkFlags(mm, brkIndex: prev, addr: VirtAddr(addr), len: alen, flags: flags)
    }

    /// brk(2): moves the program break to `addr` and returns the new break, or the old break
    /// when refused (below start_brk, over RLIMIT_DATA, colliding with the next VMA or its
    /// stack guard gap, out of memory). Linux: SYSCALL_DEFINE1(brk), mm/mmap.c
    public func brk(_ task: Task, _ addr: UInt64) -> UInt64 {
        guard let mm = task.mm else { return 0 }
        let origbrk = mm.brk
        // CONFIG_COMPAT_BRK off: the floor is start_brk.
        if addr < mm.startBrk { return origbrk }
        // check_data_rlimit(): (brk - start_brk) + (end_data - start_data) <= RLIMIT_DATA.
        if mm.dataRlimit != RLIM_INFINITY {
            let (used, o) = (addr - mm.startBrk).addingReportingOverflow(mm.endData &- mm.startData)
            if o || used > mm.dataRlimit { return origbrk }
        }
        guard let newbrk = pageAlignUp(addr), let oldbrk = pageAlignUp(mm.brk) else { return origbrk }
        if oldbrk == newbrk {
            mm.brk = addr
            return addr
        }
        if addr <= mm.brk {
            // Always allow shrinking, but only of an area that is there.
            guard let i = mm.vmas.findVMAIndex(VirtAddr(newbrk)), mm.vmas[i].start.raw < oldbrk else { return origbrk }
            mm.brk = addr
            if case .failure = doVmiAlignMunmap(mm, VirtAddr(newbrk), VirtAddr(oldbrk)) {
                mm.brk = origbrk
                return origbrk
            }
            narrate("brk: shrunk to \(VirtAddr(addr))")
            return addr
        }
        // Growing: the next VMA (and its stack guard gap) must leave a page free above newbrk.
        guard newbrk <= mm.taskSize else { return origbrk }
        if let next = mm.vmas.findVMA(VirtAddr(oldbrk)) {
            let (limit, o) = newbrk.addingReportingOverflow(PAGE_SIZE + STACK_GUARD_GAP)
            if o || next.start.raw < limit, newbrk + PAGE_SIZE > next.vmStartGap { return origbrk }
        }
        // vma_prev_limit(start_brk): the VMA just below oldbrk, if it reaches above start_brk.
        var brkIndex = mm.vmas.prevIndex(before: VirtAddr(oldbrk))
        if let b = brkIndex, mm.vmas[b].end.raw <= mm.startBrk { brkIndex = nil }
        if case .failure = doBrkFlags(mm, brkIndex: brkIndex, addr: VirtAddr(oldbrk), len: newbrk - oldbrk, flags: []) {
            return origbrk
        }
        mm.brk = addr
        narrate("brk: grown to \(VirtAddr(addr))")
        if mm.defFlags.contains(.locked) { mmPopulate(task, VirtAddr(oldbrk), VirtAddr(newbrk)) }
        return addr
    }

    // MARK: stack

    /// Grows the VM_GROWSDOWN VMA above `addr` down to addr's page; returns true when `addr` is
    /// (now) mapped, false when there is no stack VMA above it, the growth would come within
    /// stack_guard_gap of the previous accessible VMA, exceed RLIMIT_STACK / RLIMIT_AS /
    /// RLIMIT_MEMLOCK, go below mmap_min_addr, or the commit charge is refused.
    /// Linux: expand_stack() / expand_downwards() / acct_stack_growth(), mm/mmap.c
    public func expandStack(_ mm: MMStruct, _ addr: VirtAddr) -> Bool {
        guard let i = mm.vmas.findVMAIndex(addr) else { return false }
        let v = mm.vmas[i]
        if v.start <= addr { return true }
        guard v.flags.contains(.growsdown) else { return false }
        let address = addr.raw & PAGE_MASK
        if address < MMAP_MIN_ADDR { return false }
        if i > 0 {
            let prev = mm.vmas[i - 1]
            if !prev.flags.contains(.growsdown) && prev.isAccessible && address - prev.end.raw < STACK_GUARD_GAP { return false }
        }
        let size = v.end.raw - address
        let grow = (v.start.raw - address) >> PAGE_SHIFT
        guard grow <= v.pgoff else { return false }
        // acct_stack_growth()
        if !mayExpandVM(mm, v.flags, grow) { return false }
        if size > mm.stackRlimit { return false }
        if !mlockFutureOK(mm, v.flags, grow << PAGE_SHIFT) { return false }
        if !securityVMEnoughMemory(mm, grow) { return false }
        anonVMAPrepare(mm, v.start)
        if v.flags.contains(.locked) { mm.lockedVM += Int(grow) }
        vmStatAccount(mm, v.flags, Int(grow))
        mm.vmas[i].start = VirtAddr(address)
        mm.vmas[i].pgoff -= grow
        mm.updateHiwater()
        narrate("stack grown down to \(VirtAddr(address))")
        return true
    }
}
