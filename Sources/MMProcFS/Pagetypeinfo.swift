/// /proc/pagetypeinfo and the external-fragmentation indices of /sys/kernel/debug/extfrag/.
import MMCore

/// /proc/pagetypeinfo: free blocks per zone, migrate type and order, and pageblocks per type.
public enum Pagetypeinfo {
    /// The text of /proc/pagetypeinfo (node 0; counts above 100000 print as ">100000"; no
    /// CONFIG_PAGE_OWNER mixed-block table). Linux: pagetypeinfo_show(), pagetypeinfo_showfree_print(),
    /// pagetypeinfo_showblockcount_print(), mm/vmstat.c
    public static func format(_ k: Kernel) -> String {
        let zones = k.phys.zones.filter { $0.presentPages > 0 }
        var s = "Page block order: \(PAGEBLOCK_ORDER)\nPages per block:  \(PAGEBLOCK_NR_PAGES)\n\n"
        s += Fmt.left("Free pages count per migrate type at order", 43) + " "
        for o in 0..<NR_PAGE_ORDERS { s += Fmt.dec(o, 6) + " " }
        s += "\n"
        for z in zones {
            for mt in MigrateType.allCases {
                s += "Node " + Fmt.dec(0, 4) + ", zone " + Fmt.right(z.name, 8) + ", type " + Fmt.right(mt.name, 12) + " "
                for o in 0..<NR_PAGE_ORDERS {
                    let n = z.nrFree(order: o, migrateType: mt)
                    s += n > 100000 ? ">" + Fmt.dec(100000, 6) + " " : Fmt.dec(n, 6) + " "
                }
                s += "\n"
            }
        }
        s += "\n" + Fmt.left("Number of blocks type ", 23)
        for mt in MigrateType.allCases { s += Fmt.right(mt.name, 12) + " " }
        s += "\n"
        for z in zones {
            s += "Node 0, zone " + Fmt.right(z.name, 8) + " "
            for mt in MigrateType.allCases { s += Fmt.dec(k.phys.pageblockCount(zone: z, migrateType: mt), 12) + " " }
            s += "\n"
        }
        return s
    }
}

/// The unusable free space index and the fragmentation index of each zone and order.
public enum Extfrag {
    /// Free pages, free blocks, and free blocks usable for an order-`order` request (counted in
    /// order-`order` units). Linux: fill_contig_page_info(), mm/vmstat.c
    public static func contigInfo(_ z: Zone, order: Int) -> (freePages: Int, blocksTotal: Int, blocksSuitable: Int) {
        var pages = 0, total = 0, suitable = 0
        for o in 0..<NR_PAGE_ORDERS {
            let n = z.nrFree(order: o)
            total += n
            pages += n << o
            if o >= order { suitable += n << (o - order) }
        }
        return (pages, total, suitable)
    }

    /// The share of free memory (in thousandths) unusable for an order-`order` allocation because
    /// it lies in smaller blocks; 0 with no free memory. Linux: unusable_free_index(), mm/vmstat.c
    public static func unusableIndex(_ z: Zone, order: Int) -> Int {
        let i = contigInfo(z, order: order)
        guard i.freePages > 0 else { return 0 }
        return (i.freePages - (i.blocksSuitable << order)) * 1000 / i.freePages
    }

    /// The fragmentation index in thousandths: -1000 when a suitable block exists, 0 with no free
    /// block; towards 0 a failure would be lack of memory, towards 1000 fragmentation.
    /// Linux: __fragmentation_index(), mm/vmstat.c
    public static func fragmentationIndex(_ z: Zone, order: Int) -> Int {
        let i = contigInfo(z, order: order)
        if i.blocksTotal == 0 { return 0 }
        if i.blocksSuitable > 0 { return -1000 }
        return 1000 - (1000 + i.freePages * 1000 / (1 << order)) / i.blocksTotal
    }

    /// /sys/kernel/debug/extfrag/unusable_index ("%d.%03d " per order) or extfrag_index ("%2d.%03d ").
    /// Linux: unusable_show_print() / extfrag_show_print(), mm/vmstat.c
    public static func format(_ k: Kernel, unusable: Bool) -> String {
        var s = ""
        for z in k.phys.zones where z.presentPages > 0 {
            s += "Node 0, zone " + Fmt.right(z.name, 8) + " "
            for o in 0..<NR_PAGE_ORDERS {
                let v = unusable ? unusableIndex(z, order: o) : fragmentationIndex(z, order: o)
                let whole = v / 1000, frac = abs(v % 1000)
                let w = v < 0 && whole == 0 ? "-0" : String(whole)
                let f = String(frac)
                s += (unusable ? w : Fmt.right(w, 2)) + "." + String(repeating: "0", count: 3 - f.count) + f + " "
            }
            s += "\n"
        }
        return s
    }
}
