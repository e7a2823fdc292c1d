/// /proc/PID/maps.
import MMCore

/// One line of /proc/PID/maps.
public struct MapsLine: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var read: Bool, write: Bool, exec: Bool
    /// VM_MAYSHARE: printed as 's', otherwise 'p'.
    public var mayShare: Bool
    /// File offset in bytes (0 for anonymous memory).
    public var offset: UInt64
    public var devMajor: UInt32, devMinor: UInt32
    public var inode: UInt64
    /// Path or special name ("[heap]"); nil for an unnamed anonymous mapping.
    public var name: String?

    public init(start: UInt64, end: UInt64, read: Bool, write: Bool, exec: Bool, mayShare: Bool,
                offset: UInt64 = 0, devMajor: UInt32 = 0, devMinor: UInt32 = 0, inode: UInt64 = 0,
                name: String? = nil) {
        self.start = start; self.end = end; self.read = read; self.write = write; self.exec = exec
        self.mayShare = mayShare; self.offset = offset; self.devMajor = devMajor; self.devMinor = devMinor
        self.inode = inode; self.name = name
    }
}

/// /proc/PID/maps: formatter and gatherer.
public enum Maps {
    /// Column where names start minus one: seq_setwidth(m, 25 + sizeof(void *) * 6 - 1) on 64-bit.
    static let padWidth = 25 + 8 * 6 - 1

    /// One maps line with its newline: the fixed fields, then (for named mappings) spaces up to
    /// column 72 — none if the fields are already longer — one more space and the name.
    /// Linux: show_vma_header_prefix() / show_map_vma(), fs/proc/task_mmu.c; seq_pad(), fs/seq_file.c
    public static func formatLine(_ l: MapsLine) -> String {
        var s = Fmt.hex(l.start, minDigits: 8) + "-" + Fmt.hex(l.end, minDigits: 8) + " "
        s += (l.read ? "r" : "-") + (l.write ? "w" : "-") + (l.exec ? "x" : "-") + (l.mayShare ? "s" : "p")
        s += " " + Fmt.hex(l.offset, minDigits: 8)
        s += " " + Fmt.hex(UInt64(l.devMajor), minDigits: 2) + ":" + Fmt.hex(UInt64(l.devMinor), minDigits: 2)
        s += " " + String(l.inode) + " "
        if let name = l.name {
            s = Fmt.left(s, padWidth) + " " + name
        }
        return s + "\n"
    }

    /// The whole file for these lines.
    public static func format(_ lines: [MapsLine]) -> String { lines.map(formatLine).joined() }

    /// seq_path() escaping: a newline in a path is printed as "\012".
    static func escapePath(_ p: String) -> String {
        p.contains("\n") ? p.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\012") : p
    }

    /// The name maps prints for a VMA: the file path, the special mapping's name, "[heap]" for the
    /// VMA overlapping [start_brk, brk), "[stack]" for the VMA containing start_stack, or nil.
    /// Linux: get_vma_name(), fs/proc/task_mmu.c; vma_is_initial_heap()/vma_is_initial_stack(),
    /// include/linux/mm.h (6.6+: the heap test is strict, an empty heap names nothing)
    public static func name(of vma: VMA, in mm: MMStruct) -> String? {
        if let f = vma.file { return escapePath(f.path) }
        switch vma.special {
        case .vvar: return "[vvar]"
        case .vvarVclock: return "[vvar_vclock]"
        case .vdso: return "[vdso]"
        case .vsyscall: return "[vsyscall]"
        case .vectors: return "[vectors]"
        case .sigpage: return "[sigpage]"
        case .heap: return "[heap]"
        case .stack: return "[stack]"
        case .none: break
        }
        if vma.start.raw < mm.brk && vma.end.raw > mm.startBrk { return "[heap]" }
        if mm.startStack != 0 && vma.start.raw <= mm.startStack && vma.end.raw >= mm.startStack { return "[stack]" }
        return nil
    }

    /// The maps line of one VMA. Linux: show_map_vma(), fs/proc/task_mmu.c
    public static func line(of vma: VMA, in mm: MMStruct) -> MapsLine {
        // A shared anonymous mapping is backed by an unlinked shmem file, "/dev/zero (deleted)" on
        // the internal shm mount (device 00:01); its inode number is the object's identity here
        // (Linux takes it from get_next_ino()). Linux: shmem_zero_setup(), mm/shmem.c
        // MAP_HUGETLB: an unlinked file on the internal hugetlbfs mount (hugetlb_file_setup(),
        // fs/hugetlbfs/inode.c); its device number here is a fixed 00:0f.
        if vma.hugetlbObject != 0 {
            return MapsLine(start: vma.start.raw, end: vma.end.raw,
                            read: vma.flags.contains(.read), write: vma.flags.contains(.write),
                            exec: vma.flags.contains(.exec), mayShare: vma.flags.contains(.mayshare),
                            offset: vma.pgoff << PAGE_SHIFT, devMajor: 0, devMinor: 15,
                            inode: vma.hugetlbObject, name: "/anon_hugepage (deleted)")
        }
        if vma.file == nil && vma.shmemObject != 0 {
            return MapsLine(start: vma.start.raw, end: vma.end.raw,
                            read: vma.flags.contains(.read), write: vma.flags.contains(.write),
                            exec: vma.flags.contains(.exec), mayShare: vma.flags.contains(.mayshare),
                            offset: vma.pgoff << PAGE_SHIFT, devMajor: 0, devMinor: 1,
                            inode: vma.shmemObject, name: "/dev/zero (deleted)")
        }
        return MapsLine(start: vma.start.raw, end: vma.end.raw,
                 read: vma.flags.contains(.read), write: vma.flags.contains(.write),
                 exec: vma.flags.contains(.exec), mayShare: vma.flags.contains(.mayshare),
                 offset: vma.file != nil ? vma.pgoff << PAGE_SHIFT : 0,
                 devMajor: vma.file?.devMajor ?? 0, devMinor: vma.file?.devMinor ?? 0,
                 inode: vma.file?.inode ?? 0, name: name(of: vma, in: mm))
    }

    /// The maps lines of a task, in address order (empty without an mm).
    public static func gather(_ t: Task) -> [MapsLine] {
        guard let mm = t.mm else { return [] }
        return mm.vmasWithGate.map { line(of: $0, in: mm) }
    }
}
