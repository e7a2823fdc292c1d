/// shmem and tmpfs: the size limit of the tmpfs mount and the lifetime of the shmem objects
/// behind shared anonymous mappings (Linux mm/shmem.c).

extension Kernel {
    /// Whether the tmpfs mount (files of kind .tmpfs, not the internal shm mount of shared
    /// anonymous memory) can take one more page: its default size is half of RAM.
    /// Linux: shmem_inode_acct_blocks() against sbinfo->max_blocks = totalram_pages() / 2, mm/shmem.c
    func tmpfsHasRoom(_ inode: Inode) -> Bool {
        guard inode.isShmem, inode.shmemObject == 0 else { return true }
        var used = 0
        for i in fs.allInodes where i.isShmem && i.shmemObject == 0 { used += i.pages.count }
        return used < phys.totalManagedPages / 2
    }

    /// Frees the shmem objects of shared anonymous mappings that no VMA of any process maps any
    /// more, with their pages (the last fput of the "/dev/zero" file evicts its inode).
    /// Linux: fput() → shmem_evict_inode() → shmem_truncate_range(), mm/shmem.c
    func shmemReleaseUnused() {
        hugetlbReleaseUnused()
        guard !fs.shmemObjects.isEmpty else { return }
        var used = Set<UInt64>()
        var seen = Set<ObjectIdentifier>()
        for t in allTasks {
            guard let mm = t.mm, seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            for v in mm.vmas.vmas where v.shmemObject != 0 { used.insert(v.shmemObject) }
        }
        for id in fs.shmemObjects.keys.sorted() where !used.contains(id) {
            guard let inode = fs.shmemObjects[id] else { continue }
            let n = inode.pages.count
            for idx in inode.cachedIndices { deleteFromPageCache(inode, idx) }
            fs.removeShmemObject(id)
            if n > 0 { narrate("shmem_evict_inode: the last mapping of shared anonymous object \(id) is gone: \(n) shmem page(s) freed") }
        }
    }
}
