/// The MMU's table walk on a TLB miss for every machine format other than x86-64 4-level paging
/// (which keeps `HardwareWalker.walk`): x86-64 LA57, x86-32 2-level, ARM64 4 KiB granule,
/// RISC-V Sv39/48/57. x86-32 is walked like x86-64 (rights ANDed across PDE and PTE, A set in the
/// PDE and A/D in the PTE) but has no NX bit.
///
/// Model choices:
/// - Entries are read in the machine's format and checked by `PageTableFormat.hardwareValid`;
///   an invalid entry (x86 P=0, ARM64 bit 0 clear or 01 at level 3, RISC-V V=0, W without R, or
///   a pointer at the last level) ends the walk with a not-present fault (ARM64 translation
///   fault, RISC-V page fault); a table frame beyond installed RAM is a reserved-bit fault.
/// - Rights come from the leaf (x86 LA57 also accumulates R/W, U/S and NX across levels; ARM64
///   and RISC-V table entries as Linux writes them restrict nothing).
/// - Access and dirty state are kept by the hardware, so a machine's fault counts equal
///   x86-64's: ARM64 with FEAT_HAFDBS (TCR_EL1.HA = HD = 1, as Linux enables when the CPU has
///   it): AF is set on the first access and a write to a DBM (PTE_WRITE) page clears
///   AP[2] (PTE_RDONLY), making it hardware-dirty; RISC-V with Svadu (hardware A/D updating,
///   menvcfg.ADUE = 1): A is set on access and D on a write. x86 LA57 sets A in every entry used
///   and D in the leaf, as 4-level paging does.
/// - A faulting walk writes nothing back.
extension HardwareWalker {
    /// Walks the tables of `mem.paging`'s format under `pgd` for an access to `va`; returns the
    /// translation or the fault (in x86 error-code terms: P clear for an invalid entry, P for a
    /// permission fault, P|RSVD for a reserved encoding). Counts entry reads in `memRefs` and
    /// write-backs in `adUpdates`; with `setAccessedDirty` false nothing is written or checked.
    /// Linux: the CPU side of do_page_fault(), arch/arm64/mm/fault.c and arch/riscv/mm/fault.c
    public func walkArch(_ pgd: PFN, _ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory,
                         memRefs: inout Int, adUpdates: inout Int, setAccessedDirty: Bool = true) -> HardwareWalkResult {
        let f = mem.paging
        if f.encoding == .arm32 { return walkARM32(pgd, va, kind, user: user, mem: mem, memRefs: &memRefs, setAccessedDirty: setAccessedDirty) }
        let access = HardwareWalker.accessCode(kind, user: user)
        let rsvd = PFErrorCode(rawValue: access.rawValue | PFErrorCode.prot.rawValue | PFErrorCode.rsvd.rawValue)
        let x86 = f.encoding == .x86_64 || f.is32Bit
        var table = pgd
        var level = 0
        var allowed: UInt64 = PTE.rw | PTE.user
        var nx: UInt64 = 0
        var leaf = PTE(raw: 0)
        var index = 0
        while true {
            guard table.raw < UInt64(mem.frameCount) else { return .fault(rsvd) }
            index = f.index(va, level: level)
            memRefs &+= 1
            let raw = f.readRaw(mem.contents, table, index)
            if !f.hardwareValid(raw, level: level) { return .fault(access) }
            let e = f.decode(raw, level: level)
            if x86 {
                // PS is reserved in the PML5E and PML4E; a huge leaf's low address bits must be zero.
                if level < f.pudLevel && e.isHuge { return .fault(rsvd) }
                allowed &= e.raw
                nx |= e.raw & PTE.nx
            }
            if level == f.pteLevel || e.isHuge {
                if !x86 { allowed = e.raw & (PTE.rw | PTE.user); nx = e.raw & PTE.nx }
                leaf = e
                break
            }
            table = e.pfn
            level &+= 1
        }
        let shift = f.shift(level)
        let size: PageSize
        switch shift {
        case 12: size = .size4K
        case 21: size = .size2M
        case 30: size = .size1G
        default: return .fault(rsvd)   // x86-32 4 MiB PSE pages map only the kernel's lowmem, never user pages
        }
        if leaf.raw & PTE.pfnMask & (size.bytes &- 1) != 0 { return .fault(rsvd) }
        var newLeaf = leaf
        if setAccessedDirty {
            let denied = (user && allowed & PTE.user == 0)
                || (kind == .write && allowed & PTE.rw == 0)
                || (kind == .exec && nx != 0)
            if denied { return .fault(PFErrorCode(rawValue: access.rawValue | PFErrorCode.prot.rawValue)) }
            if x86 {
                // Set A in every non-leaf entry used, top down.
                var t = pgd
                var l = 0
                while l < level {
                    let i = f.index(va, level: l)
                    let raw = f.readRaw(mem.contents, t, i)
                    // A PAE PDPTE has no A bit (it is a reserved bit there).
                    if raw & PTE.accessed == 0 && !(f.encoding == .x86PAE && l == 0) { f.writeRaw(&mem.contents, t, i, raw | PTE.accessed); adUpdates &+= 1 }
                    t = PTE(raw: raw).pfn
                    l &+= 1
                }
            }
            newLeaf = PTE(raw: leaf.raw | PTE.accessed | (kind == .write ? PTE.dirty : 0))
            if newLeaf != leaf {
                f.writeRaw(&mem.contents, table, index, f.encode(newLeaf, level: level))
                adUpdates &+= 1
            }
        }
        let base = leaf.raw & PTE.pfnMask & ~(size.bytes &- 1)
        let flags = (allowed & (PTE.rw | PTE.user)) | nx | (newLeaf.raw & (PTE.dirty | PTE.global))
        return .ok(HardwareTranslation(pageBase: PhysAddr(base), pageSize: size, flags: flags))
    }
}
