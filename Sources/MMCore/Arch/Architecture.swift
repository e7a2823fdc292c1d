/// Paging formats of several MMUs behind one switch: the `Architecture` enum names a format and
/// geometry; `ArchPageTables` builds tables of that format in simulated frames (`FrameContents`)
/// and walks them the way that MMU's table walker does, recording every level's index and entry,
/// the memory references made, and the translation or the faulting level and reason.
///
/// The formats themselves (entry bits, leaf rules, canonical-address rules) are in X86_32.swift,
/// X86PAE.swift, X86_64.swift, ARM64.swift and RISCV.swift. The simulated kernel runs on the
/// 64-bit formats through `PageTableFormat` (MMU/pgtable.swift), which uses these names and
/// `describe` but encodes the kernel's entries itself.

/// Effective access rights of a translation, per privilege: what a user-mode (EL0, U-mode, CPL 3)
/// and a kernel-mode (EL1, S-mode, CPL 0) access may do.
public struct ArchRights: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let userRead = ArchRights(rawValue: 1 << 0)
    public static let userWrite = ArchRights(rawValue: 1 << 1)
    public static let userExec = ArchRights(rawValue: 1 << 2)
    public static let kernRead = ArchRights(rawValue: 1 << 3)
    public static let kernWrite = ArchRights(rawValue: 1 << 4)
    public static let kernExec = ArchRights(rawValue: 1 << 5)
    public static let all: ArchRights = [.userRead, .userWrite, .userExec, .kernRead, .kernWrite, .kernExec]

    /// Returns the right an access of `kind` at the given privilege needs.
    public static func needed(_ kind: AccessKind, user: Bool) -> ArchRights {
        switch (kind, user) {
        case (.read, true): return .userRead
        case (.write, true): return .userWrite
        case (.exec, true): return .userExec
        case (.read, false): return .kernRead
        case (.write, false): return .kernWrite
        case (.exec, false): return .kernExec
        }
    }

    /// "user rwx kernel rw-" style text.
    public var description: String {
        func t(_ r: ArchRights, _ c: Character) -> Character { contains(r) ? c : "-" }
        return "user " + String([t(.userRead, "r"), t(.userWrite, "w"), t(.userExec, "x")])
            + " kernel " + String([t(.kernRead, "r"), t(.kernWrite, "w"), t(.kernExec, "x")])
    }
}

/// The protection a mapping asks for, in the terms of mmap(): readable always, plus these.
public struct ArchProt: Hashable, Sendable {
    public var write: Bool
    public var exec: Bool
    /// A user page (else kernel only).
    public var user: Bool
    /// Global (x86 G, ARM64 nG clear, RISC-V G): shared by every address space.
    public var global: Bool
    public init(write: Bool = true, exec: Bool = false, user: Bool = true, global: Bool = false) {
        self.write = write; self.exec = exec; self.user = user; self.global = global
    }
}

/// One level of a radix page table: its names and the virtual-address bits that index it.
public struct ArchLevel: Hashable, Sendable {
    /// The architecture's name for the entry at this level (PML4E, L1, VPN[2]...).
    public var name: String
    /// Linux's name for the level (pgd, p4d, pud, pmd, pte).
    public var linuxName: String
    /// Lowest VA bit of the index.
    public var shift: Int
    /// Number of index bits.
    public var bits: Int
    /// True when a leaf (huge page, block, superpage) is allowed at this level.
    public var leafAllowed: Bool
    /// Returns the index of `va` in a table of this level.
    @inlinable public func index(_ va: UInt64) -> UInt64 { (va >> UInt64(shift)) & ((1 << UInt64(bits)) &- 1) }
}

/// What one entry says, decoded by its format.
public enum ArchEntryKind: Equatable, Sendable {
    /// Not valid (P=0, V=0, bits 1:0 = x0...) or malformed: the walk faults here with `reason`.
    case invalid(reason: String)
    /// A pointer to the next-level table at `next`; `limits` are the rights the table entry
    /// leaves to the entries below it (x86 RW/US/NX, ARM64 APTable/UXNTable/PXNTable).
    case table(next: UInt64, limits: ArchRights)
    /// A leaf mapping the page at `base` with these rights and status bits.
    case leaf(base: UInt64, rights: ArchRights, accessed: Bool, dirty: Bool, global: Bool)
}

/// Why a walk stopped without a translation.
public struct ArchFault: Equatable, Sendable, CustomStringConvertible {
    /// Index into the architecture's `levels` of the entry that faulted; nil when the address was
    /// rejected before any table was read (non-canonical, outside both TTBR ranges).
    public var level: Int?
    /// The architecture's name for the fault (#PF, translation fault, page fault...) and why.
    public var reason: String
    public var description: String { reason }
}

/// One entry read by a walk.
public struct ArchWalkStep: Equatable, Sendable {
    public var level: Int
    public var index: UInt64
    /// Physical address of the entry.
    public var entryAddress: UInt64
    /// The entry as read (before any A/D update).
    public var entry: UInt64
    /// False for entries the MMU holds in registers (PAE's PDPTEs, loaded at a CR3 write).
    public var memoryReference: Bool
    public var kind: ArchEntryKind
}

/// A successful translation.
public struct ArchTranslation: Equatable, Sendable {
    public var physAddr: UInt64
    /// log2 of the size of the page or block that maps it.
    public var pageShift: Int
    public var rights: ArchRights
    public var global: Bool
}

/// Everything a walk did.
public struct ArchWalk: Equatable, Sendable {
    public var va: UInt64
    /// The root the walk started from (CR3, TTBR0/TTBR1, satp) and its name.
    public var rootName: String
    public var root: UInt64
    public var steps: [ArchWalkStep]
    public var result: Result<ArchTranslation, ArchFaultError>
    /// Entry reads that went to memory (plus the write-backs of A/D bits).
    public var memoryReferences: Int
    /// Of those, the writes that set A or D (x86 only).
    public var writeBacks: Int = 0
}

/// `ArchFault` as an Error, so it can sit in a Result.
public struct ArchFaultError: Error, Equatable, Sendable { public var fault: ArchFault }

/// Why a mapping could not be built.
public enum ArchMapError: Error, Equatable, CustomStringConvertible {
    case nonCanonical(UInt64)
    case misaligned(UInt64, size: UInt64)
    case unsupportedSize(UInt64)
    case physTooLarge(UInt64)
    case overlaps(UInt64)
    case outOfTableMemory
    public var description: String {
        func h(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }
        switch self {
        case .nonCanonical(let v): return "virtual address \(h(v)) is not canonical for this architecture"
        case .misaligned(let a, let s): return "address \(h(a)) is not aligned to the page size \(h(s))"
        case .unsupportedSize(let s): return "no page or block size \(h(s)) in this format"
        case .physTooLarge(let p): return "physical address \(h(p)) does not fit the entry's address field"
        case .overlaps(let v): return "\(h(v)) is already mapped"
        case .outOfTableMemory: return "out of page-table memory"
        }
    }
}

/// The paging formats mmsim knows.
public enum Architecture: Hashable, Sendable, CustomStringConvertible {
    /// x86 32-bit paging (CR4.PSE=1): page directory → page table, 4 KiB pages and 4 MiB PSE pages
    /// (PSE-36: 40-bit physical addresses in 4 MiB pages).
    case x86_32
    /// x86 PAE paging: PDPT (4 entries in registers) → page directory → page table; 2 MiB pages; NX.
    case x86PAE
    /// x86-64 4-level paging (48-bit VA) or 5-level with CR4.LA57 (57-bit VA).
    case x86_64(la57: Bool)
    /// ARM64 VMSAv8-64 stage 1 with a 4, 16 or 64 KiB granule (12, 14, 16 = log2) and a VA size.
    case arm64(granuleShift: Int, vaBits: Int)
    /// RISC-V Sv39, Sv48 or Sv57 (the VA bits).
    case riscv(vaBits: Int)
    /// ARMv7-A short-descriptor format (no LPAE) with TTBCR.N = `ttbcrN` (0...7): sections,
    /// supersections, large and small pages, domains (ARM32.swift).
    case arm32(ttbcrN: Int)

    /// Every name `Architecture(name:)` accepts, for help and error texts.
    public static var names: [String] {
        var n = ["x86-32", "x86-pae", "x86-64", "x86-64-la57"]
        for g in ["4k", "16k", "64k"] { for v in [39, 42, 47, 48, 52] { n.append("arm64-\(g)-\(v)") } }
        return n + ["sv39", "sv48", "sv57", "arm32", "arm32-ttbcr2"]
    }

    /// Parses a name such as `x86-64`, `x86-64-la57`, `arm64-4k-48`, `sv39`; nil if unknown.
    public init?(name: String) {
        switch name.lowercased() {
        case "x86-32", "i386": self = .x86_32
        case "x86-pae", "pae", "x86-32-pae": self = .x86PAE
        case "x86-64", "x86_64": self = .x86_64(la57: false)
        case "x86-64-la57", "la57": self = .x86_64(la57: true)
        case "sv39": self = .riscv(vaBits: 39)
        case "sv48": self = .riscv(vaBits: 48)
        case "sv57": self = .riscv(vaBits: 57)
        case "arm32", "armv7": self = .arm32(ttbcrN: 0)
        default:
            if name.lowercased().hasPrefix("arm32-ttbcr"), let n = Int(name.dropFirst(11)), (0...7).contains(n) {
                self = .arm32(ttbcrN: n)
                return
            }
            let p = name.lowercased().split(separator: "-")
            guard p.count == 3, p[0] == "arm64", let v = Int(p[2]), (36...52).contains(v) else { return nil }
            let g: Int
            switch p[1] { case "4k": g = 12; case "16k": g = 14; case "64k": g = 16; default: return nil }
            guard v >= g + (g - 3) else { return nil }
            self = .arm64(granuleShift: g, vaBits: v)
        }
    }

    /// The canonical name (round-trips through `init(name:)`).
    public var description: String {
        switch self {
        case .x86_32: return "x86-32"
        case .x86PAE: return "x86-pae"
        case .x86_64(let l): return l ? "x86-64-la57" : "x86-64"
        case .arm64(let g, let v): return "arm64-\(1 << (g - 10))k-\(v)"
        case .riscv(let v): return "sv\(v)"
        case .arm32(let n): return n == 0 ? "arm32" : "arm32-ttbcr\(n)"
        }
    }

    /// Bytes per entry: 4 for x86-32 and ARMv7 short descriptors, else 8.
    public var entryBytes: Int {
        switch self {
        case .x86_32, .arm32: return 4
        default: return 8
        }
    }
    /// log2 of the base page size.
    public var pageShift: Int { if case .arm64(let g, _) = self { return g }; return 12 }
    /// Bits of virtual address translated.
    public var vaBits: Int {
        switch self {
        case .x86_32, .x86PAE, .arm32: return 32
        case .x86_64(let l): return l ? 57 : 48
        case .arm64(_, let v), .riscv(let v): return v
        }
    }
    /// log2 of the bytes of a table at a level (the top-level table may be smaller).
    public func tableShift(_ level: Int) -> Int {
        let l = levels[level]
        return max(l.bits + (entryBytes == 4 ? 2 : 3), self == .x86PAE && level == 0 ? 5 : 0)
    }

    /// The levels from the root down.
    public var levels: [ArchLevel] {
        switch self {
        case .x86_32: return X86_32.levels
        case .x86PAE: return X86PAE.levels
        case .x86_64(let l): return X86_64Format.levels(la57: l)
        case .arm64(let g, let v): return ARM64.levels(granuleShift: g, vaBits: v)
        case .riscv(let v): return RISCV.levels(vaBits: v)
        case .arm32: return ARM32.levels
        }
    }

    /// Returns the leaf page sizes (log2) this format supports, smallest first.
    public var pageShifts: [Int] {
        if case .arm32 = self { return ARM32.pageShifts }
        return levels.filter(\.leafAllowed).map(\.shift).sorted()
    }

    /// The level a leaf of `1 << shift` bytes sits at and how many consecutive entries hold it
    /// (16 for ARMv7 large pages and supersections, else 1); nil when there is no such size.
    public func leafPlacement(_ shift: Int) -> (level: Int, copies: Int)? {
        if case .arm32 = self { return ARM32.placement(shift) }
        guard let l = levels.firstIndex(where: { $0.shift == shift && $0.leafAllowed }) else { return nil }
        return (l, 1)
    }

    /// log2 of the bytes the leaf entry `raw` at `level` maps.
    public func leafShift(_ raw: UInt64, level: Int) -> Int {
        if case .arm32 = self { return ARM32.leafShift(raw, level: level) }
        return levels[level].shift
    }

    /// Returns nil when `va` may be translated, else the fault a walker raises before reading any
    /// table (x86-64 #GP for a non-canonical address; ARM64 translation fault outside both
    /// TTBR ranges; RISC-V page fault when bits above the VA differ from bit VA-1).
    public func canonicalFault(_ va: UInt64) -> String? {
        switch self {
        case .x86_32, .x86PAE, .arm32:
            return va >> 32 != 0 ? "address wider than 32 bits" : nil
        case .x86_64:
            return X86_64Format.isCanonical(va, vaBits: vaBits) ? nil : "#GP(0): non-canonical address (bits 63:\(vaBits - 1) differ)"
        case .arm64:
            return ARM64.ttbrSelect(va, vaBits: vaBits) == nil
                ? "translation fault: VA outside both TTBR0 and TTBR1 ranges (bits 63:\(vaBits) neither all 0 nor all 1)" : nil
        case .riscv:
            return X86_64Format.isCanonical(va, vaBits: vaBits) ? nil : "page fault: bits 63:\(vaBits) do not all equal bit \(vaBits - 1)"
        }
    }

    /// Decodes `raw` read at level `level`.
    public func decode(_ raw: UInt64, level: Int) -> ArchEntryKind {
        let last = level == levels.count - 1
        switch self {
        case .x86_32: return X86_32.decode(raw, level: level)
        case .x86PAE: return X86PAE.decode(raw, level: level)
        case .x86_64: return X86_64Format.decode(raw, level: level, levels: levels.count)
        case .arm64(let g, let v): return ARM64.decode(raw, last: last, leafAllowed: levels[level].leafAllowed, granuleShift: g, lpa: v == 52)
        case .riscv: return RISCV.decode(raw, last: last, leafShift: levels[level].shift)
        case .arm32: return ARM32.decode(raw, level: level)
        }
    }

    /// The names of the bits set in `raw` at `level`, for listings ("P RW US A PFN=0x1234").
    public func describe(_ raw: UInt64, level: Int) -> String {
        switch self {
        case .x86_32: return X86_32.describe(raw, level: level)
        case .x86PAE, .x86_64: return X86_64Format.describe(raw, level: level, pdpte: self == .x86PAE && level == 0, levels: levels.count)
        case .arm64(let g, let v): return ARM64.describe(raw, last: level == levels.count - 1, granuleShift: g, lpa: v == 52)
        case .riscv: return RISCV.describe(raw)
        case .arm32: return ARM32.describe(raw, level: level)
        }
    }

    /// Returns a table entry pointing at the table at `next`, permitting everything below.
    public func encodeTable(_ next: UInt64, level: Int) -> UInt64 {
        switch self {
        case .x86_32: return X86_32.encodeTable(next)
        case .x86PAE: return X86PAE.encodeTable(next, level: level)
        case .x86_64: return X86_64Format.encodeTable(next)
        case .arm64(let g, let v): return ARM64.encodeTable(next, granuleShift: g, lpa: v == 52)
        case .riscv: return RISCV.encodeTable(next)
        case .arm32: return ARM32.encodeTable(next, domain: ARM32.domainUser)
        }
    }

    /// Returns a leaf entry at `level` mapping `pa` with `prot`, or nil when `pa` does not fit.
    public func encodeLeaf(_ pa: UInt64, level: Int, prot: ArchProt) -> UInt64? {
        let last = level == levels.count - 1
        switch self {
        case .x86_32: return X86_32.encodeLeaf(pa, large: !last, prot: prot)
        case .x86PAE, .x86_64: return X86_64Format.encodeLeaf(pa, large: !last, prot: prot, maxPhysBits: 52)
        case .arm64(let g, let v): return ARM64.encodeLeaf(pa, last: last, prot: prot, granuleShift: g, lpa: v == 52)
        case .riscv: return RISCV.encodeLeaf(pa, prot: prot)
        case .arm32: return ARM32.encodeLeaf(pa, shift: last ? 12 : 20, prot: prot)
        }
    }

    /// The name of the root register and its value for a root table at `root` (ASID for ARM64).
    public func rootName(va: UInt64) -> String {
        switch self {
        case .x86_32, .x86PAE, .x86_64: return "CR3"
        case .arm64(_, let v): return ARM64.ttbrSelect(va, vaBits: v) == 1 ? "TTBR1_EL1" : "TTBR0_EL1"
        case .riscv: return "satp"
        case .arm32(let n): return n > 0 && va >> UInt64(32 - n) != 0 ? "TTBR1" : "TTBR0"
        }
    }

    /// The fault name used for a failed permission check: "#PF", "permission fault", "page fault".
    var faultName: String {
        switch self {
        case .x86_32, .x86PAE, .x86_64: return "#PF"
        case .arm64: return "permission fault"
        case .riscv: return "page fault"
        case .arm32: return "permission fault"
        }
    }
}

/// Page tables of one architecture in simulated frames, with a bump allocator for table frames.
///
/// Tables live in a `FrameContents` of `poolFrames` 4 KiB frames at physical address 0; a table of
/// more than 4 KiB (ARM64 16/64 KiB granules) spans consecutive frames, aligned to its size. Leaf
/// output addresses may be anywhere the entry format can hold.
public struct ArchPageTables {
    public let arch: Architecture
    public private(set) var memory: FrameContents
    public let poolFrames: Int
    /// Next free byte of the table pool.
    var brk: UInt64
    /// Root table of the lower (user) half: CR3, TTBR0_EL1 or satp.
    public private(set) var root: UInt64
    /// Root table of ARM64's upper half (TTBR1_EL1); equal to `root` elsewhere.
    public private(set) var root1: UInt64
    /// ARM64 ASID in TTBR0_EL1[63:48] (TCR_EL1.A1 = 0); the RISC-V satp ASID; the x86 PCID;
    /// ARMv7's CONTEXTIDR.ASID.
    public var asid: UInt16 = 0
    /// ARMv7 Domain Access Control Register: two bits per domain (00 no access, 01 client,
    /// 11 manager, 10 reserved). Linux's DACR_INIT by default.
    public var dacr: UInt32 = ARM32.dacrInit
    /// Number of table frames allocated, in bytes.
    public var tableBytes: UInt64 { brk &- firstTable }
    let firstTable: UInt64 = 0x1000

    /// Creates empty tables with `poolFrames` 4 KiB frames of table memory (page 0 is left unused).
    public init(_ arch: Architecture, poolFrames: Int = 4096) {
        self.arch = arch
        self.poolFrames = max(poolFrames, 64)
        memory = FrameContents(frames: self.poolFrames)
        brk = firstTable
        root = 0; root1 = 0
        root = allocTable(level: 0) ?? 0
        if case .arm64 = arch { root1 = allocTable(level: 0) ?? 0 } else { root1 = root }
        if case .arm32(let n) = arch, n > 0 { root1 = allocTable(level: 0) ?? 0 }
    }

    /// Returns the physical address of a new zeroed table for `level`, or nil when the pool is full.
    /// Linux: pgd_alloc() / __pte_alloc()
    mutating func allocTable(level: Int) -> UInt64? {
        let size = UInt64(1) << UInt64(max(arch.tableShift(level), 3))
        let align = max(size, 8)
        let at = (brk &+ align &- 1) & ~(align &- 1)
        guard at &+ size <= UInt64(poolFrames) << 12 else { return nil }
        brk = at &+ size
        return at
    }

    /// Reads the entry of `arch.entryBytes` at `pa`; all ones outside the pool (an open bus).
    public func readEntry(_ pa: UInt64) -> UInt64 {
        guard pa >> 12 < UInt64(poolFrames) else { return arch.entryBytes == 4 ? 0xffff_ffff : ~0 }
        let w = memory.readWord(PFN(pa >> 12), Int((pa & 0xfff) >> 3))
        if arch.entryBytes == 8 { return w }
        return (w >> ((pa & 4) * 8)) & 0xffff_ffff
    }

    /// Writes the entry at `pa` (inside the pool).
    mutating func writeEntry(_ pa: UInt64, _ v: UInt64) {
        let pfn = PFN(pa >> 12), i = Int((pa & 0xfff) >> 3)
        if arch.entryBytes == 8 { memory.writeWord(pfn, i, v); return }
        let shift = (pa & 4) * 8
        let w = memory.readWord(pfn, i)
        memory.writeWord(pfn, i, (w & ~(0xffff_ffff << shift)) | ((v & 0xffff_ffff) << shift))
    }

    /// Returns the root table for `va` (TTBR1's for the upper half on ARM64).
    func rootFor(_ va: UInt64) -> UInt64 {
        if case .arm64(_, let v) = arch, ARM64.ttbrSelect(va, vaBits: v) == 1 { return root1 }
        if case .arm32(let n) = arch, n > 0, va >> UInt64(32 - n) != 0 { return root1 }
        return root
    }

    /// Maps the page or block of `1 << pageShift` bytes at `va` to `pa`, allocating tables on the
    /// way down; throws when `va` is non-canonical, either address is misaligned, the size has no
    /// leaf level, `pa` does not fit, the range is already mapped or table memory runs out.
    /// Linux: set_pte_at() / set_pmd_at() after __pte_alloc(), mm/memory.c
    public mutating func map(va: UInt64, pa: UInt64, pageShift: Int, prot: ArchProt) throws {
        guard arch.canonicalFault(va) == nil else { throw ArchMapError.nonCanonical(va) }
        let lv = arch.levels
        guard let (leaf, copies) = arch.leafPlacement(pageShift) else {
            throw ArchMapError.unsupportedSize(pageShift < 64 ? 1 << UInt64(pageShift) : 0)
        }
        let size = UInt64(1) << UInt64(pageShift)
        guard va & (size &- 1) == 0 else { throw ArchMapError.misaligned(va, size: size) }
        guard pa & (size &- 1) == 0 else { throw ArchMapError.misaligned(pa, size: size) }
        var table = rootFor(va)
        for i in 0..<leaf {
            let ea = table &+ lv[i].index(va) &* UInt64(arch.entryBytes)
            let e = readEntry(ea)
            switch arch.decode(e, level: i) {
            case .table(let next, _): table = next
            case .leaf: throw ArchMapError.overlaps(va)
            case .invalid:
                if e != 0 && !(arch == .x86PAE && i == 0) { throw ArchMapError.overlaps(va) }
                if case .arm32 = arch {
                    table = try arm32PTEPage(va, l1Entry: ea, user: prot.user)
                    continue
                }
                guard let t = allocTable(level: i + 1) else { throw ArchMapError.outOfTableMemory }
                writeEntry(ea, arch.encodeTable(t, level: i))
                table = t
            }
        }
        let first = table &+ lv[leaf].index(va) &* UInt64(arch.entryBytes)
        for c in 0..<copies where readEntry(first &+ UInt64(c * arch.entryBytes)) != 0 { throw ArchMapError.overlaps(va) }
        let e: UInt64?
        if case .arm32 = arch { e = ARM32.encodeLeaf(pa, shift: pageShift, prot: prot) } else { e = arch.encodeLeaf(pa, level: leaf, prot: prot) }
        guard let e else { throw ArchMapError.physTooLarge(pa) }
        for c in 0..<copies { writeEntry(first &+ UInt64(c * arch.entryBytes), e) }
        // Linux's shadow entry of a small page, 2048 bytes below the hardware entry.
        if case .arm32 = arch, pageShift == 12 { writeEntry(first &- 2048, ARM32.linuxPTE(pa, prot: prot)) }
    }

    /// Allocates Linux's 4 KiB PTE page for the 2 MiB around `va` (ARMv7): Linux tables at +0 and
    /// +1024, hardware tables at +2048 and +3072; points the pair of L1 entries (even and odd MiB)
    /// that are still empty at the hardware tables, in DOMAIN_USER for user pages else
    /// DOMAIN_KERNEL; returns the hardware table for `va`.
    /// Linux: pte_alloc_one() / __pmd_populate(), arch/arm/include/asm/pgalloc.h
    mutating func arm32PTEPage(_ va: UInt64, l1Entry: UInt64, user: Bool) throws -> UInt64 {
        let size: UInt64 = 4096
        let at = (brk &+ size &- 1) & ~(size &- 1)
        guard at &+ size <= UInt64(poolFrames) << 12 else { throw ArchMapError.outOfTableMemory }
        brk = at &+ size
        let pairBase = l1Entry & ~7   // the even entry of the pair (4-byte entries)
        let domain = user ? ARM32.domainUser : ARM32.domainKernel
        for k in 0..<2 {
            let ea = pairBase &+ UInt64(k * 4)
            if readEntry(ea) == 0 { writeEntry(ea, ARM32.encodeTable(at &+ 2048 &+ UInt64(k) * 1024, domain: domain)) }
        }
        return at &+ 2048 &+ ((va >> 20) & 1) * 1024
    }

    /// Returns the walk of `va` for an access of `kind` (user or kernel mode): every entry read,
    /// the translation or the level and reason of the fault, and the memory references. On x86
    /// a successful walk sets A in every entry used and D in the leaf on a write, as the hardware
    /// does (each write-back counts as a memory reference); ARM64 (no FEAT_HAFDBS) raises an
    /// access-flag fault for AF=0 and RISC-V (Svade) a page fault for A=0 or a write with D=0.
    /// Linux: the hardware walk that precedes handle_mm_fault(); see walk_pgd_range() for the software twin
    public mutating func walk(_ va: UInt64, _ kind: AccessKind = .read, user: Bool = true) -> ArchWalk {
        var w = ArchWalk(va: va, rootName: arch.rootName(va: va), root: rootFor(va), steps: [],
                         result: .failure(ArchFaultError(fault: ArchFault(level: nil, reason: ""))), memoryReferences: 0)
        if let f = arch.canonicalFault(va) {
            w.result = .failure(ArchFaultError(fault: ArchFault(level: nil, reason: f)))
            return w
        }
        let lv = arch.levels
        var table = w.root
        var limits = ArchRights.all
        var used: [UInt64] = []
        for i in 0..<lv.count {
            let idx = lv[i].index(va)
            let ea = table &+ idx &* UInt64(arch.entryBytes)
            let e = readEntry(ea)
            let inMemory = !(arch == .x86PAE && i == 0)
            if inMemory { w.memoryReferences += 1 }
            let kindOf = arch.decode(e, level: i)
            w.steps.append(ArchWalkStep(level: i, index: idx, entryAddress: ea, entry: e, memoryReference: inMemory, kind: kindOf))
            switch kindOf {
            case .invalid(let reason):
                w.result = .failure(ArchFaultError(fault: ArchFault(level: i, reason: reason)))
                return w
            case .table(let next, let l):
                limits.formIntersection(l)
                if inMemory { used.append(ea) }
                table = next
            case .leaf(let base, let rights, let accessed, let dirty, let global):
                var r = rights.intersection(limits)
                // ARM64: a region writable at EL0 is never executable at EL1 (the implicit PXN).
                if case .arm64 = arch, r.contains(.userWrite) { r.remove(.kernExec) }
                // ARMv7: the domain of the L1 entry decides whether AP is checked at all.
                if case .arm32 = arch, let d = ARM32.domain(ofL1: w.steps[0].entry) {
                    let kind = i == 0 ? "section" : "page"
                    switch (dacr >> UInt32(2 * d)) & 3 {
                    case 1: break
                    case 3: r = .all
                    default:
                        w.result = .failure(ArchFaultError(fault: ArchFault(level: i, reason: "domain fault (\(kind)): domain \(d) is \((dacr >> UInt32(2 * d)) & 3 == 0 ? "no access" : "reserved") in DACR 0x\(String(dacr, radix: 16))")))
                        return w
                    }
                }
                let need = ArchRights.needed(kind, user: user)
                guard r.contains(need) else {
                    w.result = .failure(ArchFaultError(fault: ArchFault(level: i, reason: arch.permissionReason(kind, user: user, rights: r))))
                    return w
                }
                switch arch {
                case .arm64:
                    if !accessed {
                        w.result = .failure(ArchFaultError(fault: ArchFault(level: i, reason: "access flag fault, level \(lv[i].name.dropFirst()): AF=0")))
                        return w
                    }
                case .riscv:
                    if !accessed || (kind == .write && !dirty) {
                        w.result = .failure(ArchFaultError(fault: ArchFault(level: i, reason: "page fault: \(accessed ? "D=0 on a store" : "A=0") (Svade: software sets A/D)")))
                        return w
                    }
                case .arm32:
                    break   // SCTLR.AFE = 0 and no hardware dirty bit: nothing is written back
                default:
                    used.append(ea)
                    for u in used {
                        let old = readEntry(u)
                        var new = old | PTE.accessed
                        if u == ea && kind == .write { new |= PTE.dirty }
                        if new != old { writeEntry(u, new); w.memoryReferences += 1; w.writeBacks += 1 }
                    }
                }
                let shift = arch.leafShift(e, level: i)
                let off = va & ((UInt64(1) << UInt64(shift)) &- 1)
                w.result = .success(ArchTranslation(physAddr: base | off, pageShift: shift, rights: r, global: global))
                return w
            }
        }
        return w
    }

    /// Returns the physical address `va` translates to for a kernel read, or nil; no A/D updates.
    public func lookup(_ va: UInt64) -> UInt64? {
        var copy = self
        if case .success(let t) = copy.walk(va, .read, user: false).result { return t.physAddr }
        return nil
    }
}

extension Architecture {
    /// The fault text for an access the leaf's rights do not allow.
    func permissionReason(_ kind: AccessKind, user: Bool, rights: ArchRights) -> String {
        let what = kind == .read ? "read" : kind == .write ? "write" : "instruction fetch"
        let mode: String
        switch self {
        case .x86_32, .x86PAE, .x86_64: mode = user ? "user" : "supervisor"
        case .arm64: mode = user ? "EL0" : "EL1"
        case .riscv: mode = user ? "U-mode" : "S-mode"
        case .arm32: mode = user ? "PL0" : "PL1"
        }
        return "\(faultName): \(mode) \(what) not permitted (\(rights))"
    }
}
