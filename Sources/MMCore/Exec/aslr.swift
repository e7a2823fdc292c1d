/// Address-space layout randomisation: the machine's deterministic random source and the x86-64
/// random offsets exec applies when kernel.randomize_va_space is non-zero.
/// Linux: arch/x86/mm/mmap.c, arch/x86/kernel/process.c, fs/binfmt_elf.c, mm/util.c

/// Bits of page-granular randomness of the mmap base and the PIE load bias on x86-64
/// (CONFIG_ARCH_MMAP_RND_BITS default). Linux: mmap_rnd_bits, mm/mmap.c
public let MMAP_RND_BITS: UInt64 = 28
/// Page-granular stack randomisation mask on 64-bit. Linux: STACK_RND_MASK, arch/x86/include/asm/elf.h
public let STACK_RND_MASK: UInt64 = 0x3f_ffff
/// The largest random stack offset (16 GiB − 4 KiB), part of the mmap gap when randomising.
/// Linux: stack_maxrandom_size(), arch/x86/mm/mmap.c
public let STACK_MAXRANDOM_SIZE: UInt64 = STACK_RND_MASK << PAGE_SHIFT
/// Where PIE programs load without randomisation: 2/3 of the 47-bit window, page aligned
/// (0x555555554000). Linux: ELF_ET_DYN_BASE, arch/x86/include/asm/elf.h
public let ELF_ET_DYN_BASE: UInt64 = (X86_64.taskSize / 3 * 2) & PAGE_MASK
/// Top of the user stack (STACK_TOP = TASK_SIZE_LOW on 4-level paging).
public let STACK_TOP: UInt64 = X86_64.taskSize
/// Where a non-PIE i386 program is linked: 0x08048000 (the i386 ELF ABI's default text address).
public let I386_TEXT_BASE: UInt64 = 0x0804_8000
/// Where a non-PIE 32-bit ARM program is linked: 0x00010000 (GNU ld's default for armelf_linux_eabi).
public let ARM_TEXT_BASE: UInt64 = 0x0001_0000

extension MMStruct {
    /// Bytes of a user pointer (argv/envp vectors on the stack): 4 for ia32, 8 for x86-64.
    public var pointerBytes: UInt64 { ia32 ? 4 : 8 }
}

/// The machine's random source: SplitMix64 seeded from the scenario or `--seed`, so that the
/// same seed gives byte-identical runs. Stands in for get_random_long(), drivers/char/random.c
public typealias KernelRandom = SplitMix64

extension Kernel {
    /// Returns a random page-aligned offset of MMAP_RND_BITS bits for the mmap base and the PIE
    /// load bias. Linux: arch_mmap_rnd(), arch/x86/mm/mmap.c
    public func archMmapRnd() -> UInt64 {
        (random.next() & ((1 << MMAP_RND_BITS) - 1)) << PAGE_SHIFT
    }

    /// Returns the stack top moved down by a random number of pages (up to STACK_RND_MASK) when
    /// `randomize`, else `top` page aligned. Linux: randomize_stack_top(), mm/util.c
    public func randomizeStackTop(_ top: UInt64, randomize: Bool) -> UInt64 {
        guard randomize else { return pageAlignUp(top) ?? top }
        let rv = (random.next() & STACK_RND_MASK) << PAGE_SHIFT
        return (pageAlignUp(top) ?? top) - rv
    }

    /// Returns `sp` lowered by a random amount below 8 KiB when `randomize`, then 16-byte aligned.
    /// Linux: arch_align_stack(), arch/x86/kernel/process.c
    public func archAlignStack(_ sp: UInt64, randomize: Bool) -> UInt64 {
        var s = sp
        if randomize { s -= random.next() % 8192 }
        return s & ~0xf
    }

    /// Returns a random page-aligned brk start in [brk, brk + 32 MiB) (the brk itself when that
    /// range would wrap). Linux: arch_randomize_brk() → randomize_page(), arch/x86/kernel/process.c, mm/util.c
    public func archRandomizeBrk(_ brk: UInt64) -> UInt64 {
        var range: UInt64 = 0x0200_0000
        let start = pageAlignUp(brk) ?? brk
        if start > UInt64.max - range { range = UInt64.max - start }
        range >>= PAGE_SHIFT
        guard range > 0 else { return start }
        return start + ((random.next() % range) << PAGE_SHIFT)
    }
}
