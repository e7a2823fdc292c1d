/// /proc/slabinfo and slabtop(1).
import MMCore

/// One cache's line of /proc/slabinfo (struct slabinfo plus the cache's name and sizes).
public struct SlabinfoEntry: Sendable, Equatable {
    public var name: String
    public var activeObjs: Int
    public var numObjs: Int
    public var objSize: Int
    public var objPerSlab: Int
    public var pagesPerSlab: Int
    public var activeSlabs: Int
    public var numSlabs: Int
    /// SLAB's tunables (0 under SLUB).
    public var limit = 0, batchcount = 0, shared = 0
    public init(name: String, activeObjs: Int, numObjs: Int, objSize: Int, objPerSlab: Int, pagesPerSlab: Int,
                activeSlabs: Int, numSlabs: Int) {
        self.name = name; self.activeObjs = activeObjs; self.numObjs = numObjs; self.objSize = objSize
        self.objPerSlab = objPerSlab; self.pagesPerSlab = pagesPerSlab; self.activeSlabs = activeSlabs; self.numSlabs = numSlabs
    }
}

/// /proc/slabinfo: formatter and gatherer; slabtop's screen.
public enum Slabinfo {
    /// The text of /proc/slabinfo: the version and column header, then one line per cache as
    /// "%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u : slabdata %6lu %6lu %6lu" (SLUB has no
    /// tunables: all zero). Linux: print_slabinfo_header() / cache_show(), mm/slab_common.c
    public static func format(_ entries: [SlabinfoEntry]) -> String {
        var s = "slabinfo - version: 2.1\n"
        s += "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"
        for e in entries {
            s += Fmt.left(e.name, 17) + " " + Fmt.dec(e.activeObjs, 6) + " " + Fmt.dec(e.numObjs, 6) + " " + Fmt.dec(e.objSize, 6)
                + " " + Fmt.dec(e.objPerSlab, 4) + " " + Fmt.dec(e.pagesPerSlab, 4)
                + " : tunables " + Fmt.dec(e.limit, 4) + " " + Fmt.dec(e.batchcount, 4) + " " + Fmt.dec(e.shared, 4)
                + " : slabdata " + Fmt.dec(e.activeSlabs, 6) + " " + Fmt.dec(e.numSlabs, 6) + " " + Fmt.dec(0, 6) + "\n"
        }
        return s
    }

    /// The caches newest first (the slab_caches list). SLUB counts as inactive only the free
    /// objects on node partial lists; a CPU's active slab counts as wholly active.
    /// Linux: get_slabinfo(), mm/slub.c
    public static func gather(_ k: Kernel) -> [SlabinfoEntry] {
        if k.kmem.kind == .slab {
            // SLAB: objects in array caches count as active; free slabs are not active slabs.
            // Linux: get_slabinfo(), mm/slab.c
            return k.kmem.caches.reversed().map { c in
                var e = SlabinfoEntry(name: c.name, activeObjs: c.totalObjects - c.freeObjects, numObjs: c.totalObjects,
                                      objSize: c.geometry.size, objPerSlab: c.geometry.objects, pagesPerSlab: c.geometry.pagesPerSlab,
                                      activeSlabs: c.nrSlabs - c.slabsFree.count, numSlabs: c.nrSlabs)
                e.limit = c.geometry.limit; e.batchcount = c.geometry.batchcount; e.shared = c.geometry.shared
                return e
            }
        }
        return k.kmem.caches.reversed().map { c in
            SlabinfoEntry(name: c.name, activeObjs: c.totalObjects - c.partialFreeObjects, numObjs: c.totalObjects,
                          objSize: c.geometry.size, objPerSlab: c.geometry.objects, pagesPerSlab: c.geometry.pagesPerSlab,
                          activeSlabs: c.nrSlabs, numSlabs: c.nrSlabs)
        }
    }

    /// `%.Nf` of a non-negative rational a/b, rounded half to even on the exact value as glibc does.
    static func fixed(_ a: Int, _ b: Int, digits: Int) -> String {
        guard b > 0 else { return digits == 0 ? "0" : "0." + String(repeating: "0", count: digits) }
        var scale = 1
        for _ in 0..<digits { scale *= 10 }
        let num = a * scale, q = num / b, r = num % b
        var v = q
        if 2 * r > b || (2 * r == b && q % 2 == 1) { v += 1 }
        if digits == 0 { return String(v) }
        let frac = String(v % scale)
        return "\(v / scale)." + String(repeating: "0", count: digits - frac.count) + frac
    }

    /// slabtop --once: the statistics header and the caches sorted by number of objects (ties by
    /// name), each "%6u %6u %3u%% %7.2fK %6u %8u %9uK %-23s". USE is active*100/objects rounded
    /// down. Linux: procps-ng slabtop.c (print_summary(), the row printf)
    public static func slabtop(_ entries: [SlabinfoEntry]) -> String {
        let objs = entries.reduce(0) { $0 + $1.numObjs }, active = entries.reduce(0) { $0 + $1.activeObjs }
        let slabs = entries.reduce(0) { $0 + $1.numSlabs }, activeSlabs = entries.reduce(0) { $0 + $1.activeSlabs }
        let activeCaches = entries.filter { $0.activeObjs > 0 }.count
        let size = entries.reduce(0) { $0 + $1.numObjs * $1.objSize }, activeSize = entries.reduce(0) { $0 + $1.activeObjs * $1.objSize }
        let minObj = entries.map(\.objSize).min() ?? 0, maxObj = entries.map(\.objSize).max() ?? 0
        func pct(_ a: Int, _ b: Int) -> String { fixed(a * 100, b, digits: 1) + "%" }
        func k(_ bytes: Int) -> String { fixed(bytes, 1024, digits: 2) + "K" }
        var s = ""
        s += " " + Fmt.left("Active / Total Objects (% used)", 35) + ": \(active) / \(objs) (\(pct(active, objs)))\n"
        s += " " + Fmt.left("Active / Total Slabs (% used)", 35) + ": \(activeSlabs) / \(slabs) (\(pct(activeSlabs, slabs)))\n"
        s += " " + Fmt.left("Active / Total Caches (% used)", 35) + ": \(activeCaches) / \(entries.count) (\(pct(activeCaches, entries.count)))\n"
        s += " " + Fmt.left("Active / Total Size (% used)", 35) + ": \(k(activeSize)) / \(k(size)) (\(pct(activeSize, size)))\n"
        s += " " + Fmt.left("Minimum / Average / Maximum Object", 35) + ": \(k(minObj)) / \(objs > 0 ? fixed(size, objs * 1024, digits: 2) : "0.00")K / \(k(maxObj))\n\n"
        s += "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n"
        let sorted = entries.sorted { $0.numObjs != $1.numObjs ? $0.numObjs > $1.numObjs : $0.name < $1.name }
        for e in sorted {
            let use = e.numObjs > 0 ? e.activeObjs * 100 / e.numObjs : 0
            s += Fmt.dec(e.numObjs, 6) + " " + Fmt.dec(e.activeObjs, 6) + " " + Fmt.dec(use, 3) + "% "
                + Fmt.right(k(e.objSize), 8) + " " + Fmt.dec(e.numSlabs, 6) + " " + Fmt.dec(e.objPerSlab, 8) + " "
                + Fmt.dec(e.numSlabs * e.pagesPerSlab * 4, 9) + "K " + e.name + "\n"
        }
        return s
    }
}

/// /proc/vmallocinfo.
public enum Vmallocinfo {
    /// One line per vmalloc area in address order: "0x%pK-0x%pK %7ld caller pages=N vmalloc"
    /// (the size includes the guard page). The caller is printed as its symbol name without the
    /// "+0xoff/0xsize" that %pS adds. Linux: vmalloc_info_show() / show_numa_info(), mm/vmalloc.c
    public static func format(_ k: Kernel) -> String {
        var s = ""
        // %pK prints a pointer in 8 hex digits on a 32-bit kernel.
        let w = k.phys.paging.is32Bit ? 8 : 16
        for a in k.vmap.areas {
            s += "0x" + Fmt.hex(a.addr, minDigits: w) + "-0x" + Fmt.hex(a.addr &+ a.size, minDigits: w) + " "
                + Fmt.dec(a.size, 7) + " " + a.caller + (a.pages.isEmpty ? "" : " pages=\(a.pages.count)") + " " + a.kind + "\n"
        }
        return s
    }
}
