/// mprotect(2). Linux: mm/mprotect.c

extension Kernel {
    /// Gives [start, end) of the VMA at `index` the flags `newFlags`: charges the commit when a
    /// private mapping first becomes writable (and drops VM_ACCOUNT again when an anonymous one
    /// without anon_vma becomes read-only), splits or merges, rewrites the PTEs and moves the
    /// pages between the vm_stat counters. Returns the index of the VMA now covering the range,
    /// or ENOMEM (RLIMIT_DATA, commit refused, vm.max_map_count). Linux: mprotect_fixup(), mm/mprotect.c
    func mprotectFixup(_ task: Task, _ mm: MMStruct, _ index: Int, _ start: VirtAddr, _ end: VirtAddr,
                       _ newFlags: VMFlags) -> Result<Int, Errno> {
        let v = mm.vmas[index]
        let oldFlags = v.flags
        if newFlags == oldFlags { return .success(index) }
        var newFlags = newFlags
        let nrpages = (end.raw - start.raw) >> PAGE_SHIFT
        var charged: UInt64 = 0
        if newFlags.contains(.write) {
            // Check space limits when the area turns into data.
            if !mayExpandVM(mm, newFlags, nrpages) && mayExpandVM(mm, oldFlags, nrpages) { return .failure(.ENOMEM) }
            if oldFlags.intersection([.account, .write, .hugetlb, .shared, .noreserve]).isEmpty {
                charged = nrpages
                if !securityVMEnoughMemory(mm, charged) { return .failure(.ENOMEM) }
                newFlags.insert(.account)
            }
        } else if oldFlags.contains(.account) && v.vmaIsAnonymous && v.anonVMA == 0 {
            newFlags.remove(.account)
        }
        let j: Int
        switch vmaModifyFlags(mm, index, start, end, newFlags) {
        case .failure(let e):
            if charged > 0 { vmUnacctMemory(pages: Int(charged)) }
            return .failure(e)
        case .success(let k): j = k
        }
        changeProtection(mm, start, end, newFlags: newFlags)
        if oldFlags.contains(.account) && !newFlags.contains(.account) { vmUnacctMemory(pages: Int(nrpages)) }
        // A private VM_LOCKED area becoming writable: break COW now rather than on access.
        if oldFlags.intersection([.write, .shared, .locked]) == .locked && newFlags.contains(.write) {
            _ = populateRange(task, start, end)
        }
        vmStatAccount(mm, oldFlags, -Int(nrpages))
        vmStatAccount(mm, newFlags, Int(nrpages))
        return .success(j)
    }

    /// mprotect(2): sets the protection of [addr, addr+length). Returns EINVAL for an unaligned
    /// address, unknown PROT bits or both GROWS flags (or PROT_GROWSDOWN on a VMA that does not
    /// grow down; PROT_GROWSUP always, x86 has no VM_GROWSUP), ENOMEM when the range is not
    /// fully mapped (VMAs before the hole keep their new protection, as in Linux) or on
    /// overflow, EACCES when a VMA's VM_MAY* bits forbid the rights asked for.
    /// Linux: do_mprotect_pkey(), mm/mprotect.c
    public func mprotect(_ task: Task, addr: UInt64, length: UInt64, prot: Prot) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        let grows = prot.intersection([.growsdown, .growsup])
        let prot = prot.subtracting([.growsdown, .growsup])
        if grows == [.growsdown, .growsup] { return .failure(.EINVAL) }
        if addr & ~PAGE_MASK != 0 { return .failure(.EINVAL) }
        if length == 0 { return .success(()) }
        guard let len = pageAlignUp(length) else { return .failure(.ENOMEM) }
        let (endRaw, o) = addr.addingReportingOverflow(len)
        if o || endRaw <= addr { return .failure(.ENOMEM) }
        // arch_validate_prot(): only READ, WRITE, EXEC and SEM (0x8).
        if prot.rawValue & ~UInt32(0xf) != 0 { return .failure(.EINVAL) }
        let end = VirtAddr(endRaw)
        var start = VirtAddr(addr)
        guard var i = mm.vmas.findVMAIndex(start), mm.vmas[i].start < end else { return .failure(.ENOMEM) }
        if grows.contains(.growsdown) {
            start = mm.vmas[i].start
            if !mm.vmas[i].flags.contains(.growsdown) { return .failure(.EINVAL) }
        } else {
            if mm.vmas[i].start > start { return .failure(.ENOMEM) }
            if grows.contains(.growsup) { return .failure(.EINVAL) }
        }
        let protBits = Kernel.calcVMProtBits(prot)
        var nstart = start
        var tmp = mm.vmas[i].start
        while i < mm.vmas.count && mm.vmas[i].start < end {
            let v = mm.vmas[i]
            if v.start != tmp { return .failure(.ENOMEM) }
            let newFlags = v.flags.subtracting([.read, .write, .exec]).union(protBits)
            // VM_MAY* sit 4 bits above VM_*: every access bit asked for needs its MAY bit.
            if (newFlags.rawValue & ~(newFlags.rawValue >> 4)) & 0x7 != 0 { return .failure(.EACCES) }
            tmp = min(v.end, end)
            switch mprotectFixup(task, mm, i, nstart, tmp, newFlags) {
            case .failure(let e): return .failure(e)
            case .success(let j):
                tmp = mm.vmas[j].end
                nstart = tmp
                i = j + 1
            }
        }
        if tmp < end { return .failure(.ENOMEM) }
        narrate("mprotect \(start)-\(end)")
        return .success(())
    }
}
