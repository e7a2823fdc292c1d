/// Writeback of dirty page-cache pages: cleaning the PTEs that map them, copying their bytes to
/// the file, sync(2) (Linux mm/page-writeback.c, mm/rmap.c folio_mkclean, fs/sync.c). Writeback
/// completes at once (no flusher threads, NR_WRITEBACK stays 0).

extension Kernel {
    /// Write-protects and cleans every PTE that maps page `index` of `inode` (PFN `pfn`) in a
    /// shared mapping, so that the next write faults and dirties the page again. Returns how many
    /// PTEs were cleaned. Linux: folio_mkclean() → page_mkclean_one(), mm/rmap.c
    @discardableResult
    func pageMkclean(_ inode: Inode, _ index: UInt64, _ pfn: PFN) -> Int {
        var n = 0
        var seen = Set<ObjectIdentifier>()
        for t in allTasks {
            guard let mm = t.mm, seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            for v in mm.vmas.vmas where v.flags.contains(.shared) && vmaMaps(v, inode) {
                guard index >= v.pgoff, index - v.pgoff < UInt64(v.pages) else { continue }
                let va = VirtAddr(v.start.raw + ((index - v.pgoff) << PAGE_SHIFT))
                guard let s = phys.walk(mm.pgd, va) else { continue }
                let pte = phys.readPTE(s)
                guard pte.isPresent, pte.pfn == pfn, pte.isWritable || pte.isDirty else { continue }
                phys.writePTE(s, PTE(raw: pte.raw & ~(PTE.rw | PTE.dirty)))
                flushTLBRange(mm, va, VirtAddr(va.raw + PAGE_SIZE))
                n += 1
            }
        }
        return n
    }

    /// Writes the dirty cached pages of `inode` with index in [first, last] back to the file:
    /// their bytes become the file's stored data, PG_dirty and NR_FILE_DIRTY are cleared,
    /// nr_written grows, and the PTEs mapping them are cleaned. Returns the pages written.
    /// Linux: file_write_and_wait_range() → do_writepages() → folio_clear_dirty_for_io(), mm/filemap.c
    @discardableResult
    func writebackRange(_ inode: Inode, _ first: UInt64, _ last: UInt64) -> Int {
        guard !inode.isShmem else { return 0 }
        var n = 0
        for idx in inode.cachedIndices where idx >= first && idx <= last {
            guard let pfn = inode.pages[idx], phys.memMap.flags[pfn.index].contains(.dirty) else { continue }
            pageMkclean(inode, idx, pfn)
            let base = idx << PAGE_SHIFT
            let end = min(inode.size, base + PAGE_SIZE)
            if end > base {
                inode.materialize(upTo: end)
                for off in base..<end { inode.data[Int(off)] = phys.contents.readByte(PhysAddr(pfn.raw << PAGE_SHIFT + (off - base))) }
            }
            phys.memMap.flags[pfn.index].remove(.dirty)
            stat.nrDirty -= 1
            vmstat.nrWritten += 1
            vmstat.pgpgout += PAGE_SIZE >> 10
            inode.writtenBack += 1
            n += 1
        }
        return n
    }

    /// sync(2): writes back every dirty page of every file. Returns the pages written.
    /// Linux: ksys_sync() → sync_inodes_sb(), fs/sync.c
    @discardableResult
    public func sync() -> Int {
        var n = 0
        for inode in fs.allInodes where !inode.isShmem { n += writebackRange(inode, 0, UInt64.max) }
        narrate("sync: \(n) dirty page(s) written back")
        return n
    }
}
