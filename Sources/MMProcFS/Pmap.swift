import MMCore

/// pmap(1) from procps-ng 4.0: the memory map of a process, one line per mapping, in the default
/// format or the extended (`-x`) one with RSS and dirty kilobytes per mapping.
public enum Pmap {
    /// One mapping as pmap prints it.
    public struct Row: Sendable, Equatable {
        public var start: UInt64
        public var kbytes: UInt64
        public var rssKB: UInt64
        public var dirtyKB: UInt64
        /// Five characters: r, w, x, s (shared) or '-', and '-'.
        public var mode: String
        /// The file's base name, "  [ stack ]" or "  [ anon ]".
        public var mapping: String
    }

    /// The mode column: the maps permissions with 's' for a shared mapping and a fifth '-'.
    /// procps: pmap.c, the flags[] built from the maps permissions.
    static func mode(_ l: MapsLine) -> String {
        (l.read ? "r" : "-") + (l.write ? "w" : "-") + (l.exec ? "x" : "-") + (l.mayShare ? "s" : "-") + "-"
    }

    /// The mapping column: a file's base name (the maps name after its last '/'), else
    /// "  [ stack ]" for the mapping holding start_stack and "  [ anon ]" for everything else —
    /// pmap names neither [heap], [vdso] nor [vsyscall]. procps: mapping_name(), pmap.c
    static func mappingName(_ l: MapsLine, startStack: UInt64) -> String {
        if let n = l.name, let slash = n.lastIndex(of: "/") {
            let base = n[n.index(after: slash)...]
            return base.isEmpty ? "/" : String(base)
        }
        if startStack >= l.start && startStack <= l.end { return "  [ stack ]" }
        return "  [ anon ]"
    }

    /// The rows of a task's map (empty for a task without an mm).
    public static func gather(_ k: Kernel, _ t: Task) -> [Row] {
        guard let mm = t.mm else { return [] }
        return Smaps.gather(k, t).map { e in
            let c = e.counts
            return Row(start: e.header.start, kbytes: e.size >> 10, rssKB: c.resident >> 10,
                       dirtyKB: (c.sharedDirty + c.privateDirty) >> 10, mode: mode(e.header),
                       mapping: mappingName(e.header, startStack: mm.startStack))
        }
    }

    /// The header line: "PID:   command line" (a kernel thread's name in brackets).
    static func header(_ t: Task) -> String {
        let cmd: String
        if t.isKernelThread || t.mm == nil { cmd = "[\(t.comm)]" } else { cmd = (t.cmdline.isEmpty ? [t.comm] : t.cmdline).joined(separator: " ") }
        return "\(t.pid):   \(cmd)\n"
    }

    /// `pmap PID` or, with `extended`, `pmap -x PID`, as procps-ng 4.0.2 prints them on x86-64.
    public static func format(_ k: Kernel, _ t: Task, extended: Bool) -> String {
        let rows = gather(k, t)
        var s = header(t)
        if extended {
            s += "Address           Kbytes     RSS   Dirty Mode  Mapping\n"
            var total = (kb: UInt64(0), rss: UInt64(0), dirty: UInt64(0))
            for r in rows {
                s += Fmt.hex(r.start, minDigits: 16) + " " + Fmt.dec(r.kbytes, 7) + " " + Fmt.dec(r.rssKB, 7) + " "
                    + Fmt.dec(r.dirtyKB, 7) + " " + r.mode + " " + r.mapping + "\n"
                total.kb += r.kbytes; total.rss += r.rssKB; total.dirty += r.dirtyKB
            }
            s += "---------------- ------- ------- ------- \n"
            s += "total kB        " + " " + Fmt.dec(total.kb, 7) + " " + Fmt.dec(total.rss, 7) + " " + Fmt.dec(total.dirty, 7) + "\n"
        } else {
            var total: UInt64 = 0
            for r in rows {
                s += Fmt.hex(r.start, minDigits: 16) + " " + Fmt.dec(r.kbytes, 6) + "K " + r.mode + " " + r.mapping + "\n"
                total += r.kbytes
            }
            s += " total " + Fmt.dec(total, 16) + "K\n"
        }
        return s
    }
}
