/// Highmem on a 32-bit x86 or 32-bit ARM kernel (3G/1G split): which frames the kernel maps
/// permanently (lowmem, linearly at PAGE_OFFSET) and how it reaches the others (ZONE_HIGHMEM)
/// through temporary mappings: kmap() in the pkmap area and kmap_atomic() in per-CPU fixmap
/// slots. Follows Linux mm/highmem.c, arch/x86/include/asm/{highmem,fixmap}.h and
/// arch/arm/include/asm/{highmem,fixmap,memory,pgtable}.h, arch/arm/mm/mmu.c.
///
/// Model: the 32-bit kernel's physical zones and its kernel-side mappings. Standalone (the
/// `highmem32` scenario command, beside any machine) or as the kernel of a `machine arch=x86-32`,
/// where every pkmap/fixmap entry set or cleared is written to the machine's real page tables
/// (`setPTE`, see MMU/init_32.swift). pkmap with LAST_PKMAP entries
/// (1024, or 512 with PAE) and use counts (0 free, 1 mapped but unused, ≥2 in use), lazy
/// unmapping with one TLB flush when the search wraps (flush_all_zero_pkmaps), kmap_atomic slots
/// (KM_MAX_IDX = 16 per CPU) as a stack. A kmap() that finds every entry in use would sleep: the
/// model refuses it instead.

/// Constants of the x86-32 3G/1G kernel.
public enum X86_32Kernel {
    /// PAGE_OFFSET (CONFIG_PAGE_OFFSET with VMSPLIT_3G).
    public static let pageOffset: UInt64 = 0xc000_0000
    /// PKMAP_BASE and the top of the fixmap (FIXADDR_TOP).
    public static let pkmapBase: UInt64 = 0xff80_0000
    public static let fixaddrTop: UInt64 = 0xffff_f000
    /// First fixmap index of the kmap_atomic slots: after FIX_HOLE, FIX_APIC_BASE and 128
    /// FIX_IO_APIC_BASE entries (X86_LOCAL_APIC, X86_IO_APIC).
    public static let fixKmapBegin: UInt64 = 130
    /// kmap_atomic slots per CPU (KM_MAX_IDX).
    public static let kmMaxIdx = 16
    /// ZONE_DMA ends at 16 MiB.
    public static let maxDMABytes: UInt64 = 16 << 20
    /// The most RAM mapped linearly (MAXMEM = VMALLOC_END − PAGE_OFFSET − __VMALLOC_RESERVE),
    /// with VMALLOC_END = PKMAP_BASE − 2 pages and a 128 MiB vmalloc reserve: 0x377fe000.
    public static let maxLowmem: UInt64 = pkmapBase - 2 * PAGE_SIZE - pageOffset - (128 << 20)
}

/// Constants of the 32-bit ARM kernel without LPAE (2-level page tables), VMSPLIT_3G.
public enum ARM32Kernel {
    /// PAGE_OFFSET (CONFIG_PAGE_OFFSET with VMSPLIT_3G). Linux: arch/arm/include/asm/memory.h
    public static let pageOffset: UInt64 = 0xc000_0000
    /// TASK_SIZE = PAGE_OFFSET − 16 MiB (the modules area MODULES_VADDR..PAGE_OFFSET lies between
    /// user space and the linear map). Linux: arch/arm/include/asm/memory.h
    public static let taskSize: UInt64 = pageOffset - (16 << 20)
    /// TEXT_OFFSET: the kernel image starts 32 KiB above the start of RAM (virtual 0xc0008000),
    /// swapper_pg_dir takes the 16 KiB below it. Linux: arch/arm/Makefile, arch/arm/kernel/head.S
    public static let textOffset: UInt64 = 0x8000
    /// The high exception vectors page (CONFIG_VECTORS_BASE), shown as [vectors] in maps.
    /// Linux: arch/arm/include/asm/memory.h, arch/arm/kernel/process.c (gate_vma)
    public static let vectorsBase: UInt64 = 0xffff_0000
    /// PMD_SIZE of the 2-level tables (PMD_SHIFT 21: one Linux PMD covers two 1 MiB sections).
    /// Linux: arch/arm/include/asm/pgtable-2level.h
    public static let pmdSize: UInt64 = 2 << 20
    /// PKMAP_BASE = PAGE_OFFSET − PMD_SIZE, LAST_PKMAP = PTRS_PER_PTE (512): the pkmap area is
    /// the 2 MiB just below the linear map. Linux: arch/arm/include/asm/highmem.h
    public static let pkmapBase: UInt64 = pageOffset - pmdSize
    public static let lastPkmap = 512
    /// VMALLOC_END and VMALLOC_OFFSET (the 8 MiB hole after lowmem). Linux: arch/arm/include/asm/pgtable.h
    public static let vmallocEnd: UInt64 = 0xff80_0000
    public static let vmallocOffset: UInt64 = 8 << 20
    /// The default vmalloc area (vmalloc=240M): vmalloc_start = VMALLOC_END − 240 MiB, and lowmem
    /// ends VMALLOC_OFFSET below it, at 0xf0000000: 768 MiB of lowmem. Linux: vmalloc_start and
    /// adjust_lowmem_bounds(), arch/arm/mm/mmu.c (vmalloc_min = VMALLOC_END − 240 MiB −
    /// VMALLOC_OFFSET before 5.14, the same boundary)
    public static let maxLowmem: UInt64 = vmallocEnd - (240 << 20) - vmallocOffset - pageOffset
    /// FIXADDR_START, FIXADDR_END and FIXADDR_TOP = FIXADDR_END − PAGE_SIZE. Linux: arch/arm/include/asm/fixmap.h
    public static let fixaddrStart: UInt64 = 0xffc0_0000
    public static let fixaddrEnd: UInt64 = 0xfff0_0000
    public static let fixaddrTop: UInt64 = fixaddrEnd - PAGE_SIZE
    /// FIX_KMAP_BEGIN: right after FIX_EARLYCON_MEM_BASE, the one permanent fixmap entry.
    public static let fixKmapBegin: UInt64 = 1
    /// kmap_atomic slots per CPU (KM_MAX_IDX, include/asm-generic/kmap_size.h).
    public static let kmMaxIdx = 16
}

/// The 32-bit kernels the highmem model knows.
public enum Highmem32Arch: String, Sendable, CaseIterable {
    case x86_32, arm32
}

/// Why a kmap failed.
public enum KmapError: Error, Equatable, CustomStringConvertible {
    case noSuchFrame(UInt64)
    case wouldSleep
    case atomicSlotsExhausted
    case notMapped(UInt64)
    case notInnermost(UInt64)
    public var description: String {
        switch self {
        case .noSuchFrame(let p): return "PFN 0x\(String(p, radix: 16)) is beyond RAM"
        case .wouldSleep: return "every pkmap entry is in use: kmap() would sleep until a kunmap()"
        case .atomicSlotsExhausted: return "BUG: kmap_atomic slots exhausted (KM_MAX_IDX)"
        case .notMapped(let a): return "0x\(String(a, radix: 16)) is not a kmap address in use"
        case .notInnermost(let a): return "0x\(String(a, radix: 16)) is not the innermost kmap_atomic slot (release in reverse order)"
        }
    }
}

/// The 32-bit kernel's view of `ramBytes` of RAM.
public final class Highmem32 {
    public let ramBytes: UInt64
    public let pae: Bool
    /// The kernel whose constants apply.
    public let arch: Highmem32Arch
    /// Entries of the pkmap area (LAST_PKMAP).
    public let lastPkmap: Int
    /// PAGE_OFFSET, PKMAP_BASE, FIXADDR_TOP, FIX_KMAP_BEGIN, KM_MAX_IDX and the lowmem limit of `arch`.
    public let pageOffset: UInt64, pkmapBase: UInt64, fixaddrTop: UInt64, fixKmapBegin: UInt64
    public let kmMaxIdx: Int
    public let maxLowmem: UInt64
    /// pkmap_count[]: 0 free, 1 mapped but unused (flushed lazily), n ≥ 2 mapped with n−1 users.
    public private(set) var pkmapCount: [Int]
    /// The frame each pkmap entry maps.
    public private(set) var pkmapPFN: [UInt64?]
    /// The entry the last search stopped at (last_pkmap_nr).
    public private(set) var lastPkmapNr = 0
    /// TLB flushes of the pkmap range (flush_all_zero_pkmaps), for the narration and tests.
    public private(set) var pkmapFlushes = 0
    /// kmap_atomic slots in use on CPU 0, innermost last (the kmap_local stack).
    public private(set) var atomicStack: [UInt64] = []
    /// Called with (kernel address, PFN) when a pkmap or fixmap entry is set and (address, nil)
    /// when it is cleared: a machine's kernel writes the real PTE (set_pte_at / pte_clear).
    public var setPTE: ((UInt64, UInt64?) -> Void)?

    /// Sets up the view; RAM is clamped to 4 GiB (64 GiB with PAE is not modelled beyond 4 GiB).
    /// `pae` applies to x86-32 only (ARM's LPAE is not modelled).
    public init(ramBytes: UInt64, pae: Bool = true, arch: Highmem32Arch = .x86_32) {
        self.ramBytes = min(ramBytes, 4 << 30) & PAGE_MASK
        self.arch = arch
        switch arch {
        case .x86_32:
            self.pae = pae
            lastPkmap = pae ? 512 : 1024
            pageOffset = X86_32Kernel.pageOffset; pkmapBase = X86_32Kernel.pkmapBase
            fixaddrTop = X86_32Kernel.fixaddrTop; fixKmapBegin = X86_32Kernel.fixKmapBegin
            kmMaxIdx = X86_32Kernel.kmMaxIdx; maxLowmem = X86_32Kernel.maxLowmem
        case .arm32:
            self.pae = false
            lastPkmap = ARM32Kernel.lastPkmap
            pageOffset = ARM32Kernel.pageOffset; pkmapBase = ARM32Kernel.pkmapBase
            fixaddrTop = ARM32Kernel.fixaddrTop; fixKmapBegin = ARM32Kernel.fixKmapBegin
            kmMaxIdx = ARM32Kernel.kmMaxIdx; maxLowmem = ARM32Kernel.maxLowmem
        }
        pkmapCount = [Int](repeating: 0, count: lastPkmap)
        pkmapPFN = [UInt64?](repeating: nil, count: lastPkmap)
    }

    /// Bytes of lowmem (high_memory − PAGE_OFFSET).
    public var lowmemBytes: UInt64 { min(ramBytes, maxLowmem) }

    /// The vmalloc area as its first and last byte: VMALLOC_START = high_memory + VMALLOC_OFFSET
    /// (8 MiB) on x86-32, rounded down to 8 MiB on ARM; VMALLOC_END = PKMAP_BASE − 2 pages on x86-32
    /// (CONFIG_HIGHMEM), 0xff800000 on ARM.
    /// Linux: arch/x86/include/asm/pgtable_32_areas.h; arch/arm/include/asm/pgtable.h
    public var vmallocRange: (start: UInt64, last: UInt64) {
        let highMemory = pageOffset + lowmemBytes
        if arch == .arm32 {
            let offset = ARM32Kernel.vmallocOffset
            return ((highMemory + offset) & ~(offset - 1), ARM32Kernel.vmallocEnd - 1)
        }
        let end = X86_32Kernel.pkmapBase - 2 * PAGE_SIZE
        return (highMemory + (8 << 20), end - 1)
    }

    /// Frames in ZONE_DMA (x86 only), ZONE_NORMAL and ZONE_HIGHMEM. A 32-bit ARM kernel without
    /// a platform DMA limit (arm_dma_zone_size 0, as multi_v7) has no ZONE_DMA.
    /// Linux: zone_sizes_init(), arch/x86/mm/init.c; zone_sizes_init() / find_limits(), arch/arm/mm/init.c
    public var zonePages: [(name: String, start: UInt64, pages: UInt64)] {
        if arch == .arm32 {
            let normalEnd = lowmemBytes >> PAGE_SHIFT
            return [("Normal", 0, normalEnd), ("HighMem", normalEnd, (ramBytes >> PAGE_SHIFT) - normalEnd)]
        }
        let dma = min(ramBytes, X86_32Kernel.maxDMABytes) >> PAGE_SHIFT
        let normalEnd = lowmemBytes >> PAGE_SHIFT
        let end = ramBytes >> PAGE_SHIFT
        return [("DMA", 0, dma), ("Normal", dma, normalEnd - dma), ("HighMem", normalEnd, end - normalEnd)]
    }

    /// Whether the frame lies in ZONE_HIGHMEM. Linux: PageHighMem(), include/linux/page-flags.h
    public func isHighmem(_ pfn: UInt64) -> Bool { pfn >= lowmemBytes >> PAGE_SHIFT }

    /// Returns __va(phys) for lowmem, nil for highmem or beyond RAM. Linux: __va(), arch/x86/include/asm/page.h, arch/arm/include/asm/memory.h
    public func va(_ phys: UInt64) -> UInt64? { phys < lowmemBytes ? phys + pageOffset : nil }

    /// Returns __pa(virt) for a lowmem address, nil otherwise (__pa() of any other address is a
    /// bug: virt_addr_valid() is false). Linux: __pa(), arch/x86/include/asm/page_32.h, arch/arm/include/asm/memory.h
    public func pa(_ virt: UInt64) -> UInt64? {
        if virt >= pageOffset && virt < pageOffset + lowmemBytes { return virt - pageOffset }
        return nil
    }

    /// Returns the physical address behind a pkmap address whose entry is mapped, else nil.
    /// Linux: kmap_to_page(), mm/highmem.c
    public func kmapToPhys(_ virt: UInt64) -> UInt64? {
        if virt >= pkmapBase && virt < pkmapBase + UInt64(lastPkmap) * PAGE_SIZE {
            let nr = Int((virt - pkmapBase) >> PAGE_SHIFT)
            guard pkmapCount[nr] > 0, let pfn = pkmapPFN[nr] else { return nil }
            return pfn << PAGE_SHIFT | (virt & (PAGE_SIZE - 1))
        }
        return nil
    }

    /// Returns a kernel address for the frame: its linear address for lowmem; for highmem its pkmap
    /// entry (reused if mapped, else the next free one after last_pkmap_nr, flushing every unused
    /// entry when the search wraps to 0). Fails beyond RAM or when every entry is in use.
    /// Linux: kmap() → kmap_high() → map_new_virtual() / flush_all_zero_pkmaps(), mm/highmem.c
    public func kmap(_ pfn: UInt64) -> Result<UInt64, KmapError> {
        guard pfn < ramBytes >> PAGE_SHIFT else { return .failure(.noSuchFrame(pfn)) }
        if !isHighmem(pfn) { return .success((pfn << PAGE_SHIFT) + pageOffset) }
        if let nr = pkmapPFN.firstIndex(where: { $0 == pfn }), pkmapCount[nr] > 0 {
            pkmapCount[nr] += 1
            return .success(pkmapBase + UInt64(nr) << PAGE_SHIFT)
        }
        var count = lastPkmap
        while true {
            lastPkmapNr = (lastPkmapNr + 1) & (lastPkmap - 1)
            if lastPkmapNr == 0 {
                flushAllZeroPkmaps()
                count = lastPkmap
            }
            if pkmapCount[lastPkmapNr] == 0 { break }
            count -= 1
            if count == 0 { return .failure(.wouldSleep) }
        }
        pkmapCount[lastPkmapNr] = 2   // mapped (1) plus this user
        pkmapPFN[lastPkmapNr] = pfn
        setPTE?(pkmapBase + UInt64(lastPkmapNr) << PAGE_SHIFT, pfn)
        return .success(pkmapBase + UInt64(lastPkmapNr) << PAGE_SHIFT)
    }

    /// Drops a kmap() of the frame; the entry stays mapped (count 1) until the next wrap flushes
    /// it. Lowmem frames need nothing. Fails for a highmem frame with no kmap in use.
    /// Linux: kunmap() → kunmap_high(), mm/highmem.c
    public func kunmap(_ pfn: UInt64) -> Result<Void, KmapError> {
        if pfn < ramBytes >> PAGE_SHIFT && !isHighmem(pfn) { return .success(()) }
        guard let nr = pkmapPFN.firstIndex(where: { $0 == pfn }), pkmapCount[nr] >= 2 else {
            return .failure(.notMapped(pfn << PAGE_SHIFT))
        }
        pkmapCount[nr] -= 1
        return .success(())
    }

    /// Unmaps every pkmap entry with count 1 and flushes the pkmap range from the TLB once.
    /// Linux: flush_all_zero_pkmaps(), mm/highmem.c
    func flushAllZeroPkmaps() {
        var any = false
        for i in 0..<lastPkmap where pkmapCount[i] == 1 {
            pkmapCount[i] = 0
            pkmapPFN[i] = nil
            setPTE?(pkmapBase + UInt64(i) << PAGE_SHIFT, nil)
            any = true
        }
        if any { pkmapFlushes += 1 }
    }

    /// Returns a per-CPU fixmap address mapping the frame (lowmem: its linear address), pushing
    /// a slot; never sleeps. Fails beyond RAM or with all KM_MAX_IDX slots in use.
    /// Linux: kmap_atomic() → kmap_local_page() → __kmap_local_pfn_prot(), mm/highmem.c
    public func kmapAtomic(_ pfn: UInt64) -> Result<UInt64, KmapError> {
        guard pfn < ramBytes >> PAGE_SHIFT else { return .failure(.noSuchFrame(pfn)) }
        if !isHighmem(pfn) { return .success((pfn << PAGE_SHIFT) + pageOffset) }
        guard atomicStack.count < kmMaxIdx else { return .failure(.atomicSlotsExhausted) }
        let idx = UInt64(atomicStack.count)   // CPU 0: slot FIX_KMAP_BEGIN + idx
        let vaddr = fixaddrTop - ((fixKmapBegin + idx) << PAGE_SHIFT)
        atomicStack.append(vaddr)
        setPTE?(vaddr, pfn)
        return .success(vaddr)
    }

    /// Releases the innermost kmap_atomic slot, which must be `vaddr` (a lowmem address is a
    /// no-op). Linux: kunmap_atomic() → kunmap_local_indexed(), mm/highmem.c
    public func kunmapAtomic(_ vaddr: UInt64) -> Result<Void, KmapError> {
        if vaddr >= pageOffset && vaddr < pageOffset + lowmemBytes { return .success(()) }
        guard atomicStack.contains(vaddr & PAGE_MASK) else { return .failure(.notMapped(vaddr)) }
        guard atomicStack.last == vaddr & PAGE_MASK else { return .failure(.notInnermost(vaddr)) }
        atomicStack.removeLast()
        setPTE?(vaddr & PAGE_MASK, nil)
        return .success(())
    }
}
