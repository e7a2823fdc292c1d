/// ARMv7-A short-descriptor translation (VMSAv7 without LPAE, Arm ARM B3.5), the format 32-bit
/// ARM Linux uses unless CONFIG_ARM_LPAE: a first-level table of 4096 word entries (16 KiB, one
/// per MiB, indexed by VA[31:20]) and second-level tables of 256 word entries (1 KiB, one per
/// 4 KiB, indexed by VA[19:12]). TTBCR.N splits the address space: VAs below 2^(32−N) use
/// TTBR0 (whose table shrinks to 16 KiB >> N), the others TTBR1; N = 0 (what Linux uses
/// without LPAE) sends every VA through TTBR0.
///
/// First-level descriptor, bits 1:0: 00 fault; 01 page table (base [31:10], PXN [2], domain
/// [8:5]); 1x section (bit 18 = 0: base [31:20], 1 MiB) or supersection (bit 18 = 1: base
/// PA[31:24] in [31:24], PA[35:32] in [23:20], PA[39:36] in [8:5], 16 MiB, domain 0, written in
/// 16 consecutive entries), with PXN [0], B [2], C [3], XN [4], domain [8:5], AP[1:0] [11:10],
/// TEX [14:12], AP[2] [15], S [16], nG [17]. Second-level descriptor: 00 fault; 01 large page
/// (base [31:16], 64 KiB, written in 16 consecutive entries, XN [15], TEX [14:12], AP[2] [9],
/// AP[1:0] [5:4], S [10], nG [11]); 1x small page (base [31:12], XN [0], AP[1:0] [5:4], TEX
/// [8:6], AP[2] [9], S [10], nG [11]).
///
/// Access permissions with SCTLR.AFE = 0 (Linux's 2-level setting; AP[0] is not an access
/// flag, so there are no access-flag faults): AP[2:0] 000 none, 001 PL1 RW, 010 PL1 RW + PL0 R,
/// 011 RW for both, 101 PL1 R, 110 and 111 R for both, 100 reserved (no access). An instruction
/// fetch needs read permission and XN clear (PXN clear at PL1). Domains: the DACR holds two bits
/// per domain: 00 no access (domain fault), 01 client (AP checked), 11 manager (AP and XN not
/// checked), 10 reserved (treated as no access). Linux (arch/arm/include/asm/domain.h) uses
/// DOMAIN_KERNEL 0, DOMAIN_USER 1, DOMAIN_IO 2, DOMAIN_VECTORS 3, all client on ARMv7 without
/// software PAN: DACR_INIT = 0x55.
///
/// Linux's PTE page (arch/arm/include/asm/pgtable-2level.h): Linux's PMD covers 2 MiB (a pair of
/// first-level entries) and one 4 KiB page holds Linux PTE table 0 (+0), Linux PTE table 1
/// (+1024), hardware table 0 (+2048) and hardware table 1 (+3072): the hardware entry at A has
/// its Linux "shadow" entry (L_PTE_* bits the hardware format has no room for) at A − 2048.
/// `ArchPageTables.map` lays out second-level tables that way.
public enum ARM32 {
    /// The two levels: L1 (Linux's pgd/pmd, 1 MiB per entry) and L2 (pte).
    public static let levels: [ArchLevel] = [
        ArchLevel(name: "L1", linuxName: "pmd", shift: 20, bits: 12, leafAllowed: true),
        ArchLevel(name: "L2", linuxName: "pte", shift: 12, bits: 8, leafAllowed: true),
    ]
    /// Leaf sizes: small page, large page, section, supersection.
    public static let pageShifts = [12, 16, 20, 24]
    /// Linux's DACR without software PAN: domains 0–3 client, the others no access.
    public static let dacrInit: UInt32 = 0x55
    /// Linux's domains. Linux: arch/arm/include/asm/domain.h
    public static let domainKernel: UInt64 = 0, domainUser: UInt64 = 1

    // Hardware bits. Linux: arch/arm/include/asm/pgtable-2level-hwdef.h
    public static let pmdTypeTable: UInt64 = 1, pmdTypeSect: UInt64 = 2
    public static let pmdPXNTable: UInt64 = 1 << 2
    public static let pmdSectPXN: UInt64 = 1 << 0, pmdSectXN: UInt64 = 1 << 4
    public static let pmdSectAPWrite: UInt64 = 1 << 10, pmdSectAPRead: UInt64 = 1 << 11
    public static let pmdSectAPX: UInt64 = 1 << 15, pmdSectS: UInt64 = 1 << 16
    public static let pmdSectNG: UInt64 = 1 << 17, pmdSectSuper: UInt64 = 1 << 18
    public static let pteTypeLarge: UInt64 = 1, pteTypeSmall: UInt64 = 2
    public static let pteExtXN: UInt64 = 1 << 0, pteExtAP0: UInt64 = 1 << 4, pteExtAP1: UInt64 = 2 << 4
    public static let pteExtAPX: UInt64 = 1 << 9, pteExtNG: UInt64 = 1 << 11
    public static let pteLargeXN: UInt64 = 1 << 15

    // Linux's shadow PTE bits. Linux: arch/arm/include/asm/pgtable-2level.h
    public static let lPteValid: UInt64 = 1 << 0, lPteYoung: UInt64 = 1 << 1, lPteDirty: UInt64 = 1 << 6
    public static let lPteRdonly: UInt64 = 1 << 7, lPteUser: UInt64 = 1 << 8, lPteXN: UInt64 = 1 << 9

    /// The domain an L1 descriptor assigns (a supersection is always in domain 0); nil for a fault entry.
    public static func domain(ofL1 raw: UInt64) -> Int? {
        switch raw & 3 {
        case 0: return nil
        case 1: return Int((raw >> 5) & 0xf)
        default: return raw & pmdSectSuper != 0 ? 0 : Int((raw >> 5) & 0xf)
        }
    }

    /// The rights AP[2] and AP[1:0] give with SCTLR.AFE = 0, before XN/PXN.
    static func apRights(apx: Bool, ap: UInt64) -> ArchRights {
        switch (apx, ap & 3) {
        case (false, 1): return [.kernRead, .kernWrite]
        case (false, 2): return [.kernRead, .kernWrite, .userRead]
        case (false, 3): return [.kernRead, .kernWrite, .userRead, .userWrite]
        case (true, 1): return [.kernRead]
        case (true, 2), (true, 3): return [.kernRead, .userRead]
        default: return []   // 000 no access, 100 reserved
        }
    }

    /// Adds execute rights where reading is allowed and XN (and, at PL1, PXN) is clear.
    static func withExec(_ r: ArchRights, xn: Bool, pxn: Bool) -> ArchRights {
        var r = r
        if !xn && r.contains(.userRead) { r.insert(.userExec) }
        if !xn && !pxn && r.contains(.kernRead) { r.insert(.kernExec) }
        return r
    }

    /// Decodes a descriptor at level 0 (L1) or 1 (L2).
    public static func decode(_ raw: UInt64, level: Int) -> ArchEntryKind {
        let raw = raw & 0xffff_ffff
        if level == 0 {
            switch raw & 3 {
            case 0: return .invalid(reason: "translation fault (section): first-level descriptor bits 1:0 = 00")
            case 1:
                var lim = ArchRights.all
                if raw & pmdPXNTable != 0 { lim.remove(.kernExec) }
                return .table(next: raw & 0xffff_fc00, limits: lim)
            default:
                let r = withExec(apRights(apx: raw & pmdSectAPX != 0, ap: raw >> 10), xn: raw & pmdSectXN != 0, pxn: raw & pmdSectPXN != 0)
                let base: UInt64
                if raw & pmdSectSuper != 0 {
                    base = (raw & 0xff00_0000) | ((raw >> 20) & 0xf) << 32 | ((raw >> 5) & 0xf) << 36
                } else {
                    base = raw & 0xfff0_0000
                }
                return .leaf(base: base, rights: r, accessed: true, dirty: true, global: raw & pmdSectNG == 0)
            }
        }
        switch raw & 3 {
        case 0: return .invalid(reason: "translation fault (page): second-level descriptor bits 1:0 = 00")
        case 1:
            let r = withExec(apRights(apx: raw & pteExtAPX != 0, ap: raw >> 4), xn: raw & pteLargeXN != 0, pxn: false)
            return .leaf(base: raw & 0xffff_0000, rights: r, accessed: true, dirty: true, global: raw & pteExtNG == 0)
        default:
            let r = withExec(apRights(apx: raw & pteExtAPX != 0, ap: raw >> 4), xn: raw & pteExtXN != 0, pxn: false)
            return .leaf(base: raw & 0xffff_f000, rights: r, accessed: true, dirty: true, global: raw & pteExtNG == 0)
        }
    }

    /// log2 of the size a leaf descriptor maps: 24 (supersection), 20 (section), 16 (large page), 12 (small page).
    public static func leafShift(_ raw: UInt64, level: Int) -> Int {
        if level == 0 { return raw & pmdSectSuper != 0 ? 24 : 20 }
        return raw & 3 == 1 ? 16 : 12
    }

    /// The level and number of consecutive entries of a leaf of `1 << shift` bytes.
    public static func placement(_ shift: Int) -> (level: Int, copies: Int)? {
        switch shift {
        case 12: return (1, 1)
        case 16: return (1, 16)
        case 20: return (0, 1)
        case 24: return (0, 16)
        default: return nil
        }
    }

    /// AP[2] and AP[1:0] for `prot` the way Linux sets them: AP[0] always, AP[1] for user pages,
    /// AP[2] for read-only ones. Linux: cpu_v7_set_pte_ext(), arch/arm/mm/proc-v7-2level.S
    static func ap(_ prot: ArchProt) -> (apx: Bool, ap: UInt64) { (!prot.write, prot.user ? 3 : 1) }

    /// Returns a page-table descriptor for the L2 table at `next` in `domain`.
    public static func encodeTable(_ next: UInt64, domain: UInt64) -> UInt64 {
        (next & 0xffff_fc00) | (domain & 0xf) << 5 | pmdTypeTable
    }

    /// Returns a leaf descriptor of `1 << shift` bytes mapping `pa`, or nil when `pa` does not fit
    /// (32 bits; 40 for a supersection). User sections go in DOMAIN_USER, kernel ones in DOMAIN_KERNEL.
    public static func encodeLeaf(_ pa: UInt64, shift: Int, prot: ArchProt) -> UInt64? {
        let (apx, ap) = ap(prot)
        let ng: Bool = !prot.global
        switch shift {
        case 24:
            guard pa >> 40 == 0 else { return nil }
            var e = (pa & 0xff00_0000) | ((pa >> 32) & 0xf) << 20 | ((pa >> 36) & 0xf) << 5 | pmdSectSuper | pmdTypeSect | ap << 10
            if apx { e |= pmdSectAPX }
            if !prot.exec { e |= pmdSectXN }
            if ng { e |= pmdSectNG }
            return e
        case 20:
            guard pa >> 32 == 0 else { return nil }
            var e = (pa & 0xfff0_0000) | pmdTypeSect | ap << 10 | (prot.user ? domainUser : domainKernel) << 5
            if apx { e |= pmdSectAPX }
            if !prot.exec { e |= pmdSectXN }
            if ng { e |= pmdSectNG }
            return e
        case 16:
            guard pa >> 32 == 0 else { return nil }
            var e = (pa & 0xffff_0000) | pteTypeLarge | ap << 4
            if apx { e |= pteExtAPX }
            if !prot.exec { e |= pteLargeXN }
            if ng { e |= pteExtNG }
            return e
        case 12:
            guard pa >> 32 == 0 else { return nil }
            var e = (pa & 0xffff_f000) | pteTypeSmall | ap << 4
            if apx { e |= pteExtAPX }
            if !prot.exec { e |= pteExtXN }
            if ng { e |= pteExtNG }
            return e
        default: return nil
        }
    }

    /// Linux's shadow entry for a small page mapped with `prot` (valid, young, dirty when
    /// writable so that the hardware entry is not write-protected for dirty tracking).
    /// Linux: the L_PTE_* bits of set_pte_at(), arch/arm/include/asm/pgtable-2level.h
    public static func linuxPTE(_ pa: UInt64, prot: ArchProt) -> UInt64 {
        var e = (pa & 0xffff_f000) | lPteValid | lPteYoung
        if prot.write { e |= lPteDirty } else { e |= lPteRdonly }
        if prot.user { e |= lPteUser }
        if !prot.exec { e |= lPteXN }
        return e
    }

    /// The names of the bits set in a descriptor.
    public static func describe(_ raw: UInt64, level: Int) -> String {
        let raw = raw & 0xffff_ffff
        func apText(_ apx: Bool, _ ap: UInt64) -> String { "AP[2:0]=\(apx ? 1 : 0)\(ap >> 1 & 1)\(ap & 1)" }
        if level == 0 {
            switch raw & 3 {
            case 0: return "fault"
            case 1:
                return "page table @0x\(String(raw & 0xffff_fc00, radix: 16)) domain \((raw >> 5) & 0xf)" + (raw & pmdPXNTable != 0 ? " PXN" : "")
            default:
                let superS = raw & pmdSectSuper != 0
                var s = superS ? "supersection" : "section"
                if case .leaf(let base, _, _, _, _) = decode(raw, level: 0) { s += " PA=0x\(String(base, radix: 16))" }
                if !superS { s += " domain \((raw >> 5) & 0xf)" }
                s += " " + apText(raw & pmdSectAPX != 0, (raw >> 10) & 3)
                if raw & pmdSectXN != 0 { s += " XN" }
                if raw & pmdSectPXN != 0 { s += " PXN" }
                if raw & pmdSectNG != 0 { s += " nG" }
                if raw & pmdSectS != 0 { s += " S" }
                return s
            }
        }
        switch raw & 3 {
        case 0: return "fault"
        case 1:
            var s = "large page PA=0x\(String(raw & 0xffff_0000, radix: 16)) " + apText(raw & pteExtAPX != 0, (raw >> 4) & 3)
            if raw & pteLargeXN != 0 { s += " XN" }
            if raw & pteExtNG != 0 { s += " nG" }
            return s
        default:
            var s = "small page PA=0x\(String(raw & 0xffff_f000, radix: 16)) " + apText(raw & pteExtAPX != 0, (raw >> 4) & 3)
            if raw & pteExtXN != 0 { s += " XN" }
            if raw & pteExtNG != 0 { s += " nG" }
            return s
        }
    }
}
