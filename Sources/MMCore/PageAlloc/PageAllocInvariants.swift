/// Consistency checks of mem_map and the buddy free lists, run by tests after every step and by `--check`.

extension PhysicalMemory {
    /// Returns every broken invariant of mem_map and the free lists (empty when consistent), plus
    /// the bad frees and puts reported since boot. Checks: each free block is aligned to its order,
    /// flagged PageBuddy with that order, inside one zone, on the list of its pageblock's migrate
    /// type, outside the boot-reserved regions and disjoint from every other; list links agree both
    /// ways; no other frame carries PageBuddy; nr_free and NR_FREE_PAGES agree with the lists; zone
    /// managed pages add up to RAM minus the reserved regions; free + allocated + reserved = total.
    /// Linux: what CONFIG_DEBUG_VM's VM_BUG_ONs and check_free_page() guard, mm/page_alloc.c
    public func invariantViolations() -> [String] {
        var out = badPageReports
        func report(_ s: String) { if out.count < 200 { out.append(s) } }
        var covered = [Bool](repeating: false, count: frameCount)
        var heads = 0
        var totalFree = 0
        for zone in zones {
            var zoneFree = 0
            for order in 0..<NR_PAGE_ORDERS {
                var orderCount = 0
                for mt in 0..<MIGRATE_TYPES {
                    let li = listIndex(order, mt)
                    var count = 0
                    var prev: Int32 = -1
                    var cur = zone.freeHead[li]
                    while cur >= 0 {
                        let p = Int(cur)
                        if p >= frameCount { report("\(zone.name) order \(order) list \(mt): PFN index \(p) out of range"); break }
                        if memMap.buddyPrev[p] != prev {
                            report("\(zone.name) order \(order) list \(mt): PFN \(PFN(index: p)) has prev \(memMap.buddyPrev[p]), expected \(prev)")
                        }
                        count += 1
                        if count > frameCount { report("\(zone.name) order \(order) list \(mt): cycle"); break }
                        let size = 1 << order
                        if p & (size - 1) != 0 { report("free block \(PFN(index: p)) of order \(order) not aligned") }
                        if !memMap.flags[p].contains(.buddy) { report("free block \(PFN(index: p)) lacks PageBuddy") }
                        if Int(memMap.order[p]) != order {
                            report("free block \(PFN(index: p)) on order-\(order) list has order \(memMap.order[p])")
                        }
                        if p < zone.startPFN.index || p + size > zone.startPFN.index + zone.spannedPages {
                            report("free block \(PFN(index: p)) order \(order) crosses out of zone \(zone.name)")
                        } else {
                            var b = p >> PAGEBLOCK_ORDER
                            while b << PAGEBLOCK_ORDER < p + size {
                                if memMap.pageblockMigrateType[b].rawValue != mt {
                                    report("free block \(PFN(index: p)) order \(order) on \(MigrateType(rawValue: mt)?.name ?? "?") list in a \(memMap.pageblockMigrateType[b].name) pageblock")
                                }
                                b += 1
                            }
                            for i in p..<(p + size) {
                                if covered[i] { report("frame \(PFN(index: i)) is in two free blocks") }
                                covered[i] = true
                                if i != p && memMap.flags[i].contains(.buddy) { report("frame \(PFN(index: i)) inside a free block carries PageBuddy") }
                            }
                            for k in 0..<reservedStart.count where p < reservedEnd[k] && p + size > reservedStart[k] {
                                report("free block \(PFN(index: p)) order \(order) overlaps reserved region \(reservedRegions[k].name)")
                            }
                        }
                        zoneFree += size
                        heads += 1
                        prev = cur
                        cur = memMap.buddyNext[p]
                    }
                    if zone.freeTail[li] != prev {
                        report("\(zone.name) order \(order) list \(mt): tail \(zone.freeTail[li]), last element \(prev)")
                    }
                    if count != zone.nrFreeList[li] {
                        report("\(zone.name) order \(order) list \(mt): \(count) blocks listed, nr_free says \(zone.nrFreeList[li])")
                    }
                    orderCount += count
                }
                if orderCount != zone.nrFreeOrder[order] {
                    report("\(zone.name) order \(order): \(orderCount) blocks listed, free_area nr_free says \(zone.nrFreeOrder[order])")
                }
            }
            if zoneFree != zone.freePages {
                report("\(zone.name): \(zoneFree) pages on the free lists, NR_FREE_PAGES says \(zone.freePages)")
            }
            if zone.managedPages > zone.presentPages || zone.presentPages > zone.spannedPages {
                report("\(zone.name): managed \(zone.managedPages) > present \(zone.presentPages) or present > spanned \(zone.spannedPages)")
            }
            totalFree += zoneFree
        }
        var buddyFlags = 0
        for i in 0..<frameCount where memMap.flags[i].contains(.buddy) { buddyFlags += 1 }
        if buddyFlags != heads { report("\(buddyFlags) frames carry PageBuddy but \(heads) free blocks are listed") }
        var reservedFrames = 0
        for r in reservedRegions { reservedFrames += r.pages }
        if reservedFrames != reservedPages {
            report("memblock reserved \(reservedFrames) pages but RAM minus managed is \(reservedPages)")
        }
        if totalFree + allocatedPages + reservedPages != frameCount {
            report("free \(totalFree) + allocated \(allocatedPages) + reserved \(reservedPages) != total \(frameCount)")
        }
        return out
    }
}
