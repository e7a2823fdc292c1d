/// The kernel half of a 32-bit ARM machine's page tables (2-level, no LPAE): swapper_pg_dir with
/// lowmem mapped by 1 MiB sections at PAGE_OFFSET, the pkmap PTE table (kmap), the PTE table of
/// the last 2 MiB (kmap_atomic fixmap slots and the high vectors page), copied into every new PGD.
///
/// Model: swapper_pg_dir is the 16 KiB at physical 0x4000 (virtual 0xc0004000, just below the
/// image at TEXT_OFFSET), reserved by memblock. The other kernel tables and the vectors pages
/// come from the last frames of the reserved kernel image (Linux takes them from memblock with
/// early_alloc()). Lowmem is mapped as map_lowmem() does: sections covering the kernel image are
/// MT_MEMORY_RWX, the rest MT_MEMORY_RW (XN), all with write-back write-allocate caching (TEX 1,
/// C, B) and S (SMP), domain 0, global; a 2 MiB chunk that RAM covers only partly is mapped with
/// kernel PTEs. Kernel PTE tables hang off _PAGE_KERNEL_TABLE pairs (domain 0). No PHYS_OFFSET:
/// RAM starts at physical 0, so __pa(x) = x − 0xc0000000 for lowmem.
/// Linux: map_lowmem(), kmap_init(), devicemaps_init(), early_fixmap_init(), arch/arm/mm/mmu.c;
/// pgd_alloc(), arch/arm/mm/pgd.c

/// Raw values of ARM kernel entries (arch/arm/include/asm/pgtable-2level-hwdef.h, arch/arm/mm/mmu.c).
public enum ARM32KernelEntry {
    /// MT_MEMORY_RWX section: PMD_TYPE_SECT | B | C | XN clear | AP write (PL1 RW) | TEX(1) | S.
    public static let sectionRWX: UInt64 = 0x2 | 0xc | 1 << 10 | 1 << 12 | 1 << 16
    /// MT_MEMORY_RW section: as RWX with PMD_SECT_XN.
    public static let sectionRW: UInt64 = sectionRWX | 1 << 4
    /// The software flags of PAGE_KERNEL: present, RW, young, dirty, XN, global (kernel pages).
    public static let page: UInt64 = PTE.present | PTE.rw | PTE.accessed | PTE.dirty | PTE.global | PTE.nx
    /// First PGD entry of the kernel half (pgd_alloc() copies from USER_PTRS_PER_PGD = TASK_SIZE >> 21).
    public static let kernelPgdBoundary = Int(ARM32Kernel.taskSize >> 21)
    /// Linux PTE of MT_HIGH_VECTORS: PRESENT | YOUNG | DIRTY | USER | RDONLY | SHARED | MT_WRITEALLOC.
    public static let vectorsLinux: UInt64 = 0x1 | 0x2 | 0x40 | 0x100 | 0x80 | 0x400 | 0x1c
    /// Linux PTE of MT_LOW_VECTORS (the stubs page, kernel only): as above without USER.
    public static let stubsLinux: UInt64 = vectorsLinux & ~0x100
}

extension Kernel {
    /// Builds swapper_pg_dir of a 32-bit ARM machine: lowmem sections at PAGE_OFFSET, the pkmap
    /// table at PKMAP_BASE, the fixmap table of 0xffe00000–0xffffffff holding the vectors page at
    /// 0xffff0000 (user read/execute) and the stubs page after it. Returns nil on other machines.
    /// Linux: paging_init() → map_lowmem(), kmap_init(), devicemaps_init(), arch/arm/mm/mmu.c
    func pagingInitARM32() -> KernelPageTables32? {
        let f = phys.paging
        guard f.encoding == .arm32,
              let image = phys.reservedRegions.first(where: { $0.name == "kernel image" }),
              let swapper = phys.reservedRegions.first(where: { $0.name == "swapper_pg_dir" }) else { return nil }
        var next = image.endPFN.index
        func take() -> PFN { next -= 1; let p = PFN(index: next); phys.contents.clear(p); return p }
        let pgd = swapper.startPFN
        for i in 0..<4 { phys.contents.clear(pgd.advanced(by: i)) }
        func kernelTable(_ t: PFN) -> UInt64 {
            let d0 = t.raw << PAGE_SHIFT + 2048 | PageTableFormat.arm32KernelTable
            return d0 | (d0 + 1024) << 32
        }
        let base = ARM32KernelEntry.kernelPgdBoundary + 8   // pgd_index(PAGE_OFFSET) = 1536
        let chunk = 512                                       // frames per PGD pair (2 MiB)
        let lowFrames = min(phys.frameCount, phys.config.layout.maxLowPFN)
        let imageEndMiB = (image.endPFN.index + 255) >> 8     // sections covering the image: RWX
        var linear: [PFN] = []
        var c = 0
        while c * chunk < lowFrames {
            let first = c * chunk
            if first + chunk <= lowFrames {
                func sect(_ mib: Int) -> UInt64 {
                    UInt64(mib) << 20 | (mib < imageEndMiB ? ARM32KernelEntry.sectionRWX : ARM32KernelEntry.sectionRW)
                }
                f.writeRaw(&phys.contents, pgd, base + c, level: 0, sect(2 * c) | sect(2 * c + 1) << 32)
            } else {
                let t = take()
                linear.append(t)
                for i in 0..<(lowFrames - first) {
                    f.writeRaw(&phys.contents, t, i, level: 1, f.encode(PTE(raw: UInt64(first + i) << PAGE_SHIFT | ARM32KernelEntry.page), level: 1))
                }
                f.writeRaw(&phys.contents, pgd, base + c, level: 0, kernelTable(t))
            }
            c += 1
        }
        let pkmap = take()
        f.writeRaw(&phys.contents, pgd, Int(ARM32Kernel.pkmapBase >> 21), level: 0, kernelTable(pkmap))
        let fixmap = take()
        f.writeRaw(&phys.contents, pgd, Int(ARM32Kernel.fixaddrTop >> 21), level: 0, kernelTable(fixmap))
        // The vectors page (user r-x, kuser helpers) and the stubs page (kernel r-x), not nG.
        let stubs = take(), vectors = take()
        let vi = f.index(VirtAddr(ARM32Kernel.vectorsBase), level: 1)
        for (i, pfn, l) in [(vi, vectors, ARM32KernelEntry.vectorsLinux), (vi + 1, stubs, ARM32KernelEntry.stubsLinux)] {
            let linux = pfn.raw << PAGE_SHIFT | l
            f.writeRaw(&phys.contents, fixmap, i, level: 1, linux | PageTableFormat.setPTEExtARM32(linux, ext: 0) << 32)
        }
        var k = KernelPageTables32(swapperPgDir: pgd, kernelPMD: nil, pkmapTable: pkmap, fixmapTable: fixmap, linearTables: linear)
        k.vectorsPage = vectors
        return k
    }
}
