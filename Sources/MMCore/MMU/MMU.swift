/// The memory-management unit of one CPU: CR3, the TLB hierarchy, the paging-structure caches
/// and the hardware page walker.
///
/// TLB arrays, as on Intel cores (Skylake geometry by default; Intel optimization manual, TLB
/// parameters): the L1 dTLB is three arrays probed together (4K, 2M, 1G pages), the L1 iTLB two
/// (4K, 2M; a 1 GiB page is cached there as the 2 MiB piece holding the address, as cores
/// splinter it), and the second level is the STLB shared by 4K and 2M pages plus a separate 1G
/// STLB. An instruction fetch probes the L1 iTLB arrays, a read or write the L1 dTLB arrays; an
/// L1 miss probes both STLB arrays (a hit refills the L1 array of the page's size); an STLB miss
/// walks the page tables (HardwareWalk.swift), starting below the lowest paging-structure-cache
/// hit (PagingStructureCache.swift), and fills the L1, the STLB and those caches. A cached entry is used only if it permits the access and, for a write, is
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
    /// `tlb` (e.g. "L1 dTLB", "L1 dTLB 2M", "STLB 1G") has an entry count that is not a positive multiple of its ways.
    case invalidGeometry(tlb: String, entries: Int, ways: Int)
    /// Paging-structure cache `cache` ("PML4E", "PDPTE" or "PDE") has a negative or too large size.
    case invalidWalkCache(cache: String, entries: Int)
    public var description: String {
        switch self {
        case .invalidGeometry(let tlb, let entries, let ways):
            return "invalid \(tlb) geometry (\(entries) entries, \(ways) ways): "
                + "ways must be at least 1 and entries a positive multiple of ways, at most \(TLBConfig.maxEntries)"
        case .invalidWalkCache(let cache, let entries):
            return "invalid \(cache) cache size \(entries): expected 0 (off) to \(TLBConfig.maxWalkCacheEntries) entries"
        }
    }
}

/// The TLB arrays and paging-structure caches of one CPU. Defaults: Skylake's TLBs (Intel
/// optimization manual, Skylake TLB parameters: dTLB 64x4 for 4K, 32x4 for 2M, 4x4 for 1G; iTLB
/// 128x8 for 4K, 8 fully associative for 2M; STLB 1536x12 for 4K and 2M, 16x4 for 1G). Intel does
/// not publish its paging-structure cache sizes; the defaults (2 PML4E, 4 PDPTE, 32 PDE entries)
/// are of the order published measurements report.
public struct TLBConfig: Sendable, Equatable {
    /// L1 data TLB for 4 KiB pages.
    public var l1d: TLBGeometry
    /// L1 instruction TLB for 4 KiB pages.
    public var l1i: TLBGeometry
    /// Second-level TLB shared by 4 KiB and 2 MiB pages.
    public var stlb: TLBGeometry
    /// Whether CR4.PCIDE is set: TLB entries are tagged with a 12-bit PCID and CR3 loads keep
    /// the entries of other PCIDs.
    public var pcid: Bool
    /// L1 data TLB for 2 MiB pages.
    public var l1d2M: TLBGeometry
    /// L1 data TLB for 1 GiB pages.
    public var l1d1G: TLBGeometry
    /// L1 instruction TLB for 2 MiB pages (and 2 MiB pieces of 1 GiB pages).
    public var l1i2M: TLBGeometry
    /// Second-level TLB for 1 GiB pages.
    public var stlb1G: TLBGeometry
    /// Entries of the PML4E, PDPTE and PDE caches (0: that cache is off).
    public var pwcPML4E: Int, pwcPDPTE: Int, pwcPDE: Int
    public init(l1d: TLBGeometry = .init(entries: 64, ways: 4), l1i: TLBGeometry = .init(entries: 128, ways: 8),
                stlb: TLBGeometry = .init(entries: 1536, ways: 12), pcid: Bool = false,
                l1d2M: TLBGeometry = .init(entries: 32, ways: 4), l1d1G: TLBGeometry = .init(entries: 4, ways: 4),
                l1i2M: TLBGeometry = .init(entries: 8, ways: 8), stlb1G: TLBGeometry = .init(entries: 16, ways: 4),
                pwcPML4E: Int = 2, pwcPDPTE: Int = 4, pwcPDE: Int = 32) {
        self.l1d = l1d; self.l1i = l1i; self.stlb = stlb; self.pcid = pcid
        self.l1d2M = l1d2M; self.l1d1G = l1d1G; self.l1i2M = l1i2M; self.stlb1G = stlb1G
        self.pwcPML4E = pwcPML4E; self.pwcPDPTE = pwcPDPTE; self.pwcPDE = pwcPDE
    }

    /// Largest entry count accepted for one TLB.
    public static let maxEntries = 1 << 20
    /// Largest entry count accepted for one paging-structure cache (they are fully associative).
    public static let maxWalkCacheEntries = 1024

    /// The arrays with their display names, in report order.
    public var arrays: [(String, TLBGeometry)] {
        [("L1 dTLB", l1d), ("L1 dTLB 2M", l1d2M), ("L1 dTLB 1G", l1d1G), ("L1 iTLB", l1i), ("L1 iTLB 2M", l1i2M),
         ("STLB", stlb), ("STLB 1G", stlb1G)]
    }

    /// Returns normally when every TLB array has ways >= 1 and entries a positive multiple of ways
    /// (at most `maxEntries`) and every paging-structure cache 0...`maxWalkCacheEntries` entries;
    /// throws `TLBConfigError` naming the first bad array or cache.
    public func validate() throws {
        for (name, g) in arrays {
            guard g.ways >= 1, g.entries >= g.ways, g.entries % g.ways == 0, g.entries <= TLBConfig.maxEntries else {
                throw TLBConfigError.invalidGeometry(tlb: name, entries: g.entries, ways: g.ways)
            }
        }
        for (name, n) in [("PML4E", pwcPML4E), ("PDPTE", pwcPDPTE), ("PDE", pwcPDE)] {
            guard n >= 0, n <= TLBConfig.maxWalkCacheEntries else { throw TLBConfigError.invalidWalkCache(cache: name, entries: n) }
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
    /// L1 dTLB lookups that hit one of its arrays, and that missed all of them.
    public var l1dHits = 0, l1dMisses = 0
    /// L1 iTLB lookups that hit one of its arrays, and that missed all of them.
    public var l1iHits = 0, l1iMisses = 0
    /// STLB lookups (after an L1 miss) that hit the 4K/2M or the 1G array, and that missed both.
    public var stlbHits = 0, stlbMisses = 0
    /// The part of `l1dHits` served by the 2M and by the 1G array (the rest by the 4K array).
    public var l1d2MHits = 0, l1d1GHits = 0
    /// The part of `l1iHits` served by the 2M array.
    public var l1i2MHits = 0
    /// The part of `stlbHits` that hit a 2M entry of the shared STLB, and the 1G STLB.
    public var stlb2MHits = 0, stlb1GHits = 0
    /// Walks that started below a PML4E-, PDPTE- or PDE-cache hit (the lowest level hit counts).
    public var pwcPML4EHits = 0, pwcPDPTEHits = 0, pwcPDEHits = 0
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
    /// The L1 data TLB for 4K pages.
    public let l1d: TLB
    /// The L1 data TLB for 2M pages.
    public let l1d2M: TLB
    /// The L1 data TLB for 1G pages.
    public let l1d1G: TLB
    /// The L1 instruction TLB for 4K pages.
    public let l1i: TLB
    /// The L1 instruction TLB for 2M pages (and 2M pieces of 1G pages).
    public let l1i2M: TLB
    /// The second-level TLB for 4K and 2M pages.
    public let stlb: TLB
    /// The second-level TLB for 1G pages.
    public let stlb1G: TLB
    /// The PML4E, PDPTE and PDE caches.
    public let pml4eCache: PagingStructureCache
    public let pdpteCache: PagingStructureCache
    public let pdeCache: PagingStructureCache
    /// The page walker (its MAXPHYADDR decides which address bits are reserved).
    public var walker = HardwareWalker()
    /// Counters since creation or the last `resetStats()`.
    public var stats: TLBStats {
        var s = counts
        s.l1dHits &+= fastDataHits
        return s
    }
    /// The counters, except the L1 dTLB hits served by the inlined fast path of `translate`.
    var counts = TLBStats()
    /// L1 dTLB hits served by the inlined fast path of `translate` (folded into `stats`).
    @usableFromInline var fastDataHits = 0
    /// The last data page that hit the L1 dTLB's 4K array (VA bits 63:12; `UInt64.max`: none),
    /// its slot and the tag the slot held. While the slot still holds that tag, the lookup would
    /// find this entry again (a set never holds two entries usable under one PCID for one page),
    /// so `translate` serves it without probing — with the same counts and LRU update.
    @usableFromInline var lastDataPage = UInt64.max
    @usableFromInline var lastDataSlot = 0
    @usableFromInline var lastDataTag: UInt64 = 0
    /// While `translate` walks after missing every array it probed: 1 for a data access (L1
    /// dTLB arrays and both STLBs missed), 2 for an instruction fetch (L1 iTLB arrays and both
    /// STLBs missed); 0 otherwise.
    var probedMiss: UInt8 = 0
    /// Pages above which a range flush becomes a full flush (debugfs tlb_single_page_flush_ceiling).
    /// Linux: tlb_single_page_flush_ceiling, arch/x86/mm/tlb.c
    public var singlePageFlushCeiling = 33
    /// The canonical-address rule of the machine's paging format, kept here so that the TLB-hit
    /// path reads two words of the MMU (set by `usePaging`): VA bits from `canonShift` up must be
    /// 0 or equal `canonOnes` (0 for ARM64's TTBR0 range, which has no sign-extended half).
    @usableFromInline var canonShift: UInt64 = 47
    @usableFromInline var canonOnes: UInt64 = UInt64.max >> 47
    /// The PMD table `prefetchTranslation` last found for the 1 GiB region `prefetchRegion` (VA
    /// bits 63:30) under the PGD `prefetchRoot`, so that prefetching for the next address in that
    /// region reads only the PMD entry. A hint for the host's caches only: when the tables have
    /// changed since, the prefetch reads a stale table (a read without side effects) and fetches
    /// a useless line; no translation ever uses it.
    var prefetchRegion = UInt64.max
    var prefetchRoot = PFN(0)
    var prefetchPMD = PFN(0)
    /// True for x86-64 4-level paging: misses go to `walker.walk`, else `walker.walkArch`.
    @usableFromInline var x86FourLevel = true
    /// Whether data accesses may take `translateData4K` (false: always the general path; for
    /// the tests that compare the two).
    var dataFastPath = true { didSet { updateDataFastPath() } }
    /// `dataFastPath`, x86-64 4-level paging, and nibble-ordered L1 dTLB and STLB sets: the
    /// conditions of `translateData4K` that change only with the configuration.
    @usableFromInline var dataFastPathEligible = true

    /// Recomputes `dataFastPathEligible`.
    func updateDataFastPath() {
        dataFastPathEligible = dataFastPath && x86FourLevel && l1d.nibbleOrder && stlb.nibbleOrder
    }

    /// Configures the MMU for the machine's paging format (canonical rule and walker).
    public func usePaging(_ f: PageTableFormat) {
        canonShift = f.canonShift
        // ARM64's TTBR0 range and 32-bit x86 (no address above 4 GiB) have no sign-extended half.
        canonOnes = f.encoding == .arm64 || f.is32Bit ? 0 : UInt64.max >> f.canonShift
        x86FourLevel = f.isX86_64FourLevel
        updateDataFastPath()
    }

    /// An MMU with empty TLBs and no CR3; `config` must pass `validate()` (checked: traps otherwise).
    public init(config: TLBConfig) {
        do { try config.validate() } catch { preconditionFailure("\(error)") }
        self.config = config
        l1d = TLB(geometry: config.l1d)
        l1d2M = TLB(geometry: config.l1d2M)
        l1d1G = TLB(geometry: config.l1d1G)
        l1i = TLB(geometry: config.l1i)
        l1i2M = TLB(geometry: config.l1i2M)
        stlb = TLB(geometry: config.stlb)
        stlb1G = TLB(geometry: config.stlb1G)
        pml4eCache = PagingStructureCache(capacity: config.pwcPML4E, shift: 39)
        pdpteCache = PagingStructureCache(capacity: config.pwcPDPTE, shift: 30)
        pdeCache = PagingStructureCache(capacity: config.pwcPDE, shift: 21)
        updateDataFastPath()
    }

    /// Every TLB array with its display name, in report order (allocates).
    public var arrays: [(String, TLB)] {
        [("L1 dTLB", l1d), ("L1 dTLB 2M", l1d2M), ("L1 dTLB 1G", l1d1G), ("L1 iTLB", l1i), ("L1 iTLB 2M", l1i2M),
         ("STLB", stlb), ("STLB 1G", stlb1G)]
    }

    /// The paging-structure caches with their names, top level first (allocates).
    public var walkCaches: [(String, PagingStructureCache)] {
        [("PML4E", pml4eCache), ("PDPTE", pdpteCache), ("PDE", pdeCache)]
    }

    /// Valid entries over every TLB array.
    public var validTLBEntries: Int {
        l1d.validCount + l1d2M.validCount + l1d1G.validCount + l1i.validCount + l1i2M.validCount
            + stlb.validCount + stlb1G.validCount
    }

    /// Zeroes every counter.
    public func resetStats() { counts = TLBStats(); fastDataHits = 0 }

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
        lastDataPage = UInt64.max
        counts.cr3Loads += 1
        if config.pcid {
            self.pcid = pcid & 0xfff
            if !noFlush { flushLocal(self.pcid) }
        } else {
            self.pcid = 0
            flushArrays(keepGlobal: true)
            counts.fullFlushes += 1
        }
    }

    /// Loads CR3 with the kernel's own page tables (swapper_pg_dir of init_mm: no user
    /// mappings, so every user access faults). Without PCID the write flushes every non-global
    /// entry; with PCID only `pcid`'s entries unless `noFlush`.
    /// Linux: switch_mm_irqs_off(NULL, &init_mm, NULL) → load_new_mm_cr3(), arch/x86/mm/tlb.c
    public func loadKernelCR3(pcid: UInt16 = 0, noFlush: Bool = false) {
        cr3 = nil
        lastDataPage = UInt64.max
        counts.cr3Loads += 1
        if config.pcid {
            self.pcid = pcid & 0xfff
            if !noFlush { flushLocal(self.pcid) }
        } else {
            self.pcid = 0
            flushArrays(keepGlobal: true)
            counts.fullFlushes += 1
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
    @inlinable @inline(__always)
    public func translate(_ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory) -> Translation {
        if kind != .exec && va.raw >> PAGE_SHIFT == lastDataPage {
            // The L1 dTLB 4K entry of the previous access, still in place: a hit, as the probe
            // would find. When the entry is already the most recently used of the whole TLB
            // (the array's last touched), touching it again would change no LRU order: skipped.
            let slot = lastDataSlot
            let p = l1d.payloads[slot]
            if l1d.tags[slot] == lastDataTag && slot == l1d.lastTouched && MMU.permits(p, kind, user: user) {
                fastDataHits &+= 1
                return .ok(TLB.physAddr(p, va))
            }
        } else if kind != .exec && dataArraysHold4KOnly {
            // Straight to the 4K data path, without `translateProbe`'s frame and checks.
            return translateData4K(va, kind, user: user, mem: mem)
        }
        return translateProbe(va, kind, user: user, mem: mem)
    }

    /// Asks the host CPU to bring into its caches what a data access to `va` that misses the L1
    /// dTLB reads: the STLB set, and the page-table entry a walk would read last (the PTE, whose
    /// tables are too large to stay cached under random accesses), so that a `translate` of `va`
    /// issued a little later finds them there. Reads the upper entries without setting A/D bits
    /// and touches no TLB entry, cache or counter: the model is unchanged. The PTE is not
    /// prefetched without CR3, off x86-64 4-level paging, or when an upper entry is not a table.
    public func prefetchTranslation(_ va: VirtAddr, mem: PhysicalMemory) {
        stlb.prefetchSet(va.raw)
        guard x86FourLevel, let pgd = cr3 else { return }
        var table = pgd
        if va.raw >> 30 == prefetchRegion && pgd == prefetchRoot {
            table = prefetchPMD
        } else {
            var level = 0
            while level < 2 {
                let raw = HardwareWalker.readEntry(mem, table, Int(truncatingIfNeeded: (va.raw >> (39 &- 9 &* UInt64(level))) & 0x1ff))
                if raw & PTE.present == 0 || (level != 0 && raw & PTE.pse != 0) { return }
                table = PFN((raw & PTE.pfnMask) >> PAGE_SHIFT)
                level &+= 1
            }
            prefetchRegion = va.raw >> 30; prefetchRoot = pgd; prefetchPMD = table
        }
        let raw = HardwareWalker.readEntry(mem, table, Int(truncatingIfNeeded: (va.raw >> 21) & 0x1ff))
        if raw & PTE.present == 0 || raw & PTE.pse != 0 { return }
        table = PFN((raw & PTE.pfnMask) >> PAGE_SHIFT)
        mem.contents.prefetchWord(table, Int(truncatingIfNeeded: (va.raw >> PAGE_SHIFT) & 0x1ff))
    }

    /// `translate` past its inlined fast path: probes the TLB arrays, walks on a miss.
    @usableFromInline @inline(never)
    func translateProbe(_ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory) -> Translation {
        if kind != .exec && va.raw >> PAGE_SHIFT == lastDataPage && l1d.tags[lastDataSlot] == lastDataTag {
            // The L1 dTLB 4K entry of the previous access, still in place: a hit, as the probe would find.
            counts.l1dHits &+= 1
            l1d.touch(lastDataSlot)
            let p = l1d.payloads[lastDataSlot]
            if MMU.permits(p, kind, user: user) { return .ok(TLB.physAddr(p, va)) }
            return walkAndFill(va, kind, user: user, mem: mem)
        }
        if kind != .exec && dataArraysHold4KOnly { return translateData4K(va, kind, user: user, mem: mem) }
        let top = va.raw >> canonShift
        guard top == 0 || top == canonOnes else {
            counts.generalProtectionFaults += 1
            return .fault(HardwareWalker.accessCode(kind, user: user))
        }
        let pcid = self.pcid
        if kind == .exec {
            var p: UInt64 = 0
            var slot = l1i.lookup(va, pcid: pcid)
            if slot >= 0 { p = l1i.payload(slot) }
            else if l1i2M.validCount > 0 {
                slot = l1i2M.lookup(va, pcid: pcid)
                if slot >= 0 { p = l1i2M.payload(slot); counts.l1i2MHits += 1 }
            }
            if slot >= 0 {
                counts.l1iHits += 1
                if MMU.permits(p, kind, user: user) { return .ok(TLB.physAddr(p, va)) }
                return walkAndFill(va, kind, user: user, mem: mem)
            }
            counts.l1iMisses += 1
        } else {
            var p: UInt64 = 0
            // Noting the victim: after a miss, the walk's fill of this array skips its scan.
            var slot = l1d.lookupNotingVictim(va, pcid: pcid)
            if slot >= 0 {
                p = l1d.payload(slot)
                lastDataPage = va.raw >> PAGE_SHIFT; lastDataSlot = slot; lastDataTag = l1d.tags[slot]
            } else {
                if l1d2M.validCount > 0 {
                    slot = l1d2M.lookup(va, pcid: pcid)
                    if slot >= 0 { p = l1d2M.payload(slot); counts.l1d2MHits += 1 }
                }
                if slot < 0 && l1d1G.validCount > 0 {
                    slot = l1d1G.lookup(va, pcid: pcid)
                    if slot >= 0 { p = l1d1G.payload(slot); counts.l1d1GHits += 1 }
                }
            }
            if slot >= 0 {
                counts.l1dHits &+= 1
                if MMU.permits(p, kind, user: user) { return .ok(TLB.physAddr(p, va)) }
                return walkAndFill(va, kind, user: user, mem: mem)
            }
            counts.l1dMisses &+= 1
        }
        var tag: UInt64 = 0, p: UInt64 = 0
        var slot = stlb.lookupNotingVictim(va, pcid: pcid)
        if slot >= 0 { tag = stlb.tag(slot); p = stlb.payload(slot) }
        else if stlb1G.validCount > 0 {
            slot = stlb1G.lookup(va, pcid: pcid)
            if slot >= 0 { tag = stlb1G.tag(slot); p = stlb1G.payload(slot); counts.stlb1GHits += 1 }
        }
        if slot >= 0 {
            counts.stlbHits &+= 1
            if TLB.sizeOf(tag: tag) == 1 { counts.stlb2MHits += 1 }
            if MMU.permits(p, kind, user: user) {
                fillL1(va, kind, tag: tag, payload: p)
                return .ok(TLB.physAddr(p, va))
            }
        } else {
            counts.stlbMisses &+= 1
            // Every array this access probes has just missed: a faulting walk need not search them again.
            probedMiss = kind == .exec ? 2 : 1
            let r = walkAndFill(va, kind, user: user, mem: mem)
            probedMiss = 0
            return r
        }
        return walkAndFill(va, kind, user: user, mem: mem)
    }

    /// Installs an entry in the L1 array for `kind` and the entry's page size; a 1G page goes to
    /// the iTLB as the 2M piece that holds `va`.
    @inline(__always)
    func fillL1(_ va: VirtAddr, _ kind: AccessKind, tag: UInt64, payload: UInt64) {
        let size = TLB.sizeOf(tag: tag)
        if kind == .exec {
            switch size {
            case 0: l1i.insert(tag: tag, payload: payload)
            case 1: l1i2M.insert(tag: tag, payload: payload)
            default:
                let piece = TLB.makeTag(va, size: .size2M, pcid: UInt16(truncatingIfNeeded: (tag >> TLB.pcidShift) & 0xfff),
                                        global: tag & TLB.globalBit != 0)
                let base = (payload & PTE.pfnMask & ~(PageSize.size1G.bytes &- 1)) | (va.raw & (PageSize.size1G.bytes &- 1) & ~(PageSize.size2M.bytes &- 1))
                let flags = payload & (PTE.rw | PTE.user | PTE.dirty | PTE.global | PTE.nx)
                l1i2M.insert(tag: piece, payload: base | flags | (1 << TLB.payloadSizeShift))
            }
        } else {
            switch size {
            case 0: l1d.insert(tag: tag, payload: payload)
            case 1: l1d2M.insert(tag: tag, payload: payload)
            default: l1d1G.insert(tag: tag, payload: payload)
            }
        }
    }

    /// Walks the tables for `va` from below the lowest paging-structure-cache hit; on success fills
    /// the L1 array for `kind`, the STLB array of the page's size and the paging-structure caches
    /// with the non-leaf entries read; on a fault drops the page's TLB entries and the cache entries
    /// that would be used for `va`. Returns the translation result.
    @inline(never)
    func walkAndFill(_ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory) -> Translation {
        guard let pgd = cr3 else {
            counts.pageFaults &+= 1
            return .fault(HardwareWalker.accessCode(kind, user: user))
        }
        var path = WalkPath()
        // The one switch: x86-64 4-level paging on its own walker (with the paging-structure
        // caches, which model x86-64 4-level paging only), every other format on walkArch.
        let r: HardwareWalkResult
        if x86FourLevel {
            r = walkCounted(va, pgd, kind, user: user, mem: mem, path: &path)
        } else {
            counts.pageWalks &+= 1
            var refs = 0, ad = 0
            r = walker.walkArch(pgd, va, kind, user: user, mem: mem, memRefs: &refs, adUpdates: &ad)
            counts.walkMemoryRefs &+= refs
            counts.adUpdates &+= ad
        }
        switch r {
        case .ok(let t):
            let tag = TLB.makeTag(va, size: t.pageSize, pcid: pcid, global: t.isGlobal)
            let payload = TLB.makePayload(t)
            fillL1(va, kind, tag: tag, payload: payload)
            if t.pageSize == .size1G { stlb1G.insert(tag: tag, payload: payload) } else { stlb.insert(tag: tag, payload: payload) }
            fillWalkCaches(va, path)
            return .ok(t.physAddr(va))
        case .fault(let code):
            dropAfterFault(va)
            return .fault(code)
        }
    }

    /// Walks the x86-64 4-level tables under `pgd` for `va` from below the lowest
    /// paging-structure-cache hit, counting the walk, its memory references and A/D updates;
    /// returns the walker's result, with the non-leaf entries read in `path`.
    @inline(__always)
    func walkCounted(_ va: VirtAddr, _ pgd: PFN, _ kind: AccessKind, user: Bool, mem: PhysicalMemory,
                     path: inout WalkPath) -> HardwareWalkResult {
        counts.pageWalks &+= 1
        let start = walkStart(va, pgd)
        var refs = 0, ad = 0
        let r = walker.walk(from: start, va, kind, user: user, mem: mem, memRefs: &refs, adUpdates: &ad, path: &path)
        counts.walkMemoryRefs &+= refs
        counts.adUpdates &+= ad
        return r
    }

    /// Where a walk of `va` under `pgd` starts: below the lowest paging-structure-cache hit (PDE,
    /// then PDPTE, then PML4E cache; the hit counted), else at the PGD. x86-64 4-level paging only.
    @inline(__always)
    func walkStart(_ va: VirtAddr, _ pgd: PFN) -> WalkStart {
        if let c = pdeCache.lookup(va.raw, pcid: pcid) {
            counts.pwcPDEHits &+= 1
            return WalkStart(level: 3, table: PFN((c & PTE.pfnMask) >> PAGE_SHIFT), rights: c)
        } else if let c = pdpteCache.lookup(va.raw, pcid: pcid) {
            counts.pwcPDPTEHits &+= 1
            return WalkStart(level: 2, table: PFN((c & PTE.pfnMask) >> PAGE_SHIFT), rights: c)
        } else if let c = pml4eCache.lookup(va.raw, pcid: pcid) {
            counts.pwcPML4EHits &+= 1
            return WalkStart(level: 1, table: PFN((c & PTE.pfnMask) >> PAGE_SHIFT), rights: c)
        }
        return WalkStart(level: 0, table: pgd, rights: PTE.rw | PTE.user)
    }

    /// Caches the non-leaf entries a successful walk of `va` read (`path`) in the
    /// paging-structure caches of their levels.
    @inline(__always)
    func fillWalkCaches(_ va: VirtAddr, _ path: WalkPath) {
        let leaf = path.leafLevel
        // A cache is filled only for the levels the walk read, so only after its lookup for
        // `va` missed (a hit starts the walk below it), and nothing has changed it since.
        if path.firstLevel <= 0 && leaf > 0 { pml4eCache.insertAbsent(va.raw, pcid: pcid, payload: path.next0) }
        if path.firstLevel <= 1 && leaf > 1 { pdpteCache.insertAbsent(va.raw, pcid: pcid, payload: path.next1) }
        if path.firstLevel <= 2 && leaf > 2 { pdeCache.insertAbsent(va.raw, pcid: pcid, payload: path.next2) }
    }

    /// After a walk of `va` faulted: counts the #PF and drops the TLB entries and the
    /// paging-structure-cache entries that would be used for `va` (Intel SDM 4.10.4.1).
    @inline(__always)
    func dropAfterFault(_ va: VirtAddr) {
        counts.pageFaults &+= 1
        invalidateArrays(va, pcid: pcid)
        pml4eCache.invalidate(va.raw, pcid: pcid); pdpteCache.invalidate(va.raw, pcid: pcid); pdeCache.invalidate(va.raw, pcid: pcid)
    }

    /// Whether a data access can take `translateData4K`: x86-64 4-level paging under a CR3, the
    /// L1 dTLB and STLB keeping nibble-ordered sets, and no 2M or 1G entry in any array a data
    /// access probes (so every probe is of one 4K set). `dataFastPath` false turns it off (tests).
    @inlinable @inline(__always)
    var dataArraysHold4KOnly: Bool {
        dataFastPathEligible && cr3 != nil && l1d2M.isEmpty && l1d1G.isEmpty && !stlb.holdsHugeEntries && stlb1G.isEmpty
    }

    /// What `translateProbe` does for a data access that gets past the repeated-page check,
    /// when `dataArraysHold4KOnly`: the canonical-address check, the L1 dTLB probe, the STLB
    /// probe, the walk and the fills, in one function. Returns the same translation and leaves the same TLB entries, LRU
    /// orders, caches and counts as the general path (`translateProbe` → `walkAndFill`), which
    /// `TranslateData4KTests` checks: each probe's victim is worked out as `lookupNotingVictim`
    /// does, and the fill that follows the walk uses it, as `insert` does with a noted victim.
    @usableFromInline @inline(never)
    func translateData4K(_ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory) -> Translation {
        let top = va.raw >> canonShift
        guard top == 0 || top == canonOnes else {
            counts.generalProtectionFaults += 1
            return .fault(HardwareWalker.accessCode(kind, user: user))
        }
        let pcidBits = UInt64(pcid & 0xfff) << TLB.pcidShift
        let pn = TLB.pageNumber(va.raw, .size4K)
        let key = TLB.valid | pn
        // The L1 dTLB (4K array).
        let set1 = l1d.setIndex(pn), base1 = set1 &* l1d.ways
        let hit1 = l1d.find(base1, key, pcidBits: pcidBits)
        if hit1 >= 0 {
            l1d.touch(set: set1, way: hit1 &- base1)
            lastDataPage = va.raw >> PAGE_SHIFT; lastDataSlot = hit1; lastDataTag = l1d.tags[hit1]
            counts.l1dHits &+= 1
            let p = l1d.payloads[hit1]
            if MMU.permits(p, kind, user: user) { return .ok(TLB.physAddr(p, va)) }
            return walkAndFill(va, kind, user: user, mem: mem)
        }
        counts.l1dMisses &+= 1
        let victim1 = base1 &+ l1d.victimWay(set1)
        // The STLB.
        let set2 = stlb.setIndex(pn), base2 = set2 &* stlb.ways
        let hit2 = stlb.find(base2, key, pcidBits: pcidBits)
        if hit2 >= 0 {
            stlb.touch(set: set2, way: hit2 &- base2)
            counts.stlbHits &+= 1
            let tag = stlb.tags[hit2], p = stlb.payloads[hit2]
            guard MMU.permits(p, kind, user: user) else { return walkAndFill(va, kind, user: user, mem: mem) }
            // A global entry may replace an entry of another PCID for the page: `insert` finds it.
            if tag & TLB.globalBit == 0 { l1d.fill(victim1, set: set1, tag: tag, payload: p) } else { l1d.insert(tag: tag, payload: p) }
            return .ok(TLB.physAddr(p, va))
        }
        counts.stlbMisses &+= 1
        let victim2 = base2 &+ stlb.victimWay(set2)
        // The walk.
        var path = WalkPath()
        counts.pageWalks &+= 1
        let start = walkStart(va, cr3.unsafelyUnwrapped)
        var refs = 0, ad = 0
        let r = walker.walk(from: start, va, kind, user: user, mem: mem, memRefs: &refs, adUpdates: &ad, path: &path)
        counts.walkMemoryRefs &+= refs
        counts.adUpdates &+= ad
        switch r {
        case .ok(let t):
            let tag = TLB.makeTag(va, size: t.pageSize, pcid: pcid, global: t.isGlobal)
            let payload = TLB.makePayload(t)
            if t.pageSize == .size4K && !t.isGlobal {
                l1d.fill(victim1, set: set1, tag: tag, payload: payload)
                stlb.fill(victim2, set: set2, tag: tag, payload: payload)
            } else {
                fillL1(va, kind, tag: tag, payload: payload)
                if t.pageSize == .size1G { stlb1G.insert(tag: tag, payload: payload) } else { stlb.insert(tag: tag, payload: payload) }
            }
            fillWalkCaches(va, path)
            return .ok(t.physAddr(va))
        case .fault(let code):
            // Every array a data access probes has just missed: nothing to drop there.
            probedMiss = 1
            dropAfterFault(va)
            probedMiss = 0
            return .fault(code)
        }
    }

    /// Drops the entries translating `va` usable under `pcid` from every TLB array. During a walk
    /// after a full miss (`probedMiss`), the arrays that access probed are skipped: the probe
    /// (same match rule as INVLPG's) found no such entry in them, so there is nothing to drop.
    func invalidateArrays(_ va: VirtAddr, pcid: UInt16) {
        if probedMiss != 1 { l1d.invalidatePage(va, pcid: pcid); l1d2M.invalidatePage(va, pcid: pcid); l1d1G.invalidatePage(va, pcid: pcid) }
        if probedMiss != 2 { l1i.invalidatePage(va, pcid: pcid); l1i2M.invalidatePage(va, pcid: pcid) }
        if probedMiss == 0 { stlb.invalidatePage(va, pcid: pcid); stlb1G.invalidatePage(va, pcid: pcid) }
    }

    /// Drops every entry (every non-global one when `keepGlobal`) of every TLB array, and every
    /// paging-structure-cache entry (they are never global).
    func flushArrays(keepGlobal: Bool) {
        l1d.flushAll(keepGlobal: keepGlobal); l1d2M.flushAll(keepGlobal: keepGlobal); l1d1G.flushAll(keepGlobal: keepGlobal)
        l1i.flushAll(keepGlobal: keepGlobal); l1i2M.flushAll(keepGlobal: keepGlobal)
        stlb.flushAll(keepGlobal: keepGlobal); stlb1G.flushAll(keepGlobal: keepGlobal)
        pml4eCache.flushAll(); pdpteCache.flushAll(); pdeCache.flushAll()
    }

    /// Drops the non-global entries of `pcid` from every TLB array and its paging-structure-cache entries.
    func flushArraysPCID(_ p: UInt16) {
        l1d.flushPCID(p); l1d2M.flushPCID(p); l1d1G.flushPCID(p); l1i.flushPCID(p); l1i2M.flushPCID(p)
        stlb.flushPCID(p); stlb1G.flushPCID(p)
        pml4eCache.flushPCID(p); pdpteCache.flushPCID(p); pdeCache.flushPCID(p)
    }

    // MARK: Flushes

    /// Invalidates the entries translating `va` (any page size, global ones too) for `pcid`
    /// (default: the current one), and every paging-structure-cache entry of that PCID whatever
    /// its address, as INVLPG / INVPCID individual-address do (Intel SDM 4.10.4.1).
    /// Linux: flush_tlb_one_user() / invlpg(), arch/x86/mm/tlb.c
    public func flushPage(_ va: VirtAddr, pcid: UInt16? = nil) {
        let p = effectivePCID(pcid)
        invalidateArrays(va, pcid: p)
        pml4eCache.flushPCID(p); pdpteCache.flushPCID(p); pdeCache.flushPCID(p)
        counts.singlePageFlushes += 1
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
        flushArrays(keepGlobal: false)
        counts.fullFlushes += 1
    }

    /// Drops the non-global entries of PCID `p` in every TLB array, and its paging-structure-cache
    /// entries, and counts one full flush.
    func flushLocal(_ p: UInt16) {
        if config.pcid {
            flushArraysPCID(p)
        } else {
            flushArrays(keepGlobal: true)
        }
        counts.fullFlushes += 1
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
    /// contradict, by the rules of `invariantViolations`, and every paging-structure-cache entry
    /// of `pcid` whose table pointer or rights the tables no longer hold; one message per bad entry.
    public func staleEntries(pgd: PFN, pcid: UInt16, mem: PhysicalMemory) -> [String] {
        var out: [String] = []
        for (level, (name, cache)) in walkCaches.enumerated() {
            for e in cache.entries() where e.pcid == pcid {
                // Read the entries above and at `level` as the walker would, without side effects.
                var table = pgd, rights: UInt64 = PTE.rw | PTE.user
                var ok = true
                for l in 0...level {
                    let shift = 39 &- 9 &* UInt64(l)
                    let raw = HardwareWalker.readEntry(mem, table, Int((e.prefix.raw >> shift) & 0x1ff))
                    if raw & PTE.present == 0 || walker.reservedBits(raw, level: l) != 0 || (l > 0 && raw & PTE.pse != 0) {
                        ok = false; break
                    }
                    rights = (rights & raw & (PTE.rw | PTE.user)) | ((rights | raw) & PTE.nx)
                    table = PFN((raw & PTE.pfnMask) >> PAGE_SHIFT)
                }
                let prefix = "\(name) cache \(e.prefix) pcid \(e.pcid) -> table \(e.nextTable)"
                if !ok { out.append("\(prefix): page tables no longer hold that table"); continue }
                if table != e.nextTable { out.append("\(prefix): page tables point to \(table)"); continue }
                if (e.rights & PTE.rw != 0 && rights & PTE.rw == 0) || (e.rights & PTE.user != 0 && rights & PTE.user == 0)
                    || (e.rights & PTE.nx == 0 && rights & PTE.nx != 0) {
                    out.append("\(prefix): rights exceed the page tables'")
                }
            }
        }
        for (name, tlb) in arrays {
            for e in tlb.entries() where e.global || e.pcid == pcid {
                var refs = 0, ad = 0
                let r = mem.paging.isX86_64FourLevel
                    ? walker.walk(pgd, e.page, .read, user: false, mem: mem, memRefs: &refs, adUpdates: &ad, setAccessedDirty: false)
                    : walker.walkArch(pgd, e.page, .read, user: false, mem: mem, memRefs: &refs, adUpdates: &ad, setAccessedDirty: false)
                guard case .ok(let t) = r else {
                    out.append("\(name) \(e): page tables do not map \(e.page)"); continue
                }
                let c = e.translation
                // The iTLB's 2M array may hold a 2M piece of a 1G page (splintered).
                let splinter = name == "L1 iTLB 2M" && t.pageSize == .size1G && c.pageSize == .size2M
                if splinter ? t.physAddr(e.page) != c.pageBase : (t.pageBase != c.pageBase || t.pageSize != c.pageSize) {
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
