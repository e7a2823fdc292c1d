import XCTest
@testable import MMCore

/// Builds ELF64 x86-64 files byte by byte: the 64-byte header, the program headers right after
/// it, then `extra` bytes at their offsets; the file is `size` bytes long.
struct ELFBuilder {
    var type: UInt16 = ET_EXEC
    var entry: UInt64 = 0x401000
    var phdrs: [ElfProgramHeader] = []
    var size = 0x4000
    var extra: [(Int, [UInt8])] = []
    var ident: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]
    var machine: UInt16 = EM_X86_64
    var phentsize: UInt16 = 56
    var phnumOverride: UInt16? = nil
    var phoff: UInt64 = 64

    func bytes() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: size)
        func put(_ off: Int, _ v: UInt64, _ n: Int) { for i in 0..<n where off + i < b.count { b[off + i] = UInt8((v >> UInt64(8 * i)) & 0xff) } }
        for (i, x) in ident.enumerated() where i < b.count { b[i] = x }
        put(16, UInt64(type), 2); put(18, UInt64(machine), 2); put(20, 1, 4)
        put(24, entry, 8); put(32, phoff, 8); put(52, 64, 2); put(54, UInt64(phentsize), 2)
        put(56, UInt64(phnumOverride ?? UInt16(phdrs.count)), 2)
        let base = phoff < UInt64(size) ? Int(phoff) : size
        for (i, p) in phdrs.enumerated() {
            let o = base + i * 56
            put(o, UInt64(p.type), 4); put(o + 4, UInt64(p.flags), 4); put(o + 8, p.offset, 8); put(o + 16, p.vaddr, 8)
            put(o + 24, p.paddr, 8); put(o + 32, p.filesz, 8); put(o + 40, p.memsz, 8); put(o + 48, p.align, 8)
        }
        for (off, data) in extra { for (i, x) in data.enumerated() where off + i < b.count { b[off + i] = x } }
        return b
    }

    /// A static non-PIE program: headers r--, text r-x, data rw- whose bss spans two more pages.
    //   0x400000 r-- [0, 0x1000)         file 0x0000
    //   0x401000 r-x [0x1000, 0x2800)    file 0x1000
    //   0x403e10 rw- filesz 0x200, memsz 0x3000: file part 0x403000-0x405000 (offset 0x2000),
    //            bss 0x405000-0x407000, brk 0x407000
    static func staticExec() -> ELFBuilder {
        var e = ELFBuilder()
        e.phdrs = [
            ElfProgramHeader(type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x400000, filesz: 0x1000, memsz: 0x1000, align: 0x1000),
            ElfProgramHeader(type: PT_LOAD, flags: PF_R | PF_X, offset: 0x1000, vaddr: 0x401000, filesz: 0x1800, memsz: 0x1800, align: 0x1000),
            ElfProgramHeader(type: PT_LOAD, flags: PF_R | PF_W, offset: 0x2e10, vaddr: 0x403e10, filesz: 0x200, memsz: 0x3000, align: 0x1000),
            ElfProgramHeader(type: PT_GNU_STACK, flags: PF_R | PF_W, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 16),
        ]
        e.extra = [(0x2e10, [UInt8](repeating: 0xaa, count: 0x400))]
        return e
    }

    /// A PIE with an interpreter: PT_PHDR, PT_INTERP, four PT_LOADs (the last with 0x100 bytes of
    /// bss that end inside its last file page).
    static func pie(interp: String = "/lib/ld.so") -> ELFBuilder {
        var e = ELFBuilder()
        e.type = ET_DYN
        e.entry = 0x1100
        let ipath = Array(interp.utf8) + [0]
        e.phdrs = [
            ElfProgramHeader(type: PT_PHDR, flags: PF_R, offset: 64, vaddr: 64, filesz: 6 * 56, memsz: 6 * 56, align: 8),
            ElfProgramHeader(type: PT_INTERP, flags: PF_R, offset: 0x200, vaddr: 0x200, filesz: UInt64(ipath.count), memsz: UInt64(ipath.count), align: 1),
            ElfProgramHeader(type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0, filesz: 0x800, memsz: 0x800, align: 0x1000),
            ElfProgramHeader(type: PT_LOAD, flags: PF_R | PF_X, offset: 0x1000, vaddr: 0x1000, filesz: 0x900, memsz: 0x900, align: 0x1000),
            ElfProgramHeader(type: PT_LOAD, flags: PF_R, offset: 0x2000, vaddr: 0x2000, filesz: 0x300, memsz: 0x300, align: 0x1000),
            ElfProgramHeader(type: PT_LOAD, flags: PF_R | PF_W, offset: 0x2df0, vaddr: 0x3df0, filesz: 0x100, memsz: 0x200, align: 0x1000),
        ]
        e.extra = [(0x200, ipath)]
        return e
    }

    /// An interpreter (ET_DYN, no PT_INTERP): r-- page, r-x 2 pages, rw- 1 page + 1 page of bss.
    static func interpreter() -> ELFBuilder {
        var e = ELFBuilder()
        e.type = ET_DYN
        e.entry = 0x1040
        e.size = 0x4000
        e.phdrs = [
            ElfProgramHeader(type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0, filesz: 0x1000, memsz: 0x1000, align: 0x1000),
            ElfProgramHeader(type: PT_LOAD, flags: PF_R | PF_X, offset: 0x1000, vaddr: 0x1000, filesz: 0x2000, memsz: 0x2000, align: 0x1000),
            ElfProgramHeader(type: PT_LOAD, flags: PF_R | PF_W, offset: 0x3000, vaddr: 0x4000, filesz: 0x1000, memsz: 0x2000, align: 0x1000),
        ]
        return e
    }
}

/// The ELF parser, load_elf_binary and execve.
final class ExecTests: XCTestCase {
    let env = ["HOME=/home/user", "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin"]

    func parseError(_ b: [UInt8]) -> String? {
        do { _ = try ElfFile.parse(b); return nil } catch { return "\(error)" }
    }

    /// (start, end, perms, file offset or nil for anonymous/special, special) of every VMA.
    func layout(_ mm: MMStruct) -> [String] {
        mm.vmas.vmas.map { v in
            let f = v.flags
            let perms = (f.contains(.read) ? "r" : "-") + (f.contains(.write) ? "w" : "-") + (f.contains(.exec) ? "x" : "-")
            let what = v.file.map { "\($0.path)@\(String(v.pgoff << MMCore.PAGE_SHIFT, radix: 16))" } ?? "\(v.special)"
            return "\(String(v.start.raw, radix: 16))-\(String(v.end.raw, radix: 16)) \(perms) \(what)"
        }
    }

    // MARK: parser

    func testParserReportsEachMalformation() {
        var e = ELFBuilder.staticExec()
        XCTAssertNil(parseError(e.bytes()))
        XCTAssertEqual(parseError([0x7f, 0x45]), "file is 2 bytes, shorter than an ELF64 header (64 bytes)")
        XCTAssertEqual(parseError(Array(e.bytes().prefix(40))), "file is 40 bytes, shorter than an ELF64 header (64 bytes)")
        XCTAssertEqual(parseError([UInt8](repeating: 0x41, count: 100)), "not an ELF file (bad magic)")
        e.ident[4] = 1
        XCTAssertEqual(parseError(e.bytes()), "not an x86-64 ELF64 file")
        e = .staticExec(); e.machine = 183
        XCTAssertEqual(parseError(e.bytes()), "not an x86-64 ELF64 file")
        e = .staticExec(); e.type = ET_REL
        XCTAssertEqual(parseError(e.bytes()), "ET_REL is not executable")
        e.type = ET_CORE
        XCTAssertEqual(parseError(e.bytes()), "ET_CORE is not executable")
        e = .staticExec(); e.phentsize = 32
        XCTAssertEqual(parseError(e.bytes()), "e_phentsize is 32, not 56")
        e = .staticExec(); e.phnumOverride = 0
        XCTAssertEqual(parseError(e.bytes()), "e_phnum 0 is out of range (1...1170)")
        e = .staticExec(); e.phoff = 0x3fa0
        XCTAssertEqual(parseError(e.bytes()), "truncated program header table")
        e = .staticExec(); e.phoff = UInt64.max - 10
        XCTAssertEqual(parseError(e.bytes()), "truncated program header table")
        e = .staticExec(); e.phdrs[1].filesz = 0x3001
        XCTAssertEqual(parseError(e.bytes()), "PT_LOAD p_offset+p_filesz beyond end of file (program header 1)")
        e = .staticExec(); e.phdrs[1].offset = UInt64.max
        XCTAssertEqual(parseError(e.bytes()), "PT_LOAD p_offset+p_filesz beyond end of file (program header 1)")
        e = .staticExec(); e.phdrs[2].memsz = 0x100
        XCTAssertEqual(parseError(e.bytes()), "PT_LOAD p_filesz > p_memsz (program header 2)")
        e = .staticExec(); e.phdrs[2].offset = 0x2e18
        XCTAssertEqual(parseError(e.bytes()), "PT_LOAD p_offset and p_vaddr differ modulo the page size (program header 2)")
        e = .staticExec(); e.phdrs[2].vaddr = 0x7fff_ffff_fe10; e.phdrs[2].memsz = 0x10000
        XCTAssertEqual(parseError(e.bytes()), "PT_LOAD segment beyond TASK_SIZE (program header 2)")
        e = .staticExec(); e.phdrs = [e.phdrs[3]]
        XCTAssertEqual(parseError(e.bytes()), "no PT_LOAD segment")
        e = .pie(); e.extra = [(0x200, Array("/lib/ld.so!".utf8))]
        XCTAssertEqual(parseError(e.bytes()), "bad PT_INTERP: path is not NUL-terminated")
        e = .pie(); e.phdrs[1].offset = 0x3ffe
        XCTAssertEqual(parseError(e.bytes()), "bad PT_INTERP: path beyond end of file")
        e = .pie(); e.phdrs[1].filesz = 1
        XCTAssertEqual(parseError(e.bytes()), "bad PT_INTERP: length 1 is out of range (2...4096)")
        // A good PIE: its interpreter and segments.
        let pie = try! ElfFile.parse(ELFBuilder.pie().bytes())
        XCTAssertEqual(pie.interpreter, "/lib/ld.so")
        XCTAssertEqual(pie.loads.count, 4)
        XCTAssertEqual(pie.totalMappingSize, 0x3ff0)
        XCTAssertNil(pie.execStack)
        XCTAssertEqual(try! ElfFile.parse(ELFBuilder.staticExec().bytes()).execStack, false)
    }

    /// Random bytes, truncations and single-byte mutations of valid files: the parser returns or
    /// throws but never traps, and exec of whatever parses keeps the kernel's invariants.
    func testParserAndExecSurviveHostileBytes() throws {
        var rng = KernelRandom(seed: 42)
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        try k.fs.create(path: "/lib/ld.so", size: 0x4000, data: ELFBuilder.interpreter().bytes())
        let bases = [ELFBuilder.staticExec().bytes(), ELFBuilder.pie().bytes(), ELFBuilder.interpreter().bytes()]
        var parsed = 0, execd = 0
        for i in 0..<600 {
            var b: [UInt8]
            switch i % 3 {
            case 0: b = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1: b = Array(bases[i % 3 == 1 ? (i / 3) % 3 : 0].prefix(Int(rng.next() % 0x4001)))
            default:
                b = bases[(i / 3) % 3]
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    // Mutate the header and program-header area, where the checks are.
                    let at = Int(rng.next() % 400)
                    b[at] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            guard (try? ElfFile.parse(b)) != nil else { continue }
            parsed += 1
            let path = "/fuzz/\(i)"
            try k.fs.create(path: path, size: UInt64(b.count), data: b)
            if case .success(let t) = k.spawnELF(path: path, argv: [path], envp: env) {
                execd += 1
                k.exitTask(t, status: 0)
            }
            XCTAssertEqual(k.checkInvariants(), [], "after exec of mutation \(i)")
        }
        XCTAssertGreaterThan(parsed, 50)
        XCTAssertGreaterThan(execd, 20)
    }

    // MARK: loader

    func testStaticNonPIELayout() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        try k.fs.create(path: "/bin/static", size: 0x4000, data: ELFBuilder.staticExec().bytes(), ino: 77, dev: (254, 0))
        let t = try k.spawnELF(path: "/bin/static", argv: ["/bin/static"], envp: env).get()
        let mm = try XCTUnwrap(t.mm)
        XCTAssertEqual(layout(mm), [
            "400000-401000 r-- /bin/static@0",
            "401000-403000 r-x /bin/static@1000",
            "403000-405000 rw- /bin/static@2000",
            "405000-407000 rw- none",
            "7ffff7ff7000-7ffff7ffb000 r-- vvar",
            "7ffff7ffb000-7ffff7ffd000 r-- vvarVclock",
            "7ffff7ffd000-7ffff7fff000 r-x vdso",
            "7ffffffde000-7ffffffff000 rw- none",
        ])
        XCTAssertEqual(mm.startBrk, 0x407000)
        XCTAssertEqual(mm.brk, 0x407000)
        XCTAssertEqual(mm.startCode, 0x401000)
        XCTAssertEqual(mm.endCode, 0x402800)
        XCTAssertEqual(mm.startData, 0x403e10)
        XCTAssertEqual(mm.endData, 0x404010)
        XCTAssertEqual(t.ip, 0x401000)
        XCTAssertEqual(t.comm, "static")
        // padzero: the rest of the page after p_filesz reads as zeros.
        XCTAssertEqual(try k.load(t, VirtAddr(0x404010), count: 0xff0).get(), [UInt8](repeating: 0, count: 0xff0))
        // Strings: /bin/static, 3 env strings, the filename; 8 zero bytes at the top.
        let strings = "/bin/static\0" + env.joined(separator: "\0") + "\0/bin/static\0"
        XCTAssertEqual(mm.argStart, 0x7ffffffff000 - 8 - UInt64(strings.utf8.count))
        XCTAssertEqual(try k.load(t, VirtAddr(mm.argStart), count: strings.utf8.count).get(), Array(strings.utf8))
        // auxv: no interpreter (AT_BASE 0), AT_PHDR inside the first segment, AT_ENTRY = e_entry.
        let aux = Dictionary(uniqueKeysWithValues: mm.savedAuxv.map { ($0.type, $0.value) })
        XCTAssertEqual(aux[AT_BASE], 0)
        XCTAssertEqual(aux[AT_PHDR], 0x400040)
        XCTAssertEqual(aux[AT_ENTRY], 0x401000)
        XCTAssertEqual(aux[AT_PHNUM], 4)
        XCTAssertEqual(aux[AT_SYSINFO_EHDR], 0x7ffff7ffd000)
        XCTAssertEqual(aux[AT_EXECFN], 0x7ffffffff000 - 8 - 12)
        XCTAssertEqual(aux[AT_RANDOM], ((mm.argStart & ~0xf) - 7 - 16))
        XCTAssertEqual(k.peekUserWord(mm, VirtAddr(mm.startStack)), 1)
        XCTAssertEqual(mm.startStack & 0xf, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testPIEWithInterpreterLayout() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        try k.fs.create(path: "/usr/lib/ld-real.so", size: 0x4000, data: ELFBuilder.interpreter().bytes())
        try k.fs.symlink("/lib/ld.so", to: "/usr/lib/ld-real.so")
        try k.fs.create(path: "/bin/pie", size: 0x4000, data: ELFBuilder.pie().bytes())
        let t = try k.spawnELF(path: "/bin/pie", argv: ["pie", "-x"], envp: env).get()
        let mm = try XCTUnwrap(t.mm)
        // mmap_base 0x7ffff7fff000; the interpreter's span is 0x6000 (0 … 0x4000+0x2000).
        XCTAssertEqual(layout(mm), [
            "555555554000-555555555000 r-- /bin/pie@0",
            "555555555000-555555556000 r-x /bin/pie@1000",
            "555555556000-555555557000 r-- /bin/pie@2000",
            "555555557000-555555558000 rw- /bin/pie@2000",
            "7ffff7ff1000-7ffff7ff5000 r-- vvar",
            "7ffff7ff5000-7ffff7ff7000 r-- vvarVclock",
            "7ffff7ff7000-7ffff7ff9000 r-x vdso",
            "7ffff7ff9000-7ffff7ffa000 r-- /usr/lib/ld-real.so@0",
            "7ffff7ffa000-7ffff7ffc000 r-x /usr/lib/ld-real.so@1000",
            "7ffff7ffd000-7ffff7ffe000 rw- /usr/lib/ld-real.so@3000",
            "7ffff7ffe000-7ffff7fff000 rw- none",
            "7ffffffde000-7ffffffff000 rw- none",
        ])
        let aux = Dictionary(uniqueKeysWithValues: mm.savedAuxv.map { ($0.type, $0.value) })
        XCTAssertEqual(aux[AT_BASE], 0x7ffff7ff9000)
        XCTAssertEqual(aux[AT_ENTRY], 0x555555555100)
        XCTAssertEqual(aux[AT_PHDR], 0x555555554040)
        XCTAssertEqual(t.ip, 0x7ffff7ff9000 + 0x1040)
        // The data segment's bss (0x100 bytes) ends inside its last file page: no anonymous VMA,
        // brk right after it.
        XCTAssertEqual(mm.startBrk, 0x555555558000)
        // argc 2, argv[1] = "-x".
        XCTAssertEqual(k.peekUserWord(mm, VirtAddr(mm.startStack)), 2)
        XCTAssertEqual(try k.load(t, VirtAddr(k.peekUserWord(mm, VirtAddr(mm.startStack + 16))!), count: 3).get(), Array("-x\0".utf8))
        XCTAssertEqual(k.checkInvariants(), [])
    }

    /// An ET_DYN without PT_INTERP (a static PIE, or ld.so run directly) goes where mmap puts it.
    func testStaticPIELoadsTopDownBelowMmapBase() throws {
        for aslr in [0, 2] {
            var c = MachineConfig(ramBytes: 256 << 20)
            c.seed = 5
            let k = try Kernel(config: c)
            k.sysctl.randomizeVaSpace = aslr
            try k.fs.create(path: "/bin/spie", size: 0x4000, data: ELFBuilder.interpreter().bytes())
            let t = try k.spawnELF(path: "/bin/spie", argv: ["spie"], envp: env).get()
            let mm = try XCTUnwrap(t.mm)
            let aux = Dictionary(uniqueKeysWithValues: mm.savedAuxv.map { ($0.type, $0.value) })
            XCTAssertEqual(k.checkInvariants(), [])
            if aslr == 0 {
                XCTAssertEqual(layout(mm), [
                    "7ffff7ff1000-7ffff7ff5000 r-- vvar",
                    "7ffff7ff5000-7ffff7ff7000 r-- vvarVclock",
                    "7ffff7ff7000-7ffff7ff9000 r-x vdso",
                    "7ffff7ff9000-7ffff7ffa000 r-- /bin/spie@0",
                    "7ffff7ffa000-7ffff7ffc000 r-x /bin/spie@1000",
                    "7ffff7ffd000-7ffff7ffe000 rw- /bin/spie@3000",
                    "7ffff7ffe000-7ffff7fff000 rw- none",
                    "7ffffffde000-7ffffffff000 rw- none",
                ])
                XCTAssertEqual(aux[AT_BASE], 0)
                XCTAssertEqual(aux[AT_ENTRY], 0x7ffff7ffa040)
                XCTAssertEqual(t.ip, 0x7ffff7ffa040)
                XCTAssertEqual(mm.startBrk, 0x7ffff7fff000)
            } else {
                // The brk of a static PIE moves to ELF_ET_DYN_BASE, then up to 32 MiB higher.
                XCTAssertGreaterThanOrEqual(mm.startBrk, ELF_ET_DYN_BASE)
                XCTAssertLessThan(mm.startBrk, ELF_ET_DYN_BASE + 0x200_0000)
                XCTAssertLessThan(mm.mmapBase, 0x7ffff7fff000 - STACK_MAXRANDOM_SIZE)
            }
        }
    }

    func testExecErrorsLeaveTheOldImage() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let t = try k.spawn(ProgramImage(path: "/bin/old")).get()
        let oldMM = t.mm
        func err(_ path: String, argv: [String]? = nil) -> String {
            if case .failure(let e) = k.execve(t, path: path, argv: argv ?? [path], envp: env) { return "\(e)" }
            return "ok"
        }
        XCTAssertEqual(err("/nope"), "ENOENT: '/nope': no such file in the simulated file system")
        try k.fs.create(path: "/bin/text", size: 5, data: Array("hello".utf8))
        XCTAssertEqual(err("/bin/text"), "ENOEXEC: '/bin/text': not an ELF file (bad magic)")
        try k.fs.create(path: "/bin/pie", size: 0x4000, data: ELFBuilder.pie().bytes())
        XCTAssertEqual(err("/bin/pie"), "ENOENT: '/lib/ld.so': no such file in the simulated file system")
        try k.fs.create(path: "/lib/ld.so", size: 3, data: [1, 2, 3])
        XCTAssertEqual(err("/bin/pie"), "ELIBBAD: interpreter '/lib/ld.so': file is 3 bytes, shorter than an ELF64 header (64 bytes)")
        try k.fs.create(path: "/bin/static", size: 0x4000, data: ELFBuilder.staticExec().bytes())
        XCTAssertEqual(err("/bin/static", argv: [String(repeating: "a", count: 200_000)]),
                       "E2BIG: a string of 200001 bytes is longer than MAX_ARG_STRLEN (131072)")
        XCTAssertEqual(err("/bin/static", argv: (0..<30).map { _ in String(repeating: "b", count: 100_000) }),
                       "E2BIG: arguments and environment take 3000377 bytes, more than the limit of 2097152")
        XCTAssertTrue(t.mm === oldMM)
        XCTAssertTrue(t.state.isAlive)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    /// exec releases the old mm: every frame and page table of it goes back.
    func testExecFreesTheOldMM() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        try k.fs.create(path: "/bin/static", size: 0x4000, data: ELFBuilder.staticExec().bytes())
        let other = try k.spawn(ProgramImage(path: "/bin/other")).get()
        // The kernel objects' slabs outlive the processes (as in Linux): warm them with one
        // process, a thread of it and an exec first.
        let warm = try k.spawn(ProgramImage(path: "/bin/warm")).get()
        _ = try k.cloneThread(warm).get()
        XCTAssertNoThrow(try k.execve(warm, path: "/bin/static", argv: ["/bin/static"], envp: []).get())
        k.exitTask(warm, status: 0)
        k.switchTo(other)
        // Page-cache pages outlive the processes that read them: drop the unmapped ones before
        // each measurement (drop_caches), so that only memory held by address spaces is compared.
        _ = k.dropCaches(1)
        let free0 = k.phys.freePageCount, tables0 = k.stat.nrPageTable, committed0 = k.committedPages
        let t = try k.spawn(ProgramImage(path: "/bin/old", dataBytes: 0x10000)).get()
        _ = try k.touch(t, VirtAddr(t.mm!.startData), length: 0x10000, .write).get()
        // A thread shares the mm; exec ends it.
        let thread = try k.cloneThread(t).get()
        XCTAssertEqual(t.mm!.mmUsers, 2)
        let oldMM = t.mm!
        XCTAssertNoThrow(try k.execve(t, path: "/bin/static", argv: ["/bin/static"], envp: env).get())
        XCTAssertEqual(thread.state, .killed(.SIGKILL))
        XCTAssertEqual(oldMM.mmUsers, 0)
        XCTAssertEqual(oldMM.vmas.count, 0)
        XCTAssertEqual(k.checkInvariants(), [])
        let afterFirst = k.phys.freePageCount, tablesAfter = k.stat.nrPageTable
        // exec of the same program again: the same amount of memory in use afterwards.
        XCTAssertNoThrow(try k.execve(t, path: "/bin/static", argv: ["/bin/static"], envp: env).get())
        XCTAssertEqual(k.phys.freePageCount, afterFirst)
        XCTAssertEqual(k.stat.nrPageTable, tablesAfter)
        k.exitTask(t, status: 0)
        // The exited task's mm stays active (lazy TLB) until the CPU switches to another process.
        k.switchTo(other)
        _ = k.dropCaches(1)
        XCTAssertEqual(k.phys.freePageCount, free0)
        XCTAssertEqual(k.stat.nrPageTable, tables0)
        XCTAssertEqual(k.committedPages, committed0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    // MARK: ASLR

    func layoutWith(seed: UInt64, randomize: Int) throws -> (maps: [String], brk: UInt64, stack: UInt64, auxv: [AuxvEntry]) {
        var c = MachineConfig(ramBytes: 256 << 20)
        c.seed = seed
        let k = try Kernel(config: c)
        k.sysctl.randomizeVaSpace = randomize
        try k.fs.create(path: "/lib/ld.so", size: 0x4000, data: ELFBuilder.interpreter().bytes())
        try k.fs.create(path: "/bin/pie", size: 0x4000, data: ELFBuilder.pie().bytes())
        let t = try k.spawnELF(path: "/bin/pie", argv: ["pie"], envp: env).get()
        XCTAssertEqual(k.checkInvariants(), [])
        return (layout(t.mm!), t.mm!.startBrk, t.mm!.startStack, t.mm!.savedAuxv)
    }

    func testASLRIsDeterministicPerSeed() throws {
        let off1 = try layoutWith(seed: 1, randomize: 0), off2 = try layoutWith(seed: 2, randomize: 0)
        XCTAssertEqual(off1.maps, off2.maps)
        XCTAssertEqual(off1.maps.first, "555555554000-555555555000 r-- /bin/pie@0")
        XCTAssertEqual(off1.brk, 0x555555558000)
        let a = try layoutWith(seed: 1, randomize: 2), b = try layoutWith(seed: 1, randomize: 2), c = try layoutWith(seed: 2, randomize: 2)
        XCTAssertEqual(a.maps, b.maps)
        XCTAssertEqual(a.stack, b.stack)
        XCTAssertEqual(a.auxv, b.auxv)
        XCTAssertNotEqual(a.maps, c.maps)
        XCTAssertNotEqual(a.maps, off1.maps)
        // Every region moved: program, interpreter/vDSO, stack; brk at least a page above the bss.
        for i in [0, 4, 7, 11] { XCTAssertNotEqual(a.maps[i], off1.maps[i], "line \(i)") }
        let pieStart = UInt64(a.maps[0].prefix(12), radix: 16)!
        XCTAssertGreaterThanOrEqual(pieStart, ELF_ET_DYN_BASE & MMCore.PAGE_MASK)
        XCTAssertLessThan(pieStart, (ELF_ET_DYN_BASE & MMCore.PAGE_MASK) + (1 << (MMAP_RND_BITS + MMCore.PAGE_SHIFT)))
        XCTAssertGreaterThanOrEqual(a.brk, pieStart + 0x5000)
        XCTAssertLessThan(a.brk, pieStart + 0x5000 + 0x200_0000)
        // randomize_va_space = 1: everything but the brk moves.
        let one = try layoutWith(seed: 1, randomize: 1)
        let onePie = UInt64(one.maps[0].prefix(12), radix: 16)!
        XCTAssertEqual(one.brk, onePie + 0x4000)
    }
}
