/// The running machine's page-table format: the one switch between the kernel's software PTE and
/// the bits a simulated frame holds.
///
/// The kernel keeps ONE software representation, `PTE` (x86-64 bit meanings, used the way Linux
/// uses its generic pte_t accessors: pte_present, pte_write, pte_dirty, pte_young, pte_pfn,
/// swap entries). Every read or write of a page-table entry in a simulated frame goes through
/// `PageTableFormat.decode` / `encode`, which translate to the machine's real format:
/// - x86-64 (4-level and LA57): the identity.
/// - ARM64, 4 KiB granule (VMSAv8-64 stage 1, TTBR0_EL1): table descriptors bits 1:0 = 11; page
///   descriptors 11 at the last level, block descriptors 01 at PMD/PUD level; AttrIndx 0
///   (MT_NORMAL), SH = 11 (inner shareable), AF[10], nG[11] (set on non-global pages), AP[1] =
///   EL0 access, AP[2] = PTE_RDONLY, DBM[51] = PTE_WRITE, PXN[53] / UXN[54], and Linux's arm64
///   software bit PTE_DIRTY[55] for a page that is dirty but not writable. A writable page is
///   hardware-dirty when PTE_RDONLY is clear (pte_hw_dirty). Swap entries: type in bits 7:3,
///   offset from bit 8 (__SWP_TYPE_SHIFT 3, __SWP_OFFSET_SHIFT 8), bit 0 clear.
/// - RISC-V Sv39/Sv48/Sv57: V R W X U G A D in bits 7:0, PPN from bit 10; a pointer to the next
///   level has R = W = X = 0 (Linux's _PAGE_TABLE = _PAGE_PRESENT); a leaf is always readable.
///   Swap entries: type in bits 11:7, offset from bit 12 (__SWP_TYPE_SHIFT 7, __SWP_OFFSET_SHIFT 12).
///
/// The machine keeps 4 KiB base pages, so every format here has 512-entry tables of 8-byte
/// entries below the top level. A format with 4-byte entries and 1024-entry tables (x86-32) adds
/// an `Encoding` case, sets `entryBytes = 4` and `indexBits = 10`; `readRaw`/`writeRaw` already
/// address 4-byte entries as halves of the frame's 64-bit words.
/// Linux: arch/{x86,arm64,riscv}/include/asm/pgtable*.h
public struct PageTableFormat: Hashable, Sendable, CustomStringConvertible {
    /// The entry layout family (the arms of the switch).
    public enum Encoding: UInt8, Hashable, Sendable { case x86_64, arm64, riscv, x86_32, x86PAE, arm32 }

    /// The architecture (name, levels' hardware names, `describe` for listings).
    public let arch: Architecture
    public let encoding: Encoding
    /// Number of table levels (3, 4 or 5); level 0 is the root (PGD), `levels - 1` the PTE table.
    public let levels: Int
    /// Index bits of every level below the root (9: 512 entries of 8 bytes).
    public let indexBits: UInt64
    /// Index bits of the root table (9, or fewer for ARM64 42- and 47-bit VAs).
    public let topBits: UInt64
    /// Bytes per entry (8).
    public let entryBytes: Int
    /// Bits of virtual address the MMU translates.
    public let vaBits: Int
    /// VA bits at and above this one must all be equal (x86-64, RISC-V: VA-1) or, for ARM64's
    /// TTBR0 range, zero (VA).
    public let canonShift: UInt64
    /// True for x86-64 4-level paging: the MMU uses `HardwareWalker.walk`, everything else `walkArch`.
    public let isX86_64FourLevel: Bool

    /// The format for a machine of architecture `arch`, or nil when the kernel cannot run on it
    /// (16K/64K granules and 52-bit ARM64 VAs: the machine's pages are 4 KiB; 32-bit formats).
    public init?(machine arch: Architecture) {
        self.arch = arch
        if case .x86_32 = arch {
            // Two levels of 1024 4-byte entries: PGD (bits 31:22; a PS entry is a 4 MiB page) and
            // PTE (bits 21:12). The PMD is folded into the PGD as Linux's pgtable-2level does.
            encoding = .x86_32; entryBytes = 4; indexBits = 10; levels = 2; topBits = 10
            vaBits = 32; canonShift = 32; isX86_64FourLevel = false
            return
        }
        if case .x86PAE = arch {
            // PAE: a 4-entry PDPT (bits 31:30), then PMD (29:21; a PS entry is a 2 MiB page) and
            // PTE (20:12) tables of 512 8-byte entries; the entry bits are x86-64's (NX at 63).
            encoding = .x86PAE; entryBytes = 8; indexBits = 9; levels = 3; topBits = 2
            vaBits = 32; canonShift = 32; isX86_64FourLevel = false
            return
        }
        if case .arm32(let n) = arch {
            // ARMv7 short descriptors as Linux's pgtable-2level.h sees them: a PGD of 2048 8-byte
            // entries (bits 31:21; each a pair of 1 MiB first-level descriptors, the 16 KiB
            // hardware table of 4096 words) and PTE pages of 512 Linux PTEs (bits 20:12) with the
            // two 256-entry hardware tables at +2048 and +3072. TTBCR.N = 0 only (Linux's 2-level).
            guard n == 0 else { return nil }
            encoding = .arm32; entryBytes = 4; indexBits = 9; levels = 2; topBits = 11
            vaBits = 32; canonShift = 32; isX86_64FourLevel = false
            return
        }
        entryBytes = 8
        indexBits = 9
        switch arch {
        case .x86_64(let la57):
            encoding = .x86_64; vaBits = la57 ? 57 : 48; canonShift = UInt64(vaBits - 1)
        case .arm64(let g, let v):
            guard g == 12, [39, 42, 47, 48].contains(v) else { return nil }
            encoding = .arm64; vaBits = v; canonShift = UInt64(v)
        case .riscv(let v):
            encoding = .riscv; vaBits = v; canonShift = UInt64(v - 1)
        case .x86_32, .x86PAE:
            return nil   // handled above
        case .arm32:
            return nil   // handled above (TTBCR.N > 0: lab-only)
        }
        let n = (vaBits - 12 + 8) / 9
        levels = n
        topBits = UInt64(vaBits - 12 - 9 * (n - 1))
        isX86_64FourLevel = encoding == .x86_64 && n == 4
    }

    /// Why `init(machine:)` refuses `arch`, for error messages; nil when it is accepted.
    public static func rejection(_ arch: Architecture) -> String? {
        if PageTableFormat(machine: arch) != nil { return nil }
        switch arch {
        case .arm64(let g, let v):
            if g != 12 { return "\(arch) has a \(1 << (g - 10)) KiB granule, but a machine runs with 4 KiB pages (PAGE_SIZE); use it with 'translate --arch' or a lab" }
            return "\(arch) needs FEAT_LPA2 descriptors (52-bit VA), which a machine does not model (VA \(v)); use it with 'translate --arch'"
        default:
            if case .arm32 = arch { return "\(arch) splits the address space between TTBR0 and TTBR1 (TTBCR.N > 0), which Linux's 2-level tables do not use; machines run arm32 (TTBCR.N = 0); use it with 'translate --arch'" }
            return "\(arch) is not a machine format (machines: x86-32, x86-pae, arm32 and the 64-bit formats; use it with 'translate --arch')"
        }
    }

    /// The names a machine accepts, for help and errors.
    public static var machineNames: [String] {
        Architecture.names.filter { Architecture(name: $0).flatMap { PageTableFormat(machine: $0) } != nil }
    }

    /// x86-64 4-level paging, the default machine.
    public static let x86_64 = PageTableFormat(machine: .x86_64(la57: false))!

    /// The architecture's canonical name ("x86-64", "arm64-4k-48", "sv39").
    public var description: String { arch.description }

    // MARK: Geometry

    /// Index of the PTE (last) level.
    @inlinable public var pteLevel: Int { levels &- 1 }
    /// Index of the PMD level (2 MiB leaves).
    @inlinable public var pmdLevel: Int { levels &- 2 }
    /// Index of the PUD level (1 GiB leaves); for 3 levels the PUD is folded into the PGD (0).
    @inlinable public var pudLevel: Int { levels &- 3 }
    /// log2 of the span one entry of `level` maps (12 at the PTE level, +9 per level up).
    @inlinable public func shift(_ level: Int) -> UInt64 { 12 &+ indexBits &* UInt64(truncatingIfNeeded: levels &- 1 &- level) }
    /// Entries in a table of `level`.
    @inlinable public func entries(_ level: Int) -> Int { 1 << (level == 0 ? topBits : indexBits) }
    /// Index of `va` in the table of `level`.
    @inlinable public func index(_ va: VirtAddr, level: Int) -> Int {
        let bits = level == 0 ? topBits : indexBits
        return Int(truncatingIfNeeded: (va.raw >> shift(level)) & ((1 << bits) &- 1))
    }
    /// Whether this is a 32-bit format (x86 2-level or PAE, ARM short descriptors): a 32-bit
    /// kernel with the 3G/1G split, ZONE_HIGHMEM, no THP and no hugetlb pools.
    @inlinable public var is32Bit: Bool { encoding == .x86_32 || encoding == .x86PAE || encoding == .arm32 }
    /// Whether this is a 32-bit x86 format (2-level or PAE).
    @inlinable public var isX86_32: Bool { encoding == .x86_32 || encoding == .x86PAE }
    /// Entries of the root table that map user addresses: the lower half on x86-64 and RISC-V
    /// (the upper half is the kernel's), all of TTBR0's table on ARM64.
    /// x86-32 (3G/1G split): the 768 entries below PAGE_OFFSET (KERNEL_PGD_BOUNDARY).
    public var userRootEntries: Int {
        switch encoding {
        case .arm64: return entries(0)
        case .x86_32: return Int(X86_32Kernel.pageOffset >> 22)
        case .x86PAE: return Int(X86_32Kernel.pageOffset >> 30)   // PDPT entries 0-2
        // ARM: USER_PTRS_PER_PGD = TASK_SIZE / PGDIR_SIZE = 1528; the modules area (16 MiB below
        // PAGE_OFFSET) is kernel space too: pgd_alloc() copies entries from 1528 on.
        case .arm32: return Int(ARM32Kernel.taskSize >> 21)
        default: return entries(0) / 2
        }
    }

    /// True when the MMU may walk the user tables for `va`: x86-64 and RISC-V: bits 63:VA-1 all
    /// equal (else #GP / page fault before any read); ARM64: bits 63:VA zero (TTBR0_EL1; an
    /// all-ones top selects TTBR1_EL1, the kernel's tables, which hold no user pages).
    @inlinable @inline(__always) public func isCanonical(_ va: VirtAddr) -> Bool {
        let top = va.raw >> canonShift
        if top == 0 { return true }
        return encoding != .arm64 && !is32Bit && top == UInt64.max >> canonShift
    }

    /// Linux's name of `level` ("PGD", "P4D", "PUD", "PMD", "PTE"); folded levels are absent.
    public func linuxName(_ level: Int) -> String {
        if levels == 2 { return level == 0 ? "PGD" : level == 1 ? "PTE" : "L\(level)" }
        let names = levels == 5 ? ["PGD", "P4D", "PUD", "PMD", "PTE"] : levels == 4 ? ["PGD", "PUD", "PMD", "PTE"] : ["PGD", "PMD", "PTE"]
        return level >= 0 && level < names.count ? names[level] : "L\(level)"
    }

    /// The architecture's name of `level` ("PML4E", "L1", "VPN[2]").
    public func hardwareName(_ level: Int) -> String {
        let l = arch.levels
        return level >= 0 && level < l.count ? l[level].name : "L\(level)"
    }

    /// The bits of a raw entry as the architecture names them (Architecture.describe).
    public func describe(_ raw: UInt64, level: Int) -> String {
        if encoding == .arm32 { return PageTableFormat.describeARM32(raw, level: level) }
        if encoding == .x86_64 && raw != 0 && raw & PTE.present == 0 { return PTE(raw: raw).description }
        if raw != 0 && !hardwareValid(raw, level: level) {
            let e = decode(raw, level: level)
            if e.isSwap { return "swap type=\(e.swapEntry.type) offset=\(e.swapEntry.offset)" }
        }
        var s = arch.describe(raw, level: level)
        // Linux's arm64 software bits of a valid leaf (pgtable-prot.h): PTE_DIRTY[55], PTE_SPECIAL[56].
        if encoding == .arm64 && hardwareValid(raw, level: level) && (level == pteLevel || raw & 2 == 0) {
            if raw & (1 << 55) != 0 { s += " PTE_DIRTY" }
            if raw & (1 << 56) != 0 { s += " PTE_SPECIAL" }
        }
        return s
    }

    // MARK: Entry access in frames

    /// Reads entry `index` of the table in frame `table` as stored (no decoding).
    @inlinable @inline(__always)
    public func readRaw(_ contents: FrameContents, _ table: PFN, _ index: Int) -> UInt64 {
        if entryBytes == 8 { return contents.readWord(table, index) }
        let w = contents.readWord(table, index >> 1)
        return index & 1 == 0 ? w & 0xffff_ffff : w >> 32
    }

    /// Writes entry `index` of the table in frame `table` as stored (no encoding).
    @inlinable @inline(__always)
    public func writeRaw(_ contents: inout FrameContents, _ table: PFN, _ index: Int, _ raw: UInt64) {
        if entryBytes == 8 { contents.writeWord(table, index, raw); return }
        let w = contents.readWord(table, index >> 1)
        let v = index & 1 == 0 ? (w & 0xffff_ffff_0000_0000) | (raw & 0xffff_ffff) : (w & 0xffff_ffff) | (raw << 32)
        contents.writeWord(table, index >> 1, v)
    }

    /// Reads entry `index` of the table of `level` in frame `table` as stored. On ARM 2-level a
    /// PGD entry (level 0) is the 64-bit pair of first-level descriptors at byte 8 × index of the
    /// four-frame table, and a PTE is the Linux entry (low 32 bits, at 4 × index) with its
    /// hardware entry (high 32 bits, at 2048 + 4 × index); other formats read `readRaw`.
    /// Linux: pgd/pmd pairs and PTE_HWTABLE_OFF, arch/arm/include/asm/pgtable-2level.h
    @inlinable @inline(__always)
    public func readRaw(_ contents: FrameContents, _ table: PFN, _ index: Int, level: Int) -> UInt64 {
        if encoding != .arm32 { return readRaw(contents, table, index) }
        if level == 0 { return contents.readWord(table.advanced(by: index >> 9), index & 511) }
        let lw = contents.readWord(table, index >> 1), hw = contents.readWord(table, 256 &+ (index >> 1))
        return index & 1 == 0 ? (lw & 0xffff_ffff) | hw << 32 : lw >> 32 | (hw & 0xffff_ffff_0000_0000)
    }

    /// Writes entry `index` of the table of `level` as stored (both words of an ARM 2-level pair,
    /// both the Linux and the hardware PTE: what set_pte_ext and __pmd_populate store).
    /// Linux: cpu_v7_set_pte_ext(), arch/arm/mm/proc-v7-2level.S; __pmd_populate(), arch/arm/include/asm/pgalloc.h
    @inlinable @inline(__always)
    public func writeRaw(_ contents: inout FrameContents, _ table: PFN, _ index: Int, level: Int, _ raw: UInt64) {
        if encoding != .arm32 { writeRaw(&contents, table, index, raw); return }
        if level == 0 { contents.writeWord(table.advanced(by: index >> 9), index & 511, raw); return }
        let lw = contents.readWord(table, index >> 1), hw = contents.readWord(table, 256 &+ (index >> 1))
        let lo = raw & 0xffff_ffff, hi = raw >> 32
        if index & 1 == 0 {
            contents.writeWord(table, index >> 1, (lw & 0xffff_ffff_0000_0000) | lo)
            contents.writeWord(table, 256 &+ (index >> 1), (hw & 0xffff_ffff_0000_0000) | hi)
        } else {
            contents.writeWord(table, index >> 1, (lw & 0xffff_ffff) | lo << 32)
            contents.writeWord(table, 256 &+ (index >> 1), (hw & 0xffff_ffff) | hi << 32)
        }
    }

    /// Frames of the root table: 4 on ARM 2-level (16 KiB, an order-2 allocation), else 1.
    @inlinable public var rootFrames: Int { encoding == .arm32 ? 4 : 1 }

    // MARK: The switch

    /// True when the MMU may use `raw` at `level` (x86 P; ARM64 bit 0, and not 01 at the last
    /// level; RISC-V V, not W without R, and not a pointer at the last level).
    @inlinable public func hardwareValid(_ raw: UInt64, level: Int) -> Bool {
        switch encoding {
        case .x86_64, .x86_32, .x86PAE:
            return raw & PTE.present != 0
        case .arm64:
            if raw & 1 == 0 { return false }
            return level != pteLevel || raw & 2 != 0
        case .riscv:
            if raw & 1 == 0 { return false }
            if raw & 6 == 4 { return false }
            return level != pteLevel || raw & 0xe != 0
        case .arm32:
            // The first descriptor of a PGD pair; the hardware half of a PTE (small page: bit 1).
            return level == 0 ? raw & 3 != 0 : (raw >> 32) & 2 != 0
        }
    }

    /// Returns the machine's entry for the software entry `e` at `level`: a table pointer (an
    /// upper level without PS), a leaf (huge with PS above the PTE level), a swap entry (not
    /// present, non-zero) or 0. The x86-64 arm is the identity.
    @inlinable public func encode(_ e: PTE, level: Int) -> UInt64 {
        switch encoding {
        case .x86_64: return e.raw
        case .arm64: return PageTableFormat.encodeARM64(e, last: level == pteLevel)
        case .riscv: return PageTableFormat.encodeRISCV(e, last: level == pteLevel)
        case .x86_32: return PageTableFormat.encodeX86_32(e)
        case .arm32: return level == 0 ? PageTableFormat.encodeARM32PGD(e) : PageTableFormat.encodeARM32PTE(e)
        case .x86PAE:
            // A PDPTE holds only P (and PWT/PCD) with the PMD's address: RW, US, A, D are reserved there.
            if level == 0 && e.isPresent { return (e.raw & PTE.pfnMask) | PTE.present }
            return e.raw
        }
    }

    /// Returns the software entry for the machine's entry `raw` at `level` (inverse of `encode`).
    @inlinable public func decode(_ raw: UInt64, level: Int) -> PTE {
        switch encoding {
        case .x86_64: return PTE(raw: raw)
        case .arm64: return PageTableFormat.decodeARM64(raw, last: level == pteLevel)
        case .riscv: return PageTableFormat.decodeRISCV(raw, last: level == pteLevel)
        case .x86_32: return PageTableFormat.decodeX86_32(raw)
        case .arm32: return level == 0 ? PageTableFormat.decodeARM32PGD(raw) : PageTableFormat.decodeARM32PTE(raw)
        case .x86PAE:
            if level == 0 && raw & PTE.present != 0 { return PTE(raw: (raw & PTE.pfnMask) | PageTableFormat.tableFlags) }
            return PTE(raw: raw)
        }
    }

    /// The software flags of a table pointer as the kernel writes them (P RW US A D).
    public static let tableFlags: UInt64 = PTE.present | PTE.rw | PTE.user | PTE.accessed | PTE.dirty

    // ARM64 descriptor bits (arch/arm64/include/asm/pgtable-hwdef.h, pgtable-prot.h).
    @usableFromInline static let a64Valid: UInt64 = 1 << 0, a64Table: UInt64 = 1 << 1
    @usableFromInline static let a64User: UInt64 = 1 << 6, a64RdOnly: UInt64 = 1 << 7
    @usableFromInline static let a64Shared: UInt64 = 3 << 8, a64AF: UInt64 = 1 << 10, a64NG: UInt64 = 1 << 11
    @usableFromInline static let a64DBM: UInt64 = 1 << 51, a64PXN: UInt64 = 1 << 53, a64UXN: UInt64 = 1 << 54
    @usableFromInline static let a64Dirty: UInt64 = 1 << 55
    @usableFromInline static let a64Addr: UInt64 = 0x0000_ffff_ffff_f000

    /// Returns the ARM64 descriptor for `e`. Linux: pfn_pte(), pte_mkdirty(), pte_mkwrite(), arch/arm64/include/asm/pgtable.h
    @inlinable static func encodeARM64(_ e: PTE, last: Bool) -> UInt64 {
        if e.raw == 0 { return 0 }
        if !e.isPresent {
            let s = e.swapEntry
            return UInt64(s.type & 0x1f) << 3 | UInt64(truncatingIfNeeded: s.offset) << 8
        }
        let addr = e.raw & a64Addr
        if !last && !e.isHuge { return addr | a64Valid | a64Table }
        var d = addr | a64Valid | (last ? a64Table : 0) | a64Shared
        if e.isAccessed { d |= a64AF }
        if e.raw & PTE.global == 0 { d |= a64NG }
        if e.isUser { d |= a64User | a64PXN; if e.isNX { d |= a64UXN } } else { d |= a64UXN; if e.isNX { d |= a64PXN } }
        if e.isWritable { d |= a64DBM }
        if !(e.isWritable && e.isDirty) { d |= a64RdOnly }
        if e.isDirty && !e.isWritable { d |= a64Dirty }
        return d
    }

    /// Returns the software entry for an ARM64 descriptor. Linux: pte_write(), pte_dirty() = sw || hw dirty, pte_young()
    @inlinable static func decodeARM64(_ d: UInt64, last: Bool) -> PTE {
        if d == 0 { return PTE(raw: 0) }
        if d & a64Valid == 0 {
            return PTE(swap: SwapEntry(type: Int((d >> 3) & 0x1f), offset: Int(truncatingIfNeeded: (d >> 8) & ((1 << 50) - 1))))
        }
        let addr = d & a64Addr
        if !last && d & a64Table != 0 { return PTE(raw: addr | tableFlags) }
        var r = addr | PTE.present
        if !last { r |= PTE.pse }
        if d & a64AF != 0 { r |= PTE.accessed }
        if d & a64NG == 0 { r |= PTE.global }
        let user = d & a64User != 0
        if user { r |= PTE.user }
        if d & (user ? a64UXN : a64PXN) != 0 { r |= PTE.nx }
        if d & a64DBM != 0 { r |= PTE.rw }
        if d & a64Dirty != 0 || (d & a64DBM != 0 && d & a64RdOnly == 0) { r |= PTE.dirty }
        return PTE(raw: r)
    }

    // x86-32 2-level entries (arch/x86/include/asm/pgtable_types.h, pgtable-2level.h): the low 12
    // bits are x86-64's (P RW US PWT PCD A D PS/PAT G), the frame address is bits 31:12 (31:22 for a
    // PS 4 MiB page), and there is no NX bit. A swap entry has P clear, the type in bits 5:1 and
    // the offset from bit 9 (SWP_OFFSET_SHIFT = _PAGE_BIT_PROTNONE + 1).
    @usableFromInline static let x32Flags: UInt64 = 0xfff, x32Addr: UInt64 = 0xffff_f000

    /// Returns the 32-bit entry for `e` (NX dropped: the 2-level format cannot express it).
    /// Linux: pfn_pte(), __swp_entry(), arch/x86/include/asm/pgtable-2level.h
    @inlinable static func encodeX86_32(_ e: PTE) -> UInt64 {
        if e.raw == 0 { return 0 }
        if !e.isPresent {
            let s = e.swapEntry
            return UInt64(s.type & 0x1f) << 1 | (UInt64(truncatingIfNeeded: s.offset) & 0x7f_ffff) << 9
        }
        return (e.raw & x32Addr) | (e.raw & x32Flags)
    }

    /// Returns the software entry for a 32-bit entry (inverse of `encodeX86_32`; NX always clear).
    /// Linux: pte_pfn(), __swp_type(), __swp_offset(), arch/x86/include/asm/pgtable-2level.h
    @inlinable static func decodeX86_32(_ raw: UInt64) -> PTE {
        if raw == 0 { return PTE(raw: 0) }
        if raw & PTE.present == 0 {
            return PTE(swap: SwapEntry(type: Int((raw >> 1) & 0x1f), offset: Int(truncatingIfNeeded: (raw >> 9) & 0x7f_ffff)))
        }
        return PTE(raw: raw & 0xffff_ffff)
    }

    // ARM 2-level (arch/arm/include/asm/pgtable-2level.h, pgtable-2level-hwdef.h, pgalloc.h).
    // Linux PTE (low word): L_PTE_PRESENT[0] YOUNG[1] memory type[5:2] DIRTY[6] RDONLY[7] USER[8]
    // XN[9] SHARED[10] NONE[11], frame [31:12]; a swap entry has bits 1:0 clear, the type in 7:3
    // and the offset from bit 8 (__SWP_TYPE_SHIFT 3, __SWP_TYPE_BITS 5). Hardware small page (high
    // word) as cpu_v7_set_pte_ext() derives it. A PGD entry is a pair of coarse-table descriptors
    // (_PAGE_USER_TABLE: PMD_TYPE_TABLE | PMD_BIT4 | domain 1) to +2048 and +3072 of the PTE page.
    @usableFromInline static let lPresent: UInt64 = 1 << 0, lYoung: UInt64 = 1 << 1, lDirty: UInt64 = 1 << 6
    @usableFromInline static let lRdonly: UInt64 = 1 << 7, lUser: UInt64 = 1 << 8, lXN: UInt64 = 1 << 9
    @usableFromInline static let lShared: UInt64 = 1 << 10, lNone: UInt64 = 1 << 11
    /// L_PTE_MT_WRITEALLOC (0b0111 << 2): write-back, write-allocate (the default cache policy on ARMv7).
    @usableFromInline static let lMTWriteAlloc: UInt64 = 0x7 << 2
    /// _PAGE_USER_TABLE for the first descriptor of a pair: PMD_TYPE_TABLE | PMD_BIT4 | PMD_DOMAIN(DOMAIN_USER).
    public static let arm32UserTable: UInt64 = 0x1 | 0x10 | 1 << 5
    /// _PAGE_KERNEL_TABLE: PMD_TYPE_TABLE | PMD_BIT4 | PMD_DOMAIN(DOMAIN_KERNEL).
    public static let arm32KernelTable: UInt64 = 0x1 | 0x10

    /// Returns Linux's ARM PTE word for `e`: L_PTE_SHARED and L_PTE_MT_WRITEALLOC as pgprot_user
    /// and pgprot_kernel carry them on an SMP ARMv7 kernel. Linux: pfn_pte(), build_mem_type_table(), arch/arm/mm/mmu.c
    @inlinable public static func linuxPTEARM32(_ e: PTE) -> UInt64 {
        if e.raw == 0 { return 0 }
        if !e.isPresent {
            let s = e.swapEntry
            return UInt64(s.type & 0x1f) << 3 | (UInt64(truncatingIfNeeded: s.offset) & 0xff_ffff) << 8
        }
        var l = (e.raw & 0xffff_f000) | lPresent | lShared | lMTWriteAlloc
        if e.isAccessed { l |= lYoung }
        if e.isDirty { l |= lDirty }
        if !e.isWritable { l |= lRdonly }
        if e.isUser { l |= lUser }
        if e.isNX { l |= lXN }
        return l
    }

    /// Returns the hardware small-page descriptor cpu_v7_set_pte_ext() writes for the Linux PTE
    /// `l` with `ext` (PTE_EXT_NG for a user page, set_pte_at()): 0 unless valid and young and
    /// not PROT_NONE; else the Linux word without bits 9:4 and 1:0, small page, AP[0], TEX[0] from
    /// bit 4, AP[2] (APX) when read-only or clean, AP[1] for a user page, XN from L_PTE_XN.
    /// Linux: cpu_v7_set_pte_ext(), arch/arm/mm/proc-v7-2level.S
    @inlinable public static func setPTEExtARM32(_ l: UInt64, ext: UInt64) -> UInt64 {
        guard l & lPresent != 0, l & lYoung != 0, l & lNone == 0 else { return 0 }
        var h = (l & ~UInt64(0x3f3) & 0xffff_ffff) | ext | ARM32.pteExtAP0 | ARM32.pteTypeSmall
        if l & (1 << 4) != 0 { h |= 1 << 6 }                            // PTE_EXT_TEX(1)
        if l & lRdonly != 0 || l & lDirty == 0 { h |= ARM32.pteExtAPX }
        if l & lUser != 0 { h |= ARM32.pteExtAP1 }
        if l & lXN != 0 { h |= ARM32.pteExtXN }
        return h
    }

    /// Returns the PTE pair (Linux word | hardware word << 32) for `e`; a user page is non-global
    /// (nG). Linux: set_pte_at() → set_pte_ext(), arch/arm/include/asm/pgtable.h
    @inlinable static func encodeARM32PTE(_ e: PTE) -> UInt64 {
        let l = linuxPTEARM32(e)
        let h = setPTEExtARM32(l, ext: e.isPresent && e.isUser ? ARM32.pteExtNG : 0)
        return l | h << 32
    }

    /// Returns the software entry for an ARM PTE pair, read from the Linux word as Linux does
    /// (pte_young, pte_dirty, pte_write = !L_PTE_RDONLY, pte_exec = !L_PTE_XN); kernel pages are
    /// global. Linux: pte_pfn(), __swp_type(), __swp_offset(), arch/arm/include/asm/pgtable.h
    @inlinable static func decodeARM32PTE(_ raw: UInt64) -> PTE {
        let l = raw & 0xffff_ffff
        if l == 0 { return PTE(raw: 0) }
        if l & lPresent == 0 {
            return PTE(swap: SwapEntry(type: Int((l >> 3) & 0x1f), offset: Int(truncatingIfNeeded: l >> 8)))
        }
        var r = (l & 0xffff_f000) | PTE.present
        if l & lYoung != 0 { r |= PTE.accessed }
        if l & lDirty != 0 { r |= PTE.dirty }
        if l & lRdonly == 0 { r |= PTE.rw }
        if l & lUser != 0 { r |= PTE.user } else { r |= PTE.global }
        if l & lXN != 0 { r |= PTE.nx }
        return PTE(raw: r)
    }

    /// Returns the PGD pair for `e`: a pointer to a PTE page (the two hardware tables at +2048
    /// and +3072, domain user or kernel by `e.isUser`), a pair of 1 MiB sections for a huge leaf,
    /// or 0. Linux: __pmd_populate(), arch/arm/include/asm/pgalloc.h
    @inlinable static func encodeARM32PGD(_ e: PTE) -> UInt64 {
        guard e.isPresent else { return 0 }
        if !e.isHuge {
            let d0 = (e.raw & 0xffff_f000) + 2048 | (e.isUser ? arm32UserTable : arm32KernelTable)
            return d0 | (d0 + 1024) << 32
        }
        var d0 = (e.raw & 0xffe0_0000) | ARM32.pmdTypeSect | 0xc | 1 << 12 | ARM32.pmdSectS | ARM32.pmdSectAPWrite
        if e.isUser { d0 |= ARM32.pmdSectAPRead }
        if e.isNX { d0 |= ARM32.pmdSectXN }
        if e.raw & PTE.global == 0 { d0 |= ARM32.pmdSectNG }
        return d0 | (d0 + 0x10_0000) << 32
    }

    /// Returns the software entry for a PGD pair: a table pointer (PFN of the PTE page), a huge
    /// leaf for sections (the kernel's linear map), else empty. Linux: pmd_page_vaddr(), pmd_leaf()
    @inlinable static func decodeARM32PGD(_ raw: UInt64) -> PTE {
        let d0 = raw & 0xffff_ffff
        switch d0 & 3 {
        case 1: return PTE(raw: (d0 & 0xffff_f000) | tableFlags)
        case 2:
            var r = (d0 & 0xfff0_0000) | PTE.present | PTE.pse | PTE.accessed | PTE.dirty
            if d0 & ARM32.pmdSectAPX == 0 { r |= PTE.rw }
            if d0 & ARM32.pmdSectAPRead != 0 { r |= PTE.user }
            if d0 & ARM32.pmdSectXN != 0 { r |= PTE.nx }
            if d0 & ARM32.pmdSectNG == 0 { r |= PTE.global }
            return PTE(raw: r)
        default: return PTE(raw: 0)
        }
    }

    /// Names an ARM 2-level entry: a PGD pair as its two first-level descriptors, a PTE as
    /// Linux's L_PTE_* bits and the hardware small-page descriptor (or a swap entry).
    static func describeARM32(_ raw: UInt64, level: Int) -> String {
        let lo = raw & 0xffff_ffff, hi = raw >> 32
        if level == 0 {
            if raw == 0 { return "empty" }
            return "[\(ARM32.describe(lo, level: 0))] [\(ARM32.describe(hi, level: 0))]"
        }
        if lo == 0 { return "empty" }
        if lo & lPresent == 0 {
            let e = decodeARM32PTE(raw)
            return "swap type=\(e.swapEntry.type) offset=\(e.swapEntry.offset)"
        }
        var bits = ["L_PTE_PRESENT"]
        for (b, n) in [(lYoung, "YOUNG"), (lDirty, "DIRTY"), (lRdonly, "RDONLY"), (lUser, "USER"), (lXN, "XN"), (lShared, "SHARED"), (lNone, "NONE")] where lo & b != 0 { bits.append(n) }
        let hw = hi == 0 ? "0 (invalid: \(lo & lYoung == 0 ? "old page, young emulated by a fault" : "PROT_NONE"))" : ARM32.describe(hi, level: 1)
        return "linux \(bits.joined(separator: "|")); hw \(hw)"
    }

    // RISC-V PTE bits (arch/riscv/include/asm/pgtable-bits.h).
    @usableFromInline static let rvV: UInt64 = 1 << 0, rvR: UInt64 = 1 << 1, rvW: UInt64 = 1 << 2, rvX: UInt64 = 1 << 3
    @usableFromInline static let rvU: UInt64 = 1 << 4, rvG: UInt64 = 1 << 5, rvA: UInt64 = 1 << 6, rvD: UInt64 = 1 << 7

    /// Returns the RISC-V PTE for `e`. Linux: pfn_pte(), _PAGE_TABLE, arch/riscv/include/asm/pgtable.h
    @inlinable static func encodeRISCV(_ e: PTE, last: Bool) -> UInt64 {
        if e.raw == 0 { return 0 }
        if !e.isPresent {
            let s = e.swapEntry
            return UInt64(s.type & 0x1f) << 7 | UInt64(truncatingIfNeeded: s.offset) << 12
        }
        let ppn = (e.pfn.raw & 0xfff_ffff_ffff) << 10
        if !last && !e.isHuge { return ppn | rvV }
        var p = ppn | rvV | rvR
        if e.isWritable { p |= rvW }
        if !e.isNX { p |= rvX }
        if e.isUser { p |= rvU }
        if e.raw & PTE.global != 0 { p |= rvG }
        if e.isAccessed { p |= rvA }
        if e.isDirty { p |= rvD }
        return p
    }

    /// Returns the software entry for a RISC-V PTE. Linux: pte_present(), pte_write(), pte_exec()
    @inlinable static func decodeRISCV(_ p: UInt64, last: Bool) -> PTE {
        if p == 0 { return PTE(raw: 0) }
        if p & rvV == 0 {
            return PTE(swap: SwapEntry(type: Int((p >> 7) & 0x1f), offset: Int(truncatingIfNeeded: p >> 12)))
        }
        let addr = ((p >> 10) & 0xfff_ffff_ffff) << 12
        if !last && p & (rvR | rvW | rvX) == 0 { return PTE(raw: addr | tableFlags) }
        var r = addr | PTE.present
        if !last { r |= PTE.pse }
        if p & rvW != 0 { r |= PTE.rw }
        if p & rvX == 0 { r |= PTE.nx }
        if p & rvU != 0 { r |= PTE.user }
        if p & rvG != 0 { r |= PTE.global }
        if p & rvA != 0 { r |= PTE.accessed }
        if p & rvD != 0 { r |= PTE.dirty }
        return PTE(raw: r)
    }
}

// MARK: - The user address-space layout of each architecture

extension PageTableFormat {
    /// TASK_SIZE: the end of user space the fault path and mmap with a hint accept.
    /// x86-64: (1 << 47) − 4 KiB, with LA57 (1 << 56) − 4 KiB (TASK_SIZE_MAX); ARM64: 1 << VA_BITS
    /// (TASK_SIZE_64); RISC-V: half the satp mode's VA space (PGDIR_SIZE * PTRS_PER_PGD / 2).
    /// Linux: TASK_SIZE_MAX, arch/x86/include/asm/page_64_types.h; TASK_SIZE_64,
    /// arch/arm64/include/asm/processor.h; TASK_SIZE_64, arch/riscv/include/asm/pgtable.h
    public var taskSize: UInt64 {
        switch encoding {
        case .x86_64: return (UInt64(1) << UInt64(vaBits - 1)) - PAGE_SIZE
        case .arm64: return UInt64(1) << UInt64(vaBits)
        case .riscv: return UInt64(1) << UInt64(vaBits - 1)
        case .x86_32, .x86PAE: return X86_32Kernel.pageOffset   // TASK_SIZE = PAGE_OFFSET (3G/1G split)
        case .arm32: return ARM32Kernel.taskSize   // PAGE_OFFSET − 16 MiB (modules below PAGE_OFFSET)
        }
    }

    /// DEFAULT_MAP_WINDOW: what mmap without a hint, the mmap base and the stack use. x86-64:
    /// (1 << 47) − 4 KiB also with LA57 (addresses above need a hint); ARM64: TASK_SIZE (VA ≤ 48);
    /// RISC-V: 1 << (MMAP_VA_BITS − 1), MMAP_VA_BITS = 48 for Sv48/Sv57 and 39 for Sv39.
    /// Linux: DEFAULT_MAP_WINDOW, arch/x86/include/asm/page_64_types.h, arch/arm64/include/asm/processor.h,
    /// arch/riscv/include/asm/processor.h
    public var mapWindow: UInt64 {
        switch encoding {
        case .x86_64: return (UInt64(1) << 47) - PAGE_SIZE
        case .arm64: return UInt64(1) << UInt64(min(vaBits, 48))
        case .riscv: return UInt64(1) << UInt64(min(vaBits, 48) - 1)
        case .x86_32, .x86PAE: return X86_32Kernel.pageOffset
        case .arm32: return ARM32Kernel.taskSize
        }
    }

    /// STACK_TOP: the top of the user stack (DEFAULT_MAP_WINDOW on every format here).
    /// Linux: STACK_TOP, arch/{x86,arm64,riscv}/include/asm/processor.h
    public var stackTop: UInt64 { mapWindow }

    /// ELF_ET_DYN_BASE, page aligned: where a PIE loads without ASLR — two thirds of the map
    /// window: 0x555555554000 (x86-64), 0xaaaaaaaaa000 (ARM64 48-bit), 0x2aaaaaa000 (Sv39).
    /// Linux: ELF_ET_DYN_BASE, arch/x86/include/asm/elf.h ((DEFAULT_MAP_WINDOW / 3) * 2),
    /// arch/arm64/include/asm/elf.h (2 * DEFAULT_MAP_WINDOW_64 / 3), arch/riscv/include/asm/elf.h
    /// x86-32 (mmap_is_ia32()): 0x400000. ARM: TASK_SIZE / 3 * 2 = 0x7f555554 → 0x7f555000
    /// (arch/arm/include/asm/elf.h).
    public var elfEtDynBase: UInt64 {
        if encoding == .arm32 { return ARM32Kernel.taskSize / 3 * 2 & PAGE_MASK }
        if is32Bit { return 0x40_0000 }
        let w = mapWindow
        return (encoding == .arm64 ? 2 * w / 3 : w / 3 * 2) & PAGE_MASK
    }

    /// The name of the root register: CR3, TTBR0_EL1 or satp.
    public var rootRegister: String {
        switch encoding {
        case .x86_64, .x86_32, .x86PAE: return "CR3"
        case .arm64: return "TTBR0_EL1"
        case .riscv: return "satp"
        case .arm32: return "TTBR0"
        }
    }
}
