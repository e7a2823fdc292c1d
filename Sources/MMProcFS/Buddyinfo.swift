/// /proc/buddyinfo.
import MMCore

/// One line of /proc/buddyinfo: a zone's count of free blocks of each order.
public struct BuddyinfoZone: Sendable, Equatable {
    public var node: Int
    /// Zone name as the kernel spells it ("DMA", "DMA32", "Normal").
    public var name: String
    /// Free blocks of order 0, 1, … (NR_PAGE_ORDERS entries).
    public var nrFree: [Int]
    public init(node: Int = 0, name: String, nrFree: [Int]) {
        self.node = node; self.name = name; self.nrFree = nrFree
    }
}

/// /proc/buddyinfo: formatter and gatherer.
public enum Buddyinfo {
    /// The text of /proc/buddyinfo: "Node N, zone %8s " then "%6lu " per order (so each line ends
    /// with a space). Linux: frag_show_print(), mm/vmstat.c
    public static func format(_ zones: [BuddyinfoZone]) -> String {
        var s = ""
        for z in zones {
            s += "Node \(z.node), zone " + Fmt.right(z.name, 8) + " "
            for n in z.nrFree { s += Fmt.dec(n, 6) + " " }
            s += "\n"
        }
        return s
    }

    /// The populated zones of node 0, lowest first. Linux: walk_zones_in_node(), mm/vmstat.c
    public static func gather(_ k: Kernel) -> [BuddyinfoZone] {
        k.phys.zones.filter { $0.presentPages > 0 }.map { z in
            BuddyinfoZone(name: z.name, nrFree: (0..<NR_PAGE_ORDERS).map { z.nrFree(order: $0) })
        }
    }
}
