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
    @usableFromInline let stamps: UnsafeMutablePointer<UInt32>
    /// LRU clock: the stamp given to the most recently used entry.
    @usableFromInline var clock: UInt32 = 0
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
    }

    deinit {
        tags.deallocate(); payloads.deallocate(); stamps.deallocate()
    }

    /// Number of valid entries.
    public var validCount: Int { count4K + count2M + count1G }

    /// Asks the host CPU to cache the set a 4 KiB page `va` would live in (its tags, stamps and
    /// payloads), for a lookup or insert soon; a hint that changes nothing.
    @inline(__always)
    func prefetchSet(_ va: UInt64) {
        let base = setBase(TLB.pageNumber(va, .size4K))
        let last = base &+ ways &- 1
        cmm_prefetch_read(tags + base); cmm_prefetch_read(tags + last)
        cmm_prefetch_read(stamps + base); cmm_prefetch_read(stamps + last)
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

    /// The first slot of the set holding page number `pn`.
    @inlinable @inline(__always)
    func setBase(_ pn: UInt64) -> Int {
        let set = setsArePowerOfTwo ? pn & setMask : pn % UInt64(sets)
        return Int(truncatingIfNeeded: set) &* ways
    }

    @inlinable @inline(__always)
    static func sizeOf(tag: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: (tag >> sizeShift) & 3) }

    /// Whether valid entry `tag` is usable under `pcid` (same PCID, or global).
    @inlinable @inline(__always)
    static func pcidMatches(_ tag: UInt64, _ pcid: UInt16) -> Bool {
        tag & globalBit != 0 || (tag >> pcidShift) & 0xfff == UInt64(pcid & 0xfff)
    }

    // MARK: Lookup and fill (hot path)

    /// The slot of the entry for `va` with pages of `size` usable under `pcid`, or -1.
    @inlinable @inline(__always)
    func probe(_ va: UInt64, _ size: PageSize, _ pcid: UInt16) -> Int {
        let pn = TLB.pageNumber(va, size)
        let key = TLB.valid | (UInt64(size.rawValue) << TLB.sizeShift) | pn
        let base = setBase(pn)
        var i = base
        let end = base &+ ways
        while i < end {
            let t = tags[i]
            if t & TLB.matchMask == key && TLB.pcidMatches(t, pcid) { return i }
            i &+= 1
        }
        return -1
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
        let base = setBase(pn)
        let end = base &+ ways
        var firstFree = -1, oldest = base
        var oldestStamp = UInt32.max
        let tg = tags, st = stamps
        var i = base
        while i < end {
            let t = tg[i]
            if t & TLB.matchMask == key && TLB.pcidMatches(t, pcid) { touch(i); return i }
            if t & TLB.valid == 0 {
                if firstFree < 0 { firstFree = i }
            } else if st[i] < oldestStamp {
                oldestStamp = st[i]; oldest = i
            }
            i &+= 1
        }
        memoKey = key; memoPCID = UInt64(pcid & 0xfff)
        memoVictim = firstFree >= 0 ? firstFree : oldest
        memoClock = clock; memoGeneration = generation
        var slot = -1
        if count2M > 0 { slot = probe(va.raw, .size2M, pcid) }
        if slot < 0 && count1G > 0 { slot = probe(va.raw, .size1G, pcid) }
        if slot >= 0 { touch(slot) }
        return slot
    }

    /// The payload of the entry in `slot` (from `lookup`).
    @inlinable @inline(__always)
    public func payload(_ slot: Int) -> UInt64 { payloads[slot] }

    /// The tag, LRU stamp and payload of `slot` (the MMU's fast path for a repeated data page).
    @inlinable @inline(__always)
    func entryState(_ slot: Int) -> (tag: UInt64, stamp: UInt32, payload: UInt64) {
        (tags[slot], stamps[slot], payloads[slot])
    }

    /// The tag of the entry in `slot` (from `lookup`).
    @inlinable @inline(__always)
    public func tag(_ slot: Int) -> UInt64 { tags[slot] }

    /// Marks `slot` most recently used.
    @inlinable @inline(__always)
    func touch(_ slot: Int) {
        clock &+= 1
        if clock == 0 { renormalizeStamps() }
        stamps[slot] = clock
    }

    /// Installs an entry with `tag` and `payload`: replaces an entry for the same page usable
    /// under the tag's PCID, else fills an invalid way (lowest first), else evicts the least
    /// recently used way of the set. Returns the slot written.
    @inlinable
    @discardableResult
    public func insert(tag: UInt64, payload: UInt64) -> Int {
        let pn = tag & TLB.pageMask
        let key = tag & TLB.matchMask
        let pcid = UInt16(truncatingIfNeeded: (tag >> TLB.pcidShift) & 0xfff)
        let base = setBase(pn)
        let end = base &+ ways
        // One pass over the set: an entry for the same page usable under the tag's PCID (or any,
        // for a global tag), the first invalid way, and the least recently used way.
        var match = -1, firstFree = -1, oldest = base
        let global = tag & TLB.globalBit != 0
        // The set's victim as `lookupNotingVictim` found it, when nothing has changed since:
        // that probe found no entry for this page under this PCID (the only match a non-global
        // tag can have), so the scan below would choose the same way.
        let noted = key == memoKey && !global && UInt64(pcid) == memoPCID && clock == memoClock && generation == memoGeneration
        memoKey = 0
        // The victim's LRU stamp: the next clock value, as `touch` gives (renormalising first
        // when the clock wraps changes no order: it ranks by stamps alone).
        clock &+= 1
        if clock == 0 { renormalizeStamps() }
        let stamp = clock
        let tg = tags, st = stamps
        if noted {
            firstFree = memoVictim
        } else {
            var oldestStamp = UInt32.max
            var i = base
            while i < end {
                let t = tg[i]
                if t & TLB.matchMask == key && (global || TLB.pcidMatches(t, pcid)) { match = i; break }
                if t & TLB.valid == 0 {
                    if firstFree < 0 { firstFree = i }
                } else if st[i] < oldestStamp {
                    oldestStamp = st[i]; oldest = i
                }
                i &+= 1
            }
        }
        let victim = match >= 0 ? match : firstFree >= 0 ? firstFree : oldest
        let replaced = tg[victim]
        tg[victim] = tag
        st[victim] = stamp
        payloads[victim] = payload
        // The per-size counts change only when the entry replaced was invalid or of another size.
        let size = TLB.sizeOf(tag: tag)
        if replaced & TLB.valid == 0 {
            adjustCount(size, by: 1)
        } else if TLB.sizeOf(tag: replaced) != size {
            adjustCount(TLB.sizeOf(tag: replaced), by: -1)
            adjustCount(size, by: 1)
        }
        return victim
    }

    /// Invalidates `slot` if valid, keeping the per-size counts right.
    @inlinable @inline(__always)
    func drop(_ slot: Int) {
        let t = tags[slot]
        if t & TLB.valid != 0 {
            adjustCount(TLB.sizeOf(tag: t), by: -1)
            tags[slot] = 0
            generation &+= 1
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

    /// Re-stamps every set 1...ways in its current LRU order after the clock wraps (once per
    /// 2^32 touches; the only TLB code that allocates besides `init` and `entries()`).
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
    @inlinable
    @discardableResult
    public func invalidatePage(_ va: VirtAddr, pcid: UInt16) -> Int {
        var n = 0
        var s: UInt8 = 0
        while s < 3 {
            let size = PageSize(rawValue: s) ?? .size4K
            let present: Bool
            switch s { case 0: present = count4K > 0; case 1: present = count2M > 0; default: present = count1G > 0 }
            if present {
                let pn = TLB.pageNumber(va.raw, size)
                let key = TLB.valid | (UInt64(s) << TLB.sizeShift) | pn
                let base = setBase(pn)
                var i = base
                while i < base &+ ways {
                    let t = tags[i]
                    if t & TLB.matchMask == key && TLB.pcidMatches(t, pcid) { drop(i); n &+= 1 }
                    i &+= 1
                }
            }
            s &+= 1
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
