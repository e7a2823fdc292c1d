/// RISC-V Sv39, Sv48 and Sv57 (the privileged spec, "Supervisor-Level ISA", §Sv39/Sv48/Sv57).
///
/// satp.MODE selects 3, 4 or 5 levels of 512 8-byte PTEs, VPN[i] = VA bits 12+9i+8:12+9i. A PTE:
/// V[0] R[1] W[2] X[3] U[4] G[5] A[6] D[7] RSW[9:8] PPN[53:10] (Sv39: PPN[0] 18:10, PPN[1] 27:19,
/// PPN[2] 53:28), bits 60:54 reserved, PBMT[62:61] and N[63] (Svpbmt/Svnapot, not implemented
/// here, so reserved). V=0, or W=1 with R=0, is a page fault; R or X set makes a leaf at any level
/// (megapage, gigapage, terapage, petapage), whose PPN bits below its level must be zero (else a
/// misaligned superpage: page fault); R=X=0 points to the next level, and a pointer at level 0 is
/// a page fault. U=1 pages are for U-mode only (S-mode may not touch them: sstatus.SUM=0), U=0
/// pages for S-mode only. With Svade (no Svadu), A=0, or D=0 on a store, is a page fault and the
/// kernel sets the bit. VA bits 63:VA must all equal bit VA-1.
public enum RISCV {
    /// Returns the levels of Sv39/Sv48/Sv57 (by `vaBits`), root first.
    public static func levels(vaBits: Int) -> [ArchLevel] {
        let n = (vaBits - 12) / 9
        let linux: [String] = n == 3 ? ["pgd", "pmd", "pte"] : n == 4 ? ["pgd", "pud", "pmd", "pte"] : ["pgd", "p4d", "pud", "pmd", "pte"]
        return (0..<n).map { i in
            let l = n - 1 - i
            return ArchLevel(name: "VPN[\(l)]", linuxName: linux[i], shift: 12 + 9 * l, bits: 9, leafAllowed: true)
        }
    }

    static let v: UInt64 = 1 << 0, r: UInt64 = 1 << 1, w: UInt64 = 1 << 2, x: UInt64 = 1 << 3
    static let u: UInt64 = 1 << 4, g: UInt64 = 1 << 5, a: UInt64 = 1 << 6, d: UInt64 = 1 << 7

    /// Decodes a PTE (`last` = level 0; `leafShift` = log2 of a leaf's size at this level).
    public static func decode(_ raw: UInt64, last: Bool, leafShift: Int) -> ArchEntryKind {
        guard raw & v != 0 else { return .invalid(reason: "page fault: V=0") }
        if raw & w != 0 && raw & r == 0 { return .invalid(reason: "page fault: reserved encoding W=1 R=0") }
        if raw >> 54 != 0 { return .invalid(reason: "page fault: reserved bits 63:54 set") }
        let base = ((raw >> 10) & 0xfff_ffff_ffff) << 12
        if raw & (r | x) == 0 {
            if last { return .invalid(reason: "page fault: pointer PTE at level 0") }
            return .table(next: base, limits: .all)
        }
        if base & ((UInt64(1) << UInt64(leafShift)) &- 1) != 0 { return .invalid(reason: "page fault: misaligned superpage (low PPN bits set)") }
        var rights: ArchRights = []
        let user = raw & u != 0
        if raw & r != 0 { rights.insert(user ? .userRead : .kernRead) }
        if raw & w != 0 { rights.insert(user ? .userWrite : .kernWrite) }
        if raw & x != 0 { rights.insert(user ? .userExec : .kernExec) }
        return .leaf(base: base, rights: rights, accessed: raw & a != 0, dirty: raw & d != 0, global: raw & g != 0)
    }

    /// Returns the set bits and the PPN, e.g. "V R W U A D ppn=0x80200".
    public static func describe(_ raw: UInt64) -> String {
        if raw & v == 0 { return raw == 0 ? "empty" : "V=0" }
        var s: [String] = []
        for (b, n) in [(v, "V"), (r, "R"), (w, "W"), (x, "X"), (u, "U"), (g, "G"), (a, "A"), (d, "D")] where raw & b != 0 { s.append(n) }
        s.append("ppn=0x" + String((raw >> 10) & 0xfff_ffff_ffff, radix: 16))
        return s.joined(separator: " ")
    }

    /// Returns a pointer PTE (V only) to the table at `next`.
    public static func encodeTable(_ next: UInt64) -> UInt64 { (next >> 12) << 10 | v }

    /// Returns a leaf PTE for `pa` (V R, W/X/U/G from `prot`, A, and D when writable, as Linux's
    /// PAGE_* do), or nil when `pa` is wider than 56 bits.
    public static func encodeLeaf(_ pa: UInt64, prot: ArchProt) -> UInt64? {
        guard pa >> 56 == 0 else { return nil }
        var e = (pa >> 12) << 10 | v | r | a
        if prot.write { e |= w | d }
        if prot.exec { e |= x }
        if prot.user { e |= u }
        if prot.global { e |= g }
        return e
    }
}
