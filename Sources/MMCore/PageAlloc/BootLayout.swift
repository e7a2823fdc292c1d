/// The physical memory map an x86-64 machine boots with, and what memblock reserves before the
/// buddy allocator takes over.
///
/// Model: RAM is one contiguous range starting at PFN 0. Real PCs have holes (the ISA window at
/// 640 KiB–1 MiB, the PCI/MMIO hole below 4 GiB with RAM remapped above it, firmware-reserved e820
/// ranges); we model no PCI hole and no e820 holes, so every zone's present pages equal its spanned
/// pages. The ISA window is instead *reserved* RAM, which is what Linux ends up with anyway:
/// since 5.13 x86 reserves the whole first MiB ("x86/setup: Always reserve the first 1M of RAM").

/// A range of frames that memblock reserved at boot (an entry of `memblock.reserved`).
public struct MemblockRegion: Sendable, Equatable {
    /// What the range holds ("kernel image", "mem_map", ...).
    public let name: String
    /// First frame of the range.
    public let startPFN: PFN
    /// Number of frames.
    public let pages: Int
    public init(name: String, startPFN: PFN, pages: Int) {
        self.name = name; self.startPFN = startPFN; self.pages = pages
    }
    /// One past the last frame.
    public var endPFN: PFN { startPFN.advanced(by: pages) }
}

/// Constants and the reservation plan of an x86-64 boot.
public enum BootLayout {
    /// PFN of CONFIG_PHYSICAL_START = 0x1000000 (16 MiB), where the (non-relocated) kernel image is loaded.
    public static let kernelStartPFN = 0x1000
    /// Default size of the kernel image that stays reserved after boot: text + rodata + data + bss
    /// (the init sections are freed by free_initmem() once boot is over, so they are not counted).
    ///
    /// Figure: 31553 KiB = 14340K kernel code + 4560K rodata + 1973K rwdata + 10680K bss, from the
    /// "Memory: ... available (...)" line of an x86-64 Linux 5.9 QEMU boot log posted to LKML
    /// (Byungchul Park, "[RFC] Dept Report Example", 23 Nov 2020). That kernel had lockdep on, which
    /// inflates bss; a plain defconfig is a few MiB smaller, a distro kernel is similar.
    public static let defaultKernelImageBytes: UInt64 = 31553 * 1024
    /// sizeof(struct page) on x86-64.
    public static let structPageBytes = 64
    /// Frames below 1 MiB: all reserved on x86-64 (real-mode IVT/BDA page, low RAM, ISA window).
    public static let firstMegabytePages = 0x100

    /// Frames the flat `mem_map` occupies for `frames` page frames: 64 bytes each, rounded up to pages.
    public static func memMapPages(frames: Int) -> Int {
        (frames * structPageBytes + Int(PAGE_SIZE) - 1) / Int(PAGE_SIZE)
    }

    /// Returns memblock's reserved regions in ascending PFN order, or nil when the kernel image
    /// would overlap mem_map (the machine is too small for the image).
    /// Linux: early_reserve_memory()/reserve_real_mode() in arch/x86/kernel/setup.c; memblock_alloc() top-down, mm/memblock.c
    public static func reservedRegions(frames: Int, kernelImageBytes: UInt64,
                                       layout: PhysicalLayout = .x86_64) -> [MemblockRegion]? {
        // ARM: only swapper_pg_dir (the 16 KiB below the image, arm_mm_memblock_reserve()); the
        // frames below it stay free RAM. x86: the whole first MiB.
        var regions: [MemblockRegion] = layout == .arm32 ? [
            MemblockRegion(name: "swapper_pg_dir", startPFN: PFN(index: 4), pages: 4),
        ] : [
            MemblockRegion(name: "real-mode IVT and BIOS data area", startPFN: PFN(index: 0), pages: 1),
            MemblockRegion(name: "low memory below 640K", startPFN: PFN(index: 1), pages: 0xA0 - 1),
            MemblockRegion(name: "ISA hole (VGA, option ROMs, BIOS)", startPFN: PFN(index: 0xA0), pages: 0x100 - 0xA0),
        ]
        let (rounded, overflow) = kernelImageBytes.addingReportingOverflow(PAGE_SIZE - 1)
        if overflow { return nil }
        let imagePages64 = rounded >> PAGE_SHIFT
        let memmap = layout.memMapPages(frames: frames)
        // memblock allocates top-down below memblock.current_limit: the end of RAM on x86-64, the
        // end of lowmem (max_low_pfn) on x86-32, where only lowmem has a kernel address.
        let memmapStart = Swift.min(frames, layout.maxLowPFN) - memmap
        let imageStart = layout.kernelStartPFN
        guard imagePages64 <= UInt64(memmapStart), imageStart + Int(imagePages64) <= memmapStart else { return nil }
        if imagePages64 > 0 {
            regions.append(MemblockRegion(name: "kernel image", startPFN: PFN(index: imageStart), pages: Int(imagePages64)))
        }
        regions.append(MemblockRegion(name: "mem_map", startPFN: PFN(index: memmapStart), pages: memmap))
        return regions
    }

    /// Zone boundaries of x86-64: ZONE_DMA below 16 MiB, ZONE_DMA32 below 4 GiB, ZONE_NORMAL above.
    /// Linux: zone_sizes_init(), arch/x86/mm/init.c (MAX_DMA_PFN, MAX_DMA32_PFN)
    public static let maxDMAPFN = 0x1000
    public static let maxDMA32PFN = 0x100000
}

/// The physical-memory layout a machine boots with: where the kernel image is loaded, how big a
/// `struct page` is, and how RAM is cut into zones.
public enum PhysicalLayout: Sendable, Equatable {
    /// x86-64: ZONE_DMA below 16 MiB, ZONE_DMA32 below 4 GiB, ZONE_NORMAL above; all RAM is
    /// mapped by the kernel; the image at 16 MiB; 64-byte struct page.
    case x86_64
    /// x86-32 with CONFIG_HIGHMEM (3G/1G split): ZONE_DMA below 16 MiB, ZONE_NORMAL up to
    /// max_low_pfn (MAXMEM = 0x377fe000), ZONE_HIGHMEM above, RAM up to 4 GiB; the image at
    /// 1 MiB (CONFIG_PHYSICAL_START = 0x100000); 32-byte struct page; mem_map in lowmem.
    case x86_32
    /// 32-bit ARM (ARMv7, 2-level tables, VMSPLIT_3G, multi_v7): RAM from physical 0
    /// (PHYS_OFFSET 0), ZONE_NORMAL up to arm_lowmem_limit (768 MiB with the default 240 MiB
    /// vmalloc area), ZONE_HIGHMEM above, no ZONE_DMA, RAM up to 4 GiB (no LPAE); swapper_pg_dir
    /// at 0x4000 and the image at TEXT_OFFSET 0x8000; 32-byte struct page; mem_map in lowmem.
    case arm32

    /// Bytes of kernel image that stay reserved after boot. x86-64: the measured figure of
    /// `BootLayout.defaultKernelImageBytes`. x86-32: 12 MiB, an estimate (a distro kernel's
    /// text + rodata + data + bss is of that order), not taken from a boot log. ARM: _stext to
    /// _end of the board kernel whose boot log `layout arm32` prints (6692 kB text, 208 kB init,
    /// 349 kB data, 4771 kB bss: 0xc0008000–0xc0bc5c90); its init pages are not given back.
    public var defaultKernelImageBytes: UInt64 {
        switch self {
        case .x86_64: return BootLayout.defaultKernelImageBytes
        case .x86_32: return 12 << 20
        case .arm32: return 0xbb_dc90
        }
    }
    /// Whether the machine has ZONE_HIGHMEM (CONFIG_HIGHMEM).
    public var hasHighmem: Bool { self != .x86_64 }
    /// PFN of CONFIG_PHYSICAL_START (x86) or PHYS_OFFSET + TEXT_OFFSET (ARM).
    /// Linux: LOAD_PHYSICAL_ADDR, arch/x86/include/asm/boot.h; TEXT_OFFSET, arch/arm/Makefile
    public var kernelStartPFN: Int {
        switch self {
        case .x86_64: return BootLayout.kernelStartPFN
        case .x86_32: return 0x100
        case .arm32: return Int(ARM32Kernel.textOffset >> PAGE_SHIFT)
        }
    }
    /// sizeof(struct page): 64 bytes on x86-64, 32 on the 32-bit kernels.
    public var structPageBytes: Int { self == .x86_64 ? BootLayout.structPageBytes : 32 }
    /// First frame the kernel cannot map linearly (max_low_pfn); Int.max when every frame is lowmem.
    /// Linux: highmem_pfn_init() (MAXMEM_PFN), arch/x86/mm/init_32.c; adjust_lowmem_bounds(), arch/arm/mm/mmu.c
    public var maxLowPFN: Int {
        switch self {
        case .x86_64: return Int.max
        case .x86_32: return Int(X86_32Kernel.maxLowmem >> PAGE_SHIFT)
        case .arm32: return Int(ARM32Kernel.maxLowmem >> PAGE_SHIFT)
        }
    }
    /// Most RAM the layout can address: 4 GiB on the 32-bit kernels (no PAE/LPAE beyond), 1 TiB otherwise.
    public var maxRAMBytes: UInt64 { self == .x86_64 ? 1 << 40 : 4 << 30 }
    /// Frames the flat mem_map occupies for `frames` page frames, rounded up to whole pages.
    public func memMapPages(frames: Int) -> Int {
        (frames * structPageBytes + Int(PAGE_SIZE) - 1) / Int(PAGE_SIZE)
    }
    /// Zone spans as (type, first PFN, one past the last PFN allowed) in ascending order.
    /// Linux: zone_sizes_init(), arch/x86/mm/init.c (MAX_DMA_PFN, MAX_DMA32_PFN, max_low_pfn, max_pfn);
    /// zone_sizes_init(), arch/arm/mm/init.c (no arm_dma_zone_size: no ZONE_DMA)
    public var zoneBounds: [(ZoneType, Int, Int)] {
        switch self {
        case .x86_64:
            return [(.dma, 0, BootLayout.maxDMAPFN), (.dma32, BootLayout.maxDMAPFN, BootLayout.maxDMA32PFN),
                    (.normal, BootLayout.maxDMA32PFN, Int.max)]
        case .x86_32:
            return [(.dma, 0, BootLayout.maxDMAPFN), (.normal, BootLayout.maxDMAPFN, maxLowPFN), (.highmem, maxLowPFN, Int.max)]
        case .arm32:
            return [(.normal, 0, maxLowPFN), (.highmem, maxLowPFN, Int.max)]
        }
    }
}
