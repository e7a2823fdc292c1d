/// The buddy allocator: free lists per order and migrate type, split on allocation, merge on free,
/// migrate-type fallback. Follows Linux 6.15+ mm/page_alloc.c (claim/steal fallback, free lists that
/// always match their pageblock's migrate type).
///
/// Not modeled: per-CPU page lists (every order-0 allocation and free goes straight to the zone's
/// free lists, as with the boot pageset whose high mark is 0), watermark boosting, highatomic
/// pageblock reservation (the HighAtomic lists exist but stay empty), CMA, page shuffling,
/// guard pages, compaction capture.

extension PhysicalMemory {
    // MARK: Free lists

    @inline(__always) func listIndex(_ order: Int, _ mt: Int) -> Int { order &* MIGRATE_TYPES &+ mt }

    /// Puts the free block at `pfn` on its list, at the head or the tail, and marks it PageBuddy
    /// with its order. Does not touch NR_FREE_PAGES.
    /// Linux: __add_to_free_list() + set_buddy_order(), mm/page_alloc.c
    @inline(__always) func addToFreeList(_ zone: Zone, _ pfn: Int, _ order: Int, _ mt: Int, toTail: Bool) {
        let li = listIndex(order, mt)
        let p = Int32(truncatingIfNeeded: pfn)
        if toTail {
            let t = zone.freeTail[li]
            memMap.buddyPrev[pfn] = t
            memMap.buddyNext[pfn] = -1
            if t >= 0 { memMap.buddyNext[Int(t)] = p } else { zone.freeHead[li] = p }
            zone.freeTail[li] = p
        } else {
            let h = zone.freeHead[li]
            memMap.buddyNext[pfn] = h
            memMap.buddyPrev[pfn] = -1
            if h >= 0 { memMap.buddyPrev[Int(h)] = p } else { zone.freeTail[li] = p }
            zone.freeHead[li] = p
        }
        zone.nrFreeList[li] &+= 1
        zone.nrFreeOrder[order] &+= 1
        memMap.flags[pfn].insert(.buddy)
        memMap.order[pfn] = UInt8(truncatingIfNeeded: order)
    }

    /// Unlinks the free block at `pfn` from its list and clears PageBuddy and the order.
    /// Does not touch NR_FREE_PAGES. Linux: __del_page_from_free_list(), mm/page_alloc.c
    @inline(__always) func delFromFreeList(_ zone: Zone, _ pfn: Int, _ order: Int, _ mt: Int) {
        unlink(zone, pfn, order, mt)
        memMap.flags[pfn].remove(.buddy)
        memMap.order[pfn] = 0
    }

    @inline(__always) private func unlink(_ zone: Zone, _ pfn: Int, _ order: Int, _ mt: Int) {
        let li = listIndex(order, mt)
        let n = memMap.buddyNext[pfn], p = memMap.buddyPrev[pfn]
        if p >= 0 { memMap.buddyNext[Int(p)] = n } else { zone.freeHead[li] = n }
        if n >= 0 { memMap.buddyPrev[Int(n)] = p } else { zone.freeTail[li] = p }
        memMap.buddyNext[pfn] = -1
        memMap.buddyPrev[pfn] = -1
        zone.nrFreeList[li] &-= 1
        zone.nrFreeOrder[order] &-= 1
    }

    /// Moves a free block to the tail of another migrate type's list of the same order.
    /// Linux: move_to_free_list(), mm/page_alloc.c
    @inline(__always) func moveToFreeList(_ zone: Zone, _ pfn: Int, _ order: Int, from oldMt: Int, to newMt: Int) {
        unlink(zone, pfn, order, oldMt)
        addToFreeList(zone, pfn, order, newMt, toTail: true)
    }

    // MARK: Pageblocks

    /// The migrate type of the pageblock holding frame index `pfn`.
    @inline(__always) func pageblockMT(_ pfn: Int) -> Int { Int(memMap.pageblockMigrateType[pfn >> PAGEBLOCK_ORDER].rawValue) }

    /// Returns the migrate type of the pageblock that holds `pfn` (Movable for a PFN out of range).
    /// Linux: get_pfnblock_migratetype(), mm/page_alloc.c
    public func pageblockMigrateType(of pfn: PFN) -> MigrateType {
        guard pfn.raw < UInt64(frameCount) else { return .movable }
        return memMap.pageblockMigrateType[pfn.index >> PAGEBLOCK_ORDER]
    }

    /// Returns how many pageblocks of `zone` have migrate type `migrateType` (/proc/pagetypeinfo's
    /// "Number of blocks type"), counting a partial last pageblock.
    public func pageblockCount(zone: Zone, migrateType: MigrateType) -> Int {
        var n = 0
        var b = zone.startPFN.index >> PAGEBLOCK_ORDER
        let end = zone.startPFN.index + zone.spannedPages
        while b << PAGEBLOCK_ORDER < end {
            if memMap.pageblockMigrateType[b] == migrateType { n += 1 }
            b += 1
        }
        return n
    }

    /// Sets the migrate type of every pageblock in the 2^order block at `pfn` (at least one).
    /// Linux: change_pageblock_range() / set_pageblock_migratetype(), mm/page_alloc.c
    @inline(__always) func changePageblockRange(_ pfn: Int, _ order: Int, _ mt: Int) {
        let t = MigrateType(rawValue: mt) ?? .movable
        var nr = order >= PAGEBLOCK_ORDER ? 1 << (order - PAGEBLOCK_ORDER) : 1
        var b = pfn >> PAGEBLOCK_ORDER
        while nr > 0 { memMap.pageblockMigrateType[b] = t; b += 1; nr -= 1 }
    }

    // MARK: Allocation

    /// Splits the order-`high` block at `pfn` down to order `low`, putting the upper half of each
    /// split on the head of the order below; returns the number of frames put back on free lists.
    /// Linux: expand(), mm/page_alloc.c
    @inline(__always) func expand(_ zone: Zone, _ pfn: Int, low: Int, high: Int, _ mt: Int) -> Int {
        var high = high
        var size = 1 << high
        var added = 0
        while high > low {
            high -= 1
            size >>= 1
            addToFreeList(zone, pfn + size, high, mt, toTail: false)
            added += size
        }
        return added
    }

    /// Takes the order-`high` free block at `pfn` off its list and splits it down to order `low`,
    /// charging NR_FREE_PAGES for the 2^low frames handed out.
    /// Linux: page_del_and_expand(), mm/page_alloc.c
    @inline(__always) func pageDelAndExpand(_ zone: Zone, _ pfn: Int, low: Int, high: Int, _ mt: Int) {
        delFromFreeList(zone, pfn, high, mt)
        let added = expand(zone, pfn, low: low, high: high, mt)
        zone.freePages -= (1 << high) - added
    }

    /// Returns the PFN index of an order-`order` block taken from the smallest non-empty list of
    /// migrate type `mt` (splitting a larger block if needed), or -1 when all those lists are empty.
    /// Linux: __rmqueue_smallest(), mm/page_alloc.c
    func rmqueueSmallest(_ zone: Zone, order: Int, _ mt: Int) -> Int {
        var co = order
        while co < NR_PAGE_ORDERS {
            let h = zone.freeHead[listIndex(co, mt)]
            if h >= 0 {
                pageDelAndExpand(zone, Int(h), low: order, high: co, mt)
                return Int(h)
            }
            co += 1
        }
        return -1
    }

    /// The i-th migrate type that `mt` falls back to, from Linux's `fallbacks[]` table:
    /// Unmovable → Reclaimable, Movable; Movable → Reclaimable, Unmovable; Reclaimable → Unmovable, Movable.
    @inline(__always) func fallbackType(_ mt: Int, _ i: Int) -> Int {
        switch (mt, i) {
        case (0, 0): return MigrateType.reclaimable.rawValue
        case (0, _): return MigrateType.movable.rawValue
        case (1, 0): return MigrateType.reclaimable.rawValue
        case (1, _): return MigrateType.unmovable.rawValue
        case (2, 0): return MigrateType.unmovable.rawValue
        default: return MigrateType.movable.rawValue
        }
    }

    /// Returns whether taking an order-`order` block for `startMt` should try to claim the whole
    /// pageblock: always for order ≥ pageblock_order/2 and for Unmovable/Reclaimable requests.
    /// Linux: should_try_claim_block(), mm/page_alloc.c
    @inline(__always) func shouldTryClaimBlock(order: Int, _ startMt: Int) -> Bool {
        if order >= PAGEBLOCK_ORDER { return true }
        if order >= PAGEBLOCK_ORDER / 2 { return true }
        return startMt == MigrateType.reclaimable.rawValue || startMt == MigrateType.unmovable.rawValue
    }

    /// Returns the first fallback migrate type of `mt` with a free block of this order, -1 when
    /// there is none, or -2 when `claimable` is asked for and the order is too small to claim.
    /// Linux: find_suitable_fallback(), mm/page_alloc.c
    func findSuitableFallback(_ zone: Zone, order: Int, _ mt: Int, claimable: Bool) -> Int {
        if claimable && !shouldTryClaimBlock(order: order, mt) { return -2 }
        if zone.nrFreeOrder[order] == 0 { return -1 }
        for i in 0..<(MIGRATE_PCPTYPES - 1) {
            let f = fallbackType(mt, i)
            if zone.freeHead[listIndex(order, f)] >= 0 { return f }
        }
        return -1
    }

    /// Claims the pageblock of the order-`currentOrder` free block at `pfn` (of list type
    /// `blockType`) for `startType` and returns the PFN index of an order-`order` block from it;
    /// returns -1, changing nothing, when the pageblock has too few free or compatible pages
    /// (fewer than half) or is cut by a zone boundary.
    /// Linux: try_to_claim_block(), mm/page_alloc.c
    func tryToClaimBlock(_ zone: Zone, _ pfn: Int, currentOrder: Int, order: Int, startType: Int, blockType: Int) -> Int {
        if currentOrder >= PAGEBLOCK_ORDER {
            // The block is one or more whole pageblocks: take them all.
            delFromFreeList(zone, pfn, currentOrder, blockType)
            changePageblockRange(pfn, currentOrder, startType)
            let added = expand(zone, pfn, low: order, high: currentOrder, startType)
            zone.freePages -= (1 << currentOrder) - added
            return pfn
        }
        // prep_move_freepages_block(): count free and movable frames of the pageblock.
        let start = pfn & ~(PAGEBLOCK_NR_PAGES - 1)
        let end = start + PAGEBLOCK_NR_PAGES - 1
        guard zone.spansIndex(start), zone.spansIndex(end) else { return -1 }
        var freeCount = 0, movable = 0
        var p = start
        while p <= end {
            let f = memMap.flags[p]
            if f.contains(.buddy) {
                let nr = 1 << Int(memMap.order[p])
                freeCount += nr
                p += nr
                continue
            }
            if f.contains(.lru) { movable += 1 }   // PageLRU(): movable by migration
            p += 1
        }
        let alike: Int
        if startType == MigrateType.movable.rawValue {
            alike = movable
        } else if blockType == MigrateType.movable.rawValue {
            alike = PAGEBLOCK_NR_PAGES - (freeCount + movable)
        } else {
            alike = 0
        }
        guard freeCount + alike >= 1 << (PAGEBLOCK_ORDER - 1) else { return -1 }
        moveFreepagesBlock(zone, start, from: blockType, to: startType)
        changePageblockRange(start, PAGEBLOCK_ORDER, startType)
        return rmqueueSmallest(zone, order: order, startType)
    }

    /// Moves every free block of the pageblock starting at `start` from the `oldMt` lists to the
    /// tail of the `newMt` lists; returns the number of frames moved.
    /// Linux: __move_freepages_block(), mm/page_alloc.c
    @discardableResult
    func moveFreepagesBlock(_ zone: Zone, _ start: Int, from oldMt: Int, to newMt: Int) -> Int {
        var moved = 0
        var p = start
        let end = start + PAGEBLOCK_NR_PAGES
        while p < end {
            if !memMap.flags[p].contains(.buddy) { p += 1; continue }
            let o = Int(memMap.order[p])
            moveToFreeList(zone, p, o, from: oldMt, to: newMt)
            p += 1 << o
            moved += 1 << o
        }
        return moved
    }

    /// Returns an order-`order` block obtained by claiming a pageblock of another migrate type,
    /// searching from the largest order down, or -1 when no block can be claimed.
    /// Linux: __rmqueue_claim(), mm/page_alloc.c
    func rmqueueClaim(_ zone: Zone, order: Int, _ startMt: Int, _ flags: AllocFlags) -> Int {
        var minOrder = order
        if order < PAGEBLOCK_ORDER && flags.contains(.noFragment) { minOrder = PAGEBLOCK_ORDER }
        var co = MAX_PAGE_ORDER
        while co >= minOrder {
            let fmt = findSuitableFallback(zone, order: co, startMt, claimable: true)
            if fmt == -2 { break }
            if fmt >= 0 {
                let page = Int(zone.freeHead[listIndex(co, fmt)])
                let got = tryToClaimBlock(zone, page, currentOrder: co, order: order, startType: startMt, blockType: fmt)
                if got >= 0 { return got }
            }
            co -= 1
        }
        return -1
    }

    /// Returns an order-`order` block stolen from the smallest suitable block of a fallback
    /// migrate type, leaving the pageblock's type (and the split-off remainders' lists) unchanged;
    /// -1 when every fallback list is empty. Linux: __rmqueue_steal(), mm/page_alloc.c
    func rmqueueSteal(_ zone: Zone, order: Int, _ startMt: Int) -> Int {
        var co = order
        while co < NR_PAGE_ORDERS {
            let fmt = findSuitableFallback(zone, order: co, startMt, claimable: false)
            if fmt >= 0 {
                let page = Int(zone.freeHead[listIndex(co, fmt)])
                pageDelAndExpand(zone, page, low: order, high: co, fmt)
                return page
            }
            co += 1
        }
        return -1
    }

    /// Returns an order-`order` block of `zone` for migrate type `mt`: own lists first, then
    /// claiming a foreign pageblock, then (unless ALLOC_NOFRAGMENT) stealing a block; -1 if the
    /// zone has nothing suitable. Linux: rmqueue_buddy() / __rmqueue(), mm/page_alloc.c
    func rmqueue(_ zone: Zone, order: Int, _ mt: Int, _ flags: AllocFlags) -> Int {
        let ha = MigrateType.highatomic.rawValue
        var page = -1
        if flags.contains(.highatomic) { page = rmqueueSmallest(zone, order: order, ha) }
        if page < 0 {
            page = rmqueueSmallest(zone, order: order, mt)
            if page < 0 { page = rmqueueClaim(zone, order: order, mt, flags) }
            if page < 0 && !flags.contains(.noFragment) { page = rmqueueSteal(zone, order: order, mt) }
            if page < 0 && !flags.isDisjoint(with: .oomOrNonBlock) { page = rmqueueSmallest(zone, order: order, ha) }
        }
        return page
    }

    // MARK: Freeing

    /// Whether the frame at index `buddy` heads a free block of exactly `order` in `zone`.
    /// Linux: page_is_buddy(), mm/page_alloc.c
    @inline(__always) func pageIsBuddy(_ zone: Zone, _ buddy: Int, _ order: Int) -> Bool {
        guard buddy >= 0 && buddy < frameCount else { return false }
        return memMap.flags[buddy].contains(.buddy) && Int(memMap.order[buddy]) == order && zone.spansIndex(buddy)
    }

    /// Whether the block that `pfn` would merge into next is itself likely to merge soon (its buddy
    /// one order up is free), in which case the freed block goes to the tail of its list.
    /// Linux: buddy_merge_likely(), mm/page_alloc.c
    @inline(__always) func buddyMergeLikely(_ zone: Zone, _ pfn: Int, _ buddyPfn: Int, _ order: Int) -> Bool {
        if order >= MAX_PAGE_ORDER - 1 { return false }
        let higher = buddyPfn & pfn
        return pageIsBuddy(zone, higher ^ (1 << (order + 1)), order + 1)
    }

    /// Frees the order-`order` block at `pfn` into `zone`, merging with its buddy (pfn ^ 2^order)
    /// while that is free, of the same order and zone (and, from pageblock order up, of a
    /// mergeable migrate type), then adds the result to the head of its list, or to the tail when
    /// `toTail` or a further merge is likely. Never fails.
    /// Linux: __free_one_page(), mm/page_alloc.c
    func freeOnePage(_ zone: Zone, _ pfn: Int, order: Int, _ mt: Int, toTail: Bool) {
        var pfn = pfn, order = order
        var buddyPfn = pfn
        zone.freePages += 1 << order
        while order < MAX_PAGE_ORDER {
            var buddyMt = mt
            buddyPfn = pfn ^ (1 << order)
            if !pageIsBuddy(zone, buddyPfn, order) { break }
            if order >= PAGEBLOCK_ORDER {
                buddyMt = pageblockMT(buddyPfn)
                // migratetype_is_mergeable(): only Unmovable, Movable and Reclaimable merge across types.
                if mt != buddyMt && (mt >= MIGRATE_PCPTYPES || buddyMt >= MIGRATE_PCPTYPES) { break }
            }
            delFromFreeList(zone, buddyPfn, order, buddyMt)
            if buddyMt != mt { changePageblockRange(buddyPfn, order, mt) }
            pfn &= buddyPfn
            order += 1
        }
        let tail = toTail || buddyMergeLikely(zone, pfn, buddyPfn, order)
        addToFreeList(zone, pfn, order, mt, toTail: tail)
    }

    /// Frees a block of any order, pageblock by pageblock, each on its own pageblock's migrate type.
    /// Linux: split_large_buddy() via __free_pages_ok() / free_one_page(), mm/page_alloc.c
    func freePagesOk(_ zone: Zone, _ pfn: Int, order: Int, toTail: Bool) {
        let o = order > PAGEBLOCK_ORDER ? PAGEBLOCK_ORDER : order
        let end = pfn + (1 << order)
        var p = pfn
        while p < end {
            freeOnePage(zone, p, order: o, pageblockMT(p), toTail: toTail)
            p += 1 << o
        }
    }
}
