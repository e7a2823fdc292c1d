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
/// Entry `i` lives at index `i` of `tags` and `payloads`. Tag: bit 63 valid, bits 59:48 PCID,
/// bits 44:0 VA bits 56:shift. Payload: next table's physical address (bits 51:12) with R/W
/// (bit 1), U/S (bit 2) and XD (bit 63) in PTE positions. Replacement: least recently used.
///
/// Host layout (none of it changes which entry is used or evicted): flat buffers owned by this
/// object; for a cache of more than `linearLimit` entries, a hash index from tag to slot (open addressing, linear probing, at least eight times as
/// many buckets as entries, each holding the tag and the slot) so that a lookup, hit or miss,
/// reads a bucket or two instead of every tag;
/// and the valid entries in a doubly linked list from most to least recently used, so that the
/// victim of a full cache (the least recently used entry) is the list's tail.
public final class PagingStructureCache {
    /// Number of entries (0: this cache is absent).
    public let capacity: Int
    /// log2 of the span one entry covers: 39 (PML4E), 30 (PDPTE) or 21 (PDE).
    public let shift: UInt64
    @usableFromInline let tags: UnsafeMutablePointer<UInt64>
    @usableFromInline let payloads: UnsafeMutablePointer<UInt64>
    /// The LRU list: the neighbours of each valid slot towards the most (`newer`) and the least
    /// (`older`) recently used end; -1 past either end.
    @usableFromInline let newer: UnsafeMutablePointer<Int32>
    @usableFromInline let older: UnsafeMutablePointer<Int32>
    /// The most and the least recently used valid slots (-1 when empty).
    @usableFromInline var mru: Int32 = -1, lru: Int32 = -1
    /// Hash buckets: the tag of an entry (0: empty bucket) and its slot; `bucketMask + 1`
    /// buckets (a power of two).
    @usableFromInline let bucketTags: UnsafeMutablePointer<UInt64>
    @usableFromInline let bucketSlots: UnsafeMutablePointer<Int32>
    @usableFromInline let bucketMask: Int
    @usableFromInline let bucketShift: UInt64
    @usableFromInline var count = 0
    /// Whether entries are found by comparing every tag (caches of at most
    /// `PagingStructureCache.linearLimit` entries, such as the default PML4E and PDPTE caches:
    /// fewer instructions than hashing, and no index to keep) instead of through the hash index.
    @usableFromInline let linear: Bool
    /// The largest capacity searched linearly.
    public static let linearLimit = 8
    /// One bit per slot, set while the slot holds an entry: the lowest free slot is the lowest
    /// clear bit, found a word at a time.
    @usableFromInline let used: UnsafeMutablePointer<UInt64>
    @usableFromInline let usedWords: Int
    /// Valid entries.
    public var validCount: Int { count }

    @usableFromInline static let valid: UInt64 = 1 << 63
    @usableFromInline static let pcidShift: UInt64 = 48
    @usableFromInline static let prefixMask: UInt64 = (1 << 45) - 1

    /// An empty cache of `capacity` entries (0 allowed) for the level whose entries cover 2^`shift` bytes.
    public init(capacity: Int, shift: UInt64) {
        self.capacity = max(0, capacity)
        self.shift = shift
        let n = max(1, self.capacity)
        tags = .allocate(capacity: n); tags.initialize(repeating: 0, count: n)
        usedWords = (n + 63) / 64
        used = .allocate(capacity: usedWords); used.initialize(repeating: 0, count: usedWords)
        payloads = .allocate(capacity: n); payloads.initialize(repeating: 0, count: n)
        newer = .allocate(capacity: n); newer.initialize(repeating: -1, count: n)
        older = .allocate(capacity: n); older.initialize(repeating: -1, count: n)
        var b = 4, bits: UInt64 = 2
        while b < 8 * n { b <<= 1; bits += 1 }
        bucketTags = .allocate(capacity: b); bucketTags.initialize(repeating: 0, count: b)
        bucketSlots = .allocate(capacity: b); bucketSlots.initialize(repeating: -1, count: b)
        bucketMask = b - 1
        bucketShift = 64 - bits
        linear = self.capacity <= PagingStructureCache.linearLimit
    }

    deinit {
        tags.deallocate(); payloads.deallocate(); newer.deallocate(); older.deallocate(); bucketTags.deallocate(); bucketSlots.deallocate(); used.deallocate()
    }

    /// The tag of an entry for `va` under `pcid`.
    @inlinable @inline(__always)
    func makeTag(_ va: UInt64, _ pcid: UInt16) -> UInt64 {
        PagingStructureCache.valid | (UInt64(pcid & 0xfff) << PagingStructureCache.pcidShift)
            | (((va & 0x01ff_ffff_ffff_ffff) >> shift) & PagingStructureCache.prefixMask)
    }

    /// The home bucket of `tag`.
    @inlinable @inline(__always)
    func home(_ tag: UInt64) -> Int {
        Int(truncatingIfNeeded: (tag &* 0x9e37_79b9_7f4a_7c15) &>> bucketShift)
    }

    /// Returns the slot of the entry whose tag is `tag`, or -1.
    @inlinable @inline(__always)
    func find(_ tag: UInt64) -> Int {
        if linear {
            // Invalid slots hold tag 0, which no valid tag equals.
            var i = 0
            while i < capacity {
                if tags[i] == tag { return i }
                i &+= 1
            }
            return -1
        }
        var b = home(tag)
        while true {
            let t = bucketTags[b]
            if t == tag { return Int(bucketSlots[b]) }
            if t == 0 { return -1 }
            b = (b &+ 1) & bucketMask
        }
    }

    /// Adds `slot` (whose tag is `tag`) to the hash index.
    @inlinable @inline(__always)
    func indexAdd(_ tag: UInt64, _ slot: Int) {
        if linear { return }
        var b = home(tag)
        while bucketTags[b] != 0 { b = (b &+ 1) & bucketMask }
        bucketTags[b] = tag
        bucketSlots[b] = Int32(truncatingIfNeeded: slot)
    }

    /// Removes `tag` (an entry's) from the hash index, moving later entries of its probe run
    /// back so that every lookup still finds them (deletion without tombstones).
    @inlinable @inline(__always)
    func indexRemove(_ tag: UInt64) {
        if !linear { indexRemoveHashed(tag) }
    }

    /// `indexRemove` for a cache with a hash index.
    @usableFromInline
    func indexRemoveHashed(_ tag: UInt64) {
        var b = home(tag)
        while bucketTags[b] != tag { b = (b &+ 1) & bucketMask }
        var hole = b
        var j = b
        while true {
            j = (j &+ 1) & bucketMask
            let t = bucketTags[j]
            if t == 0 { break }
            let h = home(t)
            // The entry at j may move to the hole when its home is not cyclically in (hole, j].
            let inRange = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
            if !inRange { bucketTags[hole] = t; bucketSlots[hole] = bucketSlots[j]; hole = j }
        }
        bucketTags[hole] = 0
    }

    /// Unlinks valid `slot` from the LRU list.
    @inlinable @inline(__always)
    func unlink(_ slot: Int) {
        let n = newer[slot], o = older[slot]
        if n >= 0 { older[Int(n)] = o } else { mru = o }
        if o >= 0 { newer[Int(o)] = n } else { lru = n }
    }

    /// Links `slot` in as the most recently used entry.
    @inlinable @inline(__always)
    func linkFront(_ slot: Int) {
        let s = Int32(truncatingIfNeeded: slot)
        newer[slot] = -1
        older[slot] = mru
        if mru >= 0 { newer[Int(mru)] = s } else { lru = s }
        mru = s
    }

    /// Invalidates valid `slot`: out of the index and the LRU list.
    @inlinable @inline(__always)
    func drop(_ slot: Int) {
        indexRemove(tags[slot])
        unlink(slot)
        tags[slot] = 0
        used[slot >> 6] &= ~(1 << UInt64(slot & 63))
        count &-= 1
    }

    /// Returns the payload of the entry for `va` under `pcid` (marking it most recently used), or
    /// nil on a miss or when the cache is empty.
    @inlinable @inline(__always)
    public func lookup(_ va: UInt64, pcid: UInt16) -> UInt64? {
        if count == 0 { return nil }
        let hit = find(makeTag(va, pcid))
        if hit < 0 { return nil }
        if Int32(truncatingIfNeeded: hit) != mru { unlink(hit); linkFront(hit) }
        return payloads[hit]
    }

    /// Installs `payload` for `va` under `pcid`: over the entry for the same prefix, else in the
    /// lowest invalid slot, else over the least recently used one. Does nothing when capacity is 0.
    @inlinable
    public func insert(_ va: UInt64, pcid: UInt16, payload: UInt64) {
        if capacity == 0 { return }
        let hit = count == 0 ? -1 : find(makeTag(va, pcid))
        if hit < 0 { insertAbsent(va, pcid: pcid, payload: payload); return }
        unlink(hit)
        payloads[hit] = payload
        linkFront(hit)
    }

    /// Does what `insert` does when the cache holds no entry for `va`'s prefix under `pcid` — the
    /// case right after a `lookup` of `va` that missed, with no change to this cache in between
    /// (the MMU's fill after a walk) — without searching for that entry first.
    @inlinable
    public func insertAbsent(_ va: UInt64, pcid: UInt16, payload: UInt64) {
        if capacity == 0 { return }
        let tag = makeTag(va, pcid)
        var victim: Int
        if count < capacity {
            // The lowest invalid slot (there is one: count < capacity).
            var w = 0
            while used[w] == UInt64.max { w &+= 1 }
            victim = w &* 64 &+ (~used[w]).trailingZeroBitCount
            used[w] |= 1 << UInt64(victim & 63)
            count &+= 1
        } else {
            victim = Int(lru)
            indexRemove(tags[victim])
            unlink(victim)
        }
        tags[victim] = tag
        indexAdd(tag, victim)
        payloads[victim] = payload
        linkFront(victim)
    }

    @discardableResult
    public func invalidate(_ va: UInt64, pcid: UInt16) -> Int {
        if count == 0 { return 0 }
        let hit = find(makeTag(va, pcid))
        if hit < 0 { return 0 }
        drop(hit)
        return 1
    }

    /// Drops every entry tagged with `pcid` (INVLPG, INVPCID single-context, a flushing CR3
    /// write); returns how many were dropped.
    @discardableResult
    public func flushPCID(_ pcid: UInt16) -> Int {
        if count == 0 { return 0 }
        var n = 0
        for i in 0..<capacity where tags[i] != 0 && (tags[i] >> PagingStructureCache.pcidShift) & 0xfff == UInt64(pcid & 0xfff) {
            drop(i); n += 1
        }
        return n
    }

    /// Drops every entry (INVPCID all-context, CR4.PGE toggle); returns how many were dropped.
    @discardableResult
    public func flushAll() -> Int {
        let n = count
        if n > 0 {
            for i in 0..<capacity { tags[i] = 0 }
            used.update(repeating: 0, count: usedWords)
            if !linear { bucketTags.update(repeating: 0, count: bucketMask + 1) }
            mru = -1; lru = -1
        }
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
