/// execve of real ELF64 x86-64 files from the simulated file system: a new mm, the old one
/// released, the program's PT_LOAD segments mapped from the file with their permissions, the bss,
/// the interpreter, the vDSO, and the stack with argv, envp and the auxiliary vector.
/// Linux: do_execveat_common(), begin_new_exec(), exec_mmap(), setup_arg_pages(), fs/exec.c;
/// load_elf_binary(), load_elf_interp(), elf_load(), elf_map(), create_elf_tables(), fs/binfmt_elf.c

/// Auxiliary vector entry types (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h).
public let AT_NULL: UInt64 = 0, AT_PHDR: UInt64 = 3, AT_PHENT: UInt64 = 4, AT_PHNUM: UInt64 = 5
public let AT_PAGESZ: UInt64 = 6, AT_BASE: UInt64 = 7, AT_FLAGS: UInt64 = 8, AT_ENTRY: UInt64 = 9
public let AT_UID: UInt64 = 11, AT_EUID: UInt64 = 12, AT_GID: UInt64 = 13, AT_EGID: UInt64 = 14
public let AT_PLATFORM: UInt64 = 15, AT_HWCAP: UInt64 = 16, AT_CLKTCK: UInt64 = 17, AT_SECURE: UInt64 = 23
public let AT_RANDOM: UInt64 = 25, AT_HWCAP2: UInt64 = 26, AT_RSEQ_FEATURE_SIZE: UInt64 = 27
public let AT_RSEQ_ALIGN: UInt64 = 28, AT_EXECFN: UInt64 = 31, AT_SYSINFO_EHDR: UInt64 = 33
public let AT_MINSIGSTKSZ: UInt64 = 51

/// One auxiliary vector entry.
public struct AuxvEntry: Sendable, Equatable {
    public var type: UInt64
    public var value: UInt64
    /// The string the value points at (AT_EXECFN, AT_PLATFORM), as exec wrote it on the stack.
    public var string: String?
    public init(type: UInt64, value: UInt64, string: String? = nil) { self.type = type; self.value = value; self.string = string }
}

/// CPU-specific auxv values of the reference machine (an x86-64 with XSAVE): the CPUID.1:EDX
/// feature word, HWCAP2_FSGSBASE, and the signal frame size. Linux: ELF_HWCAP, ELF_HWCAP2,
/// get_sigframe_size(), arch/x86
public let ELF_HWCAP: UInt64 = 0x178b_fbff, ELF_HWCAP2: UInt64 = 0x2, MINSIGSTKSZ_VALUE: UInt64 = 3376
/// The vDSO area of Linux 6.13+: [vvar] (4 pages), [vvar_vclock] (2 pages), then [vdso] (2 pages).
public let VVAR_PAGES: UInt64 = 4, VVAR_VCLOCK_PAGES: UInt64 = 2, VDSO_PAGES: UInt64 = 2
/// The stack exec leaves below the arguments: 128 KiB. Linux: stack_expand in setup_arg_pages()
public let STACK_EXPAND: UInt64 = 131_072
/// Longest single argument or environment string. Linux: MAX_ARG_STRLEN, include/uapi/linux/binfmts.h
public let MAX_ARG_STRLEN: UInt64 = 32 * PAGE_SIZE

/// Why execve failed.
public enum ExecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// ENOENT: the program or its interpreter is not in the file system.
    case notFound(String)
    /// ENOEXEC: the program is not a loadable ELF64 x86-64 file.
    case notExecutable(String, ElfError)
    /// ELIBBAD: the interpreter is not a loadable ELF file.
    case badInterpreter(String, ElfError)
    /// E2BIG: the arguments and environment do not fit.
    case argumentsTooLong(UInt64, UInt64)
    /// E2BIG: one argument or environment string is longer than MAX_ARG_STRLEN.
    case stringTooLong(UInt64)
    /// An errno before the point of no return (the old image is intact).
    case failed(Errno)
    /// The new image could not be completed after the old mm was released: the task was killed
    /// with SIGSEGV. Linux: force_fatal_sig(SIGSEGV) in bprm_execve(), fs/exec.c
    case fatal(Errno)

    /// The errno execve returns.
    public var errnoName: String {
        switch self {
        case .notFound: return "ENOENT"
        case .notExecutable: return "ENOEXEC"
        case .badInterpreter: return "ELIBBAD"
        case .argumentsTooLong, .stringTooLong: return "E2BIG"
        case .failed(let e), .fatal(let e): return e.name
        }
    }

    public var description: String {
        switch self {
        case .notFound(let p): return "ENOENT: '\(p)': no such file in the simulated file system"
        case .notExecutable(let p, let e): return "ENOEXEC: '\(p)': \(e)"
        case .badInterpreter(let p, let e): return "ELIBBAD: interpreter '\(p)': \(e)"
        case .argumentsTooLong(let n, let l): return "E2BIG: arguments and environment take \(n) bytes, more than the limit of \(l)"
        case .stringTooLong(let n): return "E2BIG: a string of \(n) bytes is longer than MAX_ARG_STRLEN (\(MAX_ARG_STRLEN))"
        case .failed(let e): return "\(e.name): \(e.message)"
        case .fatal(let e): return "\(e.name) after the point of no return: the process is killed by SIGSEGV"
        }
    }
}

/// What one execve works with (struct linux_binprm, reduced).
struct LinuxBinprm {
    var file: Inode
    var elf: ElfFile
    var filename: String
    var argv: [String]
    var envp: [String]
    var interp: (inode: Inode, elf: ElfFile)?
    /// Lowest byte of the argument strings (bprm->p once they are copied).
    var p: UInt64 = 0
    /// Address of the filename string (bprm->exec, AT_EXECFN).
    var exec: UInt64 = 0
    /// Snapshot of kernel.randomize_va_space and PF_RANDOMIZE for this exec.
    var randomizeVaSpace = 0
    var randomize: Bool { randomizeVaSpace > 0 }
}

extension Kernel {
    // MARK: - execve

    /// Replaces the image of `task` with the ELF program at `path` in the simulated file system,
    /// run with `argv` and `envp`. Checks everything that can fail without harm first (the file,
    /// its headers, the interpreter, the argument size, a PGD for the new mm); then the other
    /// threads of the group end, the old mm is released (exec_mmap) and the new image is built.
    /// Returns the error before the point of no return with the old image intact; a failure after
    /// it kills the task with SIGSEGV (`.fatal`). Linux: do_execveat_common() → bprm_execve() →
    /// load_elf_binary(), fs/exec.c, fs/binfmt_elf.c
    public func execve(_ task: Task, path: String, argv: [String], envp: [String]) -> Result<Void, ExecError> {
        guard panicMessage == nil else { return .failure(.failed(.ENOMEM)) }
        guard task.state.isAlive, !task.isKernelThread else { return .failure(.failed(.EINVAL)) }
        var bprm: LinuxBinprm
        switch prepareBinprm(path: path, argv: argv, envp: envp, rlimitStack: task.mm?.stackRlimit ?? (8 << 20)) {
        case .failure(let e): return .failure(e)
        case .success(let b): bprm = b
        }
        guard let mm = mmAlloc(for: task) else { return .failure(.failed(.ENOMEM)) }
        if let old = task.mm {
            // Resource limits belong to the process and survive exec.
            mm.stackRlimit = old.stackRlimit; mm.memlockRlimit = old.memlockRlimit
            mm.asRlimit = old.asRlimit; mm.dataRlimit = old.dataRlimit; mm.legacyVALayout = old.legacyVALayout
        }
        // The point of no return.
        deThread(task)
        execMmap(task, mm)
        task.comm = String(bprm.filename.split(separator: "/").last.map(String.init)?.prefix(15) ?? "")
        task.malloc = MallocState()
        task.image = nil
        task.cmdline = argv
        bprm.randomizeVaSpace = sysctl.randomizeVaSpace
        switchTo(task)
        let faults0 = vmstat.pgfault
        narrate("execve(\"\(path)\"): \(bprm.elf.type == ET_DYN ? "ET_DYN (position independent)" : "ET_EXEC"), "
            + (bprm.interp.map { _ in "interpreter \(bprm.elf.interpreter!)" } ?? "static (no PT_INTERP)")
            + "; kernel.randomize_va_space = \(bprm.randomizeVaSpace)")
        let r = loadElfBinary(task, mm, &bprm)
        if case .failure(let e) = r {
            killTask(task, signal: .SIGSEGV)
            return .failure(.fatal(e))
        }
        narrate("execve done: \(mm.vmas.count) VMAs, entry \(VirtAddr(task.ip)), stack pointer \(VirtAddr(task.sp)), "
            + "\(vmstat.pgfault - faults0) page faults (the argument pages and the partial bss page)")
        return .success(())
    }

    /// Creates a process running the ELF program at `path`: a task with no mm that execs it at
    /// once (fork + execve without the parent). Returns the task, or the exec error (no task is left).
    /// Linux: kernel_clone() + do_execveat_common()
    public func spawnELF(path: String, argv: [String], envp: [String], uid: UInt32 = 1000) -> Result<Task, ExecError> {
        guard panicMessage == nil else { return .failure(.failed(.ENOMEM)) }
        if case .failure(let e) = prepareBinprm(path: path, argv: argv, envp: envp, rlimitStack: 8 << 20) { return .failure(e) }
        guard let task = copyProcess(comm: String(path.split(separator: "/").last ?? ""), mm: nil) else { return .failure(.failed(.ENOMEM)) }
        task.uid = uid
        switch execve(task, path: path, argv: argv, envp: envp) {
        case .success: return .success(task)
        case .failure(let e):
            if task.state.isAlive { task.state = .exited(127) }
            freeTaskObjects(task)
            return .failure(e)
        }
    }

    /// Looks up and parses the program and its interpreter and checks the argument size; returns
    /// the binprm or the error (ENOENT, ENOEXEC, ELIBBAD, E2BIG). Nothing is changed.
    /// Linux: bprm_execve() up to search_binary_handler(), the checks at the top of load_elf_binary()
    func prepareBinprm(path: String, argv: [String], envp: [String], rlimitStack: UInt64) -> Result<LinuxBinprm, ExecError> {
        guard let inode = fs.lookup(path) else { return .failure(.notFound(path)) }
        // A 32-bit kernel (x86 or ARM): an ELF64 file cannot run, and ELF32 loading is not modelled.
        if phys.paging.is32Bit, inode.data.count >= 5, inode.data[0...3] == [0x7f, 0x45, 0x4c, 0x46] {
            return .failure(.notExecutable(path, .notFor32BitKernel(elf32: inode.data[4] == 1, arm: phys.paging.encoding == .arm32)))
        }
        let elf: ElfFile
        do { elf = try ElfFile.parse(inode.data) } catch let e as ElfError {
            return .failure(.notExecutable(path, e))
        } catch { return .failure(.failed(.EIO)) }
        var interp: (Inode, ElfFile)? = nil
        if let ip = elf.interpreter {
            guard let ii = fs.lookup(ip) else { return .failure(.notFound(ip)) }
            do { interp = (ii, try ElfFile.parse(ii.data)) } catch let e as ElfError {
                return .failure(.badInterpreter(ip, e))
            } catch { return .failure(.failed(.EIO)) }
        }
        // bprm_stack_limits(): a quarter of the stack rlimit (at most 3/4 of _STK_LIM, at least
        // ARG_MAX = 32 pages) for the strings and the pointer vectors.
        var limit = min((8 << 20) / 4 * 3, rlimitStack / 4)
        limit = max(limit, 32 * PAGE_SIZE)
        var need = UInt64(argv.count + envp.count + 1) * 8 + UInt64(path.utf8.count + 1)
        for s in argv + envp {
            let n = UInt64(s.utf8.count + 1)
            guard n <= MAX_ARG_STRLEN else { return .failure(.stringTooLong(n)) }
            need += n
        }
        guard need <= limit else { return .failure(.argumentsTooLong(need, limit)) }
        return .success(LinuxBinprm(file: inode, elf: elf, filename: path, argv: argv, envp: envp, interp: interp))
    }

    /// Ends the other threads of `task`'s group before exec replaces the mm they share (they are
    /// killed silently, as zap_other_threads() does). The execing thread keeps its own pid here
    /// (Linux gives a non-leader the leader's pid). Linux: de_thread(), fs/exec.c
    func deThread(_ task: Task) {
        for t in allTasks where t !== task && t.tgid == task.tgid && t.state.isAlive {
            t.state = .killed(.SIGKILL)
            releaseMM(t)
            // The group's shared objects (files, sighand, signal) stay with the exec'ing thread
            // when it takes over from the leader; the rest of the dead thread is reaped.
            if t === task.groupLeader {
                let shared: [KernelObjectKind] = [.files, .sighand, .signal]
                task.kernelObjects += t.kernelObjects.filter { shared.contains($0.0) }
                t.kernelObjects.removeAll { shared.contains($0.0) }
            }
            freeTaskObjects(t)
        }
        if task.groupLeader != nil {
            task.groupLeader = nil
            task.tgid = task.pid
        }
    }

    /// Reads the 8-byte word at `va` of `mm` when its page is present, without faulting or
    /// touching the TLB (as /proc/PID/mem of a resident page); nil otherwise or when unaligned.
    /// Linux: access_remote_vm() of a present page, mm/memory.c
    public func peekUserWord(_ mm: MMStruct, _ va: VirtAddr) -> UInt64? {
        guard va.raw & 7 == 0, va.raw < mm.taskSize, let slot = phys.walk(mm.pgd, va) else { return nil }
        let pte = phys.readPTE(slot)
        guard pte.isPresent, pte.pfn.index < phys.frameCount else { return nil }
        return phys.contents.readWord(pte.pfn, Int(va.pageOffset >> 3))
    }

    // MARK: - load_elf_binary

    /// Builds the new image in the fresh `mm` of `task`: mmap layout, stack and argument strings,
    /// the PT_LOAD segments at the load bias, bss, brk, the interpreter, the vDSO and the tables
    /// on the stack. Returns the first errno. Linux: load_elf_binary(), fs/binfmt_elf.c
    func loadElfBinary(_ task: Task, _ mm: MMStruct, _ bprm: inout LinuxBinprm) -> Result<Void, Errno> {
        let elf = bprm.elf
        archPickMmapLayout(mm, randomize: bprm.randomize)
        if case .failure(let e) = setupArgPages(task, mm, &bprm) { return .failure(e) }
        var loadBias: UInt64 = 0
        var totalSize: UInt64 = 0
        var first = true
        var phdrAddr: UInt64 = 0
        var startCode = UInt64.max, endCode: UInt64 = 0, startData: UInt64 = 0, endData: UInt64 = 0, elfBrk: UInt64 = 0
        for p in elf.loads {
            var flags: MapFlags = [.private]
            if !first {
                flags.insert(.fixed)
            } else if elf.type == ET_EXEC {
                flags.insert(.fixedNoreplace)
            } else {
                let alignment = elf.maximumAlignment
                if bprm.interp != nil || alignment > PAGE_SIZE {
                    // A PIE (or an over-aligned loader) goes to ELF_ET_DYN_BASE, randomised.
                    loadBias = phys.paging.elfEtDynBase
                    if bprm.randomize { loadBias &+= archMmapRnd() }
                    loadBias &= ~(alignment - 1)
                    flags.insert(.fixedNoreplace)
                } else {
                    // A static-pie / loader run directly: wherever mmap puts it (top-down).
                    loadBias = 0
                }
                loadBias = (loadBias &- p.vaddr) & PAGE_MASK
                totalSize = elf.totalMappingSize
                guard totalSize > 0 else { return .failure(.EINVAL) }
            }
            let r = elfLoad(task, bprm.file, loadBias &+ p.vaddr, p, flags, totalSize)
            totalSize = 0
            guard case .success(let mapAddr) = r else { if case .failure(let e) = r { return .failure(e) }; return .failure(.EINVAL) }
            if first {
                first = false
                if elf.type == ET_DYN { loadBias &+= mapAddr &- ((loadBias &+ p.vaddr) & PAGE_MASK) }
                narrate("load_bias \(VirtAddr(loadBias)): " + (elf.type == ET_EXEC ? "ET_EXEC loads at its link address"
                    : bprm.interp != nil ? "a PIE goes to ELF_ET_DYN_BASE\(bprm.randomize ? " + arch_mmap_rnd()" : "")"
                    : "a static PIE without interpreter goes where mmap puts it (top-down below mmap_base)")
                    + "; the first segment reserved the whole span (total_mapping_size 0x\(String(elf.totalMappingSize, radix: 16)))")
            }
            if p.offset <= elf.phoff && elf.phoff < p.offset &+ p.filesz { phdrAddr = elf.phoff - p.offset + p.vaddr }
            if p.flags & PF_X != 0 && p.vaddr < startCode { startCode = p.vaddr }
            if startData < p.vaddr { startData = p.vaddr }
            let fileEnd = p.vaddr + p.filesz
            if p.flags & PF_X != 0 && endCode < fileEnd { endCode = fileEnd }
            if endData < fileEnd { endData = fileEnd }
            elfBrk = max(elfBrk, p.vaddr + p.memsz)
        }
        let eEntry = elf.entry &+ loadBias
        phdrAddr &+= loadBias
        elfBrk &+= loadBias
        startCode &+= loadBias; endCode &+= loadBias; startData &+= loadBias; endData &+= loadBias
        var interpLoadAddr: UInt64 = 0
        var entry = eEntry
        if let (ii, ie) = bprm.interp {
            switch loadElfInterp(task, ii, ie, noBase: loadBias) {
            case .failure(let e): return .failure(e)
            case .success(let a):
                interpLoadAddr = a
                entry = a &+ ie.entry
                narrate("load_elf_interp: \(ii.path) mapped top-down below mmap_base at \(VirtAddr(a)) (AT_BASE); its entry \(VirtAddr(entry)) runs first")
            }
        }
        let vdso: UInt64
        switch archSetupAdditionalPages(mm) {
        case .failure(let e): return .failure(e)
        case .success(let v): vdso = v
        }
        if case .failure(let e) = createElfTables(task, mm, &bprm, interpLoadAddr: interpLoadAddr, entry: eEntry,
                                                  phdrAddr: phdrAddr, vdso: vdso) { return .failure(e) }
        mm.startCode = startCode == UInt64.max ? 0 : startCode
        mm.endCode = endCode
        mm.startData = startData
        mm.endData = endData
        mm.startStack = bprm.p
        mm.startBrk = pageAlignUp(elfBrk) ?? elfBrk
        mm.brk = mm.startBrk
        if bprm.randomize && bprm.randomizeVaSpace > 1 {
            if elf.type == ET_DYN && bprm.interp == nil {
                mm.startBrk = phys.paging.elfEtDynBase
            } else {
                mm.startBrk = mm.brk &+ PAGE_SIZE
            }
            mm.startBrk = archRandomizeBrk(mm.startBrk)
            mm.brk = mm.startBrk
        }
        narrate("start_brk = brk = \(VirtAddr(mm.startBrk))\(bprm.randomizeVaSpace > 1 ? " (randomised: randomize_va_space = 2)" : " (end of the bss, page aligned)")")
        task.ip = entry
        task.sp = bprm.p
        return .success(())
    }

    /// Maps one PT_LOAD segment at `addr`: the file part (elf_map), the rest of its last file
    /// page zeroed (padzero, only when writable), and anonymous pages for the memory beyond
    /// (vm_brk_flags). Returns the address the segment's first page landed at.
    /// Linux: elf_load(), fs/binfmt_elf.c (6.7+)
    func elfLoad(_ task: Task, _ file: Inode, _ addr: UInt64, _ p: ElfProgramHeader, _ flags: MapFlags,
                 _ totalSize: UInt64) -> Result<UInt64, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        let pageOff = p.vaddr & ~PAGE_MASK
        var zeroStart: UInt64, zeroEnd: UInt64
        let mapAddr: UInt64
        if p.filesz > 0 {
            switch elfMap(task, file, addr, p, flags, totalSize) {
            case .failure(let e): return .failure(e)
            case .success(let a): mapAddr = a
            }
            zeroStart = mapAddr &+ pageOff &+ p.filesz
            zeroEnd = mapAddr &+ pageOff &+ p.memsz
            if p.memsz > p.filesz && zeroStart & ~PAGE_MASK != 0 && p.prot.contains(.write) {
                // padzero(): the file bytes past p_filesz in the last page must read as zeros.
                let n = Int(PAGE_SIZE - (zeroStart & ~PAGE_MASK))
                if case .failure = store(task, VirtAddr(zeroStart), [UInt8](repeating: 0, count: n)) { return .failure(.EFAULT) }
                narrate("padzero: \(n) bytes zeroed after p_filesz at \(VirtAddr(zeroStart)) (the partial bss page is a private copy)")
            }
        } else {
            mapAddr = addr & PAGE_MASK
            zeroStart = mapAddr
            zeroEnd = zeroStart &+ pageOff &+ p.memsz
        }
        if p.memsz > p.filesz {
            guard let zs = pageAlignUp(zeroStart), let ze = pageAlignUp(zeroEnd) else { return .failure(.ENOMEM) }
            if ze > zs {
                if case .failure(let e) = vmBrkFlags(mm, zs, ze - zs, flags: p.prot.contains(.exec) ? .exec : []) { return .failure(e) }
                narrate("bss: vm_brk_flags maps \(VirtAddr(zs))-\(VirtAddr(ze)) anonymous (p_memsz 0x\(String(p.memsz, radix: 16)) > p_filesz 0x\(String(p.filesz, radix: 16)))")
            }
        }
        return .success(mapAddr)
    }

    /// mmaps the file part of a segment, page aligned. With `totalSize` (the first segment of an
    /// ET_DYN) the whole image span is reserved first and the part past this segment unmapped
    /// again, so the later MAP_FIXED segments land inside it. Returns the mapped address.
    /// Linux: elf_map(), fs/binfmt_elf.c
    func elfMap(_ task: Task, _ file: Inode, _ addr: UInt64, _ p: ElfProgramHeader, _ flags: MapFlags,
                _ totalSize: UInt64) -> Result<UInt64, Errno> {
        let pageOff = p.vaddr & ~PAGE_MASK
        guard let size = pageAlignUp(p.filesz &+ pageOff) else { return .failure(.ENOMEM) }
        let off = p.offset &- pageOff
        let start = addr & PAGE_MASK
        if size == 0 { return .success(start) }
        let f = file.mappedFile
        if totalSize > 0 {
            guard let total = pageAlignUp(totalSize), total >= size else { return .failure(.EINVAL) }
            switch mmap(task, addr: start, length: total, prot: p.prot, flags: flags, file: f, offset: off) {
            case .failure(let e): return .failure(e)
            case .success(let a):
                if total > size, case .failure(let e) = munmap(task, addr: a.raw + size, length: total - size) { return .failure(e) }
                return .success(a.raw)
            }
        }
        return mmap(task, addr: start, length: size, prot: p.prot, flags: flags, file: f, offset: off).map(\.raw)
    }

    /// Loads the interpreter (ld.so): its first segment where mmap puts it (top-down below
    /// mmap_base) unless it is ET_EXEC, the rest MAP_FIXED relative to it, each with its bss.
    /// Returns its load address (AT_BASE), or the first errno. Linux: load_elf_interp(), fs/binfmt_elf.c
    func loadElfInterp(_ task: Task, _ file: Inode, _ elf: ElfFile, noBase: UInt64) -> Result<UInt64, Errno> {
        var loadAddr: UInt64 = 0
        var loadAddrSet = false
        var totalSize = elf.totalMappingSize
        guard totalSize > 0 else { return .failure(.EINVAL) }
        for p in elf.loads {
            var flags: MapFlags = [.private]
            if elf.type == ET_EXEC || loadAddrSet {
                flags.insert(.fixed)
            } else if noBase != 0 && elf.type == ET_DYN {
                loadAddr = 0 &- p.vaddr
            }
            let r = elfLoad(task, file, loadAddr &+ p.vaddr, p, flags, totalSize)
            totalSize = 0
            guard case .success(let mapAddr) = r else { if case .failure(let e) = r { return .failure(e) }; return .failure(.EINVAL) }
            if !loadAddrSet && elf.type == ET_DYN {
                loadAddr = mapAddr &- (p.vaddr & PAGE_MASK)
                loadAddrSet = true
            }
            let k = loadAddr &+ p.vaddr
            guard k < phys.paging.taskSize, p.memsz <= phys.paging.taskSize, phys.paging.taskSize - p.memsz >= k else { return .failure(.ENOMEM) }
        }
        return .success(loadAddr)
    }

    /// Creates the stack VMA and writes the argument strings at its top: the filename, then the
    /// environment, then the arguments (highest first), 8 bytes below the stack top, which is
    /// STACK_TOP or its randomised form. The VMA covers the string pages plus 128 KiB, within
    /// RLIMIT_STACK. Returns ENOMEM/EFAULT when it cannot. Linux: bprm_mm_init(), copy_strings(),
    /// setup_arg_pages(), fs/exec.c
    func setupArgPages(_ task: Task, _ mm: MMStruct, _ bprm: inout LinuxBinprm) -> Result<Void, Errno> {
        var strings: [UInt8] = []
        for s in bprm.argv + bprm.envp + [bprm.filename] { strings += Array(s.utf8); strings.append(0) }
        var stackTop = randomizeStackTop(phys.paging.stackTop, randomize: bprm.randomize)
        stackTop = pageAlignUp(archAlignStack(stackTop, randomize: bprm.randomize)) ?? stackTop
        let p = stackTop - 8 - UInt64(strings.count)
        bprm.p = p
        bprm.exec = stackTop - 8 - UInt64(bprm.filename.utf8.count + 1)
        let vmStart = min(p & PAGE_MASK, stackTop - PAGE_SIZE)
        let rlim = mm.stackRlimit & PAGE_MASK
        let expand = min(rlim, (stackTop - vmStart) + STACK_EXPAND)
        let stackStart = min(vmStart, stackTop - expand)
        var prot: Prot = [.read, .write]
        if bprm.elf.execStack == true { prot.insert(.exec) }
        if case .failure(let e) = mmap(task, addr: stackStart, length: stackTop - stackStart, prot: prot,
                                      flags: [.private, .fixed, .anonymous, .growsdown]) { return .failure(e) }
        mm.argStart = p
        if case .failure = store(task, VirtAddr(p), strings) { return .failure(.EFAULT) }
        narrate("setup_arg_pages: stack \(VirtAddr(stackStart))-\(VirtAddr(stackTop)) (the argument pages + 128 KiB); "
            + "\(strings.count) bytes of argv/envp/filename strings below \(VirtAddr(stackTop - 8))")
        return .success(())
    }

    /// Maps the vDSO area top-down: [vvar] (4 pages), [vvar_vclock] (2) and [vdso] (2, r-x) as
    /// special mappings. Returns the [vdso] address (AT_SYSINFO_EHDR). Linux: map_vdso(),
    /// arch/x86/entry/vdso/vma.c; vdso_install_vvar_mapping(), lib/vdso/datastore.c (6.13+)
    func archSetupAdditionalPages(_ mm: MMStruct) -> Result<UInt64, Errno> {
        let vvarLen = VVAR_PAGES << PAGE_SHIFT, clockLen = VVAR_VCLOCK_PAGES << PAGE_SHIFT, vdsoLen = VDSO_PAGES << PAGE_SHIFT
        let base: UInt64
        switch getUnmappedArea(mm, file: nil, addr: 0, len: vvarLen + clockLen + vdsoLen, pgoff: 0, flags: []) {
        case .failure(let e): return .failure(e)
        case .success(let a): base = a
        }
        let vvarFlags: VMFlags = [.read, .mayread, .io, .pfnmap, .dontdump, .dontexpand]
        let text = base + vvarLen + clockLen
        guard installSpecialMapping(mm, base, vvarLen, vvarFlags, .vvar),
              installSpecialMapping(mm, base + vvarLen, clockLen, vvarFlags, .vvarVclock),
              installSpecialMapping(mm, text, vdsoLen, [.read, .exec, .mayread, .maywrite, .mayexec, .dontexpand], .vdso)
        else { return .failure(.ENOMEM) }
        narrate("vDSO: [vvar] \(VirtAddr(base)), [vvar_vclock] \(VirtAddr(base + vvarLen)), [vdso] \(VirtAddr(text)) (AT_SYSINFO_EHDR), top-down below what is mapped")
        return .success(text)
    }

    /// Inserts a named kernel mapping [start, start+len) with `flags` (no file, never merged);
    /// false when its vm_area_struct cannot be allocated. Linux: _install_special_mapping(), mm/mmap.c
    func installSpecialMapping(_ mm: MMStruct, _ start: UInt64, _ len: UInt64, _ flags: VMFlags, _ special: VMASpecial) -> Bool {
        guard vmAreaAlloc(mm) else { return false }
        _ = mm.vmas.insert(VMA(start: VirtAddr(start), end: VirtAddr(start + len), flags: flags, special: special))
        vmStatAccount(mm, flags, Int(len >> PAGE_SHIFT))
        mm.updateHiwater()
        return true
    }

    /// Writes the platform string, the 16 AT_RANDOM bytes, argc, the argv and envp pointer
    /// vectors and the auxiliary vector below the strings, 16-byte aligned, and records the auxv
    /// in `mm.savedAuxv`. Sets bprm.p to the final stack pointer (where argc is). Returns EFAULT
    /// when the stack cannot be written. Linux: create_elf_tables(), fs/binfmt_elf.c
    func createElfTables(_ task: Task, _ mm: MMStruct, _ bprm: inout LinuxBinprm, interpLoadAddr: UInt64, entry: UInt64,
                         phdrAddr: UInt64, vdso: UInt64) -> Result<Void, Errno> {
        var p = archAlignStack(bprm.p, randomize: bprm.randomize)
        let platform = Array("x86_64".utf8) + [0]
        p -= UInt64(platform.count)
        let uPlatform = p
        var rand: [UInt8] = []
        for _ in 0..<2 { rand += withUnsafeBytes(of: random.next().littleEndian, Array.init) }
        p -= 16
        let uRand = p
        let uid = UInt64(task.uid)
        let auxv: [AuxvEntry] = [
            AuxvEntry(type: AT_SYSINFO_EHDR, value: vdso), AuxvEntry(type: AT_MINSIGSTKSZ, value: MINSIGSTKSZ_VALUE),
            AuxvEntry(type: AT_HWCAP, value: ELF_HWCAP), AuxvEntry(type: AT_PAGESZ, value: PAGE_SIZE),
            AuxvEntry(type: AT_CLKTCK, value: 100), AuxvEntry(type: AT_PHDR, value: phdrAddr),
            AuxvEntry(type: AT_PHENT, value: ELF64_PHDR_SIZE), AuxvEntry(type: AT_PHNUM, value: UInt64(bprm.elf.phnum)),
            AuxvEntry(type: AT_BASE, value: interpLoadAddr), AuxvEntry(type: AT_FLAGS, value: 0),
            AuxvEntry(type: AT_ENTRY, value: entry), AuxvEntry(type: AT_UID, value: uid), AuxvEntry(type: AT_EUID, value: uid),
            AuxvEntry(type: AT_GID, value: uid), AuxvEntry(type: AT_EGID, value: uid), AuxvEntry(type: AT_SECURE, value: 0),
            AuxvEntry(type: AT_RANDOM, value: uRand), AuxvEntry(type: AT_HWCAP2, value: ELF_HWCAP2),
            AuxvEntry(type: AT_EXECFN, value: bprm.exec, string: bprm.filename),
            AuxvEntry(type: AT_PLATFORM, value: uPlatform, string: "x86_64"),
            AuxvEntry(type: AT_RSEQ_FEATURE_SIZE, value: 28), AuxvEntry(type: AT_RSEQ_ALIGN, value: 32),
        ]
        let eiWords = UInt64(auxv.count + 1) * 2
        let argc = UInt64(bprm.argv.count), envc = UInt64(bprm.envp.count)
        let items = (argc + 1) + (envc + 1) + 1
        let sp = (p - eiWords * 8 - items * 8) & ~0xf
        var words: [UInt64] = [argc]
        var s = bprm.p
        for a in bprm.argv { words.append(s); s += UInt64(a.utf8.count + 1) }
        words.append(0)
        mm.argEnd = s
        mm.envStart = s
        for e in bprm.envp { words.append(s); s += UInt64(e.utf8.count + 1) }
        words.append(0)
        mm.envEnd = s
        for a in auxv { words += [a.type, a.value] }
        words += [AT_NULL, 0]
        var bytes: [UInt8] = []
        bytes.reserveCapacity(words.count * 8)
        for w in words { bytes += withUnsafeBytes(of: w.littleEndian, Array.init) }
        if case .failure = store(task, VirtAddr(sp), bytes) { return .failure(.EFAULT) }
        if case .failure = store(task, VirtAddr(uRand), rand + platform) { return .failure(.EFAULT) }
        mm.savedAuxv = auxv
        bprm.p = sp
        narrate("create_elf_tables: argc \(argc) at \(VirtAddr(sp)), argv, envp, \(auxv.count) auxv entries (AT_PHDR \(VirtAddr(phdrAddr)), AT_ENTRY \(VirtAddr(entry)), AT_BASE \(VirtAddr(interpLoadAddr)), AT_RANDOM \(VirtAddr(uRand)))")
        return .success(())
    }
}
