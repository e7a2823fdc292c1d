/// Virtual memory areas and the per-process tree of them.

/// What backs a file mapping (enough for /proc/PID/maps).
public struct MappedFile: Hashable, Sendable {
    /// Path shown in maps.
    public var path: String
    /// Device major and minor.
    public var devMajor: UInt32
    public var devMinor: UInt32
    public var inode: UInt64
    public init(path: String, devMajor: UInt32 = 0, devMinor: UInt32 = 0, inode: UInt64 = 0) {
        self.path = path; self.devMajor = devMajor; self.devMinor = devMinor; self.inode = inode
    }
}

/// The special names maps prints for some anonymous areas.
public enum VMASpecial: Hashable, Sendable {
    case none, heap, stack, vvar, vdso, vsyscall, vectors
    /// 32-bit ARM's signal-return trampoline page, mapped beside the vDSO.
    case sigpage
    /// The clock pages of the vDSO data area, a mapping of its own since Linux 6.13.
    case vvarVclock
}

/// One `vm_area_struct`: a range [start, end) with the same flags and backing.
public struct VMA: Hashable, Sendable {
    public var start: VirtAddr
    public var end: VirtAddr
    public var flags: VMFlags
    /// `vm_pgoff`: offset into the file in pages, or for anonymous memory start >> PAGE_SHIFT at creation.
    public var pgoff: UInt64
    public var file: MappedFile?
    public var special: VMASpecial
    /// Identity of the `anon_vma` (0 = none yet); VMAs merge only with compatible anon_vmas.
    public var anonVMA: UInt64
    /// Identity of the shmem object behind a shared anonymous mapping (0 = none). Linux backs
    /// such a mapping with its own "/dev/zero" shmem file (shmem_zero_setup()), so two of them
    /// never merge while pieces of one may; this models that file's identity.
    public var shmemObject: UInt64 = 0
    /// Identity of the hugetlb object behind a MAP_HUGETLB mapping (0 = none; hugetlb.swift).
    public var hugetlbObject: UInt64 = 0
    public init(start: VirtAddr, end: VirtAddr, flags: VMFlags, pgoff: UInt64 = 0, file: MappedFile? = nil,
                special: VMASpecial = .none, anonVMA: UInt64 = 0, shmemObject: UInt64 = 0) {
        self.start = start; self.end = end; self.flags = flags; self.pgoff = pgoff
        self.file = file; self.special = special; self.anonVMA = anonVMA; self.shmemObject = shmemObject
    }
    /// Length in bytes.
    @inlinable public var length: UInt64 { end.raw - start.raw }
    /// Length in pages.
    @inlinable public var pages: Int { Int(length >> PAGE_SHIFT) }
    @inlinable public func contains(_ va: VirtAddr) -> Bool { va >= start && va < end }
    /// True for anonymous memory (no file).
    public var isAnonymous: Bool { file == nil }
}
