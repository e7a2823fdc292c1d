/// vm.drop_caches (Linux fs/drop_caches.c, mm/truncate.c invalidate_mapping_pages).

extension Kernel {
    /// vm.drop_caches: with bit 1 set, frees every clean, unmapped page of the disk files' page
    /// caches (dirty, mapped and shmem pages stay); bit 2 (slab) has nothing to free in the
    /// model. Returns the pages freed. Linux: drop_caches_sysctl_handler() → drop_pagecache_sb()
    /// → invalidate_mapping_pages(), fs/drop_caches.c, mm/truncate.c
    @discardableResult
    public func dropCaches(_ mode: Int) -> Int {
        var n = 0
        if mode & 1 != 0 {
            for inode in fs.allInodes where !inode.isShmem {
                for idx in inode.cachedIndices {
                    guard let pfn = inode.pages[idx] else { continue }
                    let f = phys.memMap.flags[pfn.index]
                    if f.contains(.dirty) || f.contains(.writeback) || phys.memMap.mapcount[pfn.index] > 0 { continue }
                    deleteFromPageCache(inode, idx)
                    n += 1
                }
            }
            vmstat.dropPagecache += 1
        }
        if mode & 2 != 0 { vmstat.dropSlab += 1 }
        narrate("drop_caches \(mode): \(n) clean unmapped page-cache page(s) freed")
        return n
    }
}
