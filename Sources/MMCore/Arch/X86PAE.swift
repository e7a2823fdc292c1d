/// x86 PAE paging (CR4.PAE=1, 32-bit VA; Intel SDM vol. 3A §4.4): a 4-entry page-directory-pointer
/// table indexed by VA bits 31:30, whose PDPTEs the CPU loads into registers when CR3 is written
/// (so a walk makes no memory reference for them), then a 512-entry page directory (bits 29:21;
/// PS=1 maps 2 MiB) and a 512-entry page table (bits 20:12). Entries are 64-bit as in x86-64,
/// including NX at bit 63. A PDPTE has only P[0], PWT[3], PCD[4] and the address; bits 2:1, 8:5
/// and 63 are reserved.
public enum X86PAE {
    public static let levels: [ArchLevel] = [
        ArchLevel(name: "PDPTE", linuxName: "pgd", shift: 30, bits: 2, leafAllowed: false),
        ArchLevel(name: "PDE", linuxName: "pmd", shift: 21, bits: 9, leafAllowed: true),
        ArchLevel(name: "PTE", linuxName: "pte", shift: 12, bits: 9, leafAllowed: true),
    ]
    static let pdpteReserved: UInt64 = 0x8000_0000_0000_01e6

    /// Decodes a PDPTE (level 0), PDE (1) or PTE (2).
    public static func decode(_ raw: UInt64, level: Int) -> ArchEntryKind {
        if level == 0 {
            guard raw & PTE.present != 0 else { return .invalid(reason: "#PF: PDPTE not present (P=0)") }
            if raw & pdpteReserved != 0 { return .invalid(reason: "#GP at the CR3 load: reserved PDPTE bit set") }
            return .table(next: raw & X86_64Format.addrMask, limits: .all)
        }
        return X86_64Format.decodeEntry(raw, largeShift: level == 1 ? 21 : nil, nx: true)
    }

    /// Returns a PDPTE (P only) or a PDE table entry for the table at `next`.
    public static func encodeTable(_ next: UInt64, level: Int) -> UInt64 {
        level == 0 ? (next & X86_64Format.addrMask) | PTE.present : X86_64Format.encodeTable(next)
    }
}
