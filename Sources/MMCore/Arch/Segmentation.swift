/// Segmentation: base and bounds, the two-segment textbook model, x86 protected-mode segments
/// with selectors and GDT/LDT descriptors (and Linux's flat segments), segmented paging, and the
/// external fragmentation of placing variable-sized segments in memory.

/// Base-and-bounds relocation (one segment per process, dynamic relocation).
public struct BaseBounds: Equatable, Sendable {
    public var base: UInt64
    /// Size of the segment: legal offsets are 0..<limit.
    public var limit: UInt64
    public init(base: UInt64, limit: UInt64) { self.base = base; self.limit = limit }
    /// Returns base + va, or nil when `va` is at or past the bound (a segmentation violation).
    public func translate(_ va: UInt64) -> UInt64? {
        guard va < limit else { return nil }
        let (p, o) = base.addingReportingOverflow(va)
        return o ? nil : p
    }
}

/// The two-segment model: the top VA bit selects segment 0 (code and heap, growing up from
/// offset 0) or segment 1 (the stack, growing down from the top of the address space).
public struct TwoSegments: Equatable, Sendable {
    public var vaBits: Int
    public var seg0: BaseBounds
    /// Segment 1's base is the physical address just above its highest byte; its limit its size.
    public var seg1: BaseBounds
    public init(vaBits: Int, seg0: BaseBounds, seg1: BaseBounds) { self.vaBits = vaBits; self.seg0 = seg0; self.seg1 = seg1 }

    /// Returns the segment (0 or 1), its offset and the physical address (nil on a violation).
    /// Segment 1's offset is negative: va - 2^vaBits, and the PA is base1 + offset.
    public func translate(_ va: UInt64) -> (segment: Int, offset: Int64, pa: UInt64?) {
        let size = UInt64(1) << UInt64(vaBits)
        if va >> UInt64(vaBits - 1) & 1 == 0 {
            return (0, Int64(va), seg0.translate(va))
        }
        let neg = size &- va                       // bytes below the top
        let ok = neg <= seg1.limit && neg <= seg1.base
        return (1, -Int64(neg), ok ? seg1.base &- neg : nil)
    }
}

/// An x86 segment selector: index[15:3], TI[2] (0 = GDT, 1 = LDT), RPL[1:0].
public struct SegmentSelector: Equatable, Sendable, CustomStringConvertible {
    public var raw: UInt16
    public init(_ raw: UInt16) { self.raw = raw }
    public init(index: Int, ldt: Bool, rpl: Int) { raw = UInt16(index << 3 | (ldt ? 4 : 0) | (rpl & 3)) }
    public var index: Int { Int(raw >> 3) }
    public var ldt: Bool { raw & 4 != 0 }
    public var rpl: Int { Int(raw & 3) }
    public var description: String { "0x" + String(raw, radix: 16) + " (index \(index), \(ldt ? "LDT" : "GDT"), RPL \(rpl))" }
}

/// An x86 code or data segment descriptor (Intel SDM vol. 3A §3.4.5): base[31:0], limit[19:0],
/// G (limit in 4 KiB units), D/B, L, P, DPL, S=1 and the type (code: execute/read, data: read/write,
/// expand-down). System descriptors (S=0) are not modelled.
public struct SegmentDescriptor: Equatable, Sendable {
    public var base: UInt32
    public var limit: UInt32       // 20 bits
    public var granularity: Bool
    public var dpl: Int
    public var present: Bool
    public var code: Bool
    /// Code: readable; data: writable.
    public var readWrite: Bool
    public var expandDown: Bool
    /// L: 64-bit code segment.
    public var long: Bool
    /// D/B: 32-bit default operand size.
    public var big: Bool
    public var accessed: Bool

    public init(base: UInt32, limit: UInt32, granularity: Bool, dpl: Int, code: Bool, readWrite: Bool,
                present: Bool = true, expandDown: Bool = false, long: Bool = false, big: Bool = true, accessed: Bool = true) {
        self.base = base; self.limit = limit & 0xfffff; self.granularity = granularity; self.dpl = dpl & 3
        self.present = present; self.code = code; self.readWrite = readWrite; self.expandDown = expandDown
        self.long = long; self.big = big; self.accessed = accessed
    }

    /// The 4-bit type field: bit 3 code, bit 2 conforming/expand-down, bit 1 read/write, bit 0 accessed.
    public var type: UInt8 { (code ? 8 : 0) | (expandDown ? 4 : 0) | (readWrite ? 2 : 0) | (accessed ? 1 : 0) }

    /// The effective limit in bytes: limit, or with G=1 limit * 4096 + 4095.
    public var byteLimit: UInt64 { granularity ? UInt64(limit) << 12 | 0xfff : UInt64(limit) }

    /// Returns the 8-byte descriptor as stored in the GDT.
    public var encoded: UInt64 {
        var d = UInt64(limit & 0xffff) | UInt64(base & 0xffffff) << 16
        d |= UInt64(type) << 40 | 1 << 44 | UInt64(dpl) << 45 | (present ? 1 << 47 : 0)
        d |= UInt64((limit >> 16) & 0xf) << 48 | (long ? 1 << 53 : 0) | (big ? 1 << 54 : 0) | (granularity ? 1 << 55 : 0)
        d |= UInt64(base >> 24) << 56
        return d
    }

    /// Decodes an 8-byte descriptor; nil for a system descriptor (S=0).
    public init?(encoded d: UInt64) {
        guard d & (1 << 44) != 0 else { return nil }
        let t = UInt8((d >> 40) & 0xf)
        self.init(base: UInt32((d >> 16) & 0xffffff) | UInt32((d >> 56) & 0xff) << 24,
                  limit: UInt32(d & 0xffff) | UInt32((d >> 48) & 0xf) << 16, granularity: d & (1 << 55) != 0,
                  dpl: Int((d >> 45) & 3), code: t & 8 != 0, readWrite: t & 2 != 0, present: d & (1 << 47) != 0,
                  expandDown: t & 8 == 0 && t & 4 != 0, long: d & (1 << 53) != 0, big: d & (1 << 54) != 0, accessed: t & 1 != 0)
    }
}

/// The x86 segmentation unit: a GDT, an optional LDT and the privilege checks of a segment
/// register load and of an access through it (Intel SDM vol. 3A §5.5-5.8).
public struct X86Segmentation: Equatable, Sendable {
    public var gdt: [SegmentDescriptor?]
    public var ldt: [SegmentDescriptor?]
    public init(gdt: [SegmentDescriptor?], ldt: [SegmentDescriptor?] = []) { self.gdt = gdt; self.ldt = ldt }

    /// Linux's x86 GDT entries for the flat segments (arch/x86/include/asm/segment.h, 64-bit):
    /// GDT_ENTRY_KERNEL32_CS 1, KERNEL_CS 2, KERNEL_DS 3, DEFAULT_USER32_CS 4, DEFAULT_USER_DS 5,
    /// DEFAULT_USER_CS 6; every one has base 0 and limit 0xfffff with G=1 (4 GiB).
    public static func linuxFlat() -> X86Segmentation {
        var g = [SegmentDescriptor?](repeating: nil, count: 16)
        g[1] = SegmentDescriptor(base: 0, limit: 0xfffff, granularity: true, dpl: 0, code: true, readWrite: true)
        g[2] = SegmentDescriptor(base: 0, limit: 0xfffff, granularity: true, dpl: 0, code: true, readWrite: true, long: true, big: false)
        g[3] = SegmentDescriptor(base: 0, limit: 0xfffff, granularity: true, dpl: 0, code: false, readWrite: true)
        g[4] = SegmentDescriptor(base: 0, limit: 0xfffff, granularity: true, dpl: 3, code: true, readWrite: true)
        g[5] = SegmentDescriptor(base: 0, limit: 0xfffff, granularity: true, dpl: 3, code: false, readWrite: true)
        g[6] = SegmentDescriptor(base: 0, limit: 0xfffff, granularity: true, dpl: 3, code: true, readWrite: true, long: true, big: false)
        return X86Segmentation(gdt: g)
    }
    /// __KERNEL32_CS = 1*8 = 0x08, __KERNEL_CS = 2*8 = 0x10, __KERNEL_DS = 0x18, __USER32_CS = 4*8+3 = 0x23, __USER_DS = 0x2b,
    /// __USER_CS = 6*8+3 = 0x33 (x86-64 Linux).
    public static let linuxSelectors: [(String, UInt16)] = [("__KERNEL32_CS", 0x08), ("__KERNEL_CS", 0x10), ("__KERNEL_DS", 0x18),
                                                             ("__USER32_CS", 0x23), ("__USER_DS", 0x2b), ("__USER_CS", 0x33)]

    /// Returns the descriptor a selector names, or the #GP/#NP reason.
    public func descriptor(_ s: SegmentSelector) -> Result<SegmentDescriptor, SegmentFault> {
        if !s.ldt && s.index == 0 { return .failure(SegmentFault("#GP(0): null selector")) }
        let table = s.ldt ? ldt : gdt
        guard s.index < table.count, let d = table[s.index] else {
            return .failure(SegmentFault("#GP(0x\(String(s.raw & ~3, radix: 16))): selector index \(s.index) outside the \(s.ldt ? "LDT" : "GDT") or empty"))
        }
        guard d.present else { return .failure(SegmentFault("#NP(0x\(String(s.raw & ~3, radix: 16))): segment not present")) }
        return .success(d)
    }

    /// Returns the linear address of `offset` through the segment `s` for an access of `kind` at
    /// privilege `cpl`, or the fault: a data-segment load needs max(CPL, RPL) <= DPL, a code
    /// fetch (non-conforming) CPL == DPL; the offset must lie within the limit (above it for
    /// expand-down); writes need a writable data segment, reads of code a readable one.
    public func translate(_ s: SegmentSelector, offset: UInt32, kind: AccessKind, cpl: Int) -> Result<UInt32, SegmentFault> {
        let d: SegmentDescriptor
        switch descriptor(s) { case .success(let x): d = x; case .failure(let f): return .failure(f) }
        let sel = "0x" + String(s.raw & ~3, radix: 16)
        if kind == .exec || (d.code && kind != .read) {
            guard d.code else { return .failure(SegmentFault("#GP(\(sel)): fetch from a data segment")) }
            if kind == .write { return .failure(SegmentFault("#GP(0): write to a code segment")) }
            if kind == .exec && cpl != d.dpl { return .failure(SegmentFault("#GP(\(sel)): CPL \(cpl) != DPL \(d.dpl) for a code segment")) }
        } else {
            if max(cpl, s.rpl) > d.dpl { return .failure(SegmentFault("#GP(\(sel)): max(CPL \(cpl), RPL \(s.rpl)) > DPL \(d.dpl)")) }
            if kind == .write && (d.code || !d.readWrite) { return .failure(SegmentFault("#GP(0): segment not writable")) }
            if kind == .read && d.code && !d.readWrite { return .failure(SegmentFault("#GP(0): code segment not readable")) }
        }
        let lim = d.byteLimit
        let inside = d.expandDown ? UInt64(offset) > lim : UInt64(offset) <= lim
        guard inside else { return .failure(SegmentFault("#GP(0): offset 0x\(String(offset, radix: 16)) beyond the limit 0x\(String(lim, radix: 16))")) }
        return .success(d.base &+ offset)
    }
}

/// A segmentation fault raised by the x86 segment unit.
public struct SegmentFault: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Segmented paging: a logical address (segment number, page number within the segment, offset)
/// goes through the segment table (one memory reference, giving the segment's page table and its
/// length in pages), then the segment's page table (a second reference, giving the frame), then
/// the data itself (the third).
public struct SegmentedPaging: Equatable, Sendable {
    public struct Segment: Equatable, Sendable {
        /// Physical address of the segment's page table.
        public var pageTable: UInt64
        /// The frame of each page of the segment (nil = not present).
        public var frames: [UInt64?]
        public init(pageTable: UInt64, frames: [UInt64?]) { self.pageTable = pageTable; self.frames = frames }
    }
    public var pageShift: Int
    public var segmentTable: UInt64
    public var segments: [Segment]
    public init(pageShift: Int, segmentTable: UInt64, segments: [Segment]) {
        self.pageShift = pageShift; self.segmentTable = segmentTable; self.segments = segments
    }

    /// One translation: the memory references made (address, what) and the PA or the fault.
    public struct Walk: Equatable, Sendable {
        public var references: [(UInt64, String)]
        public var pa: UInt64?
        public var fault: String?
        public static func == (a: Walk, b: Walk) -> Bool { a.pa == b.pa && a.fault == b.fault && a.references.map(\.0) == b.references.map(\.0) }
    }

    /// Returns the walk of (segment, page, offset): 3 references on success, fewer on a fault.
    public func translate(segment: Int, page: Int, offset: UInt64) -> Walk {
        var w = Walk(references: [], pa: nil, fault: nil)
        guard segment >= 0, segment < segments.count else { w.fault = "segment \(segment) outside the segment table"; return w }
        let s = segments[segment]
        w.references.append((segmentTable &+ UInt64(segment) &* 8, "segment table entry \(segment) -> page table 0x\(String(s.pageTable, radix: 16)), \(s.frames.count) pages"))
        guard page >= 0, page < s.frames.count else { w.fault = "page \(page) beyond the segment's length (\(s.frames.count) pages)"; return w }
        guard offset < UInt64(1) << UInt64(pageShift) else { w.fault = "offset wider than a page"; return w }
        guard let f = s.frames[page] else {
            w.references.append((s.pageTable &+ UInt64(page) &* 8, "page table entry \(page): not present"))
            w.fault = "page fault: page \(page) of segment \(segment) not present"; return w
        }
        w.references.append((s.pageTable &+ UInt64(page) &* 8, "page table entry \(page) -> frame \(f)"))
        let pa = f << UInt64(pageShift) | offset
        w.references.append((pa, "the data"))
        w.pa = pa
        return w
    }
}

/// Variable-sized segments placed in a contiguous physical memory with first, best or worst fit,
/// showing the holes left between them (external fragmentation) and what swapping a whole
/// segment out to make room costs.
public struct SegmentMemory: Equatable, Sendable {
    public enum Fit: String, CaseIterable, Sendable { case first, best, worst }
    public var size: UInt64
    /// Allocated segments: name, start, length, sorted by start.
    public private(set) var segments: [(name: String, start: UInt64, length: UInt64)] = []
    public init(size: UInt64) { self.size = size }
    public static func == (a: SegmentMemory, b: SegmentMemory) -> Bool {
        a.size == b.size && a.segments.map(\.name) == b.segments.map(\.name) && a.segments.map(\.start) == b.segments.map(\.start)
    }

    /// The free holes (start, length), lowest first.
    public var holes: [(start: UInt64, length: UInt64)] {
        var out: [(UInt64, UInt64)] = []
        var at: UInt64 = 0
        for s in segments {
            if s.start > at { out.append((at, s.start - at)) }
            at = s.start + s.length
        }
        if at < size { out.append((at, size - at)) }
        return out.map { (start: $0.0, length: $0.1) }
    }
    /// Total free bytes.
    public var freeBytes: UInt64 { holes.reduce(0) { $0 + $1.length } }

    /// Places a segment of `length` bytes by `fit` and returns its start, or nil when no single
    /// hole is large enough (even if the free total is).
    public mutating func allocate(_ name: String, length: UInt64, fit: Fit) -> UInt64? {
        let h = holes.filter { $0.length >= length }
        let pick: (start: UInt64, length: UInt64)?
        switch fit {
        case .first: pick = h.first
        case .best: pick = h.min { $0.length < $1.length }
        case .worst: pick = h.max { $0.length < $1.length }
        }
        guard let p = pick, length > 0 else { return nil }
        segments.append((name, p.start, length))
        segments.sort { $0.start < $1.start }
        return p.start
    }

    /// Frees the segment called `name`; returns its length (0 if there is none).
    @discardableResult public mutating func free(_ name: String) -> UInt64 {
        guard let i = segments.firstIndex(where: { $0.name == name }) else { return 0 }
        return segments.remove(at: i).length
    }
}
