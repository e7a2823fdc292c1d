import CMMHost

/// A set-associative TLB in flat buffers, with LRU replacement inside each set.
///
/// Entry `set * ways + way` lives at the same index of `tags`, `payloads` and `stamps`: three
/// buffers this object owns (no copy-on-write or bounds checks on the hot path; an MMU holds its
/// TLB arrays by reference).
/// Tag layout (64 bits): bit 63 valid, bits 62:61 page size (0 = 4K, 1 = 2M, 2 = 1G), bit 60 global,
/// bits 59:48 PCID, bits 44:0 the page number (VA bits 56:12, 56:21 or 56:30 for the size: the MMU
/// passes the full virtual address, so tags hold 57-bit addresses for 5-level paging too).
/// Payload layout: the page's physical base (bits 51:12) with the effective rights in PTE bit
/// positions (RW bit 1, US bit 2, D bit 6, G bit 8, NX bit 63) and the page size in bits 10:9.
/// The set of a page is its page number modulo the number of sets, so any entry count that is a
/// multiple of the ways works. A global entry matches every PCID.
public final class TLB {
    /// The geometry this TLB was built with.
    public let geometry: TLBGeometry
    /// Number of sets (entries / ways).
    public let sets: Int
    /// Associativity.
    public let ways: Int
    /// `sets - 1` when `sets` is a power of two (the set is then a mask of the page number,
    /// the same set as the modulo), else 0 and the set is the page number modulo `sets`.
    @usableFromInline let setMask: UInt64
    @usableFromInline let setsArePowerOfTwo: Bool
    /// Number of entries (`sets * ways`).
    public let capacity: Int
    @usableFromInline let tags: UnsafeMutablePointer<UInt64>
    @usableFromInline let payloads: UnsafeMutablePointer<UInt64>
    /// LRU stamps, one per slot (sets of more than 16 ways; see `nibbleOrder`).
    @usableFromInline let stamps: UnsafeMutablePointer<UInt32>
    /// Whether sets keep their LRU order in `orders` (ways <= 16) instead of `stamps`.
    /// Either way the order is the same: the least recently used valid way is evicted.
    @usableFromInline let nibbleOrder: Bool
    /// Per set (nibble order): its ways from most to least recently used, one 4-bit way number
    /// per nibble, nibble 0 first; nibbles from `ways` up hold 0xf (never a way number then).
    /// A touch moves the way to nibble 0; the LRU way is nibble `ways - 1`. Constant time.
    @usableFromInline let orders: UnsafeMutablePointer<UInt64>
    /// One byte per slot (16 spare bytes at the end): `fingerprint` of a valid entry's match key,
    /// 0 for an invalid one. A set none of whose bytes equals a key's fingerprint holds no entry
    /// with that key, which `mayHold` tells from whole words, without looking at the tags.
    @usableFromInline let fingerprints: UnsafeMutablePointer<UInt8>
    /// Per set (nibble order): bit w set when way w holds a valid entry.
    @usableFromInline let validWays: UnsafeMutablePointer<UInt32>
    /// `validWays` of a full set.
    @usableFromInline let allWays: UInt32
    /// For sets of at most 16 ways, `mayHold` reads a set's fingerprints as two words: these are
    /// OR-ed into the first and the second word to make the bytes past the set never match
    /// (all ones past `ways`; the second word is all ones for sets of at most 8 ways).
    @usableFromInline let fingerprintPadLow: UInt64, fingerprintPadHigh: UInt64
    /// Nibble order: the shift of the least recently used way's nibble (4 * (ways - 1)), and the
    /// nibbles that hold way numbers (the low `ways` ones).
    @usableFromInline let lruShift: UInt64, orderMask: UInt64
    /// ceil(2^40 / ways): `setOf` divides a slot by `ways` with a multiply (exact below 2^32).
    @usableFromInline let waysReciprocal: UInt64
    /// LRU clock: the stamp given to the most recently used entry (advanced by every touch and
    /// fill in both orders: with `generation`, it tells whether anything changed).
    @usableFromInline var clock: UInt32 = 0
    /// The slot most recently touched or filled (-1: none): touching it again changes no order.
    @usableFromInline var lastTouched = -1
    /// Valid entries of each page size (probing for 2M/1G pages is skipped while there are none).
    @usableFromInline var count4K = 0, count2M = 0, count1G = 0
    /// Bumped whenever an entry is dropped or the stamps renormalised: with `clock`, it tells
    /// `insert` whether the set has changed since `lookupNotingVictim` worked out its victim.
    @usableFromInline var generation: UInt32 = 0
    /// The victim `lookupNotingVictim` found for a non-global 4K entry with match key `memoKey`
    /// (0: none) under `memoPCID`, valid while `clock` and `generation` still equal
    /// `memoClock` and `memoGeneration` (no entry of this TLB touched, filled or dropped since).
    @usableFromInline var memoKey: UInt64 = 0
    @usableFromInline var memoPCID: UInt64 = 0
    @usableFromInline var memoVictim = 0
    @usableFromInline var memoClock: UInt32 = 0, memoGeneration: UInt32 = 0

    @usableFromInline static let valid: UInt64 = 1 << 63
    @usableFromInline static let globalBit: UInt64 = 1 << 60
    @usableFromInline static let sizeShift: UInt64 = 61
    @usableFromInline static let pcidShift: UInt64 = 48
    @usableFromInline static let pageMask: UInt64 = (1 << 45) - 1
    /// Tag bits 59:48: the PCID.
    @usableFromInline static let pcidMask: UInt64 = 0xfff << pcidShift
    /// Tag bits compared for a match (all but global and PCID, which are checked separately).
    @usableFromInline static let matchMask: UInt64 = valid | (3 << sizeShift) | pageMask
    /// Payload bits 10:9 hold the page size.
    @usableFromInline static let payloadSizeShift: UInt64 = 9

    /// An empty TLB with `geometry`; the geometry must have passed `TLBConfig.validate()`.
    public init(geometry: TLBGeometry) {
        precondition(geometry.ways > 0 && geometry.entries > 0 && geometry.entries % geometry.ways == 0,
                     "TLB geometry \(geometry.entries) entries / \(geometry.ways) ways: entries must be a positive multiple of ways")
        self.geometry = geometry
        ways = geometry.ways
        sets = geometry.entries / geometry.ways
        setsArePowerOfTwo = sets & (sets - 1) == 0
        setMask = setsArePowerOfTwo ? UInt64(sets - 1) : 0
        capacity = geometry.entries
        tags = .allocate(capacity: capacity); tags.initialize(repeating: 0, count: capacity)
        payloads = .allocate(capacity: capacity); payloads.initialize(repeating: 0, count: capacity)
        stamps = .allocate(capacity: capacity); stamps.initialize(repeating: 0, count: capacity)
        nibbleOrder = ways <= 16
        var initial = UInt64.max
        for w in 0..<min(ways, 16) { initial = (initial & ~(0xf << (4 * UInt64(w)))) | (UInt64(w) << (4 * UInt64(w))) }
        orders = .allocate(capacity: sets); orders.initialize(repeating: initial, count: sets)
        fingerprints = .allocate(capacity: capacity + 16); fingerprints.initialize(repeating: 0, count: capacity + 16)
        fingerprintPadLow = ways >= 8 ? 0 : UInt64.max << (8 * UInt64(ways))
        fingerprintPadHigh = ways <= 8 ? UInt64.max : ways >= 16 ? 0 : UInt64.max << (8 * UInt64(ways - 8))
        validWays = .allocate(capacity: sets); validWays.initialize(repeating: 0, count: sets)
        allWays = ways >= 32 ? UInt32.max : (1 << UInt32(ways)) - 1
        lruShift = 4 * UInt64(min(ways, 16) - 1)
        orderMask = ways >= 16 ? UInt64.max : (1 << (4 * UInt64(ways))) - 1
        waysReciprocal = ((1 << 40) + UInt64(ways) - 1) / UInt64(ways)
    }

    deinit {
        tags.deallocate(); payloads.deallocate(); stamps.deallocate(); orders.deallocate(); validWays.deallocate(); fingerprints.deallocate()
    }

    /// Number of valid entries.
    public var validCount: Int { count4K + count2M + count1G }
    /// Whether no entry is valid.
    @inlinable var isEmpty: Bool { count4K | count2M | count1G == 0 }
    /// Whether a 2M or 1G entry is valid.
    @inlinable var holdsHugeEntries: Bool { count2M | count1G != 0 }

    /// Asks the host CPU to cache the set a 4 KiB page `va` would live in (its tags and payloads,
    /// and its stamps in stamp order), for a lookup or insert soon; a hint that changes nothing.
    @inline(__always)
    func prefetchSet(_ va: UInt64) {
        let base = setBase(TLB.pageNumber(va, .size4K))
        let last = base &+ ways &- 1
        cmm_prefetch_read(tags + base); cmm_prefetch_read(tags + last)
        if !nibbleOrder { cmm_prefetch_read(stamps + base); cmm_prefetch_read(stamps + last) }
        cmm_prefetch_read(payloads + base); cmm_prefetch_read(payloads + last)
    }

    // MARK: Encoding

    /// The page number of `va` for pages of `size` (VA bits 56:shift).
    @inlinable @inline(__always)
    static func pageNumber(_ va: UInt64, _ size: PageSize) -> UInt64 {
        (va & 0x01ff_ffff_ffff_ffff) >> size.shift
    }

    /// The tag of a valid entry for `va` with this size, PCID and global bit.
    @inlinable @inline(__always)
    public static func makeTag(_ va: VirtAddr, size: PageSize, pcid: UInt16, global: Bool) -> UInt64 {
        valid | (UInt64(size.rawValue) << sizeShift) | (global ? globalBit : 0)
            | (UInt64(pcid & 0xfff) << pcidShift) | pageNumber(va.raw, size)
    }

    /// The payload caching translation `t`.
    @inlinable @inline(__always)
    public static func makePayload(_ t: HardwareTranslation) -> UInt64 {
        t.pageBase.raw | t.flags | (UInt64(t.pageSize.rawValue) << payloadSizeShift)
    }

    /// The physical address `va` translates to through an entry with `payload`.
    @inlinable @inline(__always)
    public static func physAddr(_ payload: UInt64, _ va: VirtAddr) -> PhysAddr {
        // Size code 0/1/2: 4K/2M/1G (3 never occurs; read as 4K). Plain arithmetic, so that a
        // caller that drops the address lets the optimiser drop the computation.
        let code = (payload >> payloadSizeShift) & 3
        let mask: UInt64 = (1 << (code == 3 ? 12 : 12 &+ 9 &* code)) &- 1
        return PhysAddr((payload & PTE.pfnMask & ~mask) | (va.raw & mask))
    }

    /// The set holding page number `pn`.
    @inlinable @inline(__always)
    func setIndex(_ pn: UInt64) -> Int {
        Int(truncatingIfNeeded: setsArePowerOfTwo ? pn & setMask : pn % UInt64(sets))
    }

    /// The set of `slot` (slot / ways, without a division instruction).
    @inlinable @inline(__always)
    func setOf(_ slot: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(truncatingIfNeeded: slot) &* waysReciprocal) >> 40)
    }

    /// The first slot of the set holding page number `pn`.
    @inlinable @inline(__always)
    func setBase(_ pn: UInt64) -> Int { setIndex(pn) &* ways }

    @inlinable @inline(__always)
    static func sizeOf(tag: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: (tag >> sizeShift) & 3) }

    /// Whether valid entry `tag` is usable under `pcid` (same PCID, or global).
    @inlinable @inline(__always)
    static func pcidMatches(_ tag: UInt64, _ pcid: UInt16) -> Bool {
        tag & globalBit != 0 || (tag >> pcidShift) & 0xfff == UInt64(pcid & 0xfff)
    }

    // MARK: Lookup and fill (hot path)

    /// The fingerprint of match key `key` (a valid tag's bits under `matchMask`): 1...255.
    @inlinable @inline(__always)
    static func fingerprint(_ key: UInt64) -> UInt8 {
        max(UInt8(truncatingIfNeeded: (key &* 0x9e37_79b9_7f4a_7c15) >> 56), 1)
    }

    /// False when no way of the set starting at slot `base` holds an entry with fingerprint
    /// `fp` (so none with its key); true when one may. Eight ways per word: a byte of
    /// fingerprints XOR `fp` is zero exactly where they are equal, and (x - 0x01..) & ~x & 0x80..
    /// is non-zero exactly when some byte of x is zero; bytes past the set are forced non-zero.
    @inlinable @inline(__always)
    func mayHold(_ base: Int, _ fp: UInt8) -> Bool {
        let raw = UnsafeRawPointer(fingerprints)
        let splat = UInt64(fp) &* 0x0101_0101_0101_0101
        if ways <= 16 {
            // Two words (16 spare bytes at the end keep the second in bounds), bytes past the set
            // forced non-zero by the pads; no loop.
            let x = (UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base, as: UInt64.self)) ^ splat) | fingerprintPadLow
            let y = (UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base &+ 8, as: UInt64.self)) ^ splat) | fingerprintPadHigh
            return ((x &- 0x0101_0101_0101_0101) & ~x | (y &- 0x0101_0101_0101_0101) & ~y) & 0x8080_8080_8080_8080 != 0
        }
        var i = 0
        while i < ways {
            var x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base &+ i, as: UInt64.self)) ^ splat
            let left = ways &- i
            if left < 8 { x |= UInt64.max << (8 &* UInt64(truncatingIfNeeded: left)) }
            if (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 != 0 { return true }
            i &+= 8
        }
        return false
    }

    /// The slot of the entry for `va` with pages of `size` usable under `pcid`, or -1.
    @inlinable @inline(__always)
    func probe(_ va: UInt64, _ size: PageSize, _ pcid: UInt16) -> Int {
        let pn = TLB.pageNumber(va, size)
        return find(setBase(pn), TLB.valid | (UInt64(size.rawValue) << TLB.sizeShift) | pn,
                    pcidBits: UInt64(pcid & 0xfff) << TLB.pcidShift)
    }

    /// Finds the entry translating `va` under `pcid` (any page size) and marks it most recently
    /// used; returns its slot, or -1 on a miss.
    @inlinable
    public func lookup(_ va: VirtAddr, pcid: UInt16) -> Int {
        var slot = probe(va.raw, .size4K, pcid)
        if slot < 0 && count2M > 0 { slot = probe(va.raw, .size2M, pcid) }
        if slot < 0 && count1G > 0 { slot = probe(va.raw, .size1G, pcid) }
        if slot >= 0 { touch(slot) }
        return slot
    }

    /// Does what `lookup` does; on a miss of the 4K probe it also works out, in the same pass
    /// over the set, the slot `insert` would give a non-global 4K entry for `va` under `pcid`
    /// (first invalid way, else the least recently used), which `insert` then takes without
    /// scanning the set again if nothing in this TLB has changed in between. Returns the slot, or -1.
    @inlinable
    public func lookupNotingVictim(_ va: VirtAddr, pcid: UInt16) -> Int {
        let pn = TLB.pageNumber(va.raw, .size4K)
        let key = TLB.valid | pn
        let set = setIndex(pn)
        let base = set &* ways
        let p = UInt64(pcid & 0xfff) << TLB.pcidShift
        let tg = tags
        if nibbleOrder {
            let hit = find(base, key, pcidBits: p)
            if hit >= 0 { touch(set: set, way: hit &- base); return hit }
            memoVictim = base &+ victimWay(set)
        } else {
            var best = UInt64.max
            var i = base
            let end = base &+ ways
            while i < end {
                let t = tg[i]
                if t & TLB.matchMask == key && (t & TLB.globalBit != 0 || t & TLB.pcidMask == p) { touch(i); return i }
                best = min(best, victimRank(t, i))
                i &+= 1
            }
            memoVictim = Int(truncatingIfNeeded: best & 0x7fff_ffff)
        }
        memoKey = key; memoPCID = UInt64(pcid & 0xfff)
        memoClock = clock; memoGeneration = generation
        var slot = -1
        if count2M > 0 { slot = probe(va.raw, .size2M, pcid) }
        if slot < 0 && count1G > 0 { slot = probe(va.raw, .size1G, pcid) }
        if slot >= 0 { touch(slot) }
        return slot
    }

    /// The slot of the set starting at `base` holding an entry with match key `key` usable
    /// under the PCID in tag position `pcidBits` (or global), or -1; looks at the tags only when
    /// the fingerprints say one may.
    @inlinable @inline(__always)
    func find(_ base: Int, _ key: UInt64, pcidBits p: UInt64) -> Int {
        if !mayHold(base, TLB.fingerprint(key)) { return -1 }
        let tg = tags
        var i = base
        let end = base &+ ways
        while i < end {
            let t = tg[i]
            if t & TLB.matchMask == key && (t & TLB.globalBit != 0 || t & TLB.pcidMask == p) { return i }
            i &+= 1
        }
        return -1
    }

    /// The way of `set` (nibble order) that `insert` replaces when it finds no entry for the
    /// page: the lowest invalid way, else the least recently used one.
    @inlinable @inline(__always)
    func victimWay(_ set: Int) -> Int {
        let v = validWays[set]
        if v != allWays { return (~v).trailingZeroBitCount }
        return Int(truncatingIfNeeded: (orders[set] >> (4 &* UInt64(truncatingIfNeeded: ways &- 1))) & 0xf)
    }

    /// The rank of way `i` (holding `tag`) as a victim in stamp order; the way of lowest rank in
    /// a set is the one `insert` replaces when it finds no entry for the page: an invalid way
    /// ranks by its slot alone (below every valid way, so the lowest invalid way goes first), a
    /// valid way by its LRU stamp, then its slot (the least recently used, lowest slot on a tie).
    @inlinable @inline(__always)
    func victimRank(_ tag: UInt64, _ i: Int) -> UInt64 {
        let stamp: UInt64 = tag & TLB.valid != 0 ? UInt64(stamps[i]) << 32 | 1 << 31 : 0
        return stamp | UInt64(truncatingIfNeeded: i)
    }

    /// The payload of the entry in `slot` (from `lookup`).
    @inlinable @inline(__always)
    public func payload(_ slot: Int) -> UInt64 { payloads[slot] }

    /// The tag of the entry in `slot` (from `lookup`).
    @inlinable @inline(__always)
    public func tag(_ slot: Int) -> UInt64 { tags[slot] }

    /// Marks `slot` most recently used.
    @inlinable @inline(__always)
    func touch(_ slot: Int) {
        if nibbleOrder {
            let set = setOf(slot)
            touch(set: set, way: slot &- set &* ways)
        } else {
            clock &+= 1
            if clock == 0 { renormalizeStamps() }
            stamps[slot] = clock
            lastTouched = slot
        }
    }

    /// Marks way `way` of `set` most recently used (nibble order): moves it to nibble 0.
    @inlinable @inline(__always)
    func touch(set: Int, way: Int) {
        clock &+= 1
        lastTouched = set &* ways &+ way
        let order = orders[set]
        let w = UInt64(truncatingIfNeeded: way)
        // The nibble holding `way`: the lowest zero nibble of order XOR way-in-every-nibble.
        let x = order ^ (w &* 0x1111_1111_1111_1111)
        let zeros = (x &- 0x1111_1111_1111_1111) & ~x & 0x8888_8888_8888_8888
        let at = UInt64(truncatingIfNeeded: zeros.trailingZeroBitCount) & ~3   // 4 * position
        let below: UInt64 = (1 << at) &- 1
        let above = order & ~below & ~(0xf << at)
        orders[set] = above | ((order & below) << 4) | w
    }

    /// Installs an entry with `tag` and `payload`: replaces an entry for the same page usable
    /// under the tag's PCID, else fills an invalid way (lowest first), else evicts the least
    /// recently used way of the set. Returns the slot written.
    @inlinable
    @discardableResult
    public func insert(tag: UInt64, payload: UInt64) -> Int {
        let key = tag & TLB.matchMask
        let global = tag & TLB.globalBit != 0
        let set = setIndex(tag & TLB.pageMask)
        let base = set &* ways
        let victim: Int
        if key == memoKey && !global && (tag >> TLB.pcidShift) & 0xfff == memoPCID && clock == memoClock && generation == memoGeneration {
            // The set's victim as `lookupNotingVictim` found it, when nothing has changed since:
            // that probe found no entry for this page under this PCID (the only match a
            // non-global tag can have), so the scan below would choose the same way.
            victim = memoVictim
        } else {
            // One pass over the set: an entry for the same page usable under the tag's PCID (or
            // any, for a global tag), else the victim (`victimWay` or lowest `victimRank`).
            let end = base &+ ways
            let p = tag & TLB.pcidMask
            let tg = tags
            var best = UInt64.max
            var match = -1
            // No way holds the key: in nibble order the victim needs no scan either.
            var i = nibbleOrder && !mayHold(base, TLB.fingerprint(key)) ? end : base
            while i < end {
                let t = tg[i]
                if t & TLB.matchMask == key && (global || t & TLB.globalBit != 0 || t & TLB.pcidMask == p) { match = i; break }
                if !nibbleOrder { best = min(best, victimRank(t, i)) }
                i &+= 1
            }
            victim = match >= 0 ? match : nibbleOrder ? base &+ victimWay(set) : Int(truncatingIfNeeded: best & 0x7fff_ffff)
        }
        memoKey = 0
        fill(victim, set: set, tag: tag, payload: payload)
        return victim
    }

    /// Writes the entry `tag`/`payload` into `slot` of `set`, marks it most recently used and
    /// keeps the per-size counts right: the part of `insert` after it has chosen the slot.
    @inlinable @inline(__always)
    func fill(_ victim: Int, set: Int, tag: UInt64, payload: UInt64) {
        let replaced = tags[victim]
        tags[victim] = tag
        fingerprints[victim] = TLB.fingerprint(tag & TLB.matchMask)
        payloads[victim] = payload
        // The new entry is the most recently used (in stamp order, renormalising when the clock
        // wraps changes no order, so the victim chosen by `insert` stays the right one).
        if nibbleOrder {
            let way = victim &- set &* ways
            touch(set: set, way: way)
            validWays[set] |= 1 << UInt32(truncatingIfNeeded: way)
        } else {
            touch(victim)
        }
        // The per-size counts change only when the entry replaced was invalid or of another size.
        let size = TLB.sizeOf(tag: tag)
        if replaced & TLB.valid == 0 {
            adjustCount(size, by: 1)
        } else if TLB.sizeOf(tag: replaced) != size {
            adjustCount(TLB.sizeOf(tag: replaced), by: -1)
            adjustCount(size, by: 1)
        }
    }

    /// Invalidates `slot` if valid, keeping the per-size counts right.
    @inlinable @inline(__always)
    func drop(_ slot: Int) {
        let t = tags[slot]
        if t & TLB.valid != 0 {
            adjustCount(TLB.sizeOf(tag: t), by: -1)
            tags[slot] = 0
            fingerprints[slot] = 0
            generation &+= 1
            if nibbleOrder {
                let set = setOf(slot)
                validWays[set] &= ~(1 << UInt32(truncatingIfNeeded: slot &- set &* ways))
            }
        }
    }

    @inlinable @inline(__always)
    func adjustCount(_ size: UInt8, by d: Int) {
        switch size {
        case 0: count4K &+= d
        case 1: count2M &+= d
        default: count1G &+= d
        }
    }

    /// Re-stamps every set 1...ways in its current LRU order after the clock wraps (stamp order
    /// only: once per 2^32 touches; the only TLB code that allocates besides `init` and `entries()`).
    @usableFromInline
    func renormalizeStamps() {
        var ranks = [UInt32](repeating: 0, count: ways)
        for set in 0..<sets {
            let base = set * ways
            for w in 0..<ways {
                var rank: UInt32 = 1
                for o in 0..<ways where stamps[base + o] < stamps[base + w] || (stamps[base + o] == stamps[base + w] && o < w) {
                    rank += 1
                }
                ranks[w] = rank
            }
            for w in 0..<ways { stamps[base + w] = ranks[w] }
        }
        clock = UInt32(ways) + 1   // the entry being touched gets a stamp above every rank
        generation &+= 1
    }

    // MARK: Invalidation

    /// Invalidates every entry (any size) that translates `va` and is usable under `pcid`,
    /// including global entries, as INVLPG does; returns how many were dropped.
    @inlinable @inline(__always)
    @discardableResult
    public func invalidatePage(_ va: VirtAddr, pcid: UInt16) -> Int {
        // An empty array (the iTLB of a trace without fetches, the huge-page arrays without huge
        // pages) is the common case on the fault path: answered without a call.
        if isEmpty { return 0 }
        return invalidatePageProbing(va, pcid: pcid)
    }

    /// `invalidatePage` of a TLB that holds entries: probes the set of each page size present.
    @usableFromInline @inline(never)
    func invalidatePageProbing(_ va: VirtAddr, pcid: UInt16) -> Int {
        var n = 0
        if count4K > 0 { n &+= dropEntries(va.raw, .size4K, pcid) }
        if count2M > 0 { n &+= dropEntries(va.raw, .size2M, pcid) }
        if count1G > 0 { n &+= dropEntries(va.raw, .size1G, pcid) }
        return n
    }

    /// Drops the entries for `va` with pages of `size` usable under `pcid` (INVLPG's match rule);
    /// returns how many were dropped. The set's tags are read only when the fingerprints say
    /// one may match.
    @inlinable @inline(__always)
    func dropEntries(_ va: UInt64, _ size: PageSize, _ pcid: UInt16) -> Int {
        let pn = TLB.pageNumber(va, size)
        let key = TLB.valid | (UInt64(size.rawValue) << TLB.sizeShift) | pn
        let base = setBase(pn)
        if !mayHold(base, TLB.fingerprint(key)) { return 0 }
        var n = 0
        var i = base
        while i < base &+ ways {
            let t = tags[i]
            if t & TLB.matchMask == key && TLB.pcidMatches(t, pcid) { drop(i); n &+= 1 }
            i &+= 1
        }
        return n
    }

    /// Invalidates every non-global entry tagged with `pcid` (a CR3 write without the no-flush
    /// bit, or INVPCID single-context); returns how many were dropped.
    @discardableResult
    public func flushPCID(_ pcid: UInt16) -> Int {
        var n = 0
        for i in 0..<capacity {
            let t = tags[i]
            if t & TLB.valid != 0 && t & TLB.globalBit == 0 && (t >> TLB.pcidShift) & 0xfff == UInt64(pcid & 0xfff) {
                drop(i); n += 1
            }
        }
        return n
    }

    /// Invalidates every entry, or every non-global entry of every PCID when `keepGlobal`;
    /// returns how many were dropped.
    @discardableResult
    public func flushAll(keepGlobal: Bool) -> Int {
        var n = 0
        for i in 0..<capacity {
            let t = tags[i]
            if t & TLB.valid != 0 && !(keepGlobal && t & TLB.globalBit != 0) { drop(i); n += 1 }
        }
        return n
    }

    // MARK: Inspection (allocates)

    /// The valid entries in slot order (set by set, way by way).
    public func entries() -> [TLBEntry] {
        var out: [TLBEntry] = []
        for i in 0..<capacity where tags[i] & TLB.valid != 0 {
            out.append(TLBEntry(slot: i, set: i / ways, way: i % ways, tag: tags[i], payload: payloads[i]))
        }
        return out
    }
}

/// One valid TLB entry, decoded for display and invariant checks.
public struct TLBEntry: Equatable, Sendable, CustomStringConvertible {
    public var slot: Int, set: Int, way: Int
    /// First virtual address of the page (sign-extended from bit 56).
    public var page: VirtAddr
    public var pageSize: PageSize
    /// The PCID the entry was filled under (matches any PCID when `global`).
    public var pcid: UInt16
    public var global: Bool
    /// The cached translation: physical base, size and effective rights.
    public var translation: HardwareTranslation

    /// Decodes the entry in `slot` from its raw tag and payload.
    public init(slot: Int, set: Int, way: Int, tag: UInt64, payload: UInt64) {
        self.slot = slot; self.set = set; self.way = way
        let size = PageSize(rawValue: UInt8(truncatingIfNeeded: (tag >> 61) & 3)) ?? .size4K
        var va = (tag & TLB.pageMask) << size.shift
        if va & (1 << 56) != 0 { va |= 0xfe00_0000_0000_0000 }
        page = VirtAddr(va)
        pageSize = size
        pcid = UInt16(truncatingIfNeeded: (tag >> 48) & 0xfff)
        global = tag & (1 << 60) != 0
        let base = payload & PTE.pfnMask & ~(size.bytes - 1)
        let flags = payload & (PTE.rw | PTE.user | PTE.dirty | PTE.global | PTE.nx)
        translation = HardwareTranslation(pageBase: PhysAddr(base), pageSize: size, flags: flags)
    }

    /// "set 3 way 1: 0x7f0000003000 -> 0x1234000 4K pcid 0 RW US D".
    public var description: String {
        var s = "set \(set) way \(way): \(page) -> \(translation.pageBase) \(pageSize) pcid \(pcid)"
        if translation.isWritable { s += " RW" }
        if translation.isUser { s += " US" }
        if translation.isDirty { s += " D" }
        if global { s += " G" }
        if translation.isNX { s += " NX" }
        return s
    }
}
