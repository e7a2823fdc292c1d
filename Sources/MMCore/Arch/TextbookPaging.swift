/// The textbook paging puzzles: a multi-level page table given as a physical-memory dump with a
/// small geometry (e.g. 32-byte pages, 15-bit addresses, one-byte entries with the valid bit at 7
/// and the PFN in bits 6-0), a linear page table given as its entries, and a TLB in front of it.

/// The geometry and entry format of a textbook page table.
public struct TextbookGeometry: Equatable, Sendable {
    public var pageSize: UInt64
    public var vaBits: Int
    /// Bytes per entry (1, 2, 4 or 8), stored big-endian as the dump reads left to right.
    public var entryBytes: Int
    public var validBit: Int
    /// The PFN field: bits pfnHigh...pfnLow of the entry.
    public var pfnHigh: Int
    public var pfnLow: Int

    public init(pageSize: UInt64, vaBits: Int, entryBytes: Int, validBit: Int, pfnHigh: Int, pfnLow: Int) {
        self.pageSize = pageSize; self.vaBits = vaBits; self.entryBytes = entryBytes
        self.validBit = validBit; self.pfnHigh = pfnHigh; self.pfnLow = pfnLow
    }

    /// log2 of the page size.
    public var offsetBits: Int { pageSize.trailingZeroBitCount }
    /// Index bits a one-page table resolves: log2(pageSize / entryBytes).
    public var indexBits: Int { offsetBits - entryBytes.trailingZeroBitCount }
    /// The index bits of each level, root first: full levels below, the remainder on top.
    public var levelBits: [Int] {
        var rest = vaBits - offsetBits
        var out: [Int] = []
        while rest > 0 { let b = min(rest, indexBits); out.insert(b, at: 0); rest -= b }
        return out
    }

    /// Returns nil when the geometry is consistent, else what is wrong.
    public func validate() -> String? {
        if pageSize < 2 || pageSize.nonzeroBitCount != 1 || pageSize > 1 << 16 { return "page size must be a power of two in 2...65536" }
        if ![1, 2, 4, 8].contains(entryBytes) { return "entry size must be 1, 2, 4 or 8 bytes" }
        if UInt64(entryBytes) > pageSize { return "an entry is larger than a page" }
        if vaBits <= offsetBits || vaBits > 64 { return "virtual-address bits must be in \(offsetBits + 1)...64" }
        let w = entryBytes * 8
        if validBit < 0 || validBit >= w { return "valid bit \(validBit) is outside a \(w)-bit entry" }
        if pfnLow < 0 || pfnHigh < pfnLow || pfnHigh >= w { return "PFN bits \(pfnHigh)-\(pfnLow) are outside a \(w)-bit entry" }
        if indexBits < 1 { return "a page holds fewer than two entries" }
        return nil
    }

    /// The valid bit and PFN of an entry.
    public func split(_ entry: UInt64) -> (valid: Bool, pfn: UInt64) {
        let width = pfnHigh - pfnLow + 1
        let mask: UInt64 = width >= 64 ? .max : (1 << UInt64(width)) - 1
        return (entry >> UInt64(validBit) & 1 == 1, (entry >> UInt64(pfnLow)) & mask)
    }
}

/// A sparse physical memory of textbook pages, as read from `page NNN: <hex bytes>` lines.
public struct DumpMemory: Equatable, Sendable {
    public var pageSize: UInt64
    public var pages: [UInt64: [UInt8]] = [:]
    public init(pageSize: UInt64) { self.pageSize = pageSize }

    /// An error in a dump, with its 1-based line and column.
    public struct ParseError: Error, Equatable, Sendable { public var line: Int; public var column: Int; public var message: String }

    /// Parses dump text: each non-blank line is `page N: XX XX ...` with N decimal (or 0x hex) and
    /// exactly one page of two-digit hex bytes; `#` starts a comment. Throws ParseError on a bad line,
    /// a wrong byte count or a repeated page.
    public static func parse(_ text: String, pageSize: UInt64, maxPages: UInt64 = 1 << 20) throws -> DumpMemory {
        var m = DumpMemory(pageSize: pageSize)
        for (ln, lineSub) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let line = Array(lineSub.prefix { $0 != "#" }.filter { $0 != "\r" })
            var i = 0
            func skip() { while i < line.count && (line[i] == " " || line[i] == "\t") { i += 1 } }
            func err(_ msg: String) -> ParseError { ParseError(line: ln + 1, column: i + 1, message: msg) }
            skip()
            if i == line.count { continue }
            let word = String(line[i..<min(i + 4, line.count)])
            guard word.lowercased() == "page" else { throw err("expected 'page N: <hex bytes>'") }
            i += 4; skip()
            let ns = i
            while i < line.count && line[i] != ":" && line[i] != " " && line[i] != "\t" { i += 1 }
            let numText = String(line[ns..<i])
            let num: UInt64? = numText.lowercased().hasPrefix("0x") ? UInt64(numText.dropFirst(2), radix: 16) : UInt64(numText)
            guard let n = num, n < maxPages else { i = ns; throw err("bad page number '\(numText)'") }
            skip()
            guard i < line.count && line[i] == ":" else { throw err("expected ':' after the page number") }
            i += 1
            var bytes: [UInt8] = []
            while true {
                skip()
                if i >= line.count { break }
                let s = i
                while i < line.count && line[i] != " " && line[i] != "\t" { i += 1 }
                let tok = String(line[s..<i])
                guard tok.count == 2, let b = UInt8(tok, radix: 16) else { i = s; throw err("bad byte '\(tok)' (expected two hex digits)") }
                guard UInt64(bytes.count) < pageSize else { i = s; throw err("more than \(pageSize) bytes in page \(n)") }
                bytes.append(b)
            }
            guard UInt64(bytes.count) == pageSize else { throw err("page \(n) has \(bytes.count) bytes, expected \(pageSize)") }
            guard m.pages[n] == nil else { i = ns; throw err("page \(n) appears twice") }
            m.pages[n] = bytes
        }
        return m
    }

    /// The byte at `pa`, or nil when its page is not in the dump.
    public func byte(_ pa: UInt64) -> UInt8? { pages[pa / pageSize]?[Int(pa % pageSize)] }

    /// Reads a big-endian entry of `count` bytes at `pa`; nil when its page is not in the dump.
    public func entry(_ pa: UInt64, count: Int) -> UInt64? {
        var v: UInt64 = 0
        for k in 0..<count {
            guard let b = byte(pa &+ UInt64(k)) else { return nil }
            v = v << 8 | UInt64(b)
        }
        return v
    }

    /// The dump text of every page, lowest first, in `page NNN: xx xx ...` form.
    public func text() -> String {
        let width = String(pages.keys.max() ?? 0).count
        return pages.keys.sorted().map { n in
            let s = String(n)
            return "page " + String(repeating: " ", count: max(0, width - s.count)) + s + ": " + pages[n]!.map { String(format2: $0) }.joined(separator: " ")
        }.joined(separator: "\n") + (pages.isEmpty ? "" : "\n")
    }
}

extension String {
    /// Two lowercase hex digits.
    init(format2 b: UInt8) { self = (b < 16 ? "0" : "") + String(b, radix: 16) }
}

/// One level of a textbook walk.
public struct TextbookStep: Equatable, Sendable {
    public var index: UInt64
    public var entryAddress: UInt64
    public var entry: UInt64?
    public var valid: Bool
    public var pfn: UInt64
}

/// The walk of one virtual address through a textbook multi-level table.
public struct TextbookWalk: Equatable, Sendable {
    public var va: UInt64
    public var steps: [TextbookStep]
    /// The level whose entry was invalid (or missing from the dump), when the walk faulted.
    public var faultLevel: Int?
    public var faultReason: String?
    public var pa: UInt64?
    /// The byte at `pa`, nil when its page is not in the dump.
    public var value: UInt8?

    /// Walks `va` from the page directory in page `pdbr`: at each level the index is the next
    /// field of the VPN, the entry is read from table page * pageSize + index * entryBytes, and an
    /// invalid entry stops the walk there. Linux: the textbook form of walk_page_range()
    public static func walk(_ va: UInt64, pdbr: UInt64, geometry g: TextbookGeometry, memory m: DumpMemory) -> TextbookWalk {
        var w = TextbookWalk(va: va, steps: [], faultLevel: nil, faultReason: nil, pa: nil, value: nil)
        if g.vaBits < 64 && va >> UInt64(g.vaBits) != 0 {
            w.faultReason = "address wider than \(g.vaBits) bits"
            return w
        }
        let bits = g.levelBits
        var shift = g.vaBits
        var table = pdbr
        for (lvl, b) in bits.enumerated() {
            shift -= b
            let idx = (va >> UInt64(shift)) & ((1 << UInt64(b)) - 1)
            let ea = table &* g.pageSize &+ idx &* UInt64(g.entryBytes)
            guard let e = m.entry(ea, count: g.entryBytes) else {
                w.steps.append(TextbookStep(index: idx, entryAddress: ea, entry: nil, valid: false, pfn: 0))
                w.faultLevel = lvl; w.faultReason = "page \(table) is not in the dump"
                return w
            }
            let (v, pfn) = g.split(e)
            w.steps.append(TextbookStep(index: idx, entryAddress: ea, entry: e, valid: v, pfn: pfn))
            guard v else { w.faultLevel = lvl; w.faultReason = "invalid entry"; return w }
            table = pfn
        }
        let pa = table &* g.pageSize | (va & (g.pageSize - 1))
        w.pa = pa
        w.value = m.byte(pa)
        return w
    }
}

/// A fully associative TLB with LRU replacement in front of a page table.
public struct TextbookTLB: Equatable, Sendable {
    public var entries: Int
    public var pageShift: Int
    /// Resident VPNs, most recently used last.
    public private(set) var resident: [UInt64] = []
    public init(entries: Int, pageShift: Int) { self.entries = max(entries, 1); self.pageShift = pageShift }

    /// Looks up `va`: returns (vpn, hit, the VPN evicted on a miss with a full TLB).
    public mutating func access(_ va: UInt64) -> (vpn: UInt64, hit: Bool, evicted: UInt64?) {
        let vpn = va >> UInt64(pageShift)
        if let i = resident.firstIndex(of: vpn) {
            resident.remove(at: i); resident.append(vpn)
            return (vpn, true, nil)
        }
        var ev: UInt64?
        if resident.count == entries { ev = resident.removeFirst() }
        resident.append(vpn)
        return (vpn, false, ev)
    }
}
