/// `translate`: solve a translation problem and print every step — an architecture's page tables
/// built for a small mapping, a textbook multi-level table given as a memory dump, a linear table
/// given as its entries, base and bounds, two segments, or x86 segments.
import MMCore

enum LabTranslate {
    /// Runs `translate`; returns the text and JSON or throws a LabError.
    static func run(_ a: inout LabArgs, readFile: ((String) -> String?)?) throws -> (String, JSON) {
        if try a.value("arch") != nil {
            a = LabArgs(a.argv); a.used[0] = true
            return try arch(&a)
        }
        let pos = try peekMode(&a)
        switch pos.0 {
        case "multilevel": return try multilevel(&a, readFile: readFile)
        case "linear": return try linear(&a)
        case "base-bounds": return try baseBounds(&a)
        case "segmentation": return try twoSegments(&a)
        case "x86-segment": return try x86Segment(&a)
        default:
            throw LabError(argument: pos.1, "unknown translation '\(pos.0)' (use --arch NAME, or one of multilevel, linear, base-bounds, segmentation, x86-segment)")
        }
    }

    /// Returns and consumes the first positional argument (the mode).
    static func peekMode(_ a: inout LabArgs) throws -> (String, Int) {
        for (i, s) in a.argv.enumerated() where !a.used[i] && !s.hasPrefix("--") {
            // Skip values of options: an argument after a bare `--name` is that option's value.
            if i > 0 && a.argv[i - 1].hasPrefix("--") && !a.argv[i - 1].contains("=") && !["--kernel", "--answers", "--json"].contains(a.argv[i - 1]) { continue }
            a.used[i] = true
            return (s, i)
        }
        throw LabError("missing what to translate (use --arch NAME, or one of multilevel, linear, base-bounds, segmentation, x86-segment)")
    }

    /// Parses the addresses to translate.
    static func addresses(_ a: inout LabArgs) throws -> [UInt64] {
        let p = try a.positionals()
        guard !p.isEmpty else { throw LabError("no address to translate") }
        return try p.map { try LabArgs.number($0.0, $0.1, what: "address") }
    }

    /// Parses `--access` and `--kernel`.
    static func access(_ a: inout LabArgs) throws -> (AccessKind, Bool) {
        var kind = AccessKind.read
        if let (s, i) = try a.value("access") {
            switch s { case "read", "r": kind = .read; case "write", "w": kind = .write; case "exec", "x", "fetch": kind = .exec
            default: throw LabError(argument: i, "--access: '\(s)' is not read, write or exec") }
        }
        return (kind, !a.flag("kernel"))
    }

    /// Returns "user read", "kernel write"... for an access.
    static func accessName(_ k: AccessKind, user: Bool) -> String {
        (user ? "user " : "kernel ") + (k == .read ? "read" : k == .write ? "write" : "exec")
    }

    // MARK: architectures

    /// Renders the walk of every address through tables of `--arch` built from the `--map`s.
    static func arch(_ a: inout LabArgs) throws -> (String, JSON) {
        let (name, ni) = try a.value("arch")!
        guard let arch = Architecture(name: name) else {
            throw LabError(argument: ni, "--arch: unknown architecture '\(name)' (known: \(Architecture.names.joined(separator: ", ")))")
        }
        var t = ArchPageTables(arch)
        t.asid = UInt16(try a.number("asid", default: 0, in: 0...65535))
        var mapped: [String] = []
        var mapJSON: [JSON] = []
        for (m, i) in try a.values("map") {
            let f = m.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 2 && f.count <= 4 else { throw LabError(argument: i, "--map: '\(m)' is not VA:PA[:SIZE[:PROT]]") }
            let va = try LabArgs.number(f[0], i, what: "--map virtual address")
            let pa = try LabArgs.number(f[1], i, what: "--map physical address")
            var shift = arch.pageShift
            if f.count >= 3 && !f[2].isEmpty {
                let size = try LabArgs.number(f[2], i, what: "--map size")
                guard size.nonzeroBitCount == 1, arch.pageShifts.contains(size.trailingZeroBitCount) else {
                    throw LabError(argument: i, "--map: \(arch) has no \(f[2]) pages (sizes: \(arch.pageShifts.map { sizeName($0) }.joined(separator: ", ")))")
                }
                shift = size.trailingZeroBitCount
            }
            var prot = ArchProt(write: false, exec: false, user: true, global: false)
            let letters = f.count == 4 ? f[3] : "rw"
            for c in letters {
                switch c {
                case "r", "-", "u": break
                case "w": prot.write = true
                case "x": prot.exec = true
                case "k": prot.user = false
                case "g": prot.global = true
                default: throw LabError(argument: i, "--map: protection '\(letters)' (letters r w x, k = kernel only, g = global)")
                }
            }
            do { try t.map(va: va, pa: pa, pageShift: shift, prot: prot) } catch let e as ArchMapError {
                throw LabError(argument: i, "--map \(m): \(e)")
            }
            let pr = "r" + (prot.write ? "w" : "-") + (prot.exec ? "x" : "-") + (prot.user ? " user" : " kernel") + (prot.global ? " global" : "")
            mapped.append("  \(hx(va)) -> \(hx(pa))  \(sizeName(shift))  \(pr)")
            mapJSON.append(.object([("va", .string(hx(va))), ("pa", .string(hx(pa))), ("size", .string(sizeName(shift))), ("prot", .string(pr))]))
        }
        let (kind, user) = try access(&a)
        let addrs = try addresses(&a)
        let lv = arch.levels
        var out = "\(arch): \(sizeName(arch.pageShift)) pages, \(arch.vaBits)-bit VA, \(lv.count) levels (\(lv.map(\.name).joined(separator: " "))), \(arch.entryBytes)-byte entries\n"
        out += "leaf sizes: \(arch.pageShifts.map { sizeName($0) }.joined(separator: ", "))\n"
        out += mapped.isEmpty ? "mapped: nothing\n" : "mapped:\n" + mapped.joined(separator: "\n") + "\n"
        out += rootLine(arch, t) + "\n"
        var results: [JSON] = []
        for va in addrs {
            let w = t.walk(va, kind, user: user)
            out += "\nva \(hx(va)) (\(accessName(kind, user: user)))\n"
            var steps: [JSON] = []
            if !w.steps.isEmpty { out += "  \(w.rootName) table \(hx(w.root))\n" }
            let width = arch.entryBytes * 2
            let nameW = lv.map(\.name.count).max() ?? 0
            for s in w.steps {
                let l = lv[s.level]
                let mem = s.memoryReference ? "" : "  (register, loaded at the CR3 write)"
                out += "  \(pad(l.name, nameW)) [\(pad(l.linuxName, 3))] index \(rpad(String(s.index), 4))  entry @\(hx(s.entryAddress)) = \(hx(s.entry, width))  \(arch.describe(s.entry, level: s.level))\(mem)\n"
                steps.append(.object([("level", .string(l.name)), ("linux", .string(l.linuxName)), ("index", .uint(s.index)),
                                      ("entryAddress", .string(hx(s.entryAddress))), ("entry", .string(hx(s.entry, width))),
                                      ("decoded", .string(arch.describe(s.entry, level: s.level))), ("memoryReference", .bool(s.memoryReference))]))
            }
            var r: [(String, JSON)] = [("va", .string(hx(va))), ("root", .string(w.rootName)), ("steps", .array(steps))]
            switch w.result {
            case .success(let tr):
                var tag = ""
                switch arch {
                case .arm64, .riscv, .arm32: tag = tr.global ? ", global" : ", ASID \(t.asid)"
                default: tag = tr.global ? ", global" : ""
                }
                let wb = w.writeBacks > 0 ? " (\(w.memoryReferences - w.writeBacks) read\(w.memoryReferences - w.writeBacks == 1 ? "" : "s") + \(w.writeBacks) A/D write-back\(w.writeBacks == 1 ? "" : "s"))" : ""
                out += "  -> pa \(hx(tr.physAddr)) (\(sizeName(tr.pageShift)) page, \(tr.rights)\(tag)), \(w.memoryReferences) memory reference\(w.memoryReferences == 1 ? "" : "s")\(wb)\n"
                r += [("pa", .string(hx(tr.physAddr))), ("pageSize", .string(sizeName(tr.pageShift))), ("rights", .string(tr.rights.description)), ("fault", .null)]
            case .failure(let e):
                let at = e.fault.level.map { "at \(lv[$0].name) [\(lv[$0].linuxName)]" } ?? "before the walk"
                out += "  -> fault \(at): \(e.fault.reason), \(w.memoryReferences) memory reference\(w.memoryReferences == 1 ? "" : "s")\n"
                r += [("pa", .null), ("faultLevel", e.fault.level.map { .string(lv[$0].name) } ?? .null), ("fault", .string(e.fault.reason))]
            }
            r.append(("memoryReferences", .int(Int64(w.memoryReferences))))
            results.append(.object(r))
        }
        let json = JSON.object([("translate", .string("arch")), ("arch", .string(arch.description)),
                                ("levels", .array(lv.map { .object([("name", .string($0.name)), ("linux", .string($0.linuxName)), ("shift", .int(Int64($0.shift))), ("bits", .int(Int64($0.bits)))]) })),
                                ("mapped", .array(mapJSON)), ("translations", .array(results))])
        return (out, json)
    }

    /// "4K", "2M", "1G", "512G", "64K"...
    static func sizeName(_ shift: Int) -> String {
        let units = ["", "K", "M", "G", "T", "P"]
        return "\(1 << (shift % 10))\(units[shift / 10])"
    }

    /// The root register line: CR3, TTBR0/TTBR1 with the ASID, or satp with its MODE and ASID.
    static func rootLine(_ arch: Architecture, _ t: ArchPageTables) -> String {
        switch arch {
        case .x86_32, .x86PAE, .x86_64: return "CR3 = \(hx(t.root))"
        case .arm64:
            return "TTBR0_EL1 = \(hx(UInt64(t.asid) << 48 | t.root, 16)) (ASID \(t.asid), table \(hx(t.root))); TTBR1_EL1 = \(hx(t.root1, 16))"
        case .arm32(let n):
            return "TTBR0 = \(hx(t.root, 8)), TTBCR.N = \(n)" + (n > 0 ? " (TTBR0 below \(hx(UInt64(1) << UInt64(32 - n))), TTBR1 = \(hx(t.root1, 8)) above)" : " (every VA through TTBR0)")
                + ", DACR = \(hx(UInt64(t.dacr), 8)), CONTEXTIDR.ASID = \(t.asid)"
        case .riscv(let v):
            let mode: UInt64 = v == 39 ? 8 : v == 48 ? 9 : 10
            return "satp = \(hx(mode << 60 | UInt64(t.asid) << 44 | t.root >> 12, 16)) (MODE \(mode) = Sv\(v), ASID \(t.asid), root PPN \(hx(t.root >> 12)))"
        }
    }

    // MARK: textbook multi-level

    /// Parses the textbook geometry flags.
    static func geometry(_ a: inout LabArgs, defaultEntryBytes: Int) throws -> TextbookGeometry {
        let ps = try a.number("page-size", default: nil, in: 2...65536)
        let va = try a.int("va-bits", default: nil, in: 2...64)
        let eb = try a.int("entry-bytes", default: defaultEntryBytes, in: 1...8)
        let vb = try a.int("valid-bit", default: eb * 8 - 1, in: 0...63)
        var hi = vb - 1, lo = 0
        if let (s, i) = try a.value("pfn-bits") {
            let p = s.split(separator: "-").map(String.init)
            guard p.count == 2, let h = Int(p[0]), let l = Int(p[1]) else { throw LabError(argument: i, "--pfn-bits: '\(s)' is not HIGH-LOW (e.g. 6-0)") }
            hi = h; lo = l
        }
        let g = TextbookGeometry(pageSize: ps, vaBits: va, entryBytes: eb, validBit: vb, pfnHigh: hi, pfnLow: lo)
        if let e = g.validate() { throw LabError(e) }
        return g
    }

    /// Text of the geometry line.
    static func geometryText(_ g: TextbookGeometry) -> String {
        "\(g.pageSize)-byte pages, \(g.vaBits)-bit virtual addresses (\(g.offsetBits) offset bits), \(g.entryBytes)-byte entries, valid bit \(g.validBit), PFN bits \(g.pfnHigh)-\(g.pfnLow)"
    }

    /// Solves a multi-level puzzle over a dump (`--dump FILE` or `--page "N: bytes"` lines).
    static func multilevel(_ a: inout LabArgs, readFile: ((String) -> String?)?) throws -> (String, JSON) {
        let g = try geometry(&a, defaultEntryBytes: 1)
        let pdbr = try a.number("pdbr", default: nil, in: 0...(UInt64(1) << 40))
        var mem: DumpMemory
        let pages = try a.values("page")
        if let (file, fi) = try a.value("dump") {
            guard let read = readFile else { throw LabError(argument: fi, "--dump: files cannot be read here; give the pages with --page \"N: XX XX ...\"") }
            guard let text = read(file) else { throw LabError(argument: fi, "--dump: cannot read '\(file)'") }
            do { mem = try DumpMemory.parse(text, pageSize: g.pageSize) } catch let e as DumpMemory.ParseError {
                throw LabError(file: file, line: e.line, column: e.column, e.message)
            }
        } else {
            guard !pages.isEmpty else { throw LabError("give the memory with --dump FILE or --page \"N: XX XX ...\"") }
            let text = pages.map { "page " + $0.0 }.joined(separator: "\n")
            do { mem = try DumpMemory.parse(text, pageSize: g.pageSize) } catch let e as DumpMemory.ParseError {
                throw LabError(argument: pages[e.line - 1].1, "--page: column \(max(e.column - 5, 1)): \(e.message)")
            }
        }
        let addrs = try addresses(&a)
        return renderMultilevel(g, pdbr: pdbr, mem: mem, addrs: addrs)
    }

    /// Renders the walks of `addrs` through the dump.
    static func renderMultilevel(_ g: TextbookGeometry, pdbr: UInt64, mem: DumpMemory, addrs: [UInt64]) -> (String, JSON) {
        let bits = g.levelBits
        var out = "geometry: \(geometryText(g))\n"
        out += "levels: \(bits.count) (index bits \(bits.map(String.init).joined(separator: " + ")) + \(g.offsetBits) offset bits); page directory in page \(pdbr)\n"
        var res: [JSON] = []
        let ew = g.entryBytes * 2
        for va in addrs {
            let w = TextbookWalk.walk(va, pdbr: pdbr, geometry: g, memory: mem)
            out += "\nva \(hx(va)):\n"
            var steps: [JSON] = []
            for (i, s) in w.steps.enumerated() {
                let name = i == bits.count - 1 ? "page table" : i == 0 ? "page directory" : "level \(i) table"
                if let e = s.entry {
                    out += "  level \(i) (\(name)) index \(s.index): entry @\(hx(s.entryAddress)) = \(hx(e, ew))  valid \(s.valid ? 1 : 0)  pfn \(hx(s.pfn))\n"
                } else {
                    out += "  level \(i) (\(name)) index \(s.index): entry @\(hx(s.entryAddress)) not in the dump\n"
                }
                steps.append(.object([("level", .int(Int64(i))), ("index", .uint(s.index)), ("entryAddress", .string(hx(s.entryAddress))),
                                      ("entry", s.entry.map { .string(hx($0, ew)) } ?? .null), ("valid", .bool(s.valid)), ("pfn", .uint(s.pfn))]))
            }
            var r: [(String, JSON)] = [("va", .string(hx(va))), ("steps", .array(steps))]
            if let pa = w.pa {
                let v = w.value.map { hx(UInt64($0), 2) } ?? "not in the dump"
                out += "  -> pa \(hx(pa)), value \(v)\n"
                r += [("pa", .string(hx(pa))), ("value", w.value.map { .string(hx(UInt64($0), 2)) } ?? .null), ("fault", .null)]
            } else {
                let at = w.faultLevel.map { "at level \($0)" } ?? "before the walk"
                out += "  -> fault \(at): \(w.faultReason ?? "")\n"
                r += [("pa", .null), ("faultLevel", w.faultLevel.map { .int(Int64($0)) } ?? .null), ("fault", .string(w.faultReason ?? ""))]
            }
            res.append(.object(r))
        }
        let json = JSON.object([("translate", .string("multilevel")), ("pageSize", .uint(g.pageSize)), ("vaBits", .int(Int64(g.vaBits))),
                                ("entryBytes", .int(Int64(g.entryBytes))), ("validBit", .int(Int64(g.validBit))),
                                ("pfnBits", .string("\(g.pfnHigh)-\(g.pfnLow)")), ("pdbr", .uint(pdbr)),
                                ("levelBits", .array(bits.map { .int(Int64($0)) })), ("translations", .array(res))])
        return (out, json)
    }

    // MARK: linear table

    /// Solves a linear page table given as `--entries E,E,...`: `--page-size` may be any size (the
    /// seed's toy table has 100-byte pages), the space is `--va-bits` bits or `--va-size` bytes.
    static func linear(_ a: inout LabArgs) throws -> (String, JSON) {
        let ps = try a.number("page-size", default: nil, in: 1...(1 << 40))
        let vaBits = try a.value("va-bits"), vaSizeArg = try a.value("va-size")
        var vaSize: UInt64
        switch (vaBits, vaSizeArg) {
        case (let (s, i)?, nil):
            let b = try LabArgs.number(s, i, what: "--va-bits")
            guard b >= 1 && b <= 62 else { throw LabError(argument: i, "--va-bits: \(b) is out of range (1...62)") }
            vaSize = 1 << b
        case (nil, let (s, i)?): vaSize = try LabArgs.number(s, i, what: "--va-size")
            guard vaSize >= 1 && vaSize <= 1 << 62 else { throw LabError(argument: i, "--va-size: \(vaSize) is out of range (1...2^62)") }
        case (nil, nil): throw LabError("give the address-space size with --va-bits N or --va-size BYTES")
        default: throw LabError(argument: vaSizeArg!.1, "give only one of --va-bits and --va-size")
        }
        let eb = try a.int("entry-bytes", default: 4, in: 1...8)
        guard [1, 2, 4, 8].contains(eb) else { throw LabError("--entry-bytes must be 1, 2, 4 or 8") }
        let vb = try a.int("valid-bit", default: eb * 8 - 1, in: 0...(eb * 8 - 1))
        var hi = vb - 1, lo = 0
        if let (s, i) = try a.value("pfn-bits") {
            let p = s.split(separator: "-").map(String.init)
            guard p.count == 2, let h = Int(p[0]), let l = Int(p[1]), l >= 0, h >= l, h < eb * 8 else {
                throw LabError(argument: i, "--pfn-bits: '\(s)' is not HIGH-LOW inside a \(eb * 8)-bit entry")
            }
            hi = h; lo = l
        }
        guard hi >= lo else { throw LabError("--valid-bit 0 leaves no PFN bits; give --pfn-bits") }
        guard let (es, ei) = try a.value("entries") else { throw LabError("--entries E,E,... is required (one entry per virtual page)") }
        let entries = try es.split(separator: ",", omittingEmptySubsequences: false).map { try LabArgs.number(String($0), ei, what: "--entries") }
        let vpages = (vaSize + ps - 1) / ps
        guard UInt64(entries.count) == vpages else {
            throw LabError(argument: ei, "--entries: \(entries.count) entries, but a \(vaSize)-byte space of \(ps)-byte pages has \(vpages) virtual pages")
        }
        let addrs = try addresses(&a)
        let g = TextbookGeometry(pageSize: ps, vaBits: 0, entryBytes: eb, validBit: vb, pfnHigh: hi, pfnLow: lo)
        return renderLinear(g, vaSize: vaSize, entries: entries, addrs: addrs)
    }

    /// Renders the translations through a linear table (`vaSize` bytes of address space).
    static func renderLinear(_ g: TextbookGeometry, vaSize: UInt64, entries: [UInt64], addrs: [UInt64]) -> (String, JSON) {
        var out = "\(g.pageSize)-byte pages, a \(vaSize)-byte address space, a linear table of \(entries.count) \(g.entryBytes)-byte entries (valid bit \(g.validBit), PFN bits \(g.pfnHigh)-\(g.pfnLow))\n"
        var res: [JSON] = []
        for va in addrs {
            let vpn = va / g.pageSize, off = va % g.pageSize
            out += "va \(hx(va)) (\(va)): vpn \(vpn), offset \(off)"
            var r: [(String, JSON)] = [("va", .string(hx(va))), ("vpn", .uint(vpn)), ("offset", .uint(off))]
            if va >= vaSize {
                out += " -> fault: outside the \(vaSize)-byte address space\n"
                r += [("pa", .null), ("fault", .string("outside the address space"))]
            } else {
                let e = entries[Int(vpn)]
                let (v, pfn) = g.split(e)
                out += ", entry \(hx(e, g.entryBytes * 2)) valid \(v ? 1 : 0) pfn \(pfn)"
                r += [("entry", .string(hx(e, g.entryBytes * 2))), ("valid", .bool(v)), ("pfn", .uint(pfn))]
                let (m, o1) = pfn.multipliedReportingOverflow(by: g.pageSize)
                if v && !o1 {
                    let pa = m &+ off
                    out += " -> pa \(hx(pa)) (\(pa))\n"
                    r += [("pa", .string(hx(pa))), ("fault", .null)]
                } else {
                    out += v ? " -> fault: physical address overflows\n" : " -> page fault: invalid entry (no frame)\n"
                    r += [("pa", .null), ("fault", .string(v ? "overflow" : "invalid entry"))]
                }
            }
            res.append(.object(r))
        }
        return (out, .object([("translate", .string("linear")), ("pageSize", .uint(g.pageSize)), ("vaSize", .uint(vaSize)), ("translations", .array(res))]))
    }

    // MARK: base and bounds, segments

    /// Solves base and bounds: `--base B --bounds L ADDR...`.
    static func baseBounds(_ a: inout LabArgs) throws -> (String, JSON) {
        let b = BaseBounds(base: try a.number("base", default: nil, in: 0...UInt64.max), limit: try a.number("bounds", default: nil, in: 0...UInt64.max))
        return renderBaseBounds(b, addrs: try addresses(&a))
    }

    /// Renders base-and-bounds translations.
    static func renderBaseBounds(_ b: BaseBounds, addrs: [UInt64]) -> (String, JSON) {
        var out = "base \(hx(b.base)) (\(b.base)), bounds \(hx(b.limit)) (\(b.limit))\n"
        var res: [JSON] = []
        for va in addrs {
            if let pa = b.translate(va) {
                out += "va \(hx(va)) (\(va)) -> valid: pa \(hx(pa)) (\(pa))\n"
                res.append(.object([("va", .string(hx(va))), ("pa", .string(hx(pa))), ("fault", .null)]))
            } else {
                out += "va \(hx(va)) (\(va)) -> segmentation violation (va >= bounds)\n"
                res.append(.object([("va", .string(hx(va))), ("pa", .null), ("fault", .string("segmentation violation"))]))
            }
        }
        return (out, .object([("translate", .string("base-bounds")), ("base", .string(hx(b.base))), ("bounds", .string(hx(b.limit))), ("translations", .array(res))]))
    }

    /// Solves the two-segment model: `--va-bits N --base0 --limit0 --base1 --limit1 ADDR...`.
    static func twoSegments(_ a: inout LabArgs) throws -> (String, JSON) {
        let v = try a.int("va-bits", default: nil, in: 2...63)
        let s = TwoSegments(vaBits: v, seg0: BaseBounds(base: try a.number("base0", default: nil, in: 0...UInt64.max), limit: try a.number("limit0", default: nil, in: 0...UInt64.max)),
                            seg1: BaseBounds(base: try a.number("base1", default: nil, in: 0...UInt64.max), limit: try a.number("limit1", default: nil, in: 0...UInt64.max)))
        return renderTwoSegments(s, addrs: try addresses(&a))
    }

    /// Renders two-segment translations.
    static func renderTwoSegments(_ s: TwoSegments, addrs: [UInt64]) -> (String, JSON) {
        var out = "\(s.vaBits)-bit addresses; the top bit selects the segment\n"
        out += "segment 0 (code, heap; grows up):  base \(hx(s.seg0.base)), limit \(s.seg0.limit)\n"
        out += "segment 1 (stack; grows down):     base \(hx(s.seg1.base)), limit \(s.seg1.limit)\n"
        var res: [JSON] = []
        for va in addrs {
            guard va >> UInt64(s.vaBits) == 0 else {
                out += "va \(hx(va)) -> fault: address wider than \(s.vaBits) bits\n"
                res.append(.object([("va", .string(hx(va))), ("pa", .null), ("fault", .string("address too wide"))]))
                continue
            }
            let t = s.translate(va)
            out += "va \(hx(va)) (\(va)): segment \(t.segment), offset \(t.offset)"
            if let pa = t.pa {
                out += " -> pa \(hx(pa)) (\(pa))\n"
                res.append(.object([("va", .string(hx(va))), ("segment", .int(Int64(t.segment))), ("offset", .int(t.offset)), ("pa", .string(hx(pa))), ("fault", .null)]))
            } else {
                out += " -> segmentation violation\n"
                res.append(.object([("va", .string(hx(va))), ("segment", .int(Int64(t.segment))), ("offset", .int(t.offset)), ("pa", .null), ("fault", .string("segmentation violation"))]))
            }
        }
        return (out, .object([("translate", .string("segmentation")), ("vaBits", .int(Int64(s.vaBits))), ("translations", .array(res))]))
    }

    /// Solves x86 logical → linear translation: SEL:OFFSET addresses through Linux's flat GDT plus
    /// `--descriptor INDEX=BASE:LIMIT:GRAN:DPL:TYPE` entries (GRAN byte|page, TYPE code|code-xo|data|data-ro|data-down).
    static func x86Segment(_ a: inout LabArgs) throws -> (String, JSON) {
        var seg = X86Segmentation.linuxFlat()
        for (d, i) in try a.values("descriptor") {
            let kv = d.split(separator: "=", maxSplits: 1).map(String.init)
            let f = kv.count == 2 ? kv[1].split(separator: ":").map(String.init) : []
            guard kv.count == 2, f.count == 5 else { throw LabError(argument: i, "--descriptor: '\(d)' is not INDEX=BASE:LIMIT:GRAN:DPL:TYPE") }
            let idx = try LabArgs.number(kv[0], i, what: "--descriptor index")
            guard idx >= 1 && idx < 8192 else { throw LabError(argument: i, "--descriptor: index \(idx) is not in 1...8191") }
            let base = try LabArgs.number(f[0], i, what: "--descriptor base"), lim = try LabArgs.number(f[1], i, what: "--descriptor limit")
            guard base <= 0xffff_ffff else { throw LabError(argument: i, "--descriptor: base wider than 32 bits") }
            guard lim <= 0xfffff else { throw LabError(argument: i, "--descriptor: limit wider than 20 bits") }
            guard f[2] == "byte" || f[2] == "page" else { throw LabError(argument: i, "--descriptor: granularity '\(f[2])' is not byte or page") }
            let dpl = try LabArgs.number(f[3], i, what: "--descriptor DPL")
            guard dpl <= 3 else { throw LabError(argument: i, "--descriptor: DPL \(dpl) is not 0...3") }
            let code: Bool, rw: Bool, down: Bool
            switch f[4] {
            case "code": (code, rw, down) = (true, true, false)
            case "code-xo": (code, rw, down) = (true, false, false)
            case "data": (code, rw, down) = (false, true, false)
            case "data-ro": (code, rw, down) = (false, false, false)
            case "data-down": (code, rw, down) = (false, true, true)
            default: throw LabError(argument: i, "--descriptor: type '\(f[4])' is not code, code-xo, data, data-ro or data-down")
            }
            while seg.gdt.count <= Int(idx) { seg.gdt.append(nil) }
            seg.gdt[Int(idx)] = SegmentDescriptor(base: UInt32(base), limit: UInt32(lim), granularity: f[2] == "page", dpl: Int(dpl), code: code, readWrite: rw, expandDown: down)
        }
        let cpl = try a.int("cpl", default: 3, in: 0...3)
        let (kind, _) = try access(&a)
        let p = try a.positionals()
        guard !p.isEmpty else { throw LabError("no SELECTOR:OFFSET to translate") }
        var out = "GDT (Linux's flat segments, arch/x86/include/asm/segment.h, plus --descriptor entries):\n"
        for (i, d) in seg.gdt.enumerated() {
            guard let d = d else { continue }
            let names = X86Segmentation.linuxSelectors.filter { Int($0.1 >> 3) == i }.map(\.0)
            out += "  [\(rpad(String(i), 2))] \(hx(d.encoded, 16))  base \(hx(UInt64(d.base), 8)) limit \(hx(UInt64(d.limit), 5)) G=\(d.granularity ? 1 : 0) DPL=\(d.dpl) type=\(hx(UInt64(d.type))) (\(d.code ? "code" : "data")\(d.long ? ", 64-bit" : ""))\(names.isEmpty ? "" : "  " + names.joined(separator: ", "))\n"
        }
        out += "CPL \(cpl), \(kind == .read ? "read" : kind == .write ? "write" : "exec") accesses\n"
        var res: [JSON] = []
        for (s, i) in p {
            let f = s.split(separator: ":").map(String.init)
            guard f.count == 2 else { throw LabError(argument: i, "'\(s)' is not SELECTOR:OFFSET") }
            let selv = try LabArgs.number(f[0], i, what: "selector"), off = try LabArgs.number(f[1], i, what: "offset")
            guard selv <= 0xffff else { throw LabError(argument: i, "selector \(hx(selv)) is wider than 16 bits") }
            guard off <= 0xffff_ffff else { throw LabError(argument: i, "offset \(hx(off)) is wider than 32 bits") }
            let sel = SegmentSelector(UInt16(selv))
            out += "\(hx(selv)):\(hx(off)): selector \(sel)"
            switch seg.translate(sel, offset: UInt32(off), kind: kind, cpl: cpl) {
            case .success(let lin):
                out += " -> linear \(hx(UInt64(lin), 8))\n"
                res.append(.object([("selector", .string(hx(selv))), ("offset", .string(hx(off))), ("linear", .string(hx(UInt64(lin), 8))), ("fault", .null)]))
            case .failure(let e):
                out += " -> \(e.reason)\n"
                res.append(.object([("selector", .string(hx(selv))), ("offset", .string(hx(off))), ("linear", .null), ("fault", .string(e.reason))]))
            }
        }
        return (out, .object([("translate", .string("x86-segment")), ("cpl", .int(Int64(cpl))), ("translations", .array(res))]))
    }
}
