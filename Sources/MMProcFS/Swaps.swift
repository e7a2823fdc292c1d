import MMCore

/// /proc/swaps: one line per active swap area, sizes and use in KiB, columns padded with tabs
/// as the kernel pads them. Linux: swap_show(), mm/swapfile.c
public enum Swaps {
    /// The file's text for a kernel.
    public static func text(_ k: Kernel) -> String {
        var s = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        let kbPerPage = Int(PAGE_SIZE >> 10)
        for si in k.swapAreas {
            let size = si.pages * kbPerPage, used = si.inuse * kbPerPage
            let pad = si.path.count < 40 ? 40 - si.path.count : 1
            s += si.path + String(repeating: " ", count: pad) + (si.isPartition ? "partition" : "file") + "\t"
                + "\(size)\t" + (size < 10_000_000 ? "\t" : "") + "\(used)\t" + (used < 10_000_000 ? "\t" : "") + "\(si.priority)\n"
        }
        return s
    }
}

extension ProcFS {
    /// /proc/swaps.
    public static func swaps(_ k: Kernel) -> String { Swaps.text(k) }
}
