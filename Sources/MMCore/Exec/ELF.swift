/// ELF64 x86-64 files as exec reads them: the file header and the program headers, every offset
/// and size checked against the file length so that no input can trap.
/// Linux: include/uapi/linux/elf.h, the checks of load_elf_binary()/load_elf_phdrs(), fs/binfmt_elf.c

/// ELF object types (e_type).
public let ET_REL: UInt16 = 1, ET_EXEC: UInt16 = 2, ET_DYN: UInt16 = 3, ET_CORE: UInt16 = 4
/// Program header types (p_type).
public let PT_NULL: UInt32 = 0, PT_LOAD: UInt32 = 1, PT_DYNAMIC: UInt32 = 2, PT_INTERP: UInt32 = 3
public let PT_NOTE: UInt32 = 4, PT_PHDR: UInt32 = 6, PT_TLS: UInt32 = 7, PT_GNU_STACK: UInt32 = 0x6474_e551
/// Segment permission bits (p_flags).
public let PF_X: UInt32 = 1, PF_W: UInt32 = 2, PF_R: UInt32 = 4
/// e_machine of x86-64.
public let EM_X86_64: UInt16 = 62
/// Size of an ELF64 file header and of one program header.
public let ELF64_EHDR_SIZE: UInt64 = 64, ELF64_PHDR_SIZE: UInt64 = 56
/// Longest interpreter path exec accepts (PATH_MAX).
public let PATH_MAX: UInt64 = 4096

/// One program header (Elf64_Phdr).
public struct ElfProgramHeader: Sendable, Equatable {
    public var type: UInt32
    public var flags: UInt32
    public var offset: UInt64
    public var vaddr: UInt64
    public var paddr: UInt64
    public var filesz: UInt64
    public var memsz: UInt64
    public var align: UInt64
    public init(type: UInt32, flags: UInt32, offset: UInt64, vaddr: UInt64, paddr: UInt64 = 0,
                filesz: UInt64, memsz: UInt64, align: UInt64) {
        self.type = type; self.flags = flags; self.offset = offset; self.vaddr = vaddr; self.paddr = paddr
        self.filesz = filesz; self.memsz = memsz; self.align = align
    }
    /// The mmap protection of a PT_LOAD segment. Linux: make_prot(), fs/binfmt_elf.c
    public var prot: Prot {
        var p: Prot = []
        if flags & PF_R != 0 { p.insert(.read) }
        if flags & PF_W != 0 { p.insert(.write) }
        if flags & PF_X != 0 { p.insert(.exec) }
        return p
    }
}

/// Why a file is not a loadable ELF64 x86-64 executable.
public enum ElfError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooShort(UInt64)
    case badMagic
    case notX86_64ELF64
    case notExecutable(UInt16)
    case badPhentsize(UInt16)
    case badPhnum(UInt16)
    case truncatedPhdrs
    case loadBeyondEOF(Int)
    case filesizeAboveMemsize(Int)
    case misaligned(Int)
    case segmentOutOfRange(Int)
    case noLoadSegment
    case interpBad(String)
    /// The file is valid, but not for a 32-bit x86 kernel (`elf32` true: an ELFCLASS32 file, whose
    /// loading is not modelled; false: an ELFCLASS64 x86-64 file, which a 32-bit kernel cannot run).
    case notFor32BitKernel(elf32: Bool, arm: Bool = false)

    public var description: String {
        switch self {
        case .tooShort(let n): return "file is \(n) bytes, shorter than an ELF64 header (64 bytes)"
        case .badMagic: return "not an ELF file (bad magic)"
        case .notX86_64ELF64: return "not an x86-64 ELF64 file"
        case .notFor32BitKernel(let elf32, let arm):
            return elf32 ? "an ELFCLASS32 file: loading 32-bit ELF files is not modelled (spawn a synthetic program on \(arm ? "an arm32" : "an x86-32") machine)"
                         : "an x86-64 ELF64 file cannot run on a 32-bit \(arm ? "ARM" : "x86") kernel (\(arm ? "ARMv7 has no 64-bit execution state" : "it has no 64-bit mode"))"
        case .notExecutable(let t):
            let name = [ET_REL: "ET_REL", ET_CORE: "ET_CORE", 0: "ET_NONE"][t] ?? "e_type \(t)"
            return "\(name) is not executable"
        case .badPhentsize(let s): return "e_phentsize is \(s), not 56"
        case .badPhnum(let n): return "e_phnum \(n) is out of range (1...\(65536 / ELF64_PHDR_SIZE))"
        case .truncatedPhdrs: return "truncated program header table"
        case .loadBeyondEOF(let i): return "PT_LOAD p_offset+p_filesz beyond end of file (program header \(i))"
        case .filesizeAboveMemsize(let i): return "PT_LOAD p_filesz > p_memsz (program header \(i))"
        case .misaligned(let i): return "PT_LOAD p_offset and p_vaddr differ modulo the page size (program header \(i))"
        case .segmentOutOfRange(let i): return "PT_LOAD segment beyond TASK_SIZE (program header \(i))"
        case .noLoadSegment: return "no PT_LOAD segment"
        case .interpBad(let why): return "bad PT_INTERP: \(why)"
        }
    }
}

/// A parsed ELF64 x86-64 executable or shared object (ET_EXEC or ET_DYN).
public struct ElfFile: Sendable, Equatable {
    public var type: UInt16
    public var entry: UInt64
    public var phoff: UInt64
    public var phnum: UInt16
    public var phdrs: [ElfProgramHeader]
    /// The interpreter path of the first PT_INTERP, without its NUL; nil for a static program.
    public var interpreter: String?
    /// PT_GNU_STACK asks for an executable stack (PF_X); nil when there is no PT_GNU_STACK.
    public var execStack: Bool?

    /// The PT_LOAD headers in file order.
    public var loads: [ElfProgramHeader] { phdrs.filter { $0.type == PT_LOAD } }

    /// Reads a little-endian integer of `n` bytes at `off`; nil when it runs past `bytes`.
    static func le(_ bytes: [UInt8], _ off: UInt64, _ n: Int) -> UInt64? {
        guard off <= UInt64(bytes.count), UInt64(bytes.count) - off >= UInt64(n) else { return nil }
        var v: UInt64 = 0
        let o = Int(off)
        for i in 0..<n { v |= UInt64(bytes[o + i]) << UInt64(8 * i) }
        return v
    }

    /// Parses `bytes` (the whole file) and returns the executable, or throws the first reason it
    /// cannot be loaded: bad magic, not ELF64/x86-64, not ET_EXEC/ET_DYN, a program header table
    /// or a PT_LOAD/PT_INTERP extent past the end of the file, misaligned or oversized segments.
    /// Never traps, whatever the bytes. Linux: load_elf_binary() header checks, load_elf_phdrs(),
    /// elf_check_arch(), fs/binfmt_elf.c
    public static func parse(_ bytes: [UInt8], taskSize: UInt64 = X86_64.taskSize) throws -> ElfFile {
        let size = UInt64(bytes.count)
        guard size >= 4 else { throw ElfError.tooShort(size) }
        guard bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else { throw ElfError.badMagic }
        guard size >= ELF64_EHDR_SIZE else { throw ElfError.tooShort(size) }
        // EI_CLASS = ELFCLASS64, EI_DATA = ELFDATA2LSB, e_machine = EM_X86_64.
        guard bytes[4] == 2, bytes[5] == 1, le(bytes, 18, 2) == UInt64(EM_X86_64) else { throw ElfError.notX86_64ELF64 }
        let type = UInt16(le(bytes, 16, 2)!)
        guard type == ET_EXEC || type == ET_DYN else { throw ElfError.notExecutable(type) }
        let entry = le(bytes, 24, 8)!, phoff = le(bytes, 32, 8)!
        let phentsize = UInt16(le(bytes, 54, 2)!), phnum = UInt16(le(bytes, 56, 2)!)
        guard phentsize == ELF64_PHDR_SIZE else { throw ElfError.badPhentsize(phentsize) }
        let tableSize = UInt64(phnum) * ELF64_PHDR_SIZE
        guard phnum >= 1, tableSize <= 65536 else { throw ElfError.badPhnum(phnum) }
        guard phoff <= size, size - phoff >= tableSize else { throw ElfError.truncatedPhdrs }
        var phdrs: [ElfProgramHeader] = []
        phdrs.reserveCapacity(Int(phnum))
        for i in 0..<UInt64(phnum) {
            let b = phoff + i * ELF64_PHDR_SIZE
            phdrs.append(ElfProgramHeader(type: UInt32(le(bytes, b, 4)!), flags: UInt32(le(bytes, b + 4, 4)!),
                                          offset: le(bytes, b + 8, 8)!, vaddr: le(bytes, b + 16, 8)!,
                                          paddr: le(bytes, b + 24, 8)!, filesz: le(bytes, b + 32, 8)!,
                                          memsz: le(bytes, b + 40, 8)!, align: le(bytes, b + 48, 8)!))
        }
        var interpreter: String? = nil
        var execStack: Bool? = nil
        var anyLoad = false
        for (i, p) in phdrs.enumerated() {
            switch p.type {
            case PT_LOAD:
                anyLoad = true
                guard p.offset <= size, size - p.offset >= p.filesz else { throw ElfError.loadBeyondEOF(i) }
                guard p.filesz <= p.memsz else { throw ElfError.filesizeAboveMemsize(i) }
                guard (p.offset & ~PAGE_MASK) == (p.vaddr & ~PAGE_MASK) else { throw ElfError.misaligned(i) }
                // The segment must fit below TASK_SIZE (before the load bias is added).
                guard p.vaddr < taskSize, p.memsz <= taskSize, taskSize - p.memsz >= p.vaddr else {
                    throw ElfError.segmentOutOfRange(i)
                }
            case PT_INTERP where interpreter == nil:
                guard p.filesz >= 2, p.filesz <= PATH_MAX else { throw ElfError.interpBad("length \(p.filesz) is out of range (2...\(PATH_MAX))") }
                guard p.offset <= size, size - p.offset >= p.filesz else { throw ElfError.interpBad("path beyond end of file") }
                let s = Int(p.offset), n = Int(p.filesz)
                guard bytes[s + n - 1] == 0 else { throw ElfError.interpBad("path is not NUL-terminated") }
                let path = Array(bytes[s..<(s + n - 1)])
                guard !path.contains(0) else { throw ElfError.interpBad("path contains a NUL byte") }
                interpreter = String(decoding: path, as: UTF8.self)
            case PT_GNU_STACK:
                execStack = p.flags & PF_X != 0
            default:
                break
            }
        }
        guard anyLoad else { throw ElfError.noLoadSegment }
        return ElfFile(type: type, entry: entry, phoff: phoff, phnum: phnum, phdrs: phdrs,
                       interpreter: interpreter, execStack: execStack)
    }

    /// Bytes from the page start of the lowest PT_LOAD to the end of the highest one's memory
    /// image (what the first mapping reserves). Linux: total_mapping_size(), fs/binfmt_elf.c
    public var totalMappingSize: UInt64 {
        let l = loads
        guard let lo = l.map({ $0.vaddr & PAGE_MASK }).min(), let hi = l.map({ $0.vaddr &+ $0.memsz }).max() else { return 0 }
        return hi &- lo
    }

    /// The largest power-of-two p_align of the PT_LOAD segments, at least one page.
    /// Linux: maximum_alignment(), fs/binfmt_elf.c
    public var maximumAlignment: UInt64 {
        var a: UInt64 = 0
        for p in loads where p.align != 0 && p.align & (p.align - 1) == 0 { a = max(a, p.align) }
        return pageAlignUp(a) ?? PAGE_SIZE
    }
}
