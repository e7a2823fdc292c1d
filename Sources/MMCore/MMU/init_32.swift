/// The kernel half of a 32-bit x86 machine's page tables: swapper_pg_dir with lowmem mapped
/// linearly at PAGE_OFFSET, the pkmap page table (kmap) and the fixmap page table (kmap_atomic),
/// and the copy of the kernel entries (768–1023) into every new PGD.
///
/// Model: swapper_pg_dir and the kernel's page-table pages live in the last frames of the
/// reserved kernel image (Linux keeps swapper_pg_dir in the image's bss and takes the others from
/// memblock): they are not buddy pages and not counted in PageTables, as in Linux. Lowmem is
/// mapped as `split_mem_range()` cuts it on x86-32: the first 4 MiB with 4 KiB PTEs, then 4 MiB
/// PSE pages, then a tail that is not 4 MiB aligned with 4 KiB PTEs (the DirectMap4k/4M lines of
/// meminfo count the same split; with PAE the pages are 2 MiB). Kernel entries are global and supervisor-only: a PSE entry is
/// P|RW|A|D|PS|G (0x1e3), a kernel PTE P|RW|A|D|G (0x163), a kernel table pointer P|RW|A|D
/// (_KERNPG_TABLE, 0x063). No CONFIG_HIGHPTE: user page tables come from lowmem (GFP_KERNEL).
/// Linux: kernel_physical_mapping_init(), permanent_kmaps_init(), arch/x86/mm/init_32.c;
/// pgd_ctor() / clone_pgd_range(), arch/x86/mm/pgtable.c

/// Where the x86-32 kernel's own page tables are.
public struct KernelPageTables32: Sendable, Equatable {
    /// swapper_pg_dir (init_mm.pgd; with PAE the 4-entry PDPT, here in a frame of its own).
    public let swapperPgDir: PFN
    /// PAE: the kernel PMD (PDPT entry 3) that every PGD shares; nil for 2-level paging.
    public let kernelPMD: PFN?
    /// The PTE table mapping PKMAP_BASE (pkmap_page_table).
    public let pkmapTable: PFN
    /// The PTE table of the fixmap's last 4 MiB, which holds the kmap_atomic slots.
    public let fixmapTable: PFN
    /// PTE tables of the linear map (the first 4 MiB and a non-aligned tail).
    public let linearTables: [PFN]
    /// ARM: the high vectors page and the stubs page after it (0xffff0000, 0xffff1000); nil on x86.
    public var vectorsPage: PFN? = nil
    /// Every frame above, for invariant checks and listings.
    public var allFrames: [PFN] { [swapperPgDir] + (kernelPMD.map { [$0] } ?? []) + [pkmapTable, fixmapTable] + linearTables }
}

/// Raw flag values of x86-32 kernel entries (arch/x86/include/asm/pgtable_types.h).
public enum X86_32KernelEntry {
    /// __PAGE_KERNEL_LARGE with _PAGE_GLOBAL: P|RW|A|D|PS|G.
    public static let largePage: UInt64 = 0x1e3
    /// __PAGE_KERNEL with _PAGE_GLOBAL: P|RW|A|D|G.
    public static let page: UInt64 = 0x163
    /// _KERNPG_TABLE: P|RW|A|D.
    public static let table: UInt64 = 0x063
    /// First PGD entry of the kernel half (KERNEL_PGD_BOUNDARY = pgd_index(PAGE_OFFSET)).
    public static let kernelPgdBoundary = 768
}

extension Kernel {
    /// Builds swapper_pg_dir in the last frames of the kernel image: lowmem mapped at PAGE_OFFSET,
    /// the pkmap and fixmap page tables hooked in. With PAE the kernel's entries live in the one
    /// kernel PMD that PDPT entry 3 points to (shared by every PGD, SHARED_KERNEL_PMD) and the
    /// large pages are 2 MiB. Returns nil when the machine is not 32-bit x86.
    /// Linux: kernel_physical_mapping_init(), permanent_kmaps_init(), arch/x86/mm/init_32.c
    func pagingInit32() -> KernelPageTables32? {
        guard phys.paging.isX86_32,
              let image = phys.reservedRegions.first(where: { $0.name == "kernel image" }) else { return nil }
        let f = phys.paging
        let pae = f.encoding == .x86PAE
        var next = image.endPFN.index
        func take() -> PFN { next -= 1; let p = PFN(index: next); phys.contents.clear(p); return p }
        let pgd = take()
        // The table whose entries map 4 MiB (2-level PGD) or 2 MiB (PAE PMD) of kernel space each.
        var kdir = pgd, base = X86_32KernelEntry.kernelPgdBoundary, kernelPMD: PFN? = nil
        if pae {
            let pmd = take()
            f.writeRaw(&phys.contents, pgd, 3, pmd.raw << PAGE_SHIFT | PTE.present)
            kdir = pmd; base = 0; kernelPMD = pmd
        }
        let dirLevel = f.pteLevel - 1
        let chunk = 1 << Int(f.shift(dirLevel) - PAGE_SHIFT)   // frames per kdir entry
        let lowFrames = min(phys.frameCount, phys.config.layout.maxLowPFN)
        var linear: [PFN] = []
        var c = 0
        while c * chunk < lowFrames {
            let first = c * chunk
            if c > 0 && first + chunk <= lowFrames {
                f.writeRaw(&phys.contents, kdir, base + c, UInt64(first) << PAGE_SHIFT | X86_32KernelEntry.largePage)
            } else {
                let t = take()
                linear.append(t)
                for i in 0..<min(chunk, lowFrames - first) {
                    f.writeRaw(&phys.contents, t, i, UInt64(first + i) << PAGE_SHIFT | X86_32KernelEntry.page)
                }
                f.writeRaw(&phys.contents, kdir, base + c, t.raw << PAGE_SHIFT | X86_32KernelEntry.table)
            }
            c += 1
        }
        func slot(_ va: UInt64) -> Int { base + Int((va - X86_32Kernel.pageOffset) >> f.shift(dirLevel)) }
        let pkmap = take()
        f.writeRaw(&phys.contents, kdir, slot(X86_32Kernel.pkmapBase), pkmap.raw << PAGE_SHIFT | X86_32KernelEntry.table)
        let fixmap = take()
        f.writeRaw(&phys.contents, kdir, slot(X86_32Kernel.fixaddrTop), fixmap.raw << PAGE_SHIFT | X86_32KernelEntry.table)
        return KernelPageTables32(swapperPgDir: pgd, kernelPMD: kernelPMD, pkmapTable: pkmap, fixmapTable: fixmap, linearTables: linear)
    }

    /// Copies the kernel half of swapper_pg_dir (entries 768–1023; with PAE, PDPT entry 3) into a new
    /// PGD; nothing on other machines. Linux: pgd_ctor() → clone_pgd_range(pgd + KERNEL_PGD_BOUNDARY, swapper_pg_dir + …), arch/x86/mm/pgtable.c
    func pgdCtor(_ pgd: PFN) {
        guard let k = kernelTables32 else { return }
        let f = phys.paging
        for i in f.userRootEntries..<f.entries(0) {
            f.writeRaw(&phys.contents, pgd, i, level: 0, f.readRaw(phys.contents, k.swapperPgDir, i, level: 0))
        }
    }

    /// Writes (pfn non-nil) or clears the kernel PTE that maps the pkmap or fixmap address `vaddr`
    /// and flushes that page from every TLB on clear. Linux: set_pte_at(&init_mm, …) in
    /// map_new_virtual(); pte_clear() in flush_all_zero_pkmaps(); __kmap_local_pfn_prot(), mm/highmem.c
    func setKmapPTE(_ vaddr: UInt64, _ pfn: UInt64?) {
        guard let k = kernelTables32 else { return }
        let f = phys.paging
        let span = f.shift(f.pteLevel - 1)
        let arm = f.encoding == .arm32
        let table = vaddr >> span == (arm ? ARM32Kernel.pkmapBase : X86_32Kernel.pkmapBase) >> span ? k.pkmapTable : k.fixmapTable
        let index = f.index(VirtAddr(vaddr), level: f.pteLevel)
        // ARM: PAGE_KERNEL (young, dirty, XN, global) through set_pte_ext: Linux and hardware words.
        let raw = pfn.map { arm ? f.encode(PTE(raw: $0 << PAGE_SHIFT | ARM32KernelEntry.page), level: f.pteLevel)
                                : $0 << PAGE_SHIFT | X86_32KernelEntry.page } ?? 0
        f.writeRaw(&phys.contents, table, index, level: f.pteLevel, raw)
        if pfn == nil { flushTLBKernelPage(VirtAddr(vaddr)) }
    }

    /// Drops one kernel page from every CPU's TLB (INVLPG also drops a global entry).
    /// Linux: flush_tlb_kernel_range(), arch/x86/mm/tlb.c
    func flushTLBKernelPage(_ va: VirtAddr) {
        for c in cpus { c.mmu.flushPage(va) }
    }
}
