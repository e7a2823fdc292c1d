/// `exercise KIND [--seed S] [--answers]`: seeded textbook problems (base and bounds, two
/// segments, a linear table, a multi-level table as a memory dump, TLB hits and misses, page
/// replacement) with their solutions computed by the same solvers `translate` and `policy` use.
import MMCore
import MMProcFS

enum LabExercise {
    static let kinds = ["base-bounds", "segmentation", "linear", "multilevel", "tlb", "replacement"]

    /// Runs `exercise`; returns the problem (and with --answers its solution) or throws a LabError.
    static func run(_ a: inout LabArgs) throws -> (String, JSON) {
        let seed = try a.number("seed", default: 1, in: 0...UInt64.max)
        let answers = a.flag("answers")
        let p = try a.positionals()
        guard let (kind, ki) = p.first else { throw LabError("missing exercise kind (one of \(kinds.joined(separator: ", ")))") }
        if p.count > 1 { throw LabError(argument: p[1].1, "unexpected '\(p[1].0)'") }
        var rng = SplitMix64(seed: seed)
        /// Returns a number in lo..<hi.
        func r(_ lo: UInt64, _ hi: UInt64) -> UInt64 { lo + rng.next() % (hi - lo) }
        var text = "exercise \(kind) (seed \(seed))\n"
        let problem: JSON, solved: (String, JSON)
        switch kind {
        case "base-bounds":
            let limit = r(256, 1024) & ~3
            let base = r(0, 16384 - limit) & ~15
            let vas = (0..<5).map { _ in r(0, min(1024, limit + limit / 2)) }
            text += """
            A process with a 1 KiB address space runs with base-and-bounds relocation in 16 KiB of
            physical memory: base \(hx(base)) (\(base)), bounds \(limit). For each virtual address, give the
            physical address or say that it is a segmentation violation.
            \(vas.map { "  va \(hx($0)) (\($0))" }.joined(separator: "\n"))
            solve with: mmsim translate base-bounds --base \(hx(base)) --bounds \(limit) \(vas.map { hx($0) }.joined(separator: " "))

            """
            problem = .object([("base", .string(hx(base))), ("bounds", .uint(limit)), ("addresses", .array(vas.map { .string(hx($0)) }))])
            solved = LabTranslate.renderBaseBounds(BaseBounds(base: base, limit: limit), addrs: vas)
        case "segmentation":
            let l0 = r(64, 448), l1 = r(64, 448)
            let b0 = r(0, 8192 - l0) & ~15
            let b1 = r(8192 + l1, 16384) & ~15
            let vas = (0..<6).map { i in i % 2 == 0 ? r(0, l0 + l0 / 2) : r(1024 - l1 - l1 / 2, 1024) }
            let s = TwoSegments(vaBits: 10, seg0: BaseBounds(base: b0, limit: l0), seg1: BaseBounds(base: b1, limit: l1))
            text += """
            A 1 KiB (10-bit) address space uses two segments in 16 KiB of physical memory; the top
            address bit selects the segment. Segment 0 (code and heap) grows up from base \(hx(b0))
            with limit \(l0); segment 1 (the stack) grows down from base \(hx(b1)) with limit \(l1)
            (its offset is va - 1024, a negative number). Translate:
            \(vas.map { "  va \(hx($0)) (\($0))" }.joined(separator: "\n"))
            solve with: mmsim translate segmentation --va-bits 10 --base0 \(hx(b0)) --limit0 \(l0) --base1 \(hx(b1)) --limit1 \(l1) \(vas.map { hx($0) }.joined(separator: " "))

            """
            problem = .object([("vaBits", .int(10)), ("base0", .string(hx(b0))), ("limit0", .uint(l0)), ("base1", .string(hx(b1))), ("limit1", .uint(l1)),
                               ("addresses", .array(vas.map { .string(hx($0)) }))])
            solved = LabTranslate.renderTwoSegments(s, addrs: vas)
        case "linear":
            let g = TextbookGeometry(pageSize: 1024, vaBits: 14, entryBytes: 4, validBit: 31, pfnHigh: 30, pfnLow: 0)
            let entries: [UInt64] = (0..<16).map { _ in rng.next() % 2 == 0 ? 0x8000_0000 | r(0, 64) : 0 }
            let vas = (0..<5).map { _ in r(0, 1 << 14) }
            text += """
            A 16 KiB (14-bit) address space with 1 KiB pages and a linear page table of 16 four-byte
            entries (valid bit 31, PFN in bits 30-0) in 64 KiB of physical memory:
            \(entries.enumerated().map { "  [\(rpad(String($0.offset), 2))] \(hx($0.element, 8))" }.joined(separator: "\n"))
            Translate:
            \(vas.map { "  va \(hx($0)) (\($0))" }.joined(separator: "\n"))
            solve with: mmsim translate linear --page-size 1024 --va-bits 14 --entries \(entries.map { hx($0) }.joined(separator: ",")) \(vas.map { hx($0) }.joined(separator: " "))

            """
            problem = .object([("pageSize", .int(1024)), ("vaBits", .int(14)), ("entries", .array(entries.map { .string(hx($0, 8)) })),
                               ("addresses", .array(vas.map { .string(hx($0)) }))])
            solved = LabTranslate.renderLinear(g, vaSize: 1 << 14, entries: entries, addrs: vas)
        case "multilevel":
            let g = TextbookGeometry(pageSize: 32, vaBits: 15, entryBytes: 1, validBit: 7, pfnHigh: 6, pfnLow: 0)
            var mem = DumpMemory(pageSize: 32)
            var free = Array(0..<UInt64(128))
            func take() -> UInt64 { free.remove(at: Int(rng.next() % UInt64(free.count))) }
            let pdbr = take()
            var pd = [UInt8](repeating: 0x7f, count: 32)
            var mapped: [UInt64] = []
            for i in 0..<32 where rng.next() % 8 == 0 && free.count > 40 {
                let pt = take()
                pd[i] = 0x80 | UInt8(pt)
                var tbl = [UInt8](repeating: 0x7f, count: 32)
                for j in 0..<32 where rng.next() % 5 == 0 && free.count > 1 {
                    let f = take()
                    tbl[j] = 0x80 | UInt8(f)
                    mem.pages[f] = (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    mapped.append(UInt64(i) << 10 | UInt64(j) << 5)
                }
                mem.pages[pt] = tbl
            }
            mem.pages[pdbr] = pd
            var vas: [UInt64] = []
            for k in 0..<6 {
                if k % 2 == 0 && !mapped.isEmpty { vas.append(mapped[Int(rng.next() % UInt64(mapped.count))] | r(0, 32)) } else { vas.append(r(0, 1 << 15)) }
            }
            text += """
            32-byte pages, a 15-bit virtual address space (32 KiB) and 4 KiB of physical memory (128
            pages). A two-level table: the page directory is in page \(pdbr) (the PDBR); a directory or
            table entry is one byte: bit 7 valid, bits 6-0 the PFN. The VA splits 5 | 5 | 5: directory
            index, table index, offset. For each address give every entry read, the physical address
            and the byte there, or the level that faults. The pages in use:
            \(mem.text())Translate:
            \(vas.map { "  va \(hx($0))" }.joined(separator: "\n"))
            solve with: the pages above in a file DUMP, then
              mmsim translate multilevel --dump DUMP --pdbr \(pdbr) --page-size 32 --va-bits 15 --entry-bytes 1 --valid-bit 7 --pfn-bits 6-0 \(vas.map { hx($0) }.joined(separator: " "))

            """
            problem = .object([("pageSize", .int(32)), ("vaBits", .int(15)), ("entryBytes", .int(1)), ("validBit", .int(7)), ("pfnBits", .string("6-0")),
                               ("pdbr", .uint(pdbr)), ("dump", .string(mem.text())), ("addresses", .array(vas.map { .string(hx($0)) }))])
            solved = LabTranslate.renderMultilevel(g, pdbr: pdbr, mem: mem, addrs: vas)
        case "tlb":
            let entries = 4
            var vas: [UInt64] = []
            var page = r(0, 16)
            for _ in 0..<16 {
                if rng.next() % 3 == 0 { page = r(0, 16) }
                vas.append(page << 12 | r(0, 4096))
            }
            text += """
            4 KiB pages and a fully associative TLB of \(entries) entries with LRU replacement, empty at
            the start. For each access give the VPN, TLB hit or miss, and the VPN evicted; then the hit rate.
            \(vas.map { "  va \(hx($0, 5))" }.joined(separator: "\n"))

            """
            problem = .object([("pageSize", .int(4096)), ("tlbEntries", .int(Int64(entries))), ("addresses", .array(vas.map { .string(hx($0)) }))])
            var tlb = TextbookTLB(entries: entries, pageShift: 12)
            var out = "", rows: [JSON] = [], hits = 0
            for va in vas {
                let x = tlb.access(va)
                if x.hit { hits += 1 }
                out += "va \(hx(va, 5)): vpn \(rpad(String(x.vpn), 2))  \(x.hit ? "hit " : "miss")\(x.evicted.map { "  evicts vpn \($0)" } ?? "")  TLB [\(tlb.resident.map(String.init).joined(separator: " "))]\n"
                rows.append(.object([("va", .string(hx(va))), ("vpn", .uint(x.vpn)), ("hit", .bool(x.hit)), ("evicted", x.evicted.map { .uint($0) } ?? .null)]))
            }
            out += "hits \(hits), misses \(vas.count - hits), hit rate \(ReplacementReport.rate(hits, vas.count))\n"
            solved = (out, .object([("accesses", .array(rows)), ("hits", .int(Int64(hits))), ("misses", .int(Int64(vas.count - hits)))]))
        case "replacement":
            let pols: [ReplacementPolicy] = [.fifo, .lru, .opt, .clock]
            let pol = pols[Int(rng.next() % 4)]
            let frames = Int(r(3, 5))
            let refs = (0..<15).map { _ in r(0, 7) }
            text += """
            \(frames) frames, empty at the start, and the \(pol.displayName) policy. For each reference give hit or
            miss, the frames after it and the victim; then the number of misses.
              references: \(refs.map(String.init).joined(separator: ","))
            solve with: mmsim policy --policy \(pol.rawValue) --frames \(frames) --refs \(refs.map(String.init).joined(separator: ","))

            """
            problem = .object([("policy", .string(pol.rawValue)), ("frames", .int(Int64(frames))), ("references", .array(refs.map { .uint($0) }))])
            let res = try PageReplacement.run(pol, refs: refs, frames: frames, seed: seed)
            solved = (ReplacementReport.table(res), .object([("hits", .int(Int64(res.hits))), ("misses", .int(Int64(res.misses))),
                                                            ("victims", .array(res.steps.map { $0.victim.map { .uint($0) } ?? .null }))]))
        default:
            throw LabError(argument: ki, "unknown exercise kind '\(kind)' (one of \(kinds.joined(separator: ", ")))")
        }
        var json: [(String, JSON)] = [("exercise", .string(kind)), ("seed", .uint(seed)), ("problem", problem)]
        if answers {
            text += "answers:\n" + solved.0
            json.append(("answers", solved.1))
        } else {
            text += "(run again with --answers for the solution)\n"
        }
        return (text, .object(json))
    }
}
