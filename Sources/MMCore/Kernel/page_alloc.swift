/// The page allocator's interface for kernel code: alloc_pages / __get_free_pages /
/// get_zeroed_page / free_pages with GFP semantics, and the "page allocation failure" report.
///
/// GFP decisions follow Linux 6.x mm/page_alloc.c: the fast path checks the low watermark; the
/// slow path checks the min watermark with the caller's rights (__GFP_HIGH halves it, a caller
/// that cannot sleep takes another quarter off: GFP_ATOMIC dips below min); a caller that may
/// reclaim (__GFP_DIRECT_RECLAIM) reclaims clean page-cache pages and, for order > 0, compacts;
/// asking for at most PAGE_ALLOC_COSTLY_ORDER without __GFP_NORETRY it then invokes the OOM
/// killer and retries; everything else fails, reported by warn_alloc() unless __GFP_NOWARN.

/// Orders above this are "costly": the allocator does not OOM-kill for them (PAGE_ALLOC_COSTLY_ORDER).
public let PAGE_ALLOC_COSTLY_ORDER = 3

extension Kernel {
    /// Returns the first frame of 2^order contiguous frames for kernel use, or nil (after the
    /// failure report unless __GFP_NOWARN) when none can be had under `gfp`'s rules.
    /// Linux: alloc_pages() → __alloc_pages() → __alloc_pages_slowpath(), mm/page_alloc.c
    public func allocKernelPages(order: Int, gfp: GFP, narrateSuccess: Bool = false) -> PFN? {
        guard order >= 0 && order < NR_PAGE_ORDERS else {
            // WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER, gfp) and fail, as __alloc_pages() does
            // (the warning's register and stack dump are not rendered).
            if !gfp.contains(.nowarn) {
                printk("WARNING: CPU: 0 PID: \(current?.pid ?? 0) at mm/page_alloc.c __alloc_pages: order \(order) > MAX_PAGE_ORDER (\(MAX_PAGE_ORDER))")
            }
            narrate("alloc_pages(order \(order)): above MAX_PAGE_ORDER: refused")
            return nil
        }
        var attempts = tasks.count + 2
        var triedCompaction = false
        while attempts > 0 {
            if let p = phys.allocPages(order: order, gfp: gfp) {
                vmstat.pgalloc &+= UInt64(1 << order)
                if narrateSuccess, let z = phys.zone(of: p) {
                    narrate("alloc_pages(order \(order), \(formatGFPMask(gfp))): highest zone \(phys.preferredZoneType(gfp).name), got PFN \(p) from \(z.name); \(z.name) now has \(z.freePages) free pages (watermarks min \(z.watermarkMin), low \(z.watermarkLow), high \(z.watermarkHigh))")
                }
                return p
            }
            if panicMessage != nil { return nil }
            // __alloc_pages_direct_compact(): a high-order request that may sleep compacts the
            // zones it may use, highest first, and retries.
            if order > 0 && gfp.contains(.directReclaim) && !triedCompaction {
                triedCompaction = true
                let highest = ZoneType(gfp: gfp)
                var compacted = false
                for z in phys.zones.reversed() where z.type.rawValue <= highest.rawValue {
                    narrate("alloc_pages(order \(order)): no free block: direct compaction of zone \(z.name)")
                    if compactZone(z, order: order, migrateType: MigrateType(gfp: gfp)).success { compacted = true; break }
                }
                if compacted { continue }
            }
            // __alloc_pages_direct_reclaim(): the LRU lists are scanned (page cache and, with swap, anon).
            if gfp.contains(.directReclaim) && tryToFreePages(gfp: gfp) > 0 {
                narrate("alloc_pages(order \(order)): direct reclaim freed pages; retry")
                continue
            }
            let mayOOM = gfp.contains(.directReclaim) && order <= PAGE_ALLOC_COSTLY_ORDER && !gfp.contains(.noretry)
            guard mayOOM else { break }
            narrate("alloc_pages(order \(order)): below the min watermark; \(formatGFPMask(gfp)) may sleep: the slow path calls the OOM killer")
            if !outOfMemory(task: current, gfp: gfp, order: order) || panicMessage != nil { break }
            attempts -= 1
        }
        if gfp.contains(.directReclaim) { narrate("alloc_pages(order \(order)): no zone allowed by the mask can supply the block: fails") } else {
            narrate("alloc_pages(order \(order)): \(formatGFPMask(gfp)) cannot sleep or reclaim: fails at once")
        }
        if !gfp.contains(.nowarn) { warnAlloc(order: order, gfp: gfp) }
        return nil
    }

    /// Frees a block obtained from `allocKernelPages` (a compound block is freed whole).
    /// Linux: __free_pages() / free_pages(), mm/page_alloc.c
    public func freeKernelPages(_ pfn: PFN, order: Int) {
        phys.freePages(pfn, order: order)
    }

    /// Logs the page allocation failure report: who failed, the order and the mask, then the free
    /// blocks of every zone by order with their migrate types ("Node 0 DMA32: 3*4kB (UM) … = 12kB").
    /// The stack dump and the rest of the Mem-Info block are not rendered.
    /// Linux: warn_alloc() → show_mem() / show_free_areas(), mm/page_alloc.c, mm/show_mem.c
    public func warnAlloc(order: Int, gfp: GFP) {
        let comm = current?.comm ?? "swapper/0"
        printk("\(comm): page allocation failure: order:\(order), mode:\(formatGFPMask(gfp)), nodemask=(null),cpuset=/,mems_allowed=0")
        printk("Mem-Info:")
        for z in phys.zones {
            var line = "Node 0 \(z.name): "
            var total = 0
            for o in 0..<NR_PAGE_ORDERS {
                let n = z.nrFree(order: o)
                total += n << o
                line += "\(n)*\(4 << o)kB "
                if n > 0 {
                    // show_migration_types(): U M E H for the lists that hold blocks of this order.
                    var t = ""
                    let codes: [(MigrateType, Character)] = [(.unmovable, "U"), (.movable, "M"), (.reclaimable, "E"), (.highatomic, "H")]
                    for (mt, c) in codes where z.nrFree(order: o, migrateType: mt) > 0 { t.append(c) }
                    line += "(\(t)) "
                }
            }
            printk(line + "= \(total * 4)kB")
        }
    }

    /// Returns the direct-map address of 2^order frames, or nil. Linux: __get_free_pages(), mm/page_alloc.c
    public func getFreePages(order: Int, gfp: GFP) -> UInt64? {
        allocKernelPages(order: order, gfp: gfp.subtracting(.highmem)).map(pageAddress)
    }

    /// Returns the direct-map address of one zeroed frame, or nil. Linux: get_zeroed_page(), mm/page_alloc.c
    public func getZeroedPage(gfp: GFP) -> UInt64? { getFreePages(order: 0, gfp: gfp.union(.zero)) }
}
