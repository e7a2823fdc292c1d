/// `no-mmu` and `segmentation`: the labs of memory without an MMU (seed 001 §3) and of
/// segmentation (seed 003: x86 segments and Linux's flat ones, segmented paging, external
/// fragmentation and the cost of swapping whole segments).
import MMCore

enum LabSegments {
    /// Human size: "16 KiB", "1.5 MiB" style for whole KiB values; bytes below 1 KiB.
    static func size(_ b: UInt64) -> String {
        if b >= 1 << 20 && b % (1 << 20) == 0 { return "\(b >> 20) MiB" }
        if b >= 1024 && b % 1024 == 0 { return "\(b >> 10) KiB" }
        return "\(b) bytes"
    }

    /// The no-MMU lab: three programs in `--memory` bytes (default 64 KiB) addressing physical
    /// memory directly, then the same steps with paging (`--page-size`, default 4 KiB).
    static func noMMU(_ a: inout LabArgs) throws -> (String, JSON) {
        let mem = try a.number("memory", default: 64 << 10, in: 4096...(1 << 30))
        let ps = try a.number("page-size", default: 4096, in: 16...(1 << 20))
        guard ps.nonzeroBitCount == 1, mem % (ps * 16) == 0, mem / ps <= 65536 else { throw LabError("--memory must be a multiple of 16 pages (at most 65536) and --page-size a power of two") }
        _ = try a.positionals().first.map { throw LabError(argument: $0.1, "unexpected '\($0.0)'") }
        var lines: [String] = []
        func say(_ s: String) { lines.append(s) }
        let q = mem / 4, big = mem / 8 * 3, prog = ps
        // Part 1: no MMU.
        var m = NoMMUMemory(size: mem)
        say("== without an MMU: \(size(mem)) of physical memory, programs use physical addresses ==")
        for n in ["A", "B", "C"] {
            let at = try! m.load(n, length: q)
            say("load \(n) (\(size(q))) -> \(hx(at))-\(hx(at + q - 1))")
        }
        m.exit("B")
        say("B exits: free runs \(m.freeRuns.map { "\(hx($0.start)) (\(size($0.length)))" }.joined(separator: ", "))")
        do { _ = try m.load("D", length: big); say("load D (\(size(big))) -> ok") } catch {
            say("load D (\(size(big))) -> FAILS: \(error)")
            say("  problem 1: enough memory is free in total, but not in one piece")
        }
        let cAddr = 2 * q + 0x10
        m.store(cAddr, 0x07, by: "C")
        say("C stores 0x07 at \(hx(cAddr)) (its own data)")
        if let victim = m.store(cAddr, 0x41, by: "A") { say("A stores 0x41 at \(hx(cAddr)) (a stray pointer) -> lands in \(victim)'s memory, nothing stops it") }
        say("C loads \(hx(cAddr)) -> \(hx(UInt64(m.load(cAddr)), 2))")
        say("  problem 2: one program overwrote another's memory")
        let fixed = q
        do { let at = try m.load("prog#1", length: prog, at: fixed); say("load prog#1 (linked to run at \(hx(fixed))) -> \(hx(at))") } catch { say("load prog#1 -> FAILS: \(error)") }
        do { _ = try m.load("prog#2", length: prog, at: fixed); say("load prog#2 (the same program) -> ok") } catch {
            say("load prog#2 (the same program, linked to run at \(hx(fixed))) -> FAILS: \(error)")
            say("  problem 3: two copies of a program cannot run at the same address")
        }
        // Part 2: paging.
        say("")
        say("== with paging: the same memory as \(mem / ps) frames of \(size(ps)), one page table per process ==")
        var pg = PagedMemory(size: mem, pageSize: ps)
        func frames(_ f: [Int]) -> String { f.map(String.init).joined(separator: ",") }
        for n in ["A", "B", "C"] {
            let f = pg.load(n, length: q, va: 0)!
            say("load \(n) (\(size(q))) at va 0x0 -> frames \(frames(f))")
        }
        pg.exit("B")
        say("B exits: free frames \(frames(pg.frames.indices.filter { pg.frames[$0] == nil }))")
        if let f = pg.load("D", length: big, va: 0) {
            say("load D (\(size(big))) at va 0x0 -> frames \(frames(f)): not contiguous, and it does not need to be")
        }
        let cOff: UInt64 = 0x10
        let cpa = pg.store("C", cOff, 0x07)!
        say("C stores 0x07 at va \(hx(cOff)) -> pa \(hx(cpa))")
        if pg.store("A", cAddr, 0x41) == nil { say("A stores 0x41 at va \(hx(cAddr)) -> page fault: the page is not in A's page table") }
        let apa = pg.store("A", cOff, 0x41)!
        say("A stores 0x41 at va \(hx(cOff)) -> pa \(hx(apa)) (A's own frame)")
        say("C loads va \(hx(cOff)) -> \(hx(UInt64(pg.load("C", cOff)!), 2)): untouched")
        let f1 = pg.load("prog#1", length: prog, va: fixed)!, f2 = pg.load("prog#2", length: prog, va: fixed)!
        say("load prog#1 at va \(hx(fixed)) -> frame \(frames(f1)); load prog#2 at va \(hx(fixed)) -> frame \(frames(f2)): both run at the address they were linked for")
        let json = JSON.object([("lab", .string("no-mmu")), ("memory", .uint(mem)), ("pageSize", .uint(ps)), ("lines", .array(lines.map { .string($0) }))])
        return (lines.joined(separator: "\n") + "\n", json)
    }

    /// The segmentation lab: x86 segments with Linux's flat GDT, segmented paging with its three
    /// memory references, then external fragmentation under first/best/worst fit (`--fit`) in
    /// `--memory` bytes (default 1 MiB) and the cost of swapping a whole segment at `--disk-mbps`.
    static func segmentation(_ a: inout LabArgs) throws -> (String, JSON) {
        let mem = try a.number("memory", default: 1 << 20, in: (64 << 10)...(1 << 40))
        let mbps = try a.number("disk-mbps", default: 100, in: 1...1_000_000)
        var fits = SegmentMemory.Fit.allCases
        if let (f, i) = try a.value("fit") {
            guard f == "all" || SegmentMemory.Fit(rawValue: f) != nil else { throw LabError(argument: i, "--fit: '\(f)' is not first, best, worst or all") }
            if f != "all" { fits = [SegmentMemory.Fit(rawValue: f)!] }
        }
        _ = try a.positionals().first.map { throw LabError(argument: $0.1, "unexpected '\($0.0)'") }
        var lines: [String] = []
        func say(_ s: String) { lines.append(s) }
        // 1. x86 segmentation.
        say("== x86 segmentation: logical address (selector:offset) -> linear address ==")
        let seg = X86Segmentation.linuxFlat()
        for (n, v) in X86Segmentation.linuxSelectors {
            let s = SegmentSelector(v)
            let d = try! seg.descriptor(s).get()
            say("\(pad(n, 12)) = \(hx(UInt64(v), 4)): index \(s.index), GDT, RPL \(s.rpl); base \(hx(UInt64(d.base), 8)), limit \(hx(d.byteLimit, 8)) (G=1), DPL \(d.dpl)")
        }
        say("Linux's segments all start at 0 and span 4 GiB: logical address = linear address; only the privilege checks remain")
        func tr(_ s: UInt16, _ off: UInt32, _ k: AccessKind, _ cpl: Int, _ sg: X86Segmentation) {
            let what = k == .read ? "read" : k == .write ? "write" : "fetch"
            switch sg.translate(SegmentSelector(s), offset: off, kind: k, cpl: cpl) {
            case .success(let l): say("CPL \(cpl) \(what) \(hx(UInt64(s))):\(hx(UInt64(off))) -> linear \(hx(UInt64(l), 8))")
            case .failure(let e): say("CPL \(cpl) \(what) \(hx(UInt64(s))):\(hx(UInt64(off))) -> \(e.reason)")
            }
        }
        tr(0x33, 0x401000, .exec, 3, seg)
        tr(0x2b, 0x7ffe_f000, .write, 3, seg)
        tr(0x18, 0x1000, .read, 3, seg)
        tr(0x10, 0x1000, .exec, 3, seg)
        var small = seg
        small.gdt[7] = SegmentDescriptor(base: 0x0010_0000, limit: 0x0fff, granularity: false, dpl: 3, code: false, readWrite: true)
        say("a data segment at GDT[7]: base 0x00100000, limit 0xfff (4 KiB, G=0), DPL 3")
        tr(0x3b, 0x0ffc, .write, 3, small)
        tr(0x3b, 0x1000, .read, 3, small)
        // 2. Segmented paging.
        say("")
        say("== segmented paging: segment table -> page table -> frame (1 KiB pages) ==")
        let sp = SegmentedPaging(pageShift: 10, segmentTable: 0x1000, segments: [
            .init(pageTable: 0x2000, frames: [5, 9, 2]),
            .init(pageTable: 0x2400, frames: [7, nil]),
        ])
        for (s, p, o) in [(0, 1, UInt64(0x2a)), (1, 1, UInt64(0x10)), (1, 3, UInt64(0))] {
            let w = sp.translate(segment: s, page: p, offset: o)
            say("(segment \(s), page \(p), offset \(hx(o))):")
            for (i, r) in w.references.enumerated() { say("  reference \(i + 1): \(hx(r.0)) \(r.1)") }
            say(w.pa.map { "  -> pa \(hx($0)), \(w.references.count) memory references" } ?? "  -> \(w.fault ?? "")")
        }
        // 3. External fragmentation.
        say("")
        say("== external fragmentation: variable-sized segments in \(size(mem)) ==")
        let u = mem / 1024
        let first: [(String, UInt64)] = [("A", 200 * u), ("B", 300 * u), ("C", 100 * u), ("D", 250 * u)]
        let later: [(String, UInt64)] = [("F", 120 * u), ("G", 250 * u), ("E", 300 * u)]
        func holes(_ m: SegmentMemory) -> String { m.holes.map { "\(hx($0.start))+\(size($0.length))" }.joined(separator: ", ") }
        func layout(_ m: SegmentMemory) -> String { m.segments.map { "\($0.name)@\(hx($0.start))+\(size($0.length))" }.joined(separator: " ") }
        var fitJSON: [JSON] = []
        for fit in fits {
            var m = SegmentMemory(size: mem)
            for (n, l) in first { _ = m.allocate(n, length: l, fit: fit) }
            m.free("B"); m.free("D")
            say("\(fit.rawValue) fit: after A B C D and freeing B and D, holes \(holes(m))")
            var failed: (String, UInt64)?
            for (n, l) in later {
                if let at = m.allocate(n, length: l, fit: fit) { say("  \(n) (\(size(l))) -> \(hx(at)); holes \(holes(m))") } else {
                    say("  \(n) (\(size(l))) -> FAILS: \(size(m.freeBytes)) free in total, largest hole \(size(m.holes.map(\.length).max() ?? 0))")
                    if failed == nil { failed = (n, l) }
                }
            }
            say("  layout: \(layout(m))")
            var swapJSON: JSON = .null
            if let (n, l) = failed {
                // The smallest single segment whose swap-out leaves a hole large enough.
                var best: (String, UInt64)?
                for s in m.segments {
                    var t = m
                    t.free(s.name)
                    if t.holes.contains(where: { $0.length >= l }), best == nil || s.length < best!.1 { best = (s.name, s.length) }
                }
                if let (bn, bl) = best {
                    let us = bl * 1_000_000 / (mbps * 1_000_000)
                    say("  to load \(n), swap out the whole segment \(bn): \(size(bl)) written to disk at \(mbps) MB/s = \(us) µs (and as long again to bring it back)")
                    swapJSON = .object([("segment", .string(bn)), ("bytes", .uint(bl)), ("microseconds", .uint(us))])
                }
                let pages = (l + 4095) / 4096, freePages = m.freeBytes / 4096
                say("  with 4 KiB pages: \(n) needs \(pages) frames, \(freePages) are free -> \(freePages >= pages ? "no swapping at all" : "swap out only \(pages - freePages) pages")")
            }
            fitJSON.append(.object([("fit", .string(fit.rawValue)), ("layout", .string(layout(m))), ("holes", .string(holes(m))), ("swap", swapJSON)]))
        }
        let json = JSON.object([("lab", .string("segmentation")), ("memory", .uint(mem)), ("fits", .array(fitJSON)), ("lines", .array(lines.map { .string($0) }))])
        return (lines.joined(separator: "\n") + "\n", json)
    }
}
