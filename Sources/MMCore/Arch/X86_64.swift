/// x86-64 4-level and 5-level (CR4.LA57) paging entries (Intel SDM vol. 3A §4.5, tables 4-14..4-20).
///
/// Every entry: P[0] R/W[1] U/S[2] PWT[3] PCD[4] A[5]; D[6] and G[8] in leaves; PS[7] makes a
/// PDPTE a 1 GiB leaf and a PDE a 2 MiB leaf (reserved in PML5E/PML4E); PAT is bit 7 of a PTE and
/// bit 12 of a large leaf; the address field is bits 51:12 (51:30 for 1 GiB, 51:21 for 2 MiB,
/// whose low address bits 29:13 / 20:13 must be zero); XD/NX[63] with EFER.NXE=1. The model takes
/// MAXPHYADDR = 52, so no address bit is reserved. Rights accumulate: writable only if R/W is set
/// at every level, user only if U/S is set at every level, executable only if NX is clear at every
/// level (CR0.WP=1: supervisor writes obey R/W; SMEP/SMAP off).
public enum X86_64Format {
    static let addrMask: UInt64 = 0x000f_ffff_ffff_f000

    /// Returns the levels of 4-level (PML4) or 5-level (PML5, `la57`) paging, root first.
    public static func levels(la57: Bool) -> [ArchLevel] {
        var l = [ArchLevel(name: "PML4E", linuxName: la57 ? "p4d" : "pgd", shift: 39, bits: 9, leafAllowed: false),
                 ArchLevel(name: "PDPTE", linuxName: "pud", shift: 30, bits: 9, leafAllowed: true),
                 ArchLevel(name: "PDE", linuxName: "pmd", shift: 21, bits: 9, leafAllowed: true),
                 ArchLevel(name: "PTE", linuxName: "pte", shift: 12, bits: 9, leafAllowed: true)]
        if la57 { l.insert(ArchLevel(name: "PML5E", linuxName: "pgd", shift: 48, bits: 9, leafAllowed: false), at: 0) }
        return l
    }

    /// True when bits 63:vaBits-1 of `va` are all equal (x86-64 canonical form; RISC-V's rule too).
    public static func isCanonical(_ va: UInt64, vaBits: Int) -> Bool {
        let top = va >> UInt64(vaBits - 1)
        return top == 0 || top == (UInt64.max >> UInt64(vaBits - 1))
    }

    /// The rights an entry's R/W, U/S and NX bits allow (a table entry's limits or a leaf's rights).
    static func rights(_ raw: UInt64, nx: Bool) -> ArchRights {
        var r: ArchRights = [.kernRead, .userRead]
        if raw & PTE.rw != 0 { r.insert([.kernWrite, .userWrite]) }
        if !nx || raw & PTE.nx == 0 { r.insert([.kernExec, .userExec]) }
        if raw & PTE.user == 0 { r.subtract([.userRead, .userWrite, .userExec]) }
        return r
    }

    /// Decodes a PML5E/PML4E/PDPTE/PDE/PTE (by `level` of `levels`); PS in the top one or two
    /// levels is a reserved-bit fault, as are non-zero bits 29:13 (1 GiB) / 20:13 (2 MiB) of a leaf.
    public static func decode(_ raw: UInt64, level: Int, levels: Int) -> ArchEntryKind {
        let fromBottom = levels - 1 - level   // 0 = PTE, 1 = PDE, 2 = PDPTE
        return decodeEntry(raw, largeShift: fromBottom == 0 ? nil : fromBottom <= 2 ? 12 + 9 * fromBottom : -1, nx: true)
    }

    /// Decodes one 64-bit entry: `largeShift` nil for a PTE, the page shift when PS makes a leaf,
    /// -1 when PS is reserved at this level.
    static func decodeEntry(_ raw: UInt64, largeShift: Int?, nx: Bool) -> ArchEntryKind {
        guard raw & PTE.present != 0 else { return .invalid(reason: "#PF: not present (P=0)") }
        let r = rights(raw, nx: nx)
        if !nx && raw & PTE.nx != 0 { return .invalid(reason: "#PF: reserved bit 63 set (EFER.NXE=0)") }
        guard let ls = largeShift else {
            return .leaf(base: raw & addrMask, rights: r, accessed: raw & PTE.accessed != 0,
                         dirty: raw & PTE.dirty != 0, global: raw & PTE.global != 0)
        }
        if raw & PTE.pse == 0 { return .table(next: raw & addrMask, limits: r) }
        if ls < 0 { return .invalid(reason: "#PF: reserved bit set (PS=1 at this level)") }
        let low = raw & (((UInt64(1) << UInt64(ls)) &- 1) & ~UInt64(0x1fff))
        if low != 0 { return .invalid(reason: "#PF: reserved bit set (bits \(ls - 1):13 of a large page)") }
        return .leaf(base: raw & addrMask & ~((UInt64(1) << UInt64(ls)) &- 1), rights: r, accessed: raw & PTE.accessed != 0,
                     dirty: raw & PTE.dirty != 0, global: raw & PTE.global != 0)
    }

    /// Returns the names of the set bits and the address field, e.g. "P RW US A PS addr=0x200000".
    public static func describe(_ raw: UInt64, level: Int, pdpte: Bool, levels: Int) -> String {
        var s: [String] = []
        let names: [(UInt64, String)] = pdpte
            ? [(PTE.present, "P"), (PTE.pwt, "PWT"), (PTE.pcd, "PCD")]
            : [(PTE.present, "P"), (PTE.rw, "RW"), (PTE.user, "US"), (PTE.pwt, "PWT"), (PTE.pcd, "PCD"),
               (PTE.accessed, "A"), (PTE.dirty, "D"), (PTE.pse, level == levels - 1 ? "PAT" : "PS"), (PTE.global, "G"), (PTE.nx, "NX")]
        for (b, n) in names where raw & b != 0 { s.append(n) }
        if raw & PTE.present == 0 { return raw == 0 ? "empty" : "P=0 " + s.joined(separator: " ") }
        s.append("addr=0x" + String(raw & addrMask, radix: 16))
        return s.joined(separator: " ")
    }

    /// Returns a table entry P|RW|US|A with the next table's address (Linux: _PAGE_TABLE).
    public static func encodeTable(_ next: UInt64) -> UInt64 {
        (next & addrMask) | PTE.present | PTE.rw | PTE.user | PTE.accessed
    }

    /// Returns a PTE (or, with `large`, a PS leaf) for `pa` with `prot`; nil past 52 bits.
    public static func encodeLeaf(_ pa: UInt64, large: Bool, prot: ArchProt, maxPhysBits: Int) -> UInt64? {
        guard pa >> UInt64(maxPhysBits) == 0 else { return nil }
        var e = (pa & addrMask) | PTE.present
        if prot.write { e |= PTE.rw }
        if prot.user { e |= PTE.user }
        if !prot.exec { e |= PTE.nx }
        if prot.global { e |= PTE.global }
        if large { e |= PTE.pse }
        return e
    }
}
