/// The memory-management unit: TLBs in front of the hardware page walker.
///
/// PLACEHOLDER: translate() walks without TLBs and without setting A/D bits. The MMU work
/// replaces it with the TLB model (TLB.swift) and a hardware walker that counts references.

/// Geometry of one TLB: total entries and ways per set (entries need not be a power of two).
public struct TLBGeometry: Sendable, Equatable {
    public var entries: Int
    public var ways: Int
    public init(entries: Int, ways: Int) { self.entries = entries; self.ways = ways }
}

/// The TLBs of one CPU.
public struct TLBConfig: Sendable, Equatable {
    /// L1 data TLB for 4 KiB pages.
    public var l1d: TLBGeometry
    /// L1 instruction TLB for 4 KiB pages.
    public var l1i: TLBGeometry
    /// Unified second-level TLB.
    public var stlb: TLBGeometry
    /// Whether CR3 loads keep entries tagged with PCIDs.
    public var pcid: Bool
    public init(l1d: TLBGeometry = .init(entries: 64, ways: 4), l1i: TLBGeometry = .init(entries: 128, ways: 8),
                stlb: TLBGeometry = .init(entries: 1536, ways: 12), pcid: Bool = false) {
        self.l1d = l1d; self.l1i = l1i; self.stlb = stlb; self.pcid = pcid
    }
}

/// The result of translating one access.
public enum Translation: Equatable, Sendable {
    /// The access may proceed at this physical address.
    case ok(PhysAddr)
    /// The hardware raised #PF with this error code.
    case fault(PFErrorCode)
}

/// One CPU's MMU: CR3, TLBs and the page walker.
public final class MMU {
    public let config: TLBConfig
    /// The PGD currently loaded in CR3, or nil before the first switch.
    public private(set) var cr3: PFN?

    public init(config: TLBConfig) { self.config = config }

    /// Loads CR3 (switch_mm); without PCID this flushes every non-global TLB entry.
    public func loadCR3(_ pgd: PFN, pcid: UInt16 = 0) { cr3 = pgd }

    /// Translates `va` for an access of `kind` in user (or kernel) mode.
    public func translate(_ va: VirtAddr, _ kind: AccessKind, user: Bool, mem: PhysicalMemory) -> Translation {
        var code: PFErrorCode = []
        if kind == .write { code.insert(.write) }
        if kind == .exec { code.insert(.instr) }
        if user { code.insert(.user) }
        guard let pgd = cr3, X86_64.isCanonical(va), let slot = mem.walk(pgd, va) else { return .fault(code) }
        let pte = mem.readPTE(slot)
        guard pte.isPresent else { return .fault(code) }
        code.insert(.prot)
        if user && !pte.isUser { return .fault(code) }
        if kind == .write && !pte.isWritable { return .fault(code) }
        if kind == .exec && pte.isNX { return .fault(code) }
        return .ok(PhysAddr(pte.pfn.physAddr.raw | va.pageOffset))
    }

    /// Flushes the TLB entries for pages in [start, end) (flush_tlb_range()).
    public func flushRange(_ start: VirtAddr, _ end: VirtAddr) {}
    /// Flushes every non-global entry (flush_tlb_mm / CR3 reload).
    public func flushAll() {}
}
