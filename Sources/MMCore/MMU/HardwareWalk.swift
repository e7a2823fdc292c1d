/// The x86-64 4-level hardware page walker: what the CPU's page-miss handler does on a TLB miss.
///
/// Model choices (Intel SDM vol. 3A, ch. 4 "Paging"):
/// - CR0.WP = 1 (Linux sets it), so supervisor writes honour RW too; EFER.NXE = 1, so bit 63 is NX
///   and the error code's I bit is set for every instruction fetch; CR4.PGE = 1, so the leaf's G bit
///   makes a translation global. SMEP, SMAP and protection keys are not modelled.
/// - Effective rights are accumulated across levels: writable only if RW is set at every level,
///   user-accessible only if US is set at every level, non-executable if NX is set at any level.
/// - Accessed is set in every entry used and Dirty in the leaf on a write, and only when the walk
///   yields a translation that permits the access: a faulting walk writes nothing back (the SDM
///   leaves partial updates on a fault unspecified; this keeps the model deterministic).
/// - A reserved bit gives a fault with P and RSVD set: bits 51:M of an address (M = MAXPHYADDR),
///   PS in a PGD (PML4) entry, and the must-be-zero bits 29:13 / 20:13 of a 1 GiB / 2 MiB leaf.
/// - A table frame beyond installed RAM reads as all ones (an open bus); that entry has reserved
///   bits set, so the walk faults with RSVD instead of reading outside the model.

/// The size of the page a translation maps.
public enum PageSize: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case size4K = 0, size2M = 1, size1G = 2
    /// log2 of the size in bytes: 12, 21 or 30.
    @inlinable public var shift: UInt64 { @inline(__always) get { 12 &+ 9 &* UInt64(rawValue) } }
    /// The size in bytes.
    @inlinable public var bytes: UInt64 { @inline(__always) get { 1 << shift } }
    /// "4K", "2M" or "1G".
    public var description: String {
        switch self { case .size4K: return "4K"; case .size2M: return "2M"; case .size1G: return "1G" }
    }
}

/// A completed hardware translation: the page it maps and the effective rights.
public struct HardwareTranslation: Equatable, Sendable {
    /// Physical address of the first byte of the (possibly huge) page.
    public var pageBase: PhysAddr
    /// The size of the page: 4K for a PTE leaf, 2M for a PMD leaf, 1G for a PUD leaf.
    public var pageSize: PageSize
    /// Effective rights and leaf status in PTE bit positions: `PTE.rw`, `PTE.user` (set only if set
    /// at every level), `PTE.nx` (set if set at any level), `PTE.dirty` and `PTE.global` (leaf's).
    public var flags: UInt64
    @inlinable public init(pageBase: PhysAddr, pageSize: PageSize, flags: UInt64) {
        self.pageBase = pageBase; self.pageSize = pageSize; self.flags = flags
    }
    /// The physical address `va` translates to inside this page.
    @inlinable @inline(__always) public func physAddr(_ va: VirtAddr) -> PhysAddr {
        PhysAddr(pageBase.raw | (va.raw & (pageSize.bytes &- 1)))
    }
    @inlinable public var isWritable: Bool { flags & PTE.rw != 0 }
    @inlinable public var isUser: Bool { flags & PTE.user != 0 }
    @inlinable public var isNX: Bool { flags & PTE.nx != 0 }
    @inlinable public var isDirty: Bool { flags & PTE.dirty != 0 }
    @inlinable public var isGlobal: Bool { flags & PTE.global != 0 }
}

/// Where a walk starts: the root (level 0, the PGD from CR3) or, after a paging-structure-cache
/// hit, the level below the cached entry with its table and the rights accumulated above it.
public struct WalkStart: Sendable, Equatable {
    /// First level read: 0 = PGD, 1 = PUD, 2 = PMD, 3 = PTE.
    public var level: Int
    /// The table read at `level`.
    public var table: PFN
    /// R/W and U/S ANDed and XD ORed over the levels above, in PTE bit positions.
    public var rights: UInt64
    @inlinable public init(level: Int, table: PFN, rights: UInt64) {
        self.level = level; self.table = table; self.rights = rights
    }
}

/// The non-leaf entries one walk read, as paging-structure-cache payloads (next table's address
/// with the accumulated R/W, U/S and XD), for the MMU to cache after the walk.
public struct WalkPath: Sendable, Equatable {
    /// First level read and the leaf's level (-1 when the walk faulted before a leaf).
    public var firstLevel = 0, leafLevel = -1
    /// Payloads for the PGD (PML4E), PUD (PDPTE) and PMD (PDE) entries read, valid for the
    /// levels in firstLevel..<leafLevel.
    public var next0: UInt64 = 0, next1: UInt64 = 0, next2: UInt64 = 0
    @inlinable public init() {}
}

/// The outcome of one hardware page walk.
public enum HardwareWalkResult: Equatable, Sendable {
    /// The walk found a translation that permits the access.
    case ok(HardwareTranslation)
    /// The walk raised #PF with this error code.
    case fault(PFErrorCode)
}

/// The x86-64 page-miss handler for 4-level paging with a given physical-address width.
public struct HardwareWalker: Sendable, Equatable {
    /// MAXPHYADDR: bits of physical address the machine implements (36...52); address bits at and
    /// above it (up to bit 51) are reserved in every entry.
    public private(set) var maxPhysAddrBits: Int
    /// Bits 51:MAXPHYADDR of an entry.
    @usableFromInline var addrReservedMask: UInt64

    /// A walker for a machine with `maxPhysAddrBits` of physical address (clamped to 36...52).
    public init(maxPhysAddrBits: Int = 46) {
        let m = min(max(maxPhysAddrBits, 36), 52)
        self.maxPhysAddrBits = m
        addrReservedMask = PTE.pfnMask & ~((UInt64(1) << UInt64(m)) &- 1)
    }

    /// The error code bits that describe the access itself (W, U, I), with P and RSVD clear.
    @inlinable public static func accessCode(_ kind: AccessKind, user: Bool) -> PFErrorCode {
        var raw: UInt32 = user ? PFErrorCode.user.rawValue : 0
        switch kind {
        case .read: break
        case .write: raw |= PFErrorCode.write.rawValue
        case .exec: raw |= PFErrorCode.instr.rawValue
        }
        return PFErrorCode(rawValue: raw)
    }

    /// Reads entry `index` of table `table`; all ones when the frame is beyond installed RAM.
    @inlinable @inline(__always)
    static func readEntry(_ mem: PhysicalMemory, _ table: PFN, _ index: Int) -> UInt64 {
        table.raw < UInt64(mem.frameCount) ? mem.contents.readWordUnchecked(table, index) : ~UInt64(0)
    }

    /// Reserved bits of entry `raw` at `level` (0 = PGD ... 3 = PTE) that are set; zero when valid.
    @inlinable @inline(__always)
    func reservedBits(_ raw: UInt64, level: Int) -> UInt64 {
        var r = raw & addrReservedMask
        switch level {
        case 0: r |= raw & PTE.pse
        case 1: if raw & PTE.pse != 0 { r |= raw & 0x3fff_e000 }   // 1 GiB leaf: bits 29:13
        case 2: if raw & PTE.pse != 0 { r |= raw & 0x001f_e000 }   // 2 MiB leaf: bits 20:13
        default: break
        }
        return r
    }

    /// Walks the tables under `pgd` for an access to `va`; returns the translation, or the #PF
    /// error code when an entry is not present, has a reserved bit set, or denies the access.
    /// Adds one to `memRefs` per entry read and one to `adUpdates` per entry written back; with
    /// `setAccessedDirty` false (inspection) nothing is written and the access is not checked.
    /// The address must be canonical (the MMU raises #GP before walking otherwise).
    /// Linux: the CPU side of arch/x86/mm/fault.c; the kernel's error-code bits are enum x86_pf_error_code.
    @inlinable
    public func walk(_ pgd: PFN, _ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory,
                     memRefs: inout Int, adUpdates: inout Int, setAccessedDirty: Bool = true) -> HardwareWalkResult {
        var path = WalkPath()
        return walk(from: WalkStart(level: 0, table: pgd, rights: PTE.rw | PTE.user), va, kind, user: user, mem: mem,
                    memRefs: &memRefs, adUpdates: &adUpdates, path: &path, setAccessedDirty: setAccessedDirty)
    }

    /// Walks from `start` (the root, or a level below it whose table and accumulated rights a
    /// paging-structure cache supplied) for an access to `va`; returns what `walk` returns and
    /// records in `path` the non-leaf entries read, as paging-structure-cache payloads.
    /// Linux: the CPU side of arch/x86/mm/fault.c (paging-structure caches: Intel SDM 4.10.3)
    @inlinable @inline(__always)
    public func walk(from start: WalkStart, _ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory,
                     memRefs: inout Int, adUpdates: inout Int, path: inout WalkPath,
                     setAccessedDirty: Bool = true) -> HardwareWalkResult {
        let access = HardwareWalker.accessCode(kind, user: user)
        var table = start.table
        var level = start.level
        var allowed: UInt64 = start.rights & (PTE.rw | PTE.user)
        var nx: UInt64 = start.rights & PTE.nx
        // Non-leaf levels whose entry lacks Accessed (bit `level`): set after the walk succeeds.
        var needA = 0
        var leaf: UInt64 = 0, leafTable = table
        path.firstLevel = level
        path.leafLevel = -1
        while true {
            let shift = 39 &- 9 &* UInt64(level)
            let index = Int(truncatingIfNeeded: (va.raw >> shift) & 0x1ff)
            memRefs &+= 1
            let raw = HardwareWalker.readEntry(mem, table, index)
            if raw & PTE.present == 0 { return .fault(access) }
            if reservedBits(raw, level: level) != 0 {
                return .fault(PFErrorCode(rawValue: access.rawValue | PFErrorCode.prot.rawValue | PFErrorCode.rsvd.rawValue))
            }
            allowed &= raw
            nx |= raw & PTE.nx
            if level == 3 || (level != 0 && raw & PTE.pse != 0) { leaf = raw; leafTable = table; break }
            if raw & PTE.accessed == 0 { needA |= 1 << level }
            let cached = (raw & PTE.pfnMask) | (allowed & (PTE.rw | PTE.user)) | nx
            switch level {
            case 0: path.next0 = cached
            case 1: path.next1 = cached
            default: path.next2 = cached
            }
            table = PFN((raw & PTE.pfnMask) >> PAGE_SHIFT)
            level &+= 1
        }
        path.leafLevel = level
        var newLeaf = leaf
        if setAccessedDirty {
            let denied = (user && allowed & PTE.user == 0)
                || (kind == .write && allowed & PTE.rw == 0)
                || (kind == .exec && nx != 0)
            if denied { return .fault(PFErrorCode(rawValue: access.rawValue | PFErrorCode.prot.rawValue)) }
            newLeaf = leaf | PTE.accessed | (kind == .write ? PTE.dirty : 0)
            // Set A in every non-leaf entry read that lacks it, top down, then A (and D) in the leaf.
            if needA != 0 { setAccessed(from: start, va, levels: needA, below: level, mem: mem, adUpdates: &adUpdates) }
            if newLeaf != leaf {
                HardwareWalker.writeEntry(mem, leafTable, va, level: level, newLeaf)
                adUpdates &+= 1
            }
        }
        // Level 1, 2, 3: a 1 GiB, 2 MiB, 4 KiB page.
        let size = PageSize(rawValue: UInt8(truncatingIfNeeded: 3 &- level)) ?? .size4K
        let base = leaf & PTE.pfnMask & ~(size.bytes &- 1)
        let flags = (allowed & (PTE.rw | PTE.user)) | nx | (newLeaf & (PTE.dirty | PTE.global))
        return .ok(HardwareTranslation(pageBase: PhysAddr(base), pageSize: size, flags: flags))
    }

    /// Sets Accessed in the non-leaf entries of the levels in bit set `levels` (all above the
    /// leaf level `below`) that a successful walk from `start` for `va` has just read, top down,
    /// adding one to `adUpdates` per entry written. Follows the same entries again (they are
    /// unchanged since the walk read them); out of line: once the tables have been used, their
    /// entries have A set and walks never come here.
    @usableFromInline @inline(never)
    func setAccessed(from start: WalkStart, _ va: VirtAddr, levels: Int, below: Int, mem: PhysicalMemory, adUpdates: inout Int) {
        var table = start.table
        var l = start.level
        while l < below {
            let raw = HardwareWalker.readEntry(mem, table, Int(truncatingIfNeeded: (va.raw >> (39 &- 9 &* UInt64(l))) & 0x1ff))
            if levels & (1 << l) != 0 {
                HardwareWalker.writeEntry(mem, table, va, level: l, raw | PTE.accessed)
                adUpdates &+= 1
            }
            table = PFN((raw & PTE.pfnMask) >> PAGE_SHIFT)
            l &+= 1
        }
    }

    /// Writes back entry `value` for `va` at `level` in `table` (A/D update); ignored beyond RAM.
    @inlinable @inline(__always)
    static func writeEntry(_ mem: PhysicalMemory, _ table: PFN, _ va: VirtAddr, level: Int, _ value: UInt64) {
        guard table.raw < UInt64(mem.frameCount) else { return }
        let index = Int(truncatingIfNeeded: (va.raw >> (39 &- 9 &* UInt64(level))) & 0x1ff)
        mem.contents.writeWord(table, index, value)
    }
}

// MARK: - Narration (--explain): allocates, never on the hot path.

/// The four 9-bit table indices and the 12-bit page offset of a 48-bit virtual address.
public struct VASplit: Equatable, Sendable, CustomStringConvertible {
    public var va: VirtAddr
    /// Indices into the PGD, PUD, PMD and PTE tables (0..<512 each).
    public var pgd: Int, pud: Int, pmd: Int, pte: Int
    /// Offset in the 4 KiB page (0..<4096).
    public var offset: UInt64
    /// Whether bits 63:47 are all equal (a non-canonical address raises #GP, not #PF).
    public var isCanonical: Bool

    /// Splits `va` into its table indices and page offset.
    public init(_ va: VirtAddr) {
        self.va = va
        pgd = PageTableLevel.pgd.index(of: va)
        pud = PageTableLevel.pud.index(of: va)
        pmd = PageTableLevel.pmd.index(of: va)
        pte = PageTableLevel.pte.index(of: va)
        offset = va.pageOffset
        isCanonical = X86_64.isCanonical(va)
    }

    /// The index used at `level`.
    public func index(_ level: PageTableLevel) -> Int {
        switch level { case .pgd: return pgd; case .pud: return pud; case .pmd: return pmd; case .pte: return pte }
    }

    /// "0x7f0012345678: PGD 254 | PUD 0 | PMD 145 | PTE 837 | offset 0x678".
    public var description: String {
        "\(va): PGD \(pgd) | PUD \(pud) | PMD \(pmd) | PTE \(pte) | offset 0x\(String(offset, radix: 16))"
            + (isCanonical ? "" : " (non-canonical)")
    }
}

/// One level of a narrated walk: which table was read, which entry, and what it said.
public struct WalkStep: Equatable, Sendable, CustomStringConvertible {
    /// What the walker did after reading the entry.
    public enum Outcome: Equatable, Sendable {
        /// Present, pointing to the next-level table in this frame.
        case nextTable(PFN)
        /// Present leaf mapping a page of this size at this physical base.
        case leaf(PhysAddr, PageSize)
        /// P = 0: the walk stops with a not-present fault.
        case notPresent
        /// A reserved bit is set: the walk stops with an RSVD fault.
        case reservedBit
    }
    public var level: PageTableLevel
    /// The frame holding the table that was read.
    public var table: PFN
    /// Index of the entry in that table.
    public var index: Int
    /// The entry as read.
    public var entry: PTE
    public var outcome: Outcome

    /// "PMD  table 0x1003[145] = 0x00000000012340e7  P RW US A D PS pfn=0x1234 -> 2M page at 0x1234000".
    public var description: String {
        let hex = String(entry.raw, radix: 16)
        let raw = "0x" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex
        let level = self.level.name
        var s = "\(level)  table \(table)[\(index)] = \(raw)  \(entry.description)"
        switch outcome {
        case .nextTable(let p): s += " -> next table \(p)"
        case .leaf(let pa, let size): s += " -> \(size) page at \(pa)"
        case .notPresent: s += " -> not present"
        case .reservedBit: s += " -> reserved bit set"
        }
        return s
    }
}

/// A whole narrated walk: the address split, the steps, and where it stopped.
public struct WalkExplanation: Equatable, Sendable {
    /// Where the walk ended.
    public enum Stop: Equatable, Sendable {
        /// A leaf was found: `va` maps to this physical address with these effective rights.
        case translated(PhysAddr, HardwareTranslation)
        /// An entry at this level was not present (#PF with P = 0).
        case notPresent(PageTableLevel)
        /// An entry at this level had a reserved bit set (#PF with P and RSVD).
        case reservedBit(PageTableLevel)
        /// Bits 63:47 differ: the CPU raises #GP before walking.
        case nonCanonical
        /// No page table is loaded in CR3.
        case noCR3
    }
    public var split: VASplit
    public var steps: [WalkStep]
    public var stop: Stop

    /// The narration, one line per step plus a header and a result line.
    public var lines: [String] {
        var out = [split.description]
        out += steps.map { $0.description }
        switch stop {
        case .translated(let pa, let t):
            var rights = "R"
            if t.isWritable { rights += "W" }
            if !t.isNX { rights += "X" }
            rights += t.isUser ? " user" : " kernel"
            if t.isGlobal { rights += " global" }
            out.append("=> \(pa) (\(t.pageSize) page, \(rights))")
        case .notPresent(let l): out.append("=> page fault: \(l.name) entry not present")
        case .reservedBit(let l): out.append("=> page fault: reserved bit set in \(l.name) entry")
        case .nonCanonical: out.append("=> #GP: non-canonical address")
        case .noCR3: out.append("=> no page table loaded (CR3 empty)")
        }
        return out
    }

    /// Narrates the walk of `va` under `pgd` without setting A/D bits and without touching any TLB.
    public init(pgd: PFN?, va: VirtAddr, mem: PhysicalMemory, walker: HardwareWalker = HardwareWalker()) {
        split = VASplit(va)
        steps = []
        guard split.isCanonical else { stop = .nonCanonical; return }
        guard let root = pgd else { stop = .noCR3; return }
        var table = root
        for level in PageTableLevel.allCases {
            let index = level.index(of: va)
            let raw = HardwareWalker.readEntry(mem, table, index)
            let pte = PTE(raw: raw)
            if !pte.isPresent {
                steps.append(WalkStep(level: level, table: table, index: index, entry: pte, outcome: .notPresent))
                stop = .notPresent(level); return
            }
            if walker.reservedBits(raw, level: level.rawValue) != 0 {
                steps.append(WalkStep(level: level, table: table, index: index, entry: pte, outcome: .reservedBit))
                stop = .reservedBit(level); return
            }
            if level == .pte || (level != .pgd && pte.isHuge) {
                var refs = 0, ad = 0
                let r = walker.walk(root, va, .read, user: false, mem: mem, memRefs: &refs, adUpdates: &ad,
                                    setAccessedDirty: false)
                guard case .ok(let t) = r else { stop = .notPresent(level); return }
                steps.append(WalkStep(level: level, table: table, index: index, entry: pte,
                                      outcome: .leaf(t.pageBase, t.pageSize)))
                stop = .translated(t.physAddr(va), t)
                return
            }
            steps.append(WalkStep(level: level, table: table, index: index, entry: pte, outcome: .nextTable(pte.pfn)))
            table = pte.pfn
        }
        stop = .notPresent(.pte)
    }
}
