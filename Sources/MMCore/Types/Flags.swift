/// Protection, mapping and VMA flag sets with Linux's bit values.

/// `PROT_*` bits of mmap/mprotect.
public struct Prot: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let none = Prot([])
    public static let read = Prot(rawValue: 0x1)
    public static let write = Prot(rawValue: 0x2)
    public static let exec = Prot(rawValue: 0x4)
    public static let growsdown = Prot(rawValue: 0x0100_0000)
    public static let growsup = Prot(rawValue: 0x0200_0000)
}

/// `MAP_*` flags of mmap.
public struct MapFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let shared = MapFlags(rawValue: 0x01)
    public static let `private` = MapFlags(rawValue: 0x02)
    public static let sharedValidate = MapFlags(rawValue: 0x03)
    public static let fixed = MapFlags(rawValue: 0x10)
    public static let anonymous = MapFlags(rawValue: 0x20)
    public static let growsdown = MapFlags(rawValue: 0x0100)
    public static let denywrite = MapFlags(rawValue: 0x0800)
    public static let executable = MapFlags(rawValue: 0x1000)
    public static let locked = MapFlags(rawValue: 0x2000)
    public static let noreserve = MapFlags(rawValue: 0x4000)
    public static let populate = MapFlags(rawValue: 0x8000)
    public static let nonblock = MapFlags(rawValue: 0x10000)
    public static let stack = MapFlags(rawValue: 0x20000)
    public static let hugetlb = MapFlags(rawValue: 0x40000)
    public static let fixedNoreplace = MapFlags(rawValue: 0x100000)
}

/// `MREMAP_*` flags.
public struct MremapFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let maymove = MremapFlags(rawValue: 1)
    public static let fixed = MremapFlags(rawValue: 2)
    public static let dontunmap = MremapFlags(rawValue: 4)
}

/// `MCL_*` flags of mlockall and `MLOCK_ONFAULT`.
public struct MlockFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let onfault = MlockFlags(rawValue: 1)
}

/// `MADV_*` advice values.
public enum Advice: Int32, Sendable, CaseIterable {
    case normal = 0, random = 1, sequential = 2, willneed = 3, dontneed = 4
    case free = 8, remove = 9, dontfork = 10, dofork = 11, mergeable = 12, unmergeable = 13
    case hugepage = 14, nohugepage = 15, dontdump = 16, dodump = 17
    case wipeonfork = 18, keeponfork = 19, cold = 20, pageout = 21
}

/// `vm_flags` of a VMA (`VM_*` in include/linux/mm.h).
public struct VMFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let read = VMFlags(rawValue: 0x0000_0001)
    public static let write = VMFlags(rawValue: 0x0000_0002)
    public static let exec = VMFlags(rawValue: 0x0000_0004)
    public static let shared = VMFlags(rawValue: 0x0000_0008)
    public static let mayread = VMFlags(rawValue: 0x0000_0010)
    public static let maywrite = VMFlags(rawValue: 0x0000_0020)
    public static let mayexec = VMFlags(rawValue: 0x0000_0040)
    public static let mayshare = VMFlags(rawValue: 0x0000_0080)
    public static let growsdown = VMFlags(rawValue: 0x0000_0100)
    public static let pfnmap = VMFlags(rawValue: 0x0000_0400)
    public static let locked = VMFlags(rawValue: 0x0000_2000)
    public static let io = VMFlags(rawValue: 0x0000_4000)
    public static let seqRead = VMFlags(rawValue: 0x0000_8000)
    public static let randRead = VMFlags(rawValue: 0x0001_0000)
    public static let dontcopy = VMFlags(rawValue: 0x0002_0000)
    public static let dontexpand = VMFlags(rawValue: 0x0004_0000)
    public static let lockonfault = VMFlags(rawValue: 0x0008_0000)
    public static let account = VMFlags(rawValue: 0x0010_0000)
    public static let noreserve = VMFlags(rawValue: 0x0020_0000)
    public static let hugetlb = VMFlags(rawValue: 0x0040_0000)
    public static let wipeonfork = VMFlags(rawValue: 0x0200_0000)
    public static let dontdump = VMFlags(rawValue: 0x0400_0000)
    public static let softdirty = VMFlags(rawValue: 0x0800_0000)
    public static let mixedmap = VMFlags(rawValue: 0x1000_0000)
    public static let hugepage = VMFlags(rawValue: 0x2000_0000)
    public static let nohugepage = VMFlags(rawValue: 0x4000_0000)
    public static let mergeable = VMFlags(rawValue: 0x8000_0000)

    /// The access bits (read/write/exec).
    public var accessBits: VMFlags { intersection([.read, .write, .exec]) }
    /// `VM_LOCKED_MASK`.
    public static let lockedMask: VMFlags = [.locked, .lockonfault]
}

/// The kind of a memory access, for faults and the TLB.
public enum AccessKind: UInt8, Sendable {
    case read, write, exec
}

/// Per-frame `page->flags` bits (our own bit numbers; names as in page-flags.h).
public struct PageFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let locked = PageFlags(rawValue: 1 << 0)
    public static let referenced = PageFlags(rawValue: 1 << 1)
    public static let uptodate = PageFlags(rawValue: 1 << 2)
    public static let dirty = PageFlags(rawValue: 1 << 3)
    public static let lru = PageFlags(rawValue: 1 << 4)
    public static let active = PageFlags(rawValue: 1 << 5)
    public static let slab = PageFlags(rawValue: 1 << 6)
    public static let reserved = PageFlags(rawValue: 1 << 7)
    public static let `private` = PageFlags(rawValue: 1 << 8)
    public static let writeback = PageFlags(rawValue: 1 << 9)
    public static let head = PageFlags(rawValue: 1 << 10)
    public static let swapcache = PageFlags(rawValue: 1 << 11)
    public static let mappedtodisk = PageFlags(rawValue: 1 << 12)
    public static let reclaim = PageFlags(rawValue: 1 << 13)
    public static let swapbacked = PageFlags(rawValue: 1 << 14)
    public static let unevictable = PageFlags(rawValue: 1 << 15)
    public static let mlocked = PageFlags(rawValue: 1 << 16)
    /// Frame is on a buddy free list (PageBuddy).
    public static let buddy = PageFlags(rawValue: 1 << 17)
    /// Frame holds a page table (PageTable).
    public static let pageTable = PageFlags(rawValue: 1 << 18)
    /// Frame is anonymous memory (PageAnon; Linux encodes it in page->mapping).
    public static let anon = PageFlags(rawValue: 1 << 19)
    /// The shared zero page (and the frames of the huge zero page).
    public static let zeroPage = PageFlags(rawValue: 1 << 20)
    /// Frame of an anonymous transparent huge page that some PMD still maps (PageTransHuge of
    /// its folio). The model keeps a THP as 512 order-0 frames, each with its own refcount and
    /// mapcount (page_mapcount() = PTE mappings + PMD mappings, as Linux reports it).
    public static let transHuge = PageFlags(rawValue: 1 << 21)
}

/// /sys/kernel/mm/transparent_hugepage/defrag: whether a THP allocation may stall in direct
/// reclaim and compaction. Linux: transparent_hugepage_flags, mm/huge_memory.c
public enum THPDefrag: String, Sendable, Equatable, CaseIterable {
    case always, `defer` = "defer", deferMadvise = "defer+madvise", madvise, never
}

/// /sys/kernel/mm/transparent_hugepage/enabled.
public enum THPMode: String, Sendable, Equatable, CaseIterable {
    case always, madvise, never
}
