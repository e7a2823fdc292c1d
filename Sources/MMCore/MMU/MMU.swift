/// The memory-management unit of one CPU: CR3, the TLB hierarchy and the hardware page walker.
///
/// Lookup: an instruction fetch probes the L1 iTLB, a read or write the L1 dTLB; an L1 miss probes
/// the unified STLB (a hit refills the L1); an STLB miss walks the page tables (HardwareWalk.swift)
/// and fills both. A cached entry is used only if it permits the access and, for a write, is
/// already dirty; otherwise the MMU re-walks (to set D, or because the entry may be stale but
/// stricter than the tables — the case Linux relies on when it relaxes rights without a flush),
/// and faults only if the walk faults. A faulting walk drops the TLB entries for that page.
/// Flushes follow what Linux issues: CR3 writes, INVLPG per page up to the single-page ceiling,
/// a full flush of the current PCID above it.

/// Geometry of one TLB: total entries and ways per set (entries need not be a power of two).
public struct TLBGeometry: Sendable, Equatable {
    public var entries: Int
    public var ways: Int
    public init(entries: Int, ways: Int) { self.entries = entries; self.ways = ways }
}

/// Why a TLB configuration was rejected.
public enum TLBConfigError: Error, Equatable, CustomStringConvertible {
    /// `tlb` ("L1 dTLB", "L1 iTLB" or "STLB") has an entry count that is not a positive multiple of its ways.
    case invalidGeometry(tlb: String, entries: Int, ways: Int)
    public var description: String {
        switch self {
        case .invalidGeometry(let tlb, let entries, let ways):
            return "invalid \(tlb) geometry (\(entries) entries, \(ways) ways): "
                + "ways must be at least 1 and entries a positive multiple of ways, at most \(TLBConfig.maxEntries)"
        }
    }
}

/// The TLBs of one CPU.
public struct TLBConfig: Sendable, Equatable {
    /// L1 data TLB.
    public var l1d: TLBGeometry
    /// L1 instruction TLB.
    public var l1i: TLBGeometry
    /// Unified second-level TLB.
    public var stlb: TLBGeometry
    /// Whether CR4.PCIDE is set: TLB entries are tagged with a 12-bit PCID and CR3 loads keep
    /// the entries of other PCIDs.
    public var pcid: Bool
    public init(l1d: TLBGeometry = .init(entries: 64, ways: 4), l1i: TLBGeometry = .init(entries: 128, ways: 8),
                stlb: TLBGeometry = .init(entries: 1536, ways: 12), pcid: Bool = false) {
        self.l1d = l1d; self.l1i = l1i; self.stlb = stlb; self.pcid = pcid
    }

    /// Largest entry count accepted for one TLB.
    public static let maxEntries = 1 << 20

    /// Returns normally when every TLB has ways >= 1 and entries a positive multiple of ways
    /// (at most `maxEntries`); throws `TLBConfigError.invalidGeometry` naming the first bad TLB.
    public func validate() throws {
        for (name, g) in [("L1 dTLB", l1d), ("L1 iTLB", l1i), ("STLB", stlb)] {
            guard g.ways >= 1, g.entries >= g.ways, g.entries % g.ways == 0, g.entries <= TLBConfig.maxEntries else {
                throw TLBConfigError.invalidGeometry(tlb: name, entries: g.entries, ways: g.ways)
            }
        }
    }
}

/// The result of translating one access.
public enum Translation: Equatable, Sendable {
    /// The access may proceed at this physical address.
    case ok(PhysAddr)
    /// The hardware raised #PF with this error code. A non-canonical address (#GP on real
    /// hardware) is reported here too, with P clear and the access bits set — what the kernel's
    /// fault path needs to refuse it as it would any address outside every VMA (SIGSEGV).
    case fault(PFErrorCode)
}

/// Counters of one MMU since creation or the last `resetStats()`.
public struct TLBStats: Equatable, Sendable, Codable {
    public var l1dHits = 0, l1dMisses = 0
    public var l1iHits = 0, l1iMisses = 0
    public var stlbHits = 0, stlbMisses = 0
    /// Page walks started (STLB misses, plus re-walks to set D or to re-check rights).
    public var pageWalks = 0
    /// Paging-structure entries read by the walker (one per level visited).
    public var walkMemoryRefs = 0
    /// Paging-structure entries written back by the walker to set Accessed and/or Dirty.
    public var adUpdates = 0
    /// Page faults (#PF) raised, and non-canonical accesses (#GP) refused.
    public var pageFaults = 0, generalProtectionFaults = 0
    /// Whole-TLB flushes (CR3 writes that flush, flush-all requests, ranges over the ceiling).
    public var fullFlushes = 0
    /// Single-page invalidations (INVLPG).
    public var singlePageFlushes = 0
    /// CR3 writes.
    public var cr3Loads = 0
    public init() {}
}

/// One CPU's MMU: CR3, TLBs and the page walker.
public final class MMU {
    public let config: TLBConfig
    /// The PGD currently loaded in CR3, or nil before the first switch.
    public private(set) var cr3: PFN?
    /// The PCID in CR3 bits 11:0 (always 0 when `config.pcid` is false).
    public private(set) var pcid: UInt16 = 0
    /// The L1 data TLB.
    public private(set) var l1d: TLB
    /// The L1 instruction TLB.
    public private(set) var l1i: TLB
    /// The unified second-level TLB.
    public private(set) var stlb: TLB
    /// The page walker (its MAXPHYADDR decides which address bits are reserved).
    public var walker = HardwareWalker()
    /// Counters since creation or the last `resetStats()`.
    public private(set) var stats = TLBStats()
    /// Pages above which a range flush becomes a full flush (debugfs tlb_single_page_flush_ceiling).
    /// Linux: tlb_single_page_flush_ceiling, arch/x86/mm/tlb.c
    public var singlePageFlushCeiling = 33
    /// The canonical-address rule of the machine's paging format, kept here so that the TLB-hit
    /// path reads two words of the MMU (set by `usePaging`): VA bits from `canonShift` up must be
    /// 0 or equal `canonOnes` (0 for ARM64's TTBR0 range, which has no sign-extended half).
    @usableFromInline var canonShift: UInt64 = 47
    @usableFromInline var canonOnes: UInt64 = UInt64.max >> 47
    /// True for x86-64 4-level paging: misses go to `walker.walk`, else `walker.walkArch`.
    @usableFromInline var x86FourLevel = true

    /// Configures the MMU for the machine's paging format (canonical rule and walker).
    public func usePaging(_ f: PageTableFormat) {
        canonShift = f.canonShift
        // ARM64's TTBR0 range and 32-bit x86 (no address above 4 GiB) have no sign-extended half.
        canonOnes = f.encoding == .arm64 || f.is32Bit ? 0 : UInt64.max >> f.canonShift
        x86FourLevel = f.isX86_64FourLevel
    }

    /// An MMU with empty TLBs and no CR3; `config` must pass `validate()` (checked: traps otherwise).
    public init(config: TLBConfig) {
        do { try config.validate() } catch { preconditionFailure("\(error)") }
        self.config = config
        l1d = TLB(geometry: config.l1d)
        l1i = TLB(geometry: config.l1i)
        stlb = TLB(geometry: config.stlb)
    }

    /// Zeroes every counter.
    public func resetStats() { stats = TLBStats() }

    /// The PCID to use for an optional explicit PCID argument.
    @inline(__always) func effectivePCID(_ p: UInt16?) -> UInt16 {
        config.pcid ? (p ?? pcid) & 0xfff : 0
    }

    // MARK: CR3

    /// Loads CR3 with `pgd` and `pcid`. Without PCID this flushes every non-global entry. With
    /// PCID, entries of other PCIDs stay; the new PCID's non-global entries are flushed unless
    /// `noFlush` (CR3 bit 63) is set, which Linux does when that ASID is still up to date.
    /// Linux: load_new_mm_cr3() / switch_mm_irqs_off(), arch/x86/mm/tlb.c
    public func loadCR3(_ pgd: PFN, pcid: UInt16 = 0, noFlush: Bool = false) {
        cr3 = pgd
        stats.cr3Loads += 1
        if config.pcid {
            self.pcid = pcid & 0xfff
            if !noFlush { flushLocal(self.pcid) }
        } else {
            self.pcid = 0
            l1d.flushAll(keepGlobal: true); l1i.flushAll(keepGlobal: true); stlb.flushAll(keepGlobal: true)
            stats.fullFlushes += 1
        }
    }

    /// Loads CR3 with the kernel's own page tables (swapper_pg_dir of init_mm: no user
    /// mappings, so every user access faults). Without PCID the write flushes every non-global
    /// entry; with PCID only `pcid`'s entries unless `noFlush`.
    /// Linux: switch_mm_irqs_off(NULL, &init_mm, NULL) → load_new_mm_cr3(), arch/x86/mm/tlb.c
    public func loadKernelCR3(pcid: UInt16 = 0, noFlush: Bool = false) {
        cr3 = nil
        stats.cr3Loads += 1
        if config.pcid {
            self.pcid = pcid & 0xfff
            if !noFlush { flushLocal(self.pcid) }
        } else {
            self.pcid = 0
            l1d.flushAll(keepGlobal: true); l1i.flushAll(keepGlobal: true); stlb.flushAll(keepGlobal: true)
            stats.fullFlushes += 1
        }
    }

    // MARK: Translation (hot path)

    /// Whether a cached entry with `payload` can serve this access without a walk: rights allow
    /// it and, for a write, the entry is already dirty.
    @inlinable @inline(__always)
    static func permits(_ payload: UInt64, _ kind: AccessKind, user: Bool) -> Bool {
        if user && payload & PTE.user == 0 { return false }
        switch kind {
        case .read: return true
        case .write: return payload & (PTE.rw | PTE.dirty) == (PTE.rw | PTE.dirty)
        case .exec: return payload & PTE.nx == 0
        }
    }

    /// Translates `va` for an access of `kind` in user (or kernel) mode; returns the physical
    /// address, or `.fault` with the x86 error code when the walk faults (non-canonical
    /// addresses and an empty CR3 fault with P clear).
    /// Linux: what the CPU does before handing a fault to exc_page_fault(), arch/x86/mm/fault.c
    public func translate(_ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory) -> Translation {
        let top = va.raw >> canonShift
        guard top == 0 || top == canonOnes else {
            stats.generalProtectionFaults += 1
            return .fault(HardwareWalker.accessCode(kind, user: user))
        }
        let pcid = self.pcid
        if kind == .exec {
            let slot = l1i.lookup(va, pcid: pcid)
            if slot >= 0 {
                stats.l1iHits += 1
                let p = l1i.payload(slot)
                if MMU.permits(p, kind, user: user) { return .ok(TLB.physAddr(p, va)) }
                return walkAndFill(va, kind, user: user, mem: mem)
            }
            stats.l1iMisses += 1
        } else {
            let slot = l1d.lookup(va, pcid: pcid)
            if slot >= 0 {
                stats.l1dHits += 1
                let p = l1d.payload(slot)
                if MMU.permits(p, kind, user: user) { return .ok(TLB.physAddr(p, va)) }
                return walkAndFill(va, kind, user: user, mem: mem)
            }
            stats.l1dMisses += 1
        }
        let slot = stlb.lookup(va, pcid: pcid)
        if slot >= 0 {
            stats.stlbHits += 1
            let p = stlb.payload(slot)
            if MMU.permits(p, kind, user: user) {
                let tag = stlb.tag(slot)
                if kind == .exec { l1i.insert(tag: tag, payload: p) } else { l1d.insert(tag: tag, payload: p) }
                return .ok(TLB.physAddr(p, va))
            }
        } else {
            stats.stlbMisses += 1
        }
        return walkAndFill(va, kind, user: user, mem: mem)
    }

    /// Walks the tables for `va`, fills the L1 for `kind` and the STLB on success, and drops the
    /// page's entries on a fault; returns the translation result.
    @inline(never)
    func walkAndFill(_ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory) -> Translation {
        guard let pgd = cr3 else {
            stats.pageFaults += 1
            return .fault(HardwareWalker.accessCode(kind, user: user))
        }
        stats.pageWalks += 1
        var refs = 0, ad = 0
        // The one switch: x86-64 4-level paging on its own walker, every other format on walkArch.
        let r = x86FourLevel
            ? walker.walk(pgd, va, kind, user: user, mem: mem, memRefs: &refs, adUpdates: &ad)
            : walker.walkArch(pgd, va, kind, user: user, mem: mem, memRefs: &refs, adUpdates: &ad)
        stats.walkMemoryRefs += refs
        stats.adUpdates += ad
        switch r {
        case .ok(let t):
            let tag = TLB.makeTag(va, size: t.pageSize, pcid: pcid, global: t.isGlobal)
            let payload = TLB.makePayload(t)
            if kind == .exec { l1i.insert(tag: tag, payload: payload) } else { l1d.insert(tag: tag, payload: payload) }
            stlb.insert(tag: tag, payload: payload)
            return .ok(t.physAddr(va))
        case .fault(let code):
            stats.pageFaults += 1
            l1d.invalidatePage(va, pcid: pcid); l1i.invalidatePage(va, pcid: pcid); stlb.invalidatePage(va, pcid: pcid)
            return .fault(code)
        }
    }

    // MARK: Flushes

    /// Invalidates the entries translating `va` (any page size, global ones too) for `pcid`
    /// (default: the current one), as INVLPG / INVPCID individual-address do.
    /// Linux: flush_tlb_one_user() / invlpg(), arch/x86/mm/tlb.c
    public func flushPage(_ va: VirtAddr, pcid: UInt16? = nil) {
        let p = effectivePCID(pcid)
        l1d.invalidatePage(va, pcid: p); l1i.invalidatePage(va, pcid: p); stlb.invalidatePage(va, pcid: p)
        stats.singlePageFlushes += 1
    }

    /// Flushes the TLB entries for [start, end): one INVLPG per `1 << strideShift` bytes when the
    /// range spans at most `singlePageFlushCeiling` strides, else a full flush of the PCID
    /// (default: the current one); `end == UInt64.max` (TLB_FLUSH_ALL) always flushes it all.
    /// An empty range does nothing.
    /// Linux: flush_tlb_mm_range() / flush_tlb_func(), arch/x86/mm/tlb.c
    public func flushRange(_ start: VirtAddr, _ end: VirtAddr, strideShift: UInt64 = PAGE_SHIFT, pcid: UInt16? = nil) {
        guard end > start else { return }
        let stride: UInt64 = 1 << strideShift
        if end.raw == UInt64.max || (end.raw - start.raw) > UInt64(singlePageFlushCeiling) << strideShift {
            flushAll(pcid: pcid)
            return
        }
        var a = start.raw & ~(stride - 1)
        while a < end.raw {
            flushPage(VirtAddr(a), pcid: pcid)
            let (next, overflow) = a.addingReportingOverflow(stride)
            if overflow { break }
            a = next
        }
    }

    /// Flushes every non-global entry of `pcid` (default: the current one), as a CR3 reload does.
    /// Linux: flush_tlb_local(), arch/x86/mm/tlb.c
    public func flushAll(pcid: UInt16? = nil) {
        flushLocal(effectivePCID(pcid))
    }

    /// Flushes every entry of every PCID, global ones included (toggling CR4.PGE).
    /// Linux: __flush_tlb_all() / flush_tlb_kernel_range() beyond the ceiling, arch/x86/mm/tlb.c
    public func flushEverything() {
        l1d.flushAll(keepGlobal: false); l1i.flushAll(keepGlobal: false); stlb.flushAll(keepGlobal: false)
        stats.fullFlushes += 1
    }

    /// Drops the non-global entries of PCID `p` in every TLB and counts one full flush.
    func flushLocal(_ p: UInt16) {
        if config.pcid {
            l1d.flushPCID(p); l1i.flushPCID(p); stlb.flushPCID(p)
        } else {
            l1d.flushAll(keepGlobal: true); l1i.flushAll(keepGlobal: true); stlb.flushAll(keepGlobal: true)
        }
        stats.fullFlushes += 1
    }

    // MARK: Narration and checks (allocate; never on the hot path)

    /// The four 9-bit table indices and the page offset of `va`.
    public func describeSplit(_ va: VirtAddr) -> VASplit { VASplit(va) }

    /// The step-by-step walk of `va` under the current CR3, without setting A/D bits or touching
    /// the TLBs; stops at the first non-present or reserved entry, or at a non-canonical address.
    public func explain(_ va: VirtAddr, mem: PhysicalMemory) -> WalkExplanation {
        WalkExplanation(pgd: cr3, va: va, mem: mem, walker: walker)
    }

    /// Every TLB entry usable under the current CR3 and PCID that the page tables contradict: a
    /// different frame or page size, a right (W, U, X) or D the tables no longer grant, or a page
    /// the tables no longer map. Stricter entries are allowed (the MMU re-walks before faulting).
    /// Returns one message per bad entry, empty when consistent.
    public func invariantViolations(mem: PhysicalMemory) -> [String] {
        guard let pgd = cr3 else { return [] }
        return staleEntries(pgd: pgd, pcid: effectivePCID(nil), mem: mem)
    }

    /// Every entry tagged with `pcid` (or global) that the page tables rooted at `pgd`
    /// contradict, by the rules of `invariantViolations`; one message per bad entry.
    public func staleEntries(pgd: PFN, pcid: UInt16, mem: PhysicalMemory) -> [String] {
        var out: [String] = []
        for (name, tlb) in [("L1 dTLB", l1d), ("L1 iTLB", l1i), ("STLB", stlb)] {
            for e in tlb.entries() where e.global || e.pcid == pcid {
                var refs = 0, ad = 0
                let r = mem.paging.isX86_64FourLevel
                    ? walker.walk(pgd, e.page, .read, user: false, mem: mem, memRefs: &refs, adUpdates: &ad, setAccessedDirty: false)
                    : walker.walkArch(pgd, e.page, .read, user: false, mem: mem, memRefs: &refs, adUpdates: &ad, setAccessedDirty: false)
                guard case .ok(let t) = r else {
                    out.append("\(name) \(e): page tables do not map \(e.page)"); continue
                }
                let c = e.translation
                if t.pageBase != c.pageBase || t.pageSize != c.pageSize {
                    out.append("\(name) \(e): page tables map \(e.page) to \(t.pageBase) (\(t.pageSize))")
                }
                if (c.isWritable && !t.isWritable) || (c.isUser && !t.isUser) || (!c.isNX && t.isNX)
                    || (c.isDirty && !t.isDirty) || (c.isGlobal && !t.isGlobal) {
                    out.append("\(name) \(e): rights or D/G exceed the page tables'")
                }
            }
        }
        return out
    }
}
