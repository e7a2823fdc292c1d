/// Creating and ending processes, and the user-visible memory accesses they make.

/// The segments of the program a process runs. The core loads no ELF file: it lays out a
/// dynamically linked program of these sizes the way exec and ld.so would (see the processes
/// work for real ELF loading).
public struct ProgramImage: Sendable, Equatable {
    /// Path shown in /proc/PID/maps.
    public var path: String
    /// Whether the program is position independent (loads at ELF_ET_DYN_BASE = 0x555555554000
    /// with ASLR off) or fixed at 0x400000.
    public var pie: Bool
    /// Bytes of text (r-x), read-only data (r--), initialised data (rw-) and bss.
    public var textBytes: UInt64, rodataBytes: UInt64, dataBytes: UInt64, bssBytes: UInt64
    /// Offset of the instruction the program is executing, within its text (the `ip` of segfault lines).
    public var ipOffset: UInt64
    /// Arguments and environment copied onto the new stack.
    public var argv: [String]
    public var envp: [String]
    public init(path: String, pie: Bool = true, textBytes: UInt64 = 0x1000, rodataBytes: UInt64 = 0x1000,
                dataBytes: UInt64 = 0x1000, bssBytes: UInt64 = 0x10, ipOffset: UInt64 = 0x139,
                argv: [String]? = nil, envp: [String] = ["HOME=/home/user", "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin"]) {
        self.path = path; self.pie = pie; self.textBytes = textBytes; self.rodataBytes = rodataBytes
        self.dataBytes = dataBytes; self.bssBytes = bssBytes; self.ipOffset = ipOffset
        self.argv = argv ?? [path]; self.envp = envp
    }
    /// The last path component (task->comm).
    public var baseName: String { path.split(separator: "/").last.map(String.init) ?? path }
}

/// Why a user memory access did not complete.
public enum AccessFailure: Error, Equatable, Sendable {
    /// The task was killed by SIGSEGV (or SIGBUS) at this address.
    case signal(Signal, VirtAddr)
    /// The task was killed by the OOM killer while faulting.
    case oomKilled
    /// The machine panicked (panic_on_oom).
    case panic
    /// The task is not running.
    case notRunning
}

/// A shared library the default image maps, with its segment layout (sizes of glibc 2.36 on x86-64).
struct LibraryImage {
    var path: String
    var inode: UInt64
    /// (file offset, size, prot) of each PT_LOAD segment, in order.
    var segments: [(UInt64, UInt64, Prot)]
    /// Bytes of anonymous bss after the last segment.
    var bss: UInt64
    var total: UInt64 { segments.last.map { $0.0 + $0.1 } ?? 0 }
    /// The same library under the machine's multiarch directory and dynamic-loader name
    /// (/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1, /usr/lib/riscv64-linux-gnu/
    /// ld-linux-riscv64-lp64d.so.1); the segment sizes stay those of x86-64 glibc 2.36.
    func forArch(_ f: PageTableFormat) -> LibraryImage {
        var l = self
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let loader = name.hasPrefix("ld-linux")
        switch f.encoding {
        case .x86_64: break
        case .arm64: l.path = "/usr/lib/aarch64-linux-gnu/" + (loader ? "ld-linux-aarch64.so.1" : name)
        case .riscv: l.path = "/usr/lib/riscv64-linux-gnu/" + (loader ? "ld-linux-riscv64-lp64d.so.1" : name)
        // i386: Debian's paths; the segment sizes of the x86-64 build are reused (not the i386 build's).
        case .x86_32, .x86PAE: l.path = "/usr/lib/i386-linux-gnu/" + (loader ? "ld-linux.so.2" : name)
        // armhf (Debian's hard-float EABI port); segment sizes of the x86-64 build again.
        case .arm32: l.path = "/usr/lib/arm-linux-gnueabihf/" + (loader ? "ld-linux-armhf.so.3" : name)
        }
        return l
    }
    static let ldso = LibraryImage(path: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", inode: 1_835_011,
        segments: [(0, 0x1000, .read), (0x1000, 0x26000, [.read, .exec]), (0x27000, 0xa000, .read),
                   (0x31000, 0x2000, .read), (0x33000, 0x2000, [.read, .write])], bss: 0)
    static let libc = LibraryImage(path: "/usr/lib/x86_64-linux-gnu/libc.so.6", inode: 1_835_032,
        segments: [(0, 0x26000, .read), (0x26000, 0x155000, [.read, .exec]), (0x17b000, 0x54000, .read),
                   (0x1cf000, 0x4000, .read), (0x1d3000, 0x2000, [.read, .write])], bss: 0xd000)
}

extension Kernel {
    // MARK: - Process creation

    /// Creates a process running `image`, as fork + execve + ld.so would leave it: the program's
    /// segments at ELF_ET_DYN_BASE (or 0x400000), the heap start after its bss, the stack at the top
    /// of user space with argv and envp written to it, ld.so, the vDSO and libc mapped top-down
    /// below mmap_base. Returns ENOMEM when memory or commit charge runs out on the way.
    /// Linux: kernel_clone() + load_elf_binary(), fs/binfmt_elf.c
    public func spawn(_ image: ProgramImage) -> Result<Task, Errno> {
        guard panicMessage == nil else { return .failure(.ENOMEM) }
        guard let mm = mmAlloc(for: nil) else { return .failure(.ENOMEM) }
        archPickMmapLayout(mm)
        guard let task = copyProcess(comm: image.baseName, mm: mm) else {
            mmdrop(mm)
            return .failure(.ENOMEM)
        }
        task.image = image
        task.cmdline = image.argv
        let saved = explain
        explain = nil
        switchTo(task)
        let faults0 = vmstat.pgfault
        let result = execLayout(task, mm, image)
        explain = saved
        if case .failure(let e) = result {
            exitTask(task, status: 127)
            return .failure(e)
        }
        narrate("execve: \(mm.vmas.count) VMAs for the program, its bss, the stack, ld.so, the vDSO and libc; "
            + "mmap_base \(VirtAddr(mm.mmapBase)), start_brk \(VirtAddr(mm.startBrk)), stack top \(VirtAddr(mm.mapWindow)); "
            + "\(vmstat.pgfault - faults0) page faults while loading (argv/envp copied, entry code and data touched)")
        return .success(task)
    }

    /// Maps the program, the stack, ld.so, the vDSO and libc into `mm`. Returns the first errno.
    func execLayout(_ task: Task, _ mm: MMStruct, _ image: ProgramImage) -> Result<Void, Errno> {
        // 1. The program: headers r--, text r-x, rodata r--, data rw- (gcc's -z separate-code layout).
        // x86-64 (and the 64-bit formats): a PIE at ELF_ET_DYN_BASE, else 0x400000;
        // ia32: a PIE at ELF_ET_DYN_BASE (0x400000), else the i386 link address 0x08048000.
        let base: UInt64 = image.pie ? phys.paging.elfEtDynBase : phys.paging.encoding == .arm32 ? ARM_TEXT_BASE : (mm.ia32 ? I386_TEXT_BASE : 0x40_0000)
        guard let text = pageAlignUp(image.textBytes), let ro = pageAlignUp(image.rodataBytes),
              let data = pageAlignUp(max(image.dataBytes, 1)) else { return .failure(.ENOMEM) }
        // The program file: one inode per path, so that processes running it share its page cache.
        let exe = imageFile(image.path, size: 0x1000 &+ text &+ ro &+ data, ino: 1_048_600 + UInt64(task.pid))
        var off: UInt64 = 0
        let segs: [(UInt64, Prot)] = [(0x1000, .read), (text, [.read, .exec]), (ro, .read), (data, [.read, .write])]
        for (size, prot) in segs where size > 0 {
            guard base &+ off &+ size < mm.mapWindow else { return .failure(.ENOMEM) }
            if case .failure(let e) = mmap(task, addr: base + off, length: size, prot: prot, flags: [.private, .fixed], file: exe, offset: off) { return .failure(e) }
            off += size
        }
        mm.startCode = base + 0x1000
        mm.endCode = base + 0x1000 + image.textBytes
        mm.startData = base + 0x1000 + text + ro
        mm.endData = mm.startData + image.dataBytes
        // bss past the last file page is anonymous memory (vm_brk_flags in load_elf_binary).
        let bssEnd = mm.endData &+ image.bssBytes
        guard let bssEndAligned = pageAlignUp(bssEnd) else { return .failure(.ENOMEM) }
        let fileEnd = base + off
        if bssEndAligned > fileEnd {
            if case .failure(let e) = vmBrkFlags(mm, fileEnd, bssEndAligned - fileEnd) { return .failure(e) }
        }
        mm.startBrk = max(bssEndAligned, fileEnd)
        mm.brk = mm.startBrk
        // 2. The stack: 128 KiB below the argument page (setup_arg_pages' stack_expand).
        let stackTop = phys.paging.stackTop
        if case .failure(let e) = mmap(task, addr: stackTop - 0x21000, length: 0x21000, prot: [.read, .write],
                                      flags: [.private, .fixed, .anonymous, .growsdown]) { return .failure(e) }
        // 3. ld.so, then the vDSO ([vvar] 4 pages + [vdso] 2 pages), then what ld.so maps.
        guard case .success = mapLibrary(task, LibraryImage.ldso.forArch(phys.paging)) else { return .failure(.ENOMEM) }
        // 32-bit ARM: [sigpage] (r-x), then [vvar] and [vdso] (r-x) of one page each, in one
        // top-down range. Linux: arch_setup_additional_pages(), arch/arm/kernel/process.c; arm_install_vdso(), arch/arm/kernel/vdso.c
        let arm = phys.paging.encoding == .arm32
        switch mmap(task, addr: 0, length: arm ? 0x3000 : 0x6000, prot: .read, flags: [.private, .anonymous]) {
        case .failure(let e): return .failure(e)
        case .success(let v) where arm:
            _ = mprotect(task, addr: v.raw, length: 0x1000, prot: [.read, .exec])
            _ = mprotect(task, addr: v.raw + 0x2000, length: 0x1000, prot: [.read, .exec])
            markSpecial(mm, VirtAddr(v.raw), .sigpage)
            markSpecial(mm, VirtAddr(v.raw + 0x1000), .vvar)
            markSpecial(mm, VirtAddr(v.raw + 0x2000), .vdso)
        case .success(let v):
            _ = mprotect(task, addr: v.raw + 0x4000, length: 0x2000, prot: [.read, .exec])
            markSpecial(mm, VirtAddr(v.raw), .vvar)
            markSpecial(mm, VirtAddr(v.raw + 0x4000), .vdso)
        }
        if case .failure(let e) = mmap(task, addr: 0, length: 0x2000, prot: [.read, .write], flags: [.private, .anonymous]) { return .failure(e) }
        guard case .success = mapLibrary(task, LibraryImage.libc.forArch(phys.paging)) else { return .failure(.ENOMEM) }
        // Static TLS block and DTV that ld.so allocates for the main thread.
        if case .failure(let e) = mmap(task, addr: 0, length: 0x3000, prot: [.read, .write], flags: [.private, .anonymous]) { return .failure(e) }
        // 4. argv and envp strings at the top of the stack, the pointer vectors below them.
        var strings: [UInt8] = []
        for s in image.argv + image.envp { strings += Array(s.utf8); strings.append(0) }
        let stringsStart = (stackTop - 8 - UInt64(strings.count)) & ~0xf
        let vectorWords = UInt64(1 + image.argv.count + 1 + image.envp.count + 1 + 2 * 20)
        mm.startStack = (stringsStart - vectorWords * mm.pointerBytes) & ~0xf
        mm.argStart = stringsStart
        mm.argEnd = stringsStart + UInt64(image.argv.reduce(0) { $0 + $1.utf8.count + 1 })
        mm.envStart = mm.argEnd
        mm.envEnd = stringsStart + UInt64(strings.count)
        if case .failure = store(task, VirtAddr(stringsStart), strings) { return .failure(.ENOMEM) }
        let argc: [UInt8] = mm.ia32 ? withUnsafeBytes(of: UInt32(image.argv.count).littleEndian, Array.init)
                                    : withUnsafeBytes(of: UInt64(image.argv.count).littleEndian, Array.init)
        if case .failure = store(task, VirtAddr(mm.startStack), argc) { return .failure(.ENOMEM) }
        task.sp = mm.startStack
        task.ip = mm.startCode + min(image.ipOffset, max(image.textBytes, 1) - 1)
        // 5. What running the dynamic loader touches: the headers and first text page, the data page.
        for (va, kind) in [(base, AccessKind.read), (mm.startCode, .exec), (mm.startData, .write)] {
            if case .failure = access(task, VirtAddr(va), kind) { return .failure(.ENOMEM) }
        }
        return .success(())
    }

    /// Maps a shared library as ld.so does: reserve the whole extent, then map each segment
    /// MAP_FIXED with its protection, then the anonymous bss. Returns the load address.
    func mapLibrary(_ task: Task, _ lib: LibraryImage) -> Result<VirtAddr, Errno> {
        let file = imageFile(lib.path, size: lib.total, ino: lib.inode)
        let extent = lib.total + lib.bss
        let base: VirtAddr
        switch mmap(task, addr: 0, length: extent, prot: .read, flags: [.private, .denywrite], file: file, offset: 0) {
        case .failure(let e): return .failure(e)
        case .success(let b): base = b
        }
        for (off, size, prot) in lib.segments.dropFirst() {
            if case .failure(let e) = mmap(task, addr: base.raw + off, length: size, prot: prot, flags: [.private, .fixed, .denywrite], file: file, offset: off) { return .failure(e) }
        }
        if lib.bss > 0 {
            if case .failure(let e) = mmap(task, addr: base.raw + lib.total, length: lib.bss, prot: [.read, .write], flags: [.private, .fixed, .anonymous]) { return .failure(e) }
        }
        return .success(base)
    }

    /// The file a synthetic image maps: the inode already at `path` (grown to `size` if smaller),
    /// else a new zero-filled disk file with inode number `ino` on 8:1 (a relative path such as
    /// "./prog" is kept as written). Returns what VMAs record.
    func imageFile(_ path: String, size: UInt64, ino: UInt64) -> MappedFile {
        if let i = fs.lookup(path) {
            if i.size < size && i.kind == .disk { i.size = size }
            return i.mappedFile
        }
        if let i = try? fs.register(path: path, size: min(size, FileSystem.maxFileSize), ino: ino, dev: FileSystem.diskDevice) {
            i.isProgramImage = true
            return i.mappedFile
        }
        return MappedFile(path: path, devMajor: 8, devMinor: 1, inode: ino)
    }

    /// Turns the VMA starting at `start` into a special mapping ([vvar]/[vdso]): named, and never
    /// merged with its neighbours (VM_DONTEXPAND, and VM_IO|VM_PFNMAP for [vvar]).
    /// Linux: _install_special_mapping(), mm/mmap.c
    func markSpecial(_ mm: MMStruct, _ start: VirtAddr, _ kind: VMASpecial) {
        guard let i = mm.vmas.findVMAIndex(start), mm.vmas.vmas[i].start == start else { return }
        var v = mm.vmas.vmas[i]
        v.special = kind
        v.flags.insert(.dontexpand)
        v.flags.remove(.maywrite)
        if kind == .vvar { v.flags.insert([.io, .pfnmap, .dontdump]) }
        mm.vmas.replace(at: i, with: v)
    }

    // MARK: - User memory access

    /// Performs one user access of `kind` to `va`: translates through the MMU and takes page
    /// faults until the access succeeds. Returns the physical address, or why the task could not
    /// complete it (it was killed by SIGSEGV or the OOM killer, or the machine panicked).
    public func access(_ task: Task, _ va: VirtAddr, _ kind: AccessKind) -> Result<PhysAddr, AccessFailure> {
        guard panicMessage == nil else { return .failure(.panic) }
        guard task.state.isAlive, task.mm != nil, task.vforkChild == nil else { return .failure(.notRunning) }
        if current !== task { switchTo(task) }   // (switchTo returns at once for the current task)
        // The MMU of the CPU the task runs on; the CPUs and their MMUs live as long as the kernel
        // (`cpus` and `CPU.mmu` are constants), so the loop holds it without a reference count.
        let cpuMMU = Unmanaged.passUnretained(mmu)
        var faults = 0
        var narrated = false
        while true {
            switch cpuMMU._withUnsafeGuaranteedRef({ $0.translate(va, kind, user: true, mem: phys) }) {
            case .ok(let pa):
                if narrated {
                    narrate("[8] back in user mode the instruction is restarted: \(va) now translates to physical \(pa)")
                }
                return .success(pa)
            case .fault(let code):
                faults += 1
                if faults > 8 {
                    // A fault that handling cannot resolve: the kernel would loop; we stop the task.
                    killTask(task, signal: .SIGBUS)
                    return .failure(.signal(.SIGBUS, va))
                }
                // Narrate the first few faults of a step in full; handle the rest silently.
                let saved = explain
                if saved != nil {
                    if explainFaultsLeft > 0 {
                        explainFaultsLeft -= 1
                        narrated = true
                        narrateFaultEntry(task, va, kind, code)
                    } else {
                        explainFaultsSuppressed += 1
                        explain = nil
                    }
                }
                // (Nothing on the fault path sets `explain`: when it was nil there is nothing to restore.)
                defer { if saved != nil { explain = saved } }
                let result = doUserAddrFault(task, va, code)
                if reclaim.kswapdWoken { kswapdRunIfWoken() }   // (which returns at once otherwise)
                switch result {
                case .minor, .major:
                    continue
                case .sigsegv(let si):
                    task.fatalSegvCode = si
                    logSegfault(task, va, code)
                    killTask(task, signal: .SIGSEGV)
                    return .failure(.signal(.SIGSEGV, va))
                case .sigbus:
                    killTask(task, signal: .SIGBUS)
                    return .failure(.signal(.SIGBUS, va))
                case .oom:
                    if panicMessage != nil { return .failure(.panic) }
                    if task.state.isAlive { killTask(task, signal: .SIGKILL) }
                    return .failure(.oomKilled)
                }
            }
        }
    }

    /// Narrates steps 2–6 of a page fault (the access, the walk, the #PF, the handler).
    func narrateFaultEntry(_ task: Task, _ va: VirtAddr, _ kind: AccessKind, _ code: PFErrorCode) {
        guard let mm = task.mm else { return }
        let verb = kind == .write ? "writes" : kind == .exec ? "executes" : "reads"
        if !code.contains(.prot), let s = phys.walk(mm.pgd, va), phys.readPTE(s).isSwap {
            narrate("[1] the page was swapped out by reclaim: its PTE holds a swap entry instead of a frame")
        } else if !code.contains(.prot), phys.paging.encoding == .arm32, let s = phys.walk(mm.pgd, va), phys.readPTE(s).isPresent {
            narrate("[1] the page is mapped, but its PTE is old (L_PTE_YOUNG clear), so set_pte_ext left the hardware entry 0")
        } else if !code.contains(.prot) {
            narrate("[1] the address was handed out earlier (by mmap, brk, malloc or exec) with no physical page behind it")
        }
        narrate("[2] \(task.comm)[\(task.pid)] \(verb) virtual address \(va)")
        let f = phys.paging
        let idx = (0..<f.levels).map { "\(f.linuxName($0)) \(f.index(va, level: $0))" }.joined(separator: ", ")
        narrate("[3] the MMU splits it: \(idx), offset 0x\(String(va.pageOffset, radix: 16)); no TLB entry")
        var table = mm.pgd
        var walkText = "[4] page walk from \(f.rootRegister) (PGD at PFN \(table)):"
        for level in 0..<f.levels {
            let i = f.index(va, level: level)
            let e = phys.readEntry(table, i, level: level)
            if f.encoding == .x86_64 {
                walkText += " \(f.linuxName(level))[\(i)] = \(e.isNone ? "empty" : e.description);"
            } else {
                let raw = f.readRaw(phys.contents, table, i, level: level)
                walkText += " \(f.linuxName(level))[\(i)] = \(raw == 0 ? "empty" : "0x" + String(raw, radix: 16) + " " + f.describe(raw, level: level));"
            }
            if !e.isPresent || level == f.pteLevel || e.isHuge { break }
            table = e.pfn
        }
        narrate(walkText)
        var bits: [String] = []
        bits.append(code.contains(.prot) ? "protection violation" : "page not present")
        bits.append(code.contains(.write) ? "write" : code.contains(.instr) ? "instruction fetch" : "read")
        bits.append(code.contains(.user) ? "user mode" : "kernel mode")
        if f.encoding == .arm32 {
            // ARMv7 fault status (short descriptors): FS 0x5/0x7 translation fault (section/page),
            // 0xd/0xf permission fault; DFSR.WnR (bit 11) for a write.
            let l1Present = phys.readEntry(mm.pgd, f.index(va, level: 0), level: 0).isPresent
            let fs: UInt32 = code.contains(.prot) ? (l1Present && !phys.readEntry(mm.pgd, f.index(va, level: 0), level: 0).isHuge ? 0xf : 0xd) : (l1Present ? 0x7 : 0x5)
            let fetch = code.contains(.instr)
            let fsr = fs | (code.contains(.write) ? 0x800 : 0)
            narrate("[5] the MMU raises a \(fetch ? "prefetch" : "data") abort: \(code.contains(.prot) ? "permission" : "translation") fault, \(fetch ? "IFSR" : "DFSR") = 0x\(String(fsr, radix: 16)) (\(bits.joined(separator: ", "))), \(fetch ? "IFAR" : "DFAR") = \(va)")
            narrate("[6] the CPU enters the kernel's abort handler: \(fetch ? "do_PrefetchAbort" : "do_DataAbort") → \(code.contains(.prot) || l1Present ? "do_page_fault" : "do_translation_fault → do_page_fault")")
        } else {
            narrate("[5] the MMU raises a page fault (#PF), error code \(code.rawValue) (\(bits.joined(separator: ", "))), CR2 = \(va)")
            narrate("[6] the CPU enters the kernel's page-fault handler: exc_page_fault → do_user_addr_fault")
        }
        narrate("[7] the kernel handles it:")
    }

    /// Logs the x86 segfault line for a fatal SIGSEGV.
    /// Linux: show_signal_msg(), arch/x86/mm/fault.c (6.1+ format, with "likely on CPU")
    func logSegfault(_ task: Task, _ va: VirtAddr, _ code: PFErrorCode) {
        func hex16(_ v: UInt64) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: max(0, 16 - s.count)) + s }
        var line = "\(task.comm)[\(task.pid)]: segfault at \(String(va.raw, radix: 16)) ip \(hex16(task.ip)) sp \(hex16(task.sp)) error \(String(code.rawValue, radix: 16))"
        if let vma = task.mm?.vmas.vmaLookup(VirtAddr(task.ip)), let f = vma.file {
            let name = f.path.split(separator: "/").last.map(String.init) ?? f.path
            line += " in \(name)[\(String(vma.start.raw, radix: 16))+\(String(vma.length, radix: 16))]"
        }
        line += " likely on CPU \(task.cpu) (core \(task.cpu), socket 0)"
        printk(line)
    }

    /// Writes `bytes` at `va` (faulting pages in); every byte reads back the same afterwards.
    /// Returns why the task could not complete the store, if it could not.
    public func store(_ task: Task, _ va: VirtAddr, _ bytes: [UInt8]) -> Result<Void, AccessFailure> {
        guard va.adding(UInt64(bytes.count)) != nil else { return .failure(.signal(.SIGSEGV, va)) }
        var i = 0
        while i < bytes.count {
            let cur = VirtAddr(va.raw + UInt64(i))
            let pa: PhysAddr
            switch access(task, cur, .write) {
            case .failure(let f): return .failure(f)
            case .success(let p): pa = p
            }
            let n = min(bytes.count - i, Int(PAGE_SIZE - cur.pageOffset))
            for j in 0..<n { phys.contents.writeByte(PhysAddr(pa.raw + UInt64(j)), bytes[i + j]) }
            i += n
        }
        return .success(())
    }

    /// Reads `count` bytes at `va` (faulting pages in). Returns the bytes, or why the task could
    /// not complete the load.
    public func load(_ task: Task, _ va: VirtAddr, count: Int) -> Result<[UInt8], AccessFailure> {
        guard count >= 0, va.adding(UInt64(count)) != nil else { return .failure(.signal(.SIGSEGV, va)) }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            let cur = VirtAddr(va.raw + UInt64(i))
            let pa: PhysAddr
            switch access(task, cur, .read) {
            case .failure(let f): return .failure(f)
            case .success(let p): pa = p
            }
            let n = min(count - i, Int(PAGE_SIZE - cur.pageOffset))
            for j in 0..<n { out.append(phys.contents.readByte(PhysAddr(pa.raw + UInt64(j)))) }
            i += n
        }
        return .success(out)
    }

    /// Touches every page of [start, start+length) with an access of `kind`, as a memset or a
    /// read loop would. Returns why the task stopped, if it did.
    public func touch(_ task: Task, _ start: VirtAddr, length: UInt64, _ kind: AccessKind) -> Result<Void, AccessFailure> {
        guard length > 0 else { return .success(()) }
        guard let end = start.adding(length) else { return .failure(.signal(.SIGSEGV, start)) }
        var va = start.raw
        while va < end.raw {
            if case .failure(let f) = access(task, VirtAddr(va), kind) { return .failure(f) }
            va = (va & PAGE_MASK) &+ PAGE_SIZE
            if va == 0 { break }
        }
        return .success(())
    }

    // MARK: - Process exit

    /// Ends a task normally: tears down its mm. Linux: do_exit() → exit_mm() → mmput(), kernel/exit.c
    public func exitTask(_ task: Task, status: Int32) {
        guard task.state.isAlive else { return }
        task.state = .exited(status)
        mmRelease(task)
        releaseMM(task)
        freeTaskObjects(task)
    }

    /// Kills a task and every other thread of its group with a signal (a fatal signal ends the
    /// whole thread group), tearing down their mm with the last user (the OOM reaper's effect is
    /// immediate). Linux: do_group_exit() via get_signal(), kernel/exit.c
    public func killTask(_ task: Task, signal: Signal) {
        guard task.state.isAlive else { return }
        for t in allTasks where t.tgid == task.tgid && t.state.isAlive {
            t.state = .killed(signal)
            // A parent killed while it waits in vfork() no longer waits.
            if let c = t.vforkChild { c.vforkParent = nil; t.vforkChild = nil }
            mmRelease(t)
            releaseMM(t)
            freeTaskObjects(t)
        }
    }

    /// Drops the task's mm reference, tearing the address space down with the last user.
    /// Linux: mmput() → __mmput() → exit_mmap(), kernel/fork.c
    func releaseMM(_ task: Task) {
        guard let mm = task.mm else { return }
        task.mm = nil
        mm.mmUsers -= 1
        // A task that exits while running keeps its mm as active_mm (an mm_count reference) until
        // the CPU switches away from it: the next task may borrow it (lazy TLB).
        if let c = cpuRunning(task) {
            task.activeMM = mm
            mm.mmCount += 1
            // exit_mm(): the exiting task's CPU keeps the mm loaded in lazy TLB mode.
            enterLazyTLB(cpus[c])
        }
        if mm.mmUsers == 0 {
            task.malloc = MallocState()
            exitMMap(mm)
            mmdrop(mm)
        }
    }

    // MARK: - Invariants

    /// Runs every invariant check and returns the violations (empty when all hold): frame
    /// accounting, page tables against mem_map and RSS counters, VMAs, and mapped pages inside VMAs.
    public func checkInvariants() -> [String] {
        var out = phys.invariantViolations()
        out += tlbInvariantViolations()
        out += pageCacheInvariantViolations()
        out += slabInvariantViolations()
        out += lruInvariantViolations()
        out += hugetlbInvariantViolations()
        var swapRefs: [UInt64: Int] = [:]
        var mapped = [Int32](repeating: 0, count: phys.frameCount)
        var tables = 0
        var seen = Set<ObjectIdentifier>()
        for t in allTasks {
            // Threads share one mm: check each address space once.
            guard let mm = t.mm, seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            out += mm.invariantViolations().map { "pid \(t.pid): \($0)" }
            // x86-32: the kernel half of every PGD is swapper_pg_dir's (pgd_ctor).
            if let kt = kernelTables32 {
                let f = phys.paging
                for i in f.userRootEntries..<f.entries(0)
                where f.readRaw(phys.contents, mm.pgd, i, level: 0) != f.readRaw(phys.contents, kt.swapperPgDir, i, level: 0) {
                    out.append("pid \(t.pid): PGD entry \(i) differs from swapper_pg_dir's")
                }
            }
            var rss = RSSCounters()
            var ptPages = 0
            countTables(mm.pgd, level: 0, &ptPages)
            ptPages += mm.hugePMDDeposits.count
            tables += ptPages + phys.paging.rootFrames
            if ptPages * Int(PAGE_SIZE) != mm.pgtablesBytes {
                out.append("pid \(t.pid): \(ptPages) page-table pages below the PGD but pgtables_bytes = \(mm.pgtablesBytes)")
            }
            forEachPresentPTE(mm, VirtAddr(0), VirtAddr(mm.taskSize)) { va, _, pte in
                if pte.isSwap { swapRefs[pte.swapEntry.val, default: 0] += 1; rss.swapents += 1; return }
                guard pte.isPresent else { return }
                if mm.vmas.vmaLookup(va) == nil { out.append("pid \(t.pid): \(va) is mapped outside every VMA") }
                let pfn = pte.pfn
                if pfn == zeroPFN {
                    if pte.isWritable { out.append("pid \(t.pid): zero page mapped writable at \(va)") }
                    return
                }
                guard pfn.index < phys.frameCount else { out.append("pid \(t.pid): PTE at \(va) points past RAM"); return }
                mapped[pfn.index] += 1
                let f = phys.memMap.flags[pfn.index]
                if f.contains(.anon) { rss.anon += 1 } else if f.contains(.swapbacked) { rss.shmem += 1 } else { rss.file += 1 }
                if phys.memMap.refcount[pfn.index] <= 0 { out.append("pid \(t.pid): \(va) maps PFN \(pfn) with refcount \(phys.memMap.refcount[pfn.index])") }
            }
            forEachHugePMD(mm, VirtAddr(0), VirtAddr(mm.taskSize)) { haddr, _, e in
                if mm.vmas.vmaLookup(VirtAddr(haddr)) == nil || mm.vmas.vmaLookup(VirtAddr(haddr &+ HPAGE_PMD_SIZE - 1)) == nil {
                    out.append("pid \(t.pid): huge PMD at \(VirtAddr(haddr)) maps outside every VMA")
                }
                if isHugeZeroPFN(e.pfn) {
                    if e.isWritable { out.append("pid \(t.pid): huge zero page mapped writable at \(VirtAddr(haddr))") }
                    return
                }
                guard e.pfn.index + HPAGE_PMD_NR <= phys.frameCount else { out.append("pid \(t.pid): huge PMD at \(VirtAddr(haddr)) points past RAM"); return }
                for i in e.pfn.index..<(e.pfn.index + HPAGE_PMD_NR) {
                    mapped[i] += 1
                    if phys.memMap.refcount[i] <= 0 { out.append("pid \(t.pid): huge PMD at \(VirtAddr(haddr)) maps PFN \(PFN(index: i)) with refcount \(phys.memMap.refcount[i])"); break }
                }
                rss.anon += HPAGE_PMD_NR
            }
            if rss != mm.rss { out.append("pid \(t.pid): RSS counters \(mm.rss) but page tables map \(rss)") }
        }
        for i in 0..<phys.frameCount where mapped[i] != phys.memMap.mapcount[i] && PFN(index: i) != zeroPFN {
            if !phys.memMap.flags[i].contains(.pageTable) {
                out.append("PFN \(PFN(index: i)): mapcount \(phys.memMap.mapcount[i]) but \(mapped[i]) PTEs map it")
            }
        }
        // PGDs kept alive only by kernel threads running on a borrowed mm (mm_users 0, mm_count > 0).
        for t in allTasks where t.mm == nil {
            if let b = t.activeMM, b.mmUsers == 0, seen.insert(ObjectIdentifier(b)).inserted { tables += phys.paging.rootFrames }
        }
        out += swapInvariantViolations(swapRefs: swapRefs)
        out += rmapInvariantViolations()
        out += hugePMDInvariantViolations()
        if tables != stat.nrPageTable { out.append("NR_PAGETABLE = \(stat.nrPageTable) but \(tables) page-table pages are in use") }
        return out
    }

    /// Counts the page-table pages below `table` (excluding it).
    private func countTables(_ table: PFN, level: Int, _ n: inout Int) {
        let f = phys.paging
        guard level < f.pteLevel else { return }
        let limit = level == 0 ? f.userRootEntries : f.entries(level)
        for i in 0..<limit {
            let e = phys.readEntry(table, i, level: level)
            if e.isPresent && !e.isHuge { n += 1; countTables(e.pfn, level: level + 1, &n) }
        }
    }
}
