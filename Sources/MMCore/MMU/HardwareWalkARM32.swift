/// The ARMv7 MMU's table walk on a TLB miss for a 32-bit ARM machine (short descriptors, TTBCR.N
/// = 0: TTBR0 translates every address; the kernel half of each PGD is swapper_pg_dir's).
///
/// Model choices:
/// - The first-level word at TTBR0 + 4 × VA[31:20] (a word of the 16 KiB table, four frames) is
///   a coarse page table (its L2 word at base + 4 × VA[19:12], in the hardware half of Linux's
///   PTE page), a 1 MiB section, or a translation fault. A section is cached as the 4 KiB page
///   the access touched (the TLB model has no 1 MiB size).
/// - Rights with SCTLR.AFE = 0 from AP[2:0] (011 RW both, 111 R both, 001 PL1 RW, 101 PL1 R),
///   XN for instruction fetches; domains 0–3 are clients (DACR 0x55) and are not otherwise checked.
/// - There are no hardware access or dirty flags: nothing is written back. Linux emulates them:
///   an old page (L_PTE_YOUNG clear) has a hardware word of 0, so any access faults; a clean
///   writable page is mapped read-only (APX), so the first write faults. handle_pte_fault()
///   then marks the Linux PTE young or dirty, set_pte_ext() writes the new hardware word and the
///   access is retried: a minor fault counted in pgfault and min_flt. The fault codes use x86's
///   terms: P clear for a translation fault, P set for a permission fault.
extension HardwareWalker {
    /// Walks the ARM 2-level tables under `pgd` (four frames) for an access to `va`; returns the
    /// translation, or the fault (translation: P clear; permission: P set; a table beyond RAM or
    /// a large-page or supersection descriptor: P|RSVD). Counts word reads in `memRefs`; writes
    /// nothing. With `setAccessedDirty` false the rights are not checked.
    /// Linux: the CPU side of do_translation_fault() / do_page_fault(), arch/arm/mm/fault.c
    @inlinable
    public func walkARM32(_ pgd: PFN, _ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory,
                          memRefs: inout Int, setAccessedDirty: Bool = true) -> HardwareWalkResult {
        let access = HardwareWalker.accessCode(kind, user: user)
        let rsvd = PFErrorCode(rawValue: access.rawValue | PFErrorCode.prot.rawValue | PFErrorCode.rsvd.rawValue)
        let l1i = Int(truncatingIfNeeded: (va.raw >> 20) & 0xfff)
        let l1Frame = pgd.advanced(by: l1i >> 10)
        guard l1Frame.raw < UInt64(mem.frameCount) else { return .fault(rsvd) }
        memRefs &+= 1
        let w1 = mem.contents.readWord(l1Frame, (l1i & 1023) >> 1)
        let d1 = l1i & 1 == 0 ? w1 & 0xffff_ffff : w1 >> 32
        var desc: UInt64
        var base: UInt64
        var apx: Bool, ap: UInt64, xn: Bool, nG: Bool
        switch d1 & 3 {
        case 0: return .fault(access)
        case 1:
            let tableAddr = d1 & 0xffff_fc00
            let frame = PFN(tableAddr >> PAGE_SHIFT)
            guard frame.raw < UInt64(mem.frameCount) else { return .fault(rsvd) }
            let l2i = Int(truncatingIfNeeded: (tableAddr & 0xc00) >> 2 | (va.raw >> 12) & 0xff)   // word index in the frame
            memRefs &+= 1
            let w2 = mem.contents.readWord(frame, l2i >> 1)
            desc = l2i & 1 == 0 ? w2 & 0xffff_ffff : w2 >> 32
            if desc & 3 == 0 { return .fault(access) }
            if desc & 2 == 0 { return .fault(rsvd) }                  // 64 KiB large pages: unused by Linux
            base = desc & 0xffff_f000
            apx = desc & ARM32.pteExtAPX != 0; ap = (desc >> 4) & 3
            xn = desc & ARM32.pteExtXN != 0; nG = desc & ARM32.pteExtNG != 0
        default:
            desc = d1
            if desc & ARM32.pmdSectSuper != 0 { return .fault(rsvd) }  // supersections: unused with 2-level tables
            base = (desc & 0xfff0_0000) | (va.raw & 0x000f_f000)
            apx = desc & ARM32.pmdSectAPX != 0; ap = (desc >> 10) & 3
            xn = desc & ARM32.pmdSectXN != 0; nG = desc & ARM32.pmdSectNG != 0
        }
        // AP[2:0] with AFE = 0: who may read and who may write.
        let userRead = ap >= 2, userWrite = !apx && ap == 3
        let kernRead = ap != 0, kernWrite = !apx && ap != 0
        if setAccessedDirty {
            let denied: Bool
            switch kind {
            case .read: denied = user ? !userRead : !kernRead
            case .write: denied = user ? !userWrite : !kernWrite
            case .exec: denied = (user ? !userRead : !kernRead) || xn
            }
            if denied { return .fault(PFErrorCode(rawValue: access.rawValue | PFErrorCode.prot.rawValue)) }
        }
        var flags: UInt64 = 0
        if userRead { flags |= PTE.user }
        // Writable for the modes that may read it; a hardware-writable page is Linux-dirty.
        if userWrite || (!userRead && kernWrite) { flags |= PTE.rw | PTE.dirty }
        if xn { flags |= PTE.nx }
        if !nG { flags |= PTE.global }
        return .ok(HardwareTranslation(pageBase: PhysAddr(base), pageSize: .size4K, flags: flags))
    }
}
