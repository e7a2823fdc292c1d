/// Page reclaim, reduced to what the model has: clean, unmapped page-cache pages freed by direct
/// reclaim before the OOM killer runs (Linux mm/vmscan.c). No swap, no kswapd, no unmapping of
/// mapped pages through rmap.

extension Kernel {
    /// Pages direct reclaim frees per pass (SWAP_CLUSTER_MAX).
    public static let swapClusterMax = 32

    /// Direct reclaim, reduced to what the model can reclaim without swap or rmap unmapping:
    /// frees up to `nr` clean, unmapped pages of disk files' page caches (files in creation order,
    /// pages in index order, standing in for the inactive file LRU). Returns the pages freed
    /// (pgsteal_direct). Linux: try_to_free_pages() → shrink_inactive_list() → shrink_folio_list(), mm/vmscan.c
    @discardableResult
    func shrinkPageCache(_ nr: Int) -> Int {
        var n = 0
        for inode in fs.allInodes where !inode.isShmem && !inode.pages.isEmpty {
            for idx in inode.cachedIndices {
                guard n < nr else { break }
                guard let pfn = inode.pages[idx] else { continue }
                let f = phys.memMap.flags[pfn.index]
                if f.contains(.dirty) || f.contains(.mlocked) || phys.memMap.mapcount[pfn.index] > 0 { continue }
                deleteFromPageCache(inode, idx)
                n += 1
            }
            if n >= nr { break }
        }
        if n > 0 {
            vmstat.pgstealDirect += UInt64(n)
            narrate("direct reclaim: \(n) clean, unmapped page-cache page(s) freed")
        }
        return n
    }
}
