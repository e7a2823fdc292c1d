/// `mm_struct`: one address space.

/// The per-mm RSS counters (`enum` MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES).
public struct RSSCounters: Sendable, Equatable {
    public var file = 0
    public var anon = 0
    public var swapents = 0
    public var shmem = 0
    public init() {}
    /// get_mm_rss(): file + anon + shmem pages.
    public var total: Int { file + anon + shmem }
}

/// An address space: its page tables, VMAs and layout. Linux: struct mm_struct, include/linux/mm_types.h
public final class MMStruct {
    /// Frame of the top-level page table (loaded into CR3).
    public var pgd: PFN
    public var vmas = VMATree()
    /// Highest user address + 1 (TASK_SIZE).
    public var taskSize: UInt64 = X86_64.taskSize
    /// DEFAULT_MAP_WINDOW: the top of hint-less mmap, the mmap base and the stack (below TASK_SIZE
    /// on x86-64 LA57 and Sv57). Set from the machine's PageTableFormat.
    public var mapWindow: UInt64 = X86_64.taskSize
    /// Where top-down mmap allocation starts (below the stack gap).
    public var mmapBase: UInt64 = 0
    public var startCode: UInt64 = 0, endCode: UInt64 = 0
    public var startData: UInt64 = 0, endData: UInt64 = 0
    public var startBrk: UInt64 = 0, brk: UInt64 = 0
    public var startStack: UInt64 = 0
    public var argStart: UInt64 = 0, argEnd: UInt64 = 0, envStart: UInt64 = 0, envEnd: UInt64 = 0
    /// Page counts, as in mm_struct.
    public var totalVM = 0, lockedVM = 0, pinnedVM = 0, dataVM = 0, execVM = 0, stackVM = 0
    public var hiwaterRSS = 0, hiwaterVM = 0
    public var rss = RSSCounters()
    /// Bytes of page tables (mm_pgtables_bytes()), including the PGD.
    public var pgtablesBytes = 0
    /// mm_users / mm_count.
    public var mmUsers = 1, mmCount = 1
    /// Flags new VMAs inherit (VM_LOCKED after mlockall(MCL_FUTURE)).
    public var defFlags: VMFlags = []
    /// RLIMIT_STACK soft limit in bytes.
    public var stackRlimit: UInt64 = 8 << 20
    /// RLIMIT_MEMLOCK soft limit in bytes.
    public var memlockRlimit: UInt64 = 8 << 20
    /// Counter that hands out anon_vma identities (and shmem-object identities of shared
    /// anonymous mappings, see `VMA.shmemObject`).
    public var nextAnonVMA: UInt64 = 1
    /// Base of the bottom-up (legacy) mmap area: TASK_UNMAPPED_BASE = PAGE_ALIGN(TASK_SIZE / 3).
    /// Linux: mm_struct.mmap_legacy_base
    public var mmapLegacyBase: UInt64 = 0
    /// True when mmap allocates top-down from `mmapBase` (Linux: MMF_TOPDOWN in mm->flags).
    public var topDown = true
    /// Ask for the legacy bottom-up layout before `archPickMmapLayout` (models
    /// personality(ADDR_COMPAT_LAYOUT) or vm.legacy_va_layout = 1).
    public var legacyVALayout = false
    /// RLIMIT_AS soft limit in bytes (UInt64.max = RLIM_INFINITY, the default).
    public var asRlimit: UInt64 = .max
    /// RLIMIT_DATA soft limit in bytes (UInt64.max = RLIM_INFINITY, the default).
    public var dataRlimit: UInt64 = .max
    /// Page tables deposited for the huge PMDs of this mm, by the PMD's 2 MiB-aligned address:
    /// each PMD-mapped THP keeps one so that a later split cannot fail.
    /// Linux: pgtable_trans_huge_deposit() / pgtable_trans_huge_withdraw(), mm/pgtable-generic.c
    public var hugePMDDeposits: [UInt64: PFN] = [:]
    /// Hugetlb pages mapped, in 4 KiB pages (hugetlb_usage; /proc/PID/status HugetlbPages).
    public var hugetlbUsage = 0
    /// Whether khugepaged scans this mm (MMF_VM_HUGEPAGE, set by khugepaged_enter_vma()).
    public var khugepagedRegistered = false

    /// The slab objects this address space holds: mm_struct, vm_area_structs, anon_vmas.
    var objects = MMObjects()

    /// Whether this is the address space of a 32-bit x86 kernel's process (TASK_SIZE = PAGE_OFFSET
    /// = 0xc0000000, 4-byte user pointers).
    public var ia32 = false

    public init(pgd: PFN) { self.pgd = pgd }
    /// Whether the [vsyscall] gate page exists (x86-64 only; ARM64 and RISC-V have none).
    public var hasVsyscallGate = true
    /// Whether the [vectors] gate page exists (32-bit ARM).
    public var hasVectorsPage = false

    /// The [vsyscall] gate page every 64-bit process shows at 0xffffffffff600000 (execute-only,
    /// the default vsyscall=xonly). It is not in the VMA tree and not counted in total_vm.
    /// Linux: get_gate_vma(), arch/x86/entry/vsyscall/vsyscall_64.c
    public var gateVMA: VMA? {
        if hasVectorsPage {
            // ARM: the high vectors page (kuser helpers), r-x for user space; not in the VMA tree.
            // Linux: get_gate_vma() / gate_vma, arch/arm/kernel/process.c
            return VMA(start: VirtAddr(ARM32Kernel.vectorsBase), end: VirtAddr(ARM32Kernel.vectorsBase + PAGE_SIZE),
                       flags: [.read, .exec, .mayread, .mayexec], special: .vectors)
        }
        guard hasVsyscallGate else { return nil }
        return VMA(start: VirtAddr(0xffff_ffff_ff60_0000), end: VirtAddr(0xffff_ffff_ff60_1000), flags: .exec, special: .vsyscall)
    }

    /// The VMAs procfs shows: the tree's, then the gate page.
    public var vmasWithGate: [VMA] { vmas.vmas + (gateVMA.map { [$0] } ?? []) }

    /// The auxiliary vector exec wrote on the stack (mm->saved_auxv), without AT_NULL; empty for
    /// the synthetic images of `spawn`.
    public var savedAuxv: [AuxvEntry] = []

    /// A PCID hint handed out at creation. The CPUs do not use it: each CPU tags an mm's entries
    /// with the dynamic ASID it picks at switch time (Kernel.chooseNewASID, PCID = ASID + 1).
    public var pcid: UInt16 = 0
    /// The generation of this mm's page tables: raised by every TLB flush request; a CPU whose
    /// ASID slot for the mm holds an older generation flushes before it uses the mm again.
    /// Linux: mm->context.tlb_gen, arch/x86/include/asm/mmu.h
    public var tlbGen: UInt64 = 1
    /// The CPUs that have this mm loaded, lazily or not, one bit per CPU. Linux: mm_cpumask()
    public var cpumask: UInt64 = 0

    /// Index in `vmas` of the VMA the last cached lookup found: only a hint, checked before use,
    /// so no change to the tree has to reset it. Linux: the per-task vmacache (≤ 6.0)
    var vmaHint = 0

    /// Returns the index of the first VMA whose end is above `addr` (nil when there is none),
    /// trying the VMA of the previous lookup first. Linux: find_vma() after vmacache_find(), mm/mmap.c, mm/vmacache.c
    @inline(__always)
    func findVMAIndexCached(_ addr: VirtAddr) -> Int? {
        let h = vmaHint
        if h < vmas.count && vmas.vmas[h].start <= addr && addr < vmas.vmas[h].end { return h }
        guard let i = vmas.findVMAIndex(addr) else { return nil }
        vmaHint = i
        return i
    }

    /// Returns the index of the VMA containing `addr`, or nil, trying the VMA of the previous
    /// lookup first. Linux: vma_lookup() after vmacache_find(), include/linux/mm.h, mm/vmacache.c
    @inline(__always)
    func lookupIndexCached(_ addr: VirtAddr) -> Int? {
        guard let i = findVMAIndexCached(addr), vmas.vmas[i].start <= addr else { return nil }
        return i
    }

    /// Updates the high-water marks (update_hiwater_rss/vm).
    public func updateHiwater() {
        hiwaterRSS = max(hiwaterRSS, rss.total)
        hiwaterVM = max(hiwaterVM, totalVM)
    }
}
