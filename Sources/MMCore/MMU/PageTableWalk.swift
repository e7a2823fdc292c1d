/// The software page-table walk the kernel uses to find, create and clear entries.

/// Where a leaf PTE lives: the page-table frame and the entry index inside it.
public struct PTESlot: Hashable, Sendable {
    public var table: PFN
    public var index: Int
    @inlinable public init(table: PFN, index: Int) { self.table = table; self.index = index }
}

extension PhysicalMemory {
    /// Reads the leaf entry at `slot`, decoded from the machine's format into the software PTE.
    /// Linux: ptep_get(), include/linux/pgtable.h
    @inlinable @inline(__always) public func readPTE(_ slot: PTESlot) -> PTE {
        // x86-64 (the identity encoding) reads the word with one use of `contents`: the general
        // expression copies it, retaining its arrays, on every entry (fork of 1 GiB: 12 → 47 ms).
        // Inlined at the call: the other formats' decoding stays out of line.
        if paging.encoding == .x86_64 { return PTE(raw: contents.readWord(slot.table, slot.index)) }
        return readPTEDecoding(slot)
    }
    /// readPTE for the formats that are not the identity.
    @inlinable @inline(never) func readPTEDecoding(_ slot: PTESlot) -> PTE {
        paging.decode(paging.readRaw(contents, slot.table, slot.index, level: paging.pteLevel), level: paging.pteLevel)
    }
    /// Writes the leaf entry at `slot`, encoded in the machine's format. Linux: set_pte(), arch/*/include/asm/pgtable.h
    @inlinable @inline(__always) public func writePTE(_ slot: PTESlot, _ pte: PTE) {
        // x86-64: encode is the identity and an entry is one word of the frame.
        if paging.encoding == .x86_64 { contents.writeWord(slot.table, slot.index, pte.raw); return }
        writePTEEncoding(slot, pte)
    }
    /// writePTE for the formats that are not the identity.
    @inlinable @inline(never) func writePTEEncoding(_ slot: PTESlot, _ pte: PTE) {
        paging.writeRaw(&contents, slot.table, slot.index, level: paging.pteLevel, paging.encode(pte, level: paging.pteLevel))
    }
    /// Reads the PMD-level entry at `slot` (a huge leaf or a pointer to a PTE table), decoded from
    /// the machine's format. Linux: pmdp_get(), include/linux/pgtable.h
    @inlinable @inline(__always) public func readPMD(_ slot: PTESlot) -> PTE {
        if paging.encoding == .x86_64 { return PTE(raw: contents.readWord(slot.table, slot.index)) }
        return readPMDDecoding(slot)
    }
    /// readPMD for the formats that are not the identity.
    @inlinable @inline(never) func readPMDDecoding(_ slot: PTESlot) -> PTE {
        paging.decode(paging.readRaw(contents, slot.table, slot.index, level: paging.pmdLevel), level: paging.pmdLevel)
    }
    /// Writes the PMD-level entry at `slot` (a PS leaf is a huge page: ARM64 block, RISC-V
    /// megapage), encoded in the machine's format. Linux: set_pmd_at(), arch/*/include/asm/pgtable.h
    @inlinable public func writePMD(_ slot: PTESlot, _ pmd: PTE) {
        paging.writeRaw(&contents, slot.table, slot.index, level: paging.pmdLevel, paging.encode(pmd, level: paging.pmdLevel))
    }
    /// Reads entry `index` of the table `table` at `level` as stored (not decoded).
    /// Linux: the raw pgd_val()/pte_val() of an entry, arch/*/include/asm/pgtable*.h
    @inlinable public func readRawEntry(_ table: PFN, _ index: Int, level: Int) -> UInt64 {
        if paging.encoding == .x86_64 { return contents.readWord(table, index) }
        return paging.readRaw(contents, table, index, level: level)
    }
    /// Reads entry `index` of the table `table` at `level` (0 = PGD), decoded into the software PTE;
    /// an upper-level entry reads as P RW US A D with the next table's PFN, or as a PS leaf.
    /// Linux: pgdp_get()/pudp_get()/pmdp_get(), include/linux/pgtable.h
    @inlinable public func readEntry(_ table: PFN, _ index: Int, level: Int) -> PTE {
        if paging.encoding == .x86_64 { return PTE(raw: contents.readWord(table, index)) }
        return paging.decode(paging.readRaw(contents, table, index, level: level), level: level)
    }
    /// Writes entry `index` of the table `table` at `level`, encoded in the machine's format.
    /// Linux: set_pgd()/set_pud()/set_pmd(), arch/*/include/asm/pgtable.h
    @inlinable public func writeEntry(_ table: PFN, _ index: Int, level: Int, _ e: PTE) {
        paging.writeRaw(&contents, table, index, level: level, paging.encode(e, level: level))
    }

    /// Finds the leaf (PTE-level) slot for `va` under the PGD `pgd`, through the machine's levels
    /// (3, 4 or 5; a folded level is simply absent).
    ///
    /// Returns nil when an upper level is not present and `allocTable` is nil, or when
    /// `allocTable` returns nil (out of memory) — in that case any tables already created stay —
    /// or when a huge (PS) leaf maps `va` above the PTE level.
    /// New upper-level entries are P|RW|US, as Linux creates them (permissions live in the leaf).
    /// Linux: pgd_offset/p4d_alloc/pud_alloc/pmd_alloc/pte_alloc, mm/memory.c
    public func walk(_ pgd: PFN, _ va: VirtAddr, allocTable: (() -> PFN?)? = nil) -> PTESlot? {
        var table = pgd
        var level = 0
        let last = paging.pteLevel
        while level < last {
            guard let next = descend(table, paging.index(va, level: level), level: level, allocTable) else { return nil }
            table = next
            level &+= 1
        }
        return PTESlot(table: table, index: paging.index(va, level: last))
    }

    /// The table of `level` that maps `va` (level 0 returns `pgd`), or nil when an entry above it
    /// is absent or a huge leaf. Allocates nothing. Linux: pmd_offset() after pgd/p4d/pud_offset()
    public func tableAt(_ pgd: PFN, _ va: VirtAddr, level: Int) -> PFN? {
        var table = pgd
        var l = 0
        while l < level {
            guard let next = descend(table, paging.index(va, level: l), level: l, nil) else { return nil }
            table = next
            l &+= 1
        }
        return table
    }

    /// The next-level table that entry `index` of upper-level table `table` (at `level`) points
    /// to, creating it with `allocTable` when not present; nil for a huge (PS) entry, or when
    /// absent and `allocTable` is nil or returns nil.
    @inline(__always)
    func descend(_ table: PFN, _ index: Int, level: Int, _ allocTable: (() -> PFN?)?) -> PFN? {
        let e = readEntry(table, index, level: level)
        if e.isPresent { return e.isHuge ? nil : e.pfn }
        guard let alloc = allocTable, let newTable = alloc() else { return nil }
        writeEntry(table, index, level: level, PTE(pfn: newTable, flags: PageTableFormat.tableFlags))
        return newTable
    }
}

extension PhysicalMemory {
    /// Returns the walk of `va` through the tables under `pgd` as the MMU would do it, one line
    /// per level with the architecture's level name, the table frame, the index and the raw entry
    /// decoded in the machine's format, then the result ("=> 0x… (4K page, RW- user)") or where
    /// it stopped. Reads only: no A/D update, no TLB. Allocates (narration, not the hot path).
    /// Linux: the walk of show_pte(), arch/arm64/mm/fault.c / arch/x86/mm/fault.c
    public func describeWalk(pgd: PFN, va: VirtAddr) -> [String] {
        let f = paging
        func hex(_ x: UInt64, _ w: Int) -> String { let s = String(x, radix: 16); return "0x" + String(repeating: "0", count: max(0, w - s.count)) + s }
        let split = (0..<f.levels).map { "\(f.linuxName($0)) \(f.index(va, level: $0))" }.joined(separator: " | ")
        var out = ["\(va) on \(f): \(split) | offset \(hex(va.pageOffset, 1))"]
        guard f.isCanonical(va) else {
            out.append(f.encoding == .x86_64 ? "=> #GP: non-canonical address" : "=> fault before any table is read: the address is outside \(f.rootRegister)'s range")
            return out
        }
        out.append("\(f.rootRegister) = PGD at PFN \(pgd)")
        var table = pgd
        for level in 0..<f.levels {
            let i = f.index(va, level: level)
            let raw = table.raw < UInt64(frameCount) ? f.readRaw(contents, table, i, level: level) : 0
            // ARM: a section pair's second word maps the odd MiB (its own XN and address).
            let e = f.decode(f.encoding == .arm32 && level == 0 && va.raw & (1 << 20) != 0 ? raw >> 32 : raw, level: level)
            let name = "\(f.linuxName(level)) (\(f.hardwareName(level)))"
            if f.encoding == .arm32 {
                // A PGD pair (the two first-level words) or a PTE (Linux word, hardware word at +2048).
                let what = level == 0 ? "L1[\(2 * i)] = \(hex(raw & 0xffff_ffff, 8)), L1[\(2 * i + 1)] = \(hex(raw >> 32, 8))"
                                      : "linux = \(hex(raw & 0xffff_ffff, 8)), hw +2048 = \(hex(raw >> 32, 8))"
                out.append("  \(name) table \(table)[\(i)]: \(what)  \(f.describe(raw, level: level))")
            } else {
                out.append("  \(name) table \(table)[\(i)] = \(hex(raw, f.entryBytes * 2))  \(f.describe(raw, level: level))")
            }
            if !f.hardwareValid(raw, level: level) {
                out.append(e.isSwap ? "=> not present: a swap entry (type \(e.swapEntry.type), offset \(e.swapEntry.offset))"
                                    : "=> not present at the \(f.linuxName(level)) level: the access faults")
                return out
            }
            if level == f.pteLevel || e.isHuge {
                let shift = f.shift(level)
                let mask = (UInt64(1) << shift) &- 1
                let pa = ((e.pfn.raw << PAGE_SHIFT) & ~mask) | (va.raw & mask)
                let size = f.encoding == .arm32 && shift == 21 ? "1M section" : shift == 12 ? "4K page" : shift == 21 ? "2M page" : shift == 22 ? "4M page" : "1G page"
                let rights = "R" + (e.isWritable ? "W" : "-") + (e.isNX ? "-" : "X")
                out.append("=> \(PhysAddr(pa)) (\(size), \(rights) \(e.isUser ? "user" : "kernel")\(e.isDirty ? ", dirty" : "")\(e.isAccessed ? ", young" : ""))")
                return out
            }
            table = e.pfn
        }
        return out
    }
}
