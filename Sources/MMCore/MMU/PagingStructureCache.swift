/// Intel's paging-structure caches (AMD: the page walk cache): one small fully associative cache
/// per upper level of the page tables, so that a TLB miss can skip the levels whose entries it
/// already knows.
///
/// Facts followed (Intel SDM vol. 3A, 4.10.3 "Paging-Structure Caches", 4.10.4 "Invalidation"):
/// - A PML4E-cache entry is looked up by VA bits 47:39, a PDPTE-cache entry by bits 47:30, a
///   PDE-cache entry by bits 47:21 (56:… with 5-level paging: tags keep bits 56 and up too). Each
///   holds the physical address of the next table and the rights accumulated down to its level:
///   R/W and U/S ANDed, XD ORed.
/// - Only present, reserved-bit-free, non-leaf entries with the accessed flag set are cached (no
///   PDPTE/PDE-cache entry for an entry that maps a 1 GiB / 2 MiB page). The walker sets A before
///   caching, so the model fills these caches after a walk that yields a translation.
/// - Entries are tagged with the PCID. INVLPG and INVPCID individual-address drop every entry of
///   the PCID whatever its address; a CR3 write without the no-flush bit drops the PCID's entries
///   (global pages do not protect them); a page fault drops the entries that would be used for
///   the faulting address.
///
/// Entry `i` lives at index `i` of `tags`, `payloads` and `stamps`. Tag: bit 63 valid, bits 59:48
/// PCID, bits 44:0 VA bits 56:shift. Payload: next table's physical address (bits 51:12) with R/W
/// (bit 1), U/S (bit 2) and XD (bit 63) in PTE positions. Replacement: least recently used.
public struct PagingStructureCache: Sendable {
    /// Number of entries (0: this cache is absent).
    public let capacity: Int
    /// log2 of the span one entry covers: 39 (PML4E), 30 (PDPTE) or 21 (PDE).
    public let shift: UInt64
    @usableFromInline var tags: [UInt64]
    @usableFromInline var payloads: [UInt64]
    @usableFromInline var stamps: [UInt64]
    @usableFromInline var clock: UInt64 = 0
    @usableFromInline var count = 0
    /// Valid entries.
    public var validCount: Int { count }

    @usableFromInline static let valid: UInt64 = 1 << 63
    @usableFromInline static let pcidShift: UInt64 = 48
    @usableFromInline static let prefixMask: UInt64 = (1 << 45) - 1

    /// An empty cache of `capacity` entries (0 allowed) for the level whose entries cover 2^`shift` bytes.
    public init(capacity: Int, shift: UInt64) {
        self.capacity = max(0, capacity)
        self.shift = shift
        tags = [UInt64](repeating: 0, count: self.capacity)
        payloads = [UInt64](repeating: 0, count: self.capacity)
        stamps = [UInt64](repeating: 0, count: self.capacity)
    }

    /// The tag of an entry for `va` under `pcid`.
    @inlinable @inline(__always)
    func makeTag(_ va: UInt64, _ pcid: UInt16) -> UInt64 {
        PagingStructureCache.valid | (UInt64(pcid & 0xfff) << PagingStructureCache.pcidShift)
            | (((va & 0x01ff_ffff_ffff_ffff) >> shift) & PagingStructureCache.prefixMask)
    }

    /// Returns the index of the entry whose tag is `tag`, or -1. Searches a read-only buffer, so
    /// the array is written (one uniqueness check) only by the caller, on a hit.
    @inlinable @inline(__always)
    func find(_ tag: UInt64) -> Int {
        tags.withUnsafeBufferPointer { t in
            var i = 0
            while i < t.count {
                if t[i] == tag { return i }
                i &+= 1
            }
            return -1
        }
    }

    /// Returns the payload of the entry for `va` under `pcid` (marking it most recently used), or
    /// nil on a miss or when the cache is empty.
    @inlinable @inline(__always)
    public mutating func lookup(_ va: UInt64, pcid: UInt16) -> UInt64? {
        if count == 0 { return nil }
        let tag = makeTag(va, pcid)
        let hit = find(tag)
        if hit < 0 { return nil }
        clock &+= 1
        stamps[hit] = clock
        return payloads[hit]
    }

    /// Installs `payload` for `va` under `pcid`: over the entry for the same prefix, else in the
    /// lowest invalid slot, else over the least recently used one. Does nothing when capacity is 0.
    @inlinable
    public mutating func insert(_ va: UInt64, pcid: UInt16, payload: UInt64) {
        if capacity == 0 { return }
        let tag = makeTag(va, pcid)
        // One pass: the entry for the same prefix, the first free slot, the least recently used entry.
        var match = -1, firstFree = -1, oldest = 0
        tags.withUnsafeBufferPointer { t in
            stamps.withUnsafeBufferPointer { st in
                var oldestStamp = UInt64.max
                var i = 0
                while i < t.count {
                    let x = t[i]
                    if x == tag { match = i; return }
                    if x == 0 {
                        if firstFree < 0 { firstFree = i }
                    } else if st[i] < oldestStamp {
                        oldestStamp = st[i]; oldest = i
                    }
                    i &+= 1
                }
            }
        }
        let victim: Int
        if match >= 0 { victim = match }
        else if firstFree >= 0 { victim = firstFree; count &+= 1 }
        else { victim = oldest }
        tags[victim] = tag
        payloads[victim] = payload
        clock &+= 1
        stamps[victim] = clock
    }

    /// Drops the entry that would be used for `va` under `pcid` (a page fault on `va`); returns
    /// how many were dropped (0 or 1).
    @discardableResult
    public mutating func invalidate(_ va: UInt64, pcid: UInt16) -> Int {
        if validCount == 0 { return 0 }
        let tag = makeTag(va, pcid)
        let hit = find(tag)
        if hit < 0 { return 0 }
        tags[hit] = 0; count -= 1
        return 1
    }

    /// Drops every entry tagged with `pcid` (INVLPG, INVPCID single-context, a flushing CR3
    /// write); returns how many were dropped.
    @discardableResult
    public mutating func flushPCID(_ pcid: UInt16) -> Int {
        if validCount == 0 { return 0 }
        var n = 0
        for i in 0..<capacity where tags[i] != 0 && (tags[i] >> PagingStructureCache.pcidShift) & 0xfff == UInt64(pcid & 0xfff) {
            tags[i] = 0; n += 1
        }
        count -= n
        return n
    }

    /// Drops every entry (INVPCID all-context, CR4.PGE toggle); returns how many were dropped.
    @discardableResult
    public mutating func flushAll() -> Int {
        let n = validCount
        if n > 0 { for i in 0..<capacity { tags[i] = 0 } }
        count = 0
        return n
    }

    /// One valid entry: the first VA it covers (sign-extended from bit 56), its PCID, the next
    /// table's frame and the accumulated rights in PTE bit positions (R/W, U/S, XD).
    public struct Entry: Equatable, Sendable {
        public var prefix: VirtAddr
        public var pcid: UInt16
        public var nextTable: PFN
        public var rights: UInt64
    }

    /// The valid entries in slot order (allocates; for display and invariant checks).
    public func entries() -> [Entry] {
        var out: [Entry] = []
        for i in 0..<capacity where tags[i] != 0 {
            var va = (tags[i] & PagingStructureCache.prefixMask) << shift
            if va & (1 << 56) != 0 { va |= 0xfe00_0000_0000_0000 }
            out.append(Entry(prefix: VirtAddr(va), pcid: UInt16(truncatingIfNeeded: (tags[i] >> PagingStructureCache.pcidShift) & 0xfff),
                             nextTable: PFN((payloads[i] & PTE.pfnMask) >> PAGE_SHIFT),
                             rights: payloads[i] & (PTE.rw | PTE.user | PTE.nx)))
        }
        return out
    }
}
