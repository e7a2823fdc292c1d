/// Memory compaction: moving movable pages out of the low end of a zone into free pages at its
/// high end, so that free memory coalesces into high-order blocks. Follows Linux mm/compaction.c
/// (compact_zone with a migration scanner going up and a free scanner coming down, one
/// pageblock at a time, until they meet or a block of the wanted order is free) and mm/migrate.c
/// (copy the page, point every PTE that maps it at the copy, free the original).
///
/// Model: synchronous compaction (MIGRATE_SYNC): every pageblock is scanned; a page is movable
/// when it is on an LRU list, mapped, and has no reference besides its mappings. The reverse map
/// is built by walking every address space's page tables once per run. Not modelled: async
/// compaction's skip of non-movable blocks, the pageblock skip hints, deferred compaction,
/// migration of PMD-mapped THPs (their frames are skipped),
/// kcompactd, proactive compaction, compaction capture.

/// What a compaction run did.
public struct CompactionResult: Sendable, Equatable {
    /// Pages migrated and free pages isolated as targets.
    public var migrated = 0
    public var isolatedFree = 0
    /// Whether a free block of the requested order exists at the end (COMPACT_SUCCESS).
    public var success = false
}

extension Kernel {
    /// Every PTE that maps each frame: frame index → (mm, virtual address, PTE slot).
    /// Linux: rmap_walk() (here a walk of all page tables), mm/rmap.c
    func buildReverseMap() -> [Int: [(MMStruct, VirtAddr, PTESlot)]] {
        var rmap: [Int: [(MMStruct, VirtAddr, PTESlot)]] = [:]
        var seen = Set<ObjectIdentifier>()
        for t in allTasks {
            guard let mm = t.mm ?? t.activeMM, seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            forEachPresentPTE(mm, VirtAddr(0), VirtAddr(mm.taskSize)) { va, slot, pte in
                guard pte.isPresent else { return }
                rmap[pte.pfn.index, default: []].append((mm, va, slot))
            }
        }
        return rmap
    }

    /// Whether `zone` has a free block of at least `order` that an allocation of migrate type
    /// `mt` can use: on its own list, or a whole pageblock it could claim. Linux: __compact_finished(), mm/compaction.c
    func compactionFinished(_ zone: Zone, order: Int, _ mt: MigrateType) -> Bool {
        guard order >= 0 else { return false }
        var o = order
        while o < NR_PAGE_ORDERS {
            if zone.nrFree(order: o, migrateType: mt) > 0 { return true }
            if o >= PAGEBLOCK_ORDER && zone.nrFree(order: o) > 0 { return true }
            o += 1
        }
        return false
    }

    /// Compacts `zone` until a block of `order` is free for `mt` (order −1: the whole zone, as
    /// /proc/sys/vm/compact_memory does) or the scanners meet; returns what it did.
    /// Linux: compact_zone() → isolate_migratepages() / isolate_freepages() / migrate_pages(), mm/compaction.c
    @discardableResult
    public func compactZone(_ zone: Zone, order: Int, migrateType mt: MigrateType = .movable) -> CompactionResult {
        var result = CompactionResult()
        if compactionFinished(zone, order: order, mt) { result.success = true; return result }
        let start = zone.startPFN.index, end = zone.startPFN.index + zone.spannedPages
        var migratePFN = start
        var freeBlock = ((end - 1) >> PAGEBLOCK_ORDER) << PAGEBLOCK_ORDER   // the free scanner's pageblock
        var freeTargets: [Int] = []
        var rmap: [Int: [(MMStruct, VirtAddr, PTESlot)]]? = nil
        // isolate_freepages(): take whole free blocks from the pageblocks at the top, moving down.
        func isolateFree() -> Bool {
            while freeTargets.isEmpty && freeBlock > migratePFN {
                var p = max(freeBlock, start)
                let blockEnd = min(freeBlock + PAGEBLOCK_NR_PAGES, end)
                while p < blockEnd {
                    if phys.memMap.flags[p].contains(.buddy) {
                        let o = Int(phys.memMap.order[p])
                        phys.delFromFreeList(zone, p, o, phys.pageblockMT(p))
                        zone.freePages -= 1 << o
                        for q in p..<(p + (1 << o)) { freeTargets.append(q) }
                        result.isolatedFree += 1 << o
                        p += 1 << o
                    } else { p += 1 }
                }
                if freeTargets.isEmpty { freeBlock -= PAGEBLOCK_NR_PAGES }
            }
            return !freeTargets.isEmpty
        }
        scan: while migratePFN < freeBlock {
            let blockEnd = min((migratePFN | (PAGEBLOCK_NR_PAGES - 1)) + 1, end)
            var p = migratePFN
            while p < blockEnd {
                let f = phys.memMap.flags[p]
                if f.contains(.buddy) { p += 1 << Int(phys.memMap.order[p]); continue }
                let mapcount = phys.memMap.mapcount[p]
                if f.contains(.lru) && !f.contains(.head) && !f.contains(.transHuge) && mapcount > 0 && phys.memMap.refcount[p] == mapcount {
                    if rmap == nil { rmap = buildReverseMap() }
                    guard isolateFree() else { break scan }
                    let target = freeTargets.removeLast()
                    migratePage(p, to: target, rmap: rmap![p] ?? [])
                    rmap![target] = rmap![p]; rmap![p] = nil
                    result.migrated += 1
                }
                p += 1
            }
            migratePFN = blockEnd
            if compactionFinished(zone, order: order, mt) { result.success = true; break }
        }
        // release_freepages(): unused targets go back to the free lists.
        for q in freeTargets { phys.freeOnePage(zone, q, order: 0, phys.pageblockMT(q), toTail: false) }
        if !result.success { result.success = compactionFinished(zone, order: order, mt) }
        narrate("compact_zone(\(zone.name), order \(order)): \(result.migrated) page\(result.migrated == 1 ? "" : "s") migrated to free pages at the top of the zone; " + (order < 0 ? "the whole zone was scanned" : result.success ? "a block of the order is now free" : "no block of the order could be built"))
        return result
    }

    /// Moves the contents and metadata of frame `old` to the isolated free frame `new`, repoints
    /// every PTE in `maps` and flushes those TLB entries, then frees `old`.
    /// Linux: migrate_folio() / remove_migration_ptes(), mm/migrate.c
    func migratePage(_ old: Int, to new: Int, rmap maps: [(MMStruct, VirtAddr, PTESlot)]) {
        phys.prepNewPage(new, order: 0, gfp: [])
        phys.contents.copy(from: PFN(index: old), to: PFN(index: new))
        phys.memMap.refcount[new] = phys.memMap.refcount[old]
        phys.memMap.mapcount[new] = phys.memMap.mapcount[old]
        // The new folio takes the old one's place on its LRU list and in the reverse map
        // (folio_isolate_lru() … folio_putback_lru(), folio_migrate_mapping()).
        let flags = phys.memMap.flags[old]
        let onLRU = reclaim.lruOf[old] >= 0
        if onLRU { lruDel(PFN(index: old)) }
        phys.memMap.flags[new] = flags.subtracting(.lru)
        reclaim.rmapAnonVMA[new] = reclaim.rmapAnonVMA[old]
        reclaim.rmapIndex[new] = reclaim.rmapIndex[old]
        reclaim.rmapInode[new] = reclaim.rmapInode[old]
        reclaim.rmapAnonVMA[old] = 0; reclaim.rmapIndex[old] = 0; reclaim.rmapInode[old] = nil
        if onLRU { lruAdd(PFN(index: new)) }
        for (mm, va, slot) in maps {
            let pte = phys.readPTE(slot)
            phys.writePTE(slot, PTE(raw: (pte.raw & ~PTE.pfnMask) | ((UInt64(new) << PAGE_SHIFT) & PTE.pfnMask)))
            flushTLBRange(mm, va, VirtAddr(va.raw &+ PAGE_SIZE))
        }
        phys.memMap.mapcount[old] = 0
        phys.memMap.refcount[old] = 1
        phys.memMap.flags[old] = []
        phys.freePages(PFN(index: old), order: 0)
    }

    /// Compacts every zone completely; returns the pages migrated per zone, lowest zone first.
    /// Linux: sysctl_compaction_handler() → compact_nodes(), mm/compaction.c
    public func compactMemory() -> [(zone: String, result: CompactionResult)] {
        phys.zones.map { ($0.name, compactZone($0, order: -1)) }
    }
}
