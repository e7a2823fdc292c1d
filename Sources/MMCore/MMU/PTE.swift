/// x86-64 page-table entries in the real hardware format.

/// One 64-bit page-table entry at any level (PGD/PUD/PMD/PTE), as the hardware reads it.
public struct PTE: Hashable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    @inlinable public init(raw: UInt64) { self.raw = raw }

    public static let present: UInt64 = 1 << 0   // _PAGE_PRESENT
    public static let rw: UInt64 = 1 << 1        // _PAGE_RW
    public static let user: UInt64 = 1 << 2      // _PAGE_USER
    public static let pwt: UInt64 = 1 << 3       // _PAGE_PWT
    public static let pcd: UInt64 = 1 << 4       // _PAGE_PCD
    public static let accessed: UInt64 = 1 << 5  // _PAGE_ACCESSED
    public static let dirty: UInt64 = 1 << 6     // _PAGE_DIRTY
    public static let pse: UInt64 = 1 << 7       // _PAGE_PSE (huge page at PUD/PMD level)
    public static let global: UInt64 = 1 << 8    // _PAGE_GLOBAL
    public static let nx: UInt64 = 1 << 63       // _PAGE_NX
    /// Bits 12..51: the physical frame number.
    public static let pfnMask: UInt64 = 0x000f_ffff_ffff_f000

    /// An entry mapping `pfn` with the given flag bits.
    @inlinable public init(pfn: PFN, flags: UInt64) { raw = (pfn.raw << PAGE_SHIFT) & PTE.pfnMask | flags }

    @inlinable public var isPresent: Bool { raw & PTE.present != 0 }
    @inlinable public var isWritable: Bool { raw & PTE.rw != 0 }
    @inlinable public var isUser: Bool { raw & PTE.user != 0 }
    @inlinable public var isAccessed: Bool { raw & PTE.accessed != 0 }
    @inlinable public var isDirty: Bool { raw & PTE.dirty != 0 }
    @inlinable public var isHuge: Bool { raw & PTE.pse != 0 }
    @inlinable public var isNX: Bool { raw & PTE.nx != 0 }
    @inlinable public var isNone: Bool { raw == 0 }
    @inlinable public var pfn: PFN { PFN((raw & PTE.pfnMask) >> PAGE_SHIFT) }
    /// The flag bits (everything but the PFN).
    @inlinable public var flags: UInt64 { raw & ~PTE.pfnMask }

    /// Flags rendered like a debugger would: "P RW US A D NX pfn=0x1234".
    public var description: String {
        if raw == 0 { return "none" }
        if raw & PTE.present == 0 {
            // A swap entry (x86-64 format: type in bits 59-63, offset inverted in bits 9-58).
            return "swap type=\(raw >> 59) offset=\(((~raw) << 5) >> 14)"
        }
        var parts: [String] = []
        if isPresent { parts.append("P") }
        if isWritable { parts.append("RW") }
        if isUser { parts.append("US") }
        if raw & PTE.pwt != 0 { parts.append("PWT") }
        if raw & PTE.pcd != 0 { parts.append("PCD") }
        if isAccessed { parts.append("A") }
        if isDirty { parts.append("D") }
        if isHuge { parts.append("PS") }
        if raw & PTE.global != 0 { parts.append("G") }
        if isNX { parts.append("NX") }
        parts.append("pfn=\(pfn)")
        return parts.joined(separator: " ")
    }
}

/// Levels of the x86-64 4-level page table, top first.
public enum PageTableLevel: Int, Sendable, CaseIterable {
    case pgd = 0, pud = 1, pmd = 2, pte = 3
    /// Shift of the virtual-address bits that index this level (39, 30, 21, 12).
    @inlinable public var shift: UInt64 {
        switch self { case .pgd: return 39; case .pud: return 30; case .pmd: return 21; case .pte: return 12 }
    }
    /// Index (0..<512) of `va` in a table of this level.
    @inlinable public func index(of va: VirtAddr) -> Int { Int((va.raw >> shift) & 0x1ff) }
    public var name: String {
        switch self { case .pgd: return "PGD"; case .pud: return "PUD"; case .pmd: return "PMD"; case .pte: return "PTE" }
    }
}

/// Bits of the x86 page-fault error code pushed by the CPU (`enum x86_pf_error_code`).
public struct PFErrorCode: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// X86_PF_PROT: the fault was a protection violation (the page was present).
    public static let prot = PFErrorCode(rawValue: 1 << 0)
    /// X86_PF_WRITE: the access was a write.
    public static let write = PFErrorCode(rawValue: 1 << 1)
    /// X86_PF_USER: the access came from user mode.
    public static let user = PFErrorCode(rawValue: 1 << 2)
    /// X86_PF_RSVD: a reserved bit was set.
    public static let rsvd = PFErrorCode(rawValue: 1 << 3)
    /// X86_PF_INSTR: the access was an instruction fetch.
    public static let instr = PFErrorCode(rawValue: 1 << 4)
    /// X86_PF_PK: protection-key violation.
    public static let pk = PFErrorCode(rawValue: 1 << 5)
}

/// Canonical-address checks for 48-bit virtual addresses.
public enum X86_64 {
    /// TASK_SIZE_MAX with 4-level paging: the top of user space.
    public static let taskSize: UInt64 = 0x7fff_ffff_f000
    /// First address of the kernel half (start of canonical upper half).
    public static let kernelStart: UInt64 = 0xffff_8000_0000_0000
    /// True when bits 63..47 are all equal.
    @inlinable public static func isCanonical(_ va: VirtAddr) -> Bool {
        let top = va.raw >> 47
        return top == 0 || top == 0x1ffff
    }
}
