/// x86 32-bit paging (CR4.PAE=0, CR4.PSE=1; Intel SDM vol. 3A §4.3, tables 4-4..4-6).
///
/// A 1024-entry page directory indexed by VA bits 31:22, a 1024-entry page table by bits 21:12,
/// 4-byte entries. Both: P[0] R/W[1] U/S[2] PWT[3] PCD[4] A[5]; a PDE with PS[7]=1 maps a 4 MiB
/// page: D[6], G[8], PAT[12], address bits 31:22 in bits 31:22 and (PSE-36) bits 39:32 in bits
/// 20:13, bit 21 reserved. A PTE: D[6] PAT[7] G[8], frame in bits 31:12. No NX bit: every
/// readable page is executable. Rights accumulate like x86-64 (R/W and U/S at both levels).
public enum X86_32 {
    public static let levels: [ArchLevel] = [
        ArchLevel(name: "PDE", linuxName: "pgd", shift: 22, bits: 10, leafAllowed: true),
        ArchLevel(name: "PTE", linuxName: "pte", shift: 12, bits: 10, leafAllowed: true),
    ]

    /// Decodes a PDE (level 0) or PTE (level 1).
    public static func decode(_ raw: UInt64, level: Int) -> ArchEntryKind {
        guard raw & PTE.present != 0 else { return .invalid(reason: "#PF: not present (P=0)") }
        let r = X86_64Format.rights(raw, nx: false)
        let a = raw & PTE.accessed != 0, d = raw & PTE.dirty != 0, g = raw & PTE.global != 0
        if level == 1 { return .leaf(base: raw & 0xffff_f000, rights: r, accessed: a, dirty: d, global: g) }
        if raw & PTE.pse == 0 { return .table(next: raw & 0xffff_f000, limits: r) }
        if raw & (1 << 21) != 0 { return .invalid(reason: "#PF: reserved bit 21 set in a 4 MiB PDE") }
        let base = (raw & 0xffc0_0000) | ((raw >> 13) & 0xff) << 32
        return .leaf(base: base, rights: r, accessed: a, dirty: d, global: g)
    }

    /// Returns the names of the set bits and the address field.
    public static func describe(_ raw: UInt64, level: Int) -> String {
        if raw & PTE.present == 0 { return raw == 0 ? "empty" : "P=0" }
        var s: [String] = []
        let large = level == 0 && raw & PTE.pse != 0
        let names: [(UInt64, String)] = [(PTE.present, "P"), (PTE.rw, "RW"), (PTE.user, "US"), (PTE.pwt, "PWT"), (PTE.pcd, "PCD"),
                                         (PTE.accessed, "A"), (PTE.dirty, "D"), (PTE.pse, level == 1 ? "PAT" : "PS"), (PTE.global, "G")]
        for (b, n) in names where raw & b != 0 { s.append(n) }
        if large {
            if raw & (1 << 12) != 0 { s.append("PAT") }
            s.append("addr=0x" + String((raw & 0xffc0_0000) | ((raw >> 13) & 0xff) << 32, radix: 16))
        } else {
            s.append("addr=0x" + String(raw & 0xffff_f000, radix: 16))
        }
        return s.joined(separator: " ")
    }

    /// Returns a PDE P|RW|US|A for the page table at `next`.
    public static func encodeTable(_ next: UInt64) -> UInt64 { (next & 0xffff_f000) | PTE.present | PTE.rw | PTE.user | PTE.accessed }

    /// Returns a PTE, or with `large` a 4 MiB PSE PDE (PSE-36 up to 40-bit addresses); nil if `pa` does not fit.
    public static func encodeLeaf(_ pa: UInt64, large: Bool, prot: ArchProt) -> UInt64? {
        guard pa >> (large ? 40 : 32) == 0 else { return nil }
        var e = PTE.present
        if large { e |= (pa & 0xffc0_0000) | ((pa >> 32) & 0xff) << 13 | PTE.pse } else { e |= pa & 0xffff_f000 }
        if prot.write { e |= PTE.rw }
        if prot.user { e |= PTE.user }
        if prot.global { e |= PTE.global }
        return e
    }
}
