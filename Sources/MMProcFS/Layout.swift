/// The kernel's virtual memory map for each supported architecture, computed from the RAM size
/// the way each kernel computes its boundaries.
import MMCore

/// Architectures whose virtual layout `mmsim layout` prints.
public enum LayoutArch: String, Sendable, CaseIterable {
    case x86_64, x86_32, arm32
}

/// Sizes of the kernel image's sections, in bytes.
public struct KernelSections: Sendable, Equatable {
    public var text: UInt64, initSize: UInt64, data: UInt64, bss: UInt64
    public init(text: UInt64, initSize: UInt64, data: UInt64, bss: UInt64) {
        self.text = text; self.initSize = initSize; self.data = data; self.bss = bss
    }
    /// A 32-bit ARM kernel of the 3.x era (an example board's boot log: 6692 kB of text, 208 kB
    /// init, 349 kB data, 4771 kB bss).
    public static let arm32Example = KernelSections(text: 0x689000, initSize: 0x34000, data: 0x573d8, bss: 0x4a88b8)
}

public enum Layout {
    /// `%08lx` of a 32-bit address.
    static func hex8(_ v: UInt64) -> String { Fmt.hex(v, minDigits: 8) }
    /// `%016lx`.
    static func hex16(_ v: UInt64) -> String { Fmt.hex(v, minDigits: 16) }

    /// The 32-bit ARM map (3G/1G split, CONFIG_HIGHMEM, default vmalloc=240M) for `ramBytes` of RAM,
    /// with mem_init()'s "Virtual kernel memory layout" block: vector page at 0xffff0000, fixmap
    /// 0xffc00000-0xfff00000, vmalloc from high_memory + 8 MiB (8 MiB aligned) to 0xff800000, lowmem
    /// from PAGE_OFFSET up to at most 0xf0000000 (768 MiB), pkmap the 2 MiB below PAGE_OFFSET,
    /// modules the 14 MiB below it, the image at PAGE_OFFSET + TEXT_OFFSET (0x8000).
    /// Linux: mem_init() (seed 000 §1.4) and sanity_check_meminfo(), arch/arm/mm/init.c, mmu.c
    public static func arm32(ramBytes: UInt64, sections: KernelSections = .arm32Example) -> String {
        let pageOffset: UInt64 = 0xc000_0000
        let vmallocEnd: UInt64 = 0xff80_0000, vmallocOffset: UInt64 = 8 << 20
        let vmallocMin = vmallocEnd - (240 << 20) - vmallocOffset
        let lowmem = min(ramBytes, vmallocMin - pageOffset)
        let highMemory = pageOffset + lowmem
        let vmallocStart = (highMemory + vmallocOffset) & ~(vmallocOffset - 1)
        let pkmapBase = pageOffset - (2 << 20), lastPkmap: UInt64 = 512
        let modulesVaddr = pageOffset - (16 << 20), modulesEnd = pkmapBase
        let text = pageOffset + 0x8000, etext = text + sections.text
        let initBegin = etext, initEnd = initBegin + sections.initSize
        let sdata = (initEnd + 0x1fff) & ~0x1fff, edata = sdata + sections.data
        let bssStart = edata, bssStop = bssStart + sections.bss
        func mlk(_ b: UInt64, _ t: UInt64) -> String { "0x\(hex8(b)) - 0x\(hex8(t))   (\(Fmt.dec((t - b) >> 10, 4)) kB)" }
        func mlm(_ b: UInt64, _ t: UInt64) -> String { "0x\(hex8(b)) - 0x\(hex8(t))   (\(Fmt.dec((t - b) >> 20, 4)) MB)" }
        func mlkUp(_ b: UInt64, _ t: UInt64) -> String { "0x\(hex8(b)) - 0x\(hex8(t))   (\(Fmt.dec((t - b + 1023) / 1024, 4)) kB)" }
        var s = "Virtual kernel memory layout:\n"
        s += "    vector  : " + mlk(0xffff_0000, 0xffff_1000) + "\n"
        s += "    fixmap  : " + mlk(0xffc0_0000, 0xfff0_0000) + "\n"
        s += "    vmalloc : " + mlm(vmallocStart, vmallocEnd) + "\n"
        s += "    lowmem  : " + mlm(pageOffset, highMemory) + "\n"
        s += "    pkmap   : " + mlm(pkmapBase, pkmapBase + lastPkmap * PAGE_SIZE) + "\n"
        s += "    modules : " + mlm(modulesVaddr, modulesEnd) + "\n"
        s += "      .text : " + mlkUp(text, etext) + "\n"
        s += "      .init : " + mlkUp(initBegin, initEnd) + "\n"
        s += "      .data : " + mlkUp(sdata, edata) + "\n"
        s += "       .bss : " + mlkUp(bssStart, bssStop) + "\n"
        s += "User space: 0x00000000 - 0x\(hex8(modulesVaddr)) (TASK_SIZE = PAGE_OFFSET - 16 MiB; program text at 0x00008000 or 0x00010000)\n"
        s += "__pa(x) = x - 0x\(hex8(pageOffset)) for lowmem only; highmem pages (\((ramBytes - lowmem) >> 20) MB) are reached through kmap()\n"
        return s
    }

    /// The x86-32 map with the 3G/1G split and PAE (VMSPLIT_3G): user space below 0xc0000000
    /// (ELF text at 0x08048000), lowmem mapped linearly from PAGE_OFFSET up to at most MAXMEM
    /// (896 MiB less the pkmap/fixmap/guard share: 0x377fe000), the kernel image at physical 1 MiB
    /// (virtual 0xc0100000), vmalloc from high_memory + 8 MiB to PKMAP_BASE − 2 pages, pkmap
    /// (512 entries) and fixmap at the top. Linux: arch/x86/include/asm/pgtable_32_areas.h, arch/x86/mm/init_32.c
    public static func x86_32(ramBytes: UInt64) -> String {
        let pageOffset: UInt64 = 0xc000_0000
        let pkmapBase: UInt64 = 0xff80_0000, lastPkmap: UInt64 = 512
        let fixaddrStart: UInt64 = 0xfff1_5000, fixaddrTop: UInt64 = 0xffff_f000
        let vmallocEnd = pkmapBase - 2 * PAGE_SIZE
        let maxmem = vmallocEnd - pageOffset - (128 << 20)
        let lowmem = min(ramBytes & ~(PAGE_SIZE - 1), maxmem)
        let highMemory = pageOffset + lowmem
        let vmallocStart = highMemory + (8 << 20)
        func line(_ name: String, _ b: UInt64, _ t: UInt64, mb: Bool) -> String {
            "    " + Fmt.left(name, 8) + ": 0x\(hex8(b)) - 0x\(hex8(t))   (" + Fmt.dec(mb ? (t - b) >> 20 : (t - b) >> 10, 4) + (mb ? " MB)" : " kB)") + "\n"
        }
        var s = "\(ramBytes >> 20)MB RAM: \(lowmem >> 20)MB LOWMEM (ZONE_DMA below 16 MiB, ZONE_NORMAL), \((ramBytes - lowmem) >> 20)MB HIGHMEM\n"
        s += "virtual kernel memory layout:\n"
        s += line("fixmap", fixaddrStart, fixaddrTop, mb: false)
        s += line("pkmap", pkmapBase, pkmapBase + lastPkmap * PAGE_SIZE, mb: false)
        s += line("vmalloc", vmallocStart, vmallocEnd, mb: true)
        s += line("lowmem", pageOffset, highMemory, mb: true)
        s += "    kernel  : 0xc0100000 (physical 0x00100000, the image loaded at 1 MiB)\n"
        s += "user space  : 0x00000000 - 0xbfffffff (3 GiB; ELF text at 0x08048000, stack below 0xc0000000)\n"
        s += "__pa(x) = x - 0xc0000000 and __va(p) = p + 0xc0000000 only for p < 0x\(hex8(lowmem)); frames above go through kmap()/kmap_atomic()\n"
        return s
    }

    /// The x86-64 map with 4-level paging and KASLR off, with this machine's use of each region.
    /// Linux: Documentation/arch/x86/x86_64/mm.rst
    public static func x86_64(_ k: Kernel) -> String {
        let ram = UInt64(k.phys.frameCount) << PAGE_SHIFT
        let vmemmap: UInt64 = 0xffff_ea00_0000_0000
        let used = k.vmap.areas.reduce(UInt64(0)) { $0 + $1.size }
        let rows: [(UInt64, UInt64, String)] = [
            (0, 0x0000_7fff_ffff_efff, "user space (TASK_SIZE 0x7ffffffff000; ELF text at 0x555555554000, mmap_base below the stack)"),
            (0x0000_8000_0000_0000, 0xffff_7fff_ffff_ffff, "non-canonical hole"),
            (0xffff_8000_0000_0000, 0xffff_87ff_ffff_ffff, "guard hole, reserved for hypervisor"),
            (0xffff_8800_0000_0000, 0xffff_887f_ffff_ffff, "LDT remap for PTI"),
            (PAGE_OFFSET, 0xffff_c87f_ffff_ffff, "direct mapping of all physical memory (page_offset_base): this machine's \(ram >> 20) MiB at " + "ffff888000000000-" + hex16(PAGE_OFFSET + ram)),
            (VMALLOC_START, VMALLOC_END, "vmalloc/ioremap space (vmalloc_base): \(k.vmap.areas.count) area\(k.vmap.areas.count == 1 ? "" : "s"), \(used >> 10) kB with guard pages"),
            (vmemmap, 0xffff_eaff_ffff_ffff, "virtual memory map (vmemmap_base): struct page array, \((UInt64(k.phys.frameCount) * 64) >> 10) kB used"),
            (0xffff_ec00_0000_0000, 0xffff_fbff_ffff_ffff, "KASAN shadow memory"),
            (0xffff_fe00_0000_0000, 0xffff_fe7f_ffff_ffff, "cpu_entry_area mapping"),
            (0xffff_ff00_0000_0000, 0xffff_ff7f_ffff_ffff, "%esp fixup stacks"),
            (0xffff_ffef_0000_0000, 0xffff_fffe_ffff_ffff, "EFI region mapping space"),
            (0xffff_ffff_8000_0000, 0xffff_ffff_9fff_ffff, "kernel text mapping, mapped to physical 0: the image at ffffffff81000000 (physical 16 MiB), \(k.phys.config.kernelImageBytes >> 10) kB"),
            (0xffff_ffff_a000_0000, 0xffff_ffff_feff_ffff, "module mapping space"),
            (0xffff_ffff_ff00_0000, 0xffff_ffff_ff5f_ffff, "kernel-internal fixmap range (FIXADDR_START varies)"),
            (0xffff_ffff_ff60_0000, 0xffff_ffff_ff60_0fff, "legacy vsyscall ABI"),
        ]
        var s = "x86-64, 4-level paging (47-bit user, 47-bit kernel half), KASLR off\n"
        for (b, e, what) in rows {
            s += hex16(b) + " - " + hex16(e) + " " + Fmt.right(sizeText(e &- b &+ 1), 7) + "  " + what + "\n"
        }
        return s
    }

    /// A size as mm.rst writes it: "128 TB", "1520 MB", "4 kB", "~16M TB": the largest unit that
    /// divides the size exactly (below 10000 of it), else the largest unit, rounded to nearest.
    static func sizeText(_ bytes: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")]
        if bytes >= 1 << 60 { return "~\((bytes >> 40 + (1 << 19)) >> 20)M TB" }
        for (u, n) in units where bytes % u == 0 && bytes / u < 10000 { return "\(bytes / u) \(n)" }
        for (u, n) in units where bytes >= u { return "\((bytes + u / 2) / u) \(n)" }
        return "\(bytes) B"
    }
}
