/// ARM64 (VMSAv8-64) stage-1 translation for EL1&0 (Arm ARM D8 "The AArch64 Virtual Memory System
/// Architecture"): 4, 16 or 64 KiB granules, a VA size of 36...52 bits (TCR_EL1.T0SZ/T1SZ =
/// 64 - VA), two roots selected by the top VA bits (all zeros: TTBR0_EL1, user; all ones:
/// TTBR1_EL1, kernel; TBI off), and an ASID in TTBR0_EL1[63:48] (TCR_EL1.A1 = 0) that tags the
/// translations of non-global (nG=1) pages.
///
/// Each level resolves granule-3 bits (9, 11, 13); the walk starts at the level that leaves the
/// top level with the remaining bits (4K/39-bit: L1..L3; 4K/48: L0..L3; 4K/52 with FEAT_LPA2:
/// L-1..L3; 64K/42: L2..L3). Descriptor bits 1:0: x0 invalid; 11 at L0-L2 a table, 01 at
/// L1/L2 (4K), L2 (16K, 64K) — and L0 (4K) / L1 (16K, 64K) with 52-bit output addresses — a
/// block; 11 at L3 a page, 01 at L3 reserved (translation fault). Leaf attributes: AttrIndx[4:2],
/// NS[5], AP[7:6] (AP[1] = EL0 access, AP[2] = read-only), SH[9:8], AF[10], nG[11], DBM[51],
/// Contiguous[52], PXN[53], UXN[54]. Table attributes: PXNTable[59], UXNTable[60],
/// APTable[62:61] (bit 61: no EL0 access below, bit 62: no write below). Output address bits 47:g;
/// with 52-bit VA and PA, 64K (FEAT_LPA) keeps OA[51:48] in bits 15:12 and 4K/16K (FEAT_LPA2)
/// keep OA[51:50] in bits 9:8 (SH moves to TCR). AF=0 is an access-flag fault (no FEAT_HAFDBS).
public enum ARM64 {
    /// Returns the levels for a granule of `1 << granuleShift` bytes and `vaBits` of VA, root first.
    public static func levels(granuleShift g: Int, vaBits v: Int) -> [ArchLevel] {
        let stride = g - 3
        let n = (v - g + stride - 1) / stride
        let linux: [String] = [["pgd", "pte"], ["pgd", "pmd", "pte"], ["pgd", "pud", "pmd", "pte"],
                               ["pgd", "p4d", "pud", "pmd", "pte"]][n - 2]
        var out: [ArchLevel] = []
        for i in 0..<n {
            let lvl = 4 - n + i
            let shift = g + (3 - lvl) * stride
            let bits = i == 0 ? v - shift : stride
            var leaf = lvl == 3 || lvl == 2 || (g == 12 && lvl == 1)
            if v == 52 && ((g == 12 && lvl == 0) || (g != 12 && lvl == 1)) { leaf = true }
            out.append(ArchLevel(name: "L\(lvl)", linuxName: linux[i], shift: shift, bits: bits, leafAllowed: leaf))
        }
        return out
    }

    /// Returns 0 (TTBR0_EL1) when bits 63:vaBits of `va` are all zero, 1 (TTBR1_EL1) when all one, else nil.
    public static func ttbrSelect(_ va: UInt64, vaBits: Int) -> Int? {
        let top = va >> UInt64(vaBits)
        if top == 0 { return 0 }
        if top == UInt64.max >> UInt64(vaBits) { return 1 }
        return nil
    }

    /// Returns the output (or next-table) address of a descriptor with the given granule.
    static func outputAddress(_ raw: UInt64, granuleShift g: Int, lpa: Bool) -> UInt64 {
        var a = raw & 0x0000_ffff_ffff_f000 & ~((UInt64(1) << UInt64(g)) &- 1)
        if lpa {
            if g == 16 { a |= ((raw >> 12) & 0xf) << 48 } else { a = (raw & 0x0003_ffff_ffff_f000 & ~((UInt64(1) << UInt64(g)) &- 1)) | ((raw >> 8) & 3) << 50 }
        }
        return a
    }

    /// Returns the address field bits of a descriptor for `pa`, or nil when `pa` does not fit.
    static func addressField(_ pa: UInt64, granuleShift g: Int, lpa: Bool) -> UInt64? {
        if !lpa { return pa >> 48 == 0 ? pa & 0x0000_ffff_ffff_f000 : nil }
        guard pa >> 52 == 0 else { return nil }
        if g == 16 { return (pa & 0x0000_ffff_ffff_0000) | ((pa >> 48) & 0xf) << 12 }
        return (pa & 0x0003_ffff_ffff_f000) | ((pa >> 50) & 3) << 8
    }

    /// Decodes a descriptor at a level (`last` = L3; `leafAllowed` = a block is legal here).
    public static func decode(_ raw: UInt64, last: Bool, leafAllowed: Bool, granuleShift g: Int, lpa: Bool) -> ArchEntryKind {
        guard raw & 1 != 0 else { return .invalid(reason: "translation fault: descriptor invalid (bit 0 = 0)") }
        let isTable = raw & 2 != 0
        if last && !isTable { return .invalid(reason: "translation fault: reserved descriptor (bits 1:0 = 01 at level 3)") }
        if !last && isTable {
            var lim = ArchRights.all
            if raw & (1 << 59) != 0 { lim.remove(.kernExec) }
            if raw & (1 << 60) != 0 { lim.remove(.userExec) }
            if raw & (1 << 61) != 0 { lim.subtract([.userRead, .userWrite]) }
            if raw & (1 << 62) != 0 { lim.subtract([.userWrite, .kernWrite]) }
            return .table(next: outputAddress(raw, granuleShift: g, lpa: lpa), limits: lim)
        }
        if !last && !leafAllowed { return .invalid(reason: "translation fault: block descriptor not allowed at this level") }
        let ap1 = raw & (1 << 6) != 0, ap2 = raw & (1 << 7) != 0
        var r: ArchRights = [.kernRead]
        if !ap2 { r.insert(.kernWrite) }
        if ap1 { r.insert(.userRead); if !ap2 { r.insert(.userWrite) } }
        if raw & (1 << 54) == 0 { r.insert(.userExec) }
        if raw & (1 << 53) == 0 { r.insert(.kernExec) }
        return .leaf(base: outputAddress(raw, granuleShift: g, lpa: lpa), rights: r, accessed: raw & (1 << 10) != 0,
                     dirty: !ap2, global: raw & (1 << 11) == 0)
    }

    /// Returns the descriptor's type and set fields, e.g. "page AF SH=3 AP=01 nG PXN attr=0 addr=0x40000".
    public static func describe(_ raw: UInt64, last: Bool, granuleShift g: Int, lpa: Bool) -> String {
        if raw & 1 == 0 { return raw == 0 ? "invalid (empty)" : "invalid" }
        let isTable = raw & 2 != 0
        let addr = "addr=0x" + String(outputAddress(raw, granuleShift: g, lpa: lpa), radix: 16)
        if !last && isTable {
            var s = ["table"]
            if raw & (1 << 59) != 0 { s.append("PXNTable") }
            if raw & (1 << 60) != 0 { s.append("UXNTable") }
            let apt = (raw >> 61) & 3
            if apt != 0 { s.append("APTable=\(apt >> 1)\(apt & 1)") }
            return (s + [addr]).joined(separator: " ")
        }
        if last && !isTable { return "reserved (01 at L3)" }
        var s = [last ? "page" : "block"]
        if raw & (1 << 10) != 0 { s.append("AF") }
        if !(lpa && g != 16) { s.append("SH=\((raw >> 8) & 3)") }
        s.append("AP=\((raw >> 7) & 1)\((raw >> 6) & 1)")
        if raw & (1 << 11) != 0 { s.append("nG") }
        if raw & (1 << 51) != 0 { s.append("DBM") }
        if raw & (1 << 52) != 0 { s.append("Cont") }
        if raw & (1 << 53) != 0 { s.append("PXN") }
        if raw & (1 << 54) != 0 { s.append("UXN") }
        s.append("attr=\((raw >> 2) & 7)")
        return (s + [addr]).joined(separator: " ")
    }

    /// Returns a table descriptor (bits 1:0 = 11, no table attributes: Linux's PMD_TYPE_TABLE).
    public static func encodeTable(_ next: UInt64, granuleShift g: Int, lpa: Bool) -> UInt64 {
        (addressField(next, granuleShift: g, lpa: lpa) ?? 0) | 3
    }

    /// Returns a page (L3) or block descriptor for `pa`: AttrIndx 0 (MT_NORMAL), inner shareable
    /// unless LPA2, AF set, nG unless global, AP from write/user, PXN on user pages and on
    /// non-executable kernel pages, UXN unless user-executable (Linux's PROT_* for arm64); nil
    /// when `pa` does not fit.
    public static func encodeLeaf(_ pa: UInt64, last: Bool, prot: ArchProt, granuleShift g: Int, lpa: Bool) -> UInt64? {
        guard var e = addressField(pa, granuleShift: g, lpa: lpa) else { return nil }
        e |= last ? 3 : 1
        if !(lpa && g != 16) { e |= 3 << 8 }
        e |= 1 << 10
        if !prot.global { e |= 1 << 11 }
        if prot.user { e |= 1 << 6 }
        if !prot.write { e |= 1 << 7 }
        if prot.user || !prot.exec { e |= 1 << 53 }
        if !(prot.user && prot.exec) { e |= 1 << 54 }
        return e
    }
}
