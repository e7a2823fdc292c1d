/// The page cache: file pages found or read in on a fault, mapped around the faulting address,
/// dirtied by shared writes, written back by msync/sync, dropped by drop_caches
/// (Linux mm/filemap.c, mm/readahead.c, mm/memory.c, mm/msync.c, mm/shmem.c, fs/drop_caches.c).
///
/// What the model keeps of Linux 6.x: order-0 folios only (no large folios); a cache miss on a
/// disk file is a major fault that reads the page and its mmap read-around window (ra_pages = 32,
/// read_ahead_kb 128, centred on the fault; VM_RAND_READ reads the page alone, VM_SEQ_READ reads
/// forward) synchronously; no asynchronous readahead (PG_readahead markers are not modelled); a
/// shmem/tmpfs miss allocates a zeroed page (a minor fault); fault-around maps only pages already
/// in the cache, before the fault reads anything, exactly as do_fault_around() computes its window.

/// Entries in one page table (PTRS_PER_PTE on x86-64).
public let PTRS_PER_PTE = 512

/// msync(2) flags.
public struct MsyncFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let async = MsyncFlags(rawValue: 1)
    public static let invalidate = MsyncFlags(rawValue: 2)
    public static let sync = MsyncFlags(rawValue: 4)
}

extension Kernel {
    /// Pages the mmap read-around of a major fault reads (bdi read_ahead_kb 128 → ra_pages 32).
    public static let readAroundPages: UInt64 = 32

    // MARK: - Finding the file behind a VMA

    /// The inode whose page cache backs `vma`: the shmem object of a shared anonymous mapping
    /// (created on its first fault), or the mapped file. A file the scenario never created (an
    /// image mapped through the API alone) is registered on first use as a zero-filled disk file
    /// reaching the end of the mapping. Returns nil when the path is taken by a different inode.
    /// Linux: vma->vm_file->f_mapping
    func vmaInode(_ vma: VMA) -> Inode? {
        let end = (vma.pgoff &+ UInt64(vma.pages)) << PAGE_SHIFT
        if vma.shmemObject != 0 {
            let i = fs.shmemObject(vma.shmemObject, size: end)
            if i.size < end { i.size = end }
            return i
        }
        guard let f = vma.file else { return nil }
        if let i = fs.inode(for: f) { return i }
        guard fs.lookup(f.path) == nil else { return nil }
        return try? fs.register(path: f.path, size: min(end, FileSystem.maxFileSize), ino: f.inode, dev: (f.devMajor, f.devMinor))
    }

    /// Whether `vma` maps `inode`'s pages. Linux: the inode's i_mmap interval tree membership.
    func vmaMaps(_ vma: VMA, _ inode: Inode) -> Bool {
        if inode.shmemObject != 0 { return vma.shmemObject == inode.shmemObject }
        guard let f = vma.file else { return false }
        return f.inode == inode.ino && f.path == inode.path
    }

    /// The file page index `va` falls on in `vma`. Linux: linear_page_index()
    @inline(__always)
    func linearPageIndex(_ vma: VMA, _ va: VirtAddr) -> UInt64 {
        vma.pgoff &+ ((va.pageDown.raw &- vma.start.raw) >> PAGE_SHIFT)
    }

    /// Pages of `inode` a fault may map: ceil(i_size / PAGE_SIZE) (max_idx in filemap_fault).
    func maxIndex(_ inode: Inode) -> UInt64 { inode.sizeInPages }

    // MARK: - Adding and removing cache pages

    /// Puts `pfn` (a fresh page) into `inode`'s cache at `index`: fills it from the file's
    /// stored bytes (zeros past them), marks it uptodate and on the LRU (the anon LRU for shmem),
    /// and counts it in NR_FILE_PAGES (and NR_SHMEM). The allocation's reference becomes the
    /// cache's reference. Linux: filemap_add_folio() + read_folio / shmem_alloc_and_add_folio()
    func addToPageCache(_ inode: Inode, _ index: UInt64, _ pfn: PFN) {
        fillFromFile(inode, index, pfn)
        var f: PageFlags = [.lru, .uptodate]
        if inode.isShmem {
            f.insert(.swapbacked)
            stat.nrShmem += 1
            stat.nrInactiveAnon += 1
        } else {
            f.insert(.mappedtodisk)
            stat.nrInactiveFile += 1
        }
        stat.nrFilePages += 1
        phys.memMap.flags[pfn.index] = f
        phys.memMap.mapcount[pfn.index] = 0
        inode.pages[index] = pfn
    }

    /// Copies the stored bytes of page `index` of `inode` into `pfn` (zeros where there are none).
    func fillFromFile(_ inode: Inode, _ index: UInt64, _ pfn: PFN) {
        phys.contents.clear(pfn)
        let base = index << PAGE_SHIFT
        let stored = inode.fill == 0 ? UInt64(inode.data.count) : inode.size
        guard base < stored else { return }
        let end = min(stored, base + PAGE_SIZE)
        let dataEnd = UInt64(inode.data.count)
        let fillWord = UInt64(inode.fill) &* 0x0101_0101_0101_0101
        var w = 0
        var off = base
        while off < end {
            var word: UInt64 = 0
            if off >= dataEnd && off + 8 <= inode.size {
                word = fillWord
            } else {
                for b in 0..<8 { word |= UInt64(inode.storedByte(off + UInt64(b))) << (8 * UInt64(b)) }
            }
            if word != 0 { phys.contents.writeWord(pfn, w, word) }
            w += 1
            off += 8
        }
    }

    /// Removes page `index` from `inode`'s cache and drops the cache's reference (freeing the
    /// page); the page must be unmapped. A dirty page is cleaned without writeback (its data is
    /// lost, as with truncate). Linux: filemap_remove_folio() → page_cache_delete(), mm/filemap.c
    func deleteFromPageCache(_ inode: Inode, _ index: UInt64) {
        guard let pfn = inode.pages[index] else { return }
        let f = phys.memMap.flags[pfn.index]
        if f.contains(.dirty) { stat.nrDirty -= 1 }
        if f.contains(.mlocked) { stat.nrMlock -= 1; stat.nrUnevictable -= 1 }
        else if f.contains(.lru) {
            if inode.isShmem {
                if f.contains(.active) { stat.nrActiveAnon -= 1 } else { stat.nrInactiveAnon -= 1 }
            } else if f.contains(.active) { stat.nrActiveFile -= 1 } else { stat.nrInactiveFile -= 1 }
        }
        if inode.isShmem { stat.nrShmem -= 1 }
        stat.nrFilePages -= 1
        phys.memMap.flags[pfn.index] = []
        inode.pages[index] = nil
        phys.putPage(pfn)
    }

    /// Reads pages [start, end) of `inode` that are not cached yet into the cache, stopping at the
    /// first page that cannot be allocated (readahead never calls the OOM killer). Returns how many
    /// pages were read. Linux: page_cache_ra_unbounded(), mm/readahead.c
    @discardableResult
    func pageCacheReadahead(_ inode: Inode, from start: UInt64, to end: UInt64) -> Int {
        var n = 0
        var i = start
        let stop = min(end, maxIndex(inode))
        while i < stop {
            if inode.pages[i] == nil {
                guard let p = phys.allocPages(order: 0, gfp: .highuserMovable) else { break }
                vmstat.pgalloc += 1
                addToPageCache(inode, i, p)
                vmstat.pgpgin += PAGE_SIZE >> 10
                n += 1
            }
            i += 1
        }
        return n
    }

    /// Whether the tmpfs mount (files of kind .tmpfs, not the internal shm mount of shared
    /// anonymous memory) can take one more page: its default size is half of RAM.
    /// Linux: shmem_inode_acct_blocks() against sbinfo->max_blocks = totalram_pages() / 2, mm/shmem.c
    func tmpfsHasRoom(_ inode: Inode) -> Bool {
        guard inode.isShmem, inode.shmemObject == 0 else { return true }
        var used = 0
        for i in fs.allInodes where i.isShmem && i.shmemObject == 0 { used += i.pages.count }
        return used < phys.totalManagedPages / 2
    }

    // MARK: - The fault handler of a file

    /// Finds page `index` of `inode` for a fault in `vma`: a cached page is a minor fault; a disk
    /// file's missing page is read with its read-around window (a major fault); a shmem page is
    /// allocated zeroed (minor). Returns the page with .minor/.major, or nil with .sigbus (beyond
    /// end of file) or .oom. Linux: filemap_fault() + do_sync_mmap_readahead(), mm/filemap.c;
    /// shmem_fault(), mm/shmem.c
    func filemapFault(_ task: Task, _ vma: VMA, _ inode: Inode, _ index: UInt64) -> (PFN?, FaultResult) {
        if inode.shmemObject == 0 && index >= maxIndex(inode) {
            narrate("filemap_fault: page \(index) lies beyond the end of \(inode.path) (\(inode.size) bytes): SIGBUS")
            return (nil, .sigbus)
        }
        if let p = inode.pages[index] {
            narrate("filemap_fault: page \(index) of \(inode.path) is in the page cache (PFN \(p)): minor fault")
            return (p, .minor)
        }
        if !tmpfsHasRoom(inode) {
            narrate("shmem_fault: the tmpfs mount is full (half of RAM): SIGBUS")
            return (nil, .sigbus)
        }
        guard let p = allocPageOrOOM(gfp: .highuserMovable, task: task) else { return (nil, .oom) }
        addToPageCache(inode, index, p)
        if inode.isShmem {
            narrate("shmem_fault: page \(index) of \(inode.path) is new: zeroed page PFN \(p) added to its page cache (Shmem)")
            return (p, .minor)
        }
        vmstat.pgpgin += PAGE_SIZE >> 10
        var start = index, end = index + 1
        if vma.flags.contains(.randRead) {
            // VM_RAND_READ: no readahead.
        } else if vma.flags.contains(.seqRead) {
            end = index &+ Kernel.readAroundPages
        } else {
            start = index >= Kernel.readAroundPages / 2 ? index - Kernel.readAroundPages / 2 : 0
            end = start + Kernel.readAroundPages
        }
        let more = pageCacheReadahead(inode, from: start, to: end)
        narrate("filemap_fault: page \(index) of \(inode.path) is not cached: read from disk into PFN \(p) with \(more) more page(s) of read-around [\(start), \(min(end, maxIndex(inode)))) — a major fault")
        return (p, .major)
    }

    /// The PTE bits a file page gets in `vma`: writable only for a write fault, or for a shared
    /// writable shmem mapping (no write notification: vm_page_prot already allows writes).
    /// Linux: vma->vm_page_prot as set by vma_set_page_prot() / vma_wants_writenotify()
    func filePTEFlags(_ vma: VMA, _ inode: Inode, write: Bool) -> UInt64 {
        let sharedWritable = vma.flags.isSuperset(of: [.shared, .write])
        let writable = sharedWritable && (write || inode.isShmem)
        return pteFlags(vma.flags, writable: writable, dirty: write && sharedWritable)
    }

    /// Accounts one more mapping of the cache page `pfn` in `mm`: a page reference, the mapcount
    /// (NR_FILE_MAPPED when it is the first), the file or shmem RSS, and mlock in a VM_LOCKED VMA.
    /// Linux: folio_add_file_rmap_ptes() + mlock_vma_folio(), mm/rmap.c
    func pageAddFileRmap(_ mm: MMStruct, _ vma: VMA, _ pfn: PFN) {
        let i = pfn.index
        phys.getPage(pfn)
        phys.memMap.mapcount[i] += 1
        if phys.memMap.mapcount[i] == 1 { stat.nrFileMapped += 1 }
        let f = phys.memMap.flags[i]
        if f.contains(.swapbacked) { mm.rss.shmem += 1 } else { mm.rss.file += 1 }
        if vma.flags.contains(.locked) && !f.contains(.mlocked) {
            let anonLRU = f.contains(.swapbacked)
            if f.contains(.active) {
                if anonLRU { stat.nrActiveAnon -= 1 } else { stat.nrActiveFile -= 1 }
            } else if anonLRU { stat.nrInactiveAnon -= 1 } else { stat.nrInactiveFile -= 1 }
            phys.memMap.flags[i].remove(.active)
            phys.memMap.flags[i].insert([.mlocked, .unevictable])
            stat.nrMlock += 1; stat.nrUnevictable += 1
        }
        mm.updateHiwater()
    }

    /// Marks a disk file's cache page dirty (NR_FILE_DIRTY, nr_dirtied); shmem pages are never
    /// written back and are not counted. Linux: folio_mark_dirty() → folio_account_dirtied(), mm/page-writeback.c
    func markPageDirty(_ pfn: PFN) {
        let f = phys.memMap.flags[pfn.index]
        guard !f.contains(.dirty), !f.contains(.swapbacked), !f.contains(.anon) else { return }
        phys.memMap.flags[pfn.index].insert(.dirty)
        stat.nrDirty += 1
        vmstat.nrDirtied += 1
    }

    /// Maps the cached pages of `inode` around the read fault at `va` into the page table that
    /// holds `slot`: the window of vm.fault_around_bytes aligned in that table, clipped to the VMA
    /// and to the table (one PMD); only uptodate pages already in the cache, below end of file, whose
    /// PTE is empty. Returns how many were mapped and whether the faulting page was one of them.
    /// Linux: do_fault_around() → filemap_map_pages(), mm/memory.c, mm/filemap.c
    func doFaultAround(_ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, _ inode: Inode) -> (mapped: Int, hit: Bool) {
        let nr = UInt64(config.faultAroundPages)
        let pteOff = UInt64(slot.index)
        let vmaOff = (va.pageDown.raw &- vma.start.raw) >> PAGE_SHIFT
        let fromPTE = max(pteOff & ~(nr - 1), pteOff - min(pteOff, vmaOff))
        let toPTE = min(fromPTE + nr, UInt64(PTRS_PER_PTE), pteOff + UInt64(vma.pages) - vmaOff) - 1
        let index = linearPageIndex(vma, va)
        let limit = inode.shmemObject != 0 ? UInt64.max : maxIndex(inode)
        var mapped = 0, hit = false
        var pte = fromPTE
        while pte <= toPTE {
            let idx = index &+ pte &- pteOff
            if idx < limit, let pfn = inode.pages[idx], phys.memMap.flags[pfn.index].contains(.uptodate) {
                let s = PTESlot(table: slot.table, index: Int(pte))
                if phys.readPTE(s).isNone {
                    phys.writePTE(s, PTE(pfn: pfn, flags: filePTEFlags(vma, inode, write: false)))
                    pageAddFileRmap(mm, vma, pfn)
                    mapped += 1
                    if pte == pteOff { hit = true }
                }
            }
            pte += 1
        }
        narrate("do_fault_around: PTEs \(fromPTE)-\(toPTE) of table PFN \(slot.table) (file pages \(index &+ fromPTE &- pteOff)-\(index &+ toPTE &- pteOff)): \(mapped) cached page(s) mapped\(hit ? ", the faulting one among them" : "")")
        return (mapped, hit)
    }

    /// Dispatches the first touch of a file (or shmem) page by access and sharing: read,
    /// private write (copy-on-write) or shared write. Returns the fault's outcome.
    /// Linux: do_fault(), mm/memory.c
    func doFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, write: Bool) -> FaultResult {
        guard let inode = vmaInode(vma) else {
            narrate("do_fault: the file \(vma.file?.path ?? "?") is not in the file system: SIGBUS")
            return .sigbus
        }
        clockNs &+= FaultCost.fileRead
        if !write { return doReadFault(task, mm, vma, va, slot, inode) }
        if !vma.flags.contains(.shared) { return doCowFault(task, mm, vma, va, slot, inode) }
        return doSharedFault(task, mm, vma, va, slot, inode)
    }

    /// A read fault on a file page: fault-around first (when vm.fault_around_bytes spans more
    /// than a page); if that did not map the faulting page, the page is found or read
    /// (filemap_fault) and mapped read-only (writable in a shared writable shmem mapping).
    /// Returns .minor, .major, .sigbus or .oom. Linux: do_read_fault() + finish_fault(), mm/memory.c
    func doReadFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, _ inode: Inode) -> FaultResult {
        if config.faultAroundPages > 1 {
            let (_, hit) = doFaultAround(mm, vma, va, slot, inode)
            if hit { return .minor }
        }
        let (page, result) = filemapFault(task, vma, inode, linearPageIndex(vma, va))
        guard let pfn = page else { return result }
        phys.writePTE(slot, PTE(pfn: pfn, flags: filePTEFlags(vma, inode, write: false)))
        pageAddFileRmap(mm, vma, pfn)
        narrate("do_read_fault: page cache page PFN \(pfn) mapped; PTE[\(slot.index)] in table PFN \(slot.table) = \(phys.readPTE(slot))")
        return result
    }

    /// A write fault on a private file mapping: the file page is found or read into the cache,
    /// then copied into a new anonymous page mapped writable; the cache page and the file are
    /// unchanged. Returns .minor/.major, or .sigbus/.oom. Linux: do_cow_fault(), mm/memory.c
    func doCowFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, _ inode: Inode) -> FaultResult {
        if anonVMAPrepare(mm, va) == nil { return .oom }
        guard let new = allocPageOrOOM(gfp: .highuserMovable, task: task) else { return .oom }
        let (page, result) = filemapFault(task, vma, inode, linearPageIndex(vma, va))
        guard let src = page else {
            phys.putPage(new)
            return result
        }
        phys.contents.copy(from: src, to: new)
        addNewPage(mm, vma, new)
        phys.writePTE(slot, PTE(pfn: new, flags: pteFlags(vma.flags, writable: true, dirty: true)))
        narrate("do_cow_fault: page cache page PFN \(src) copied into new anonymous page PFN \(new) (the file is unchanged); PTE = \(phys.readPTE(slot))")
        return result
    }

    /// A write fault on a shared file mapping: the page is found or read into the cache, made
    /// dirty (disk files) and mapped writable. Returns .minor/.major, or .sigbus/.oom.
    /// Linux: do_shared_fault() → do_page_mkwrite() / filemap_page_mkwrite(), mm/memory.c
    func doSharedFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, _ slot: PTESlot, _ inode: Inode) -> FaultResult {
        let (page, result) = filemapFault(task, vma, inode, linearPageIndex(vma, va))
        guard let pfn = page else { return result }
        markPageDirty(pfn)
        phys.writePTE(slot, PTE(pfn: pfn, flags: filePTEFlags(vma, inode, write: true)))
        pageAddFileRmap(mm, vma, pfn)
        narrate("do_shared_fault: page cache page PFN \(pfn) mapped writable\(inode.isShmem ? "" : " and marked dirty"); PTE = \(phys.readPTE(slot))")
        return result
    }

    // MARK: - Writeback

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

    /// msync(2): MS_SYNC writes the dirty pages of the shared file mappings in [addr, addr+len)
    /// back (the whole file range each VMA covers); MS_ASYNC does nothing (dirty pages are
    /// tracked through the page tables since 2.6.19); MS_INVALIDATE fails on a VM_LOCKED mapping.
    /// Returns EINVAL (unknown flags, unaligned addr, MS_SYNC with MS_ASYNC), ENOMEM (length
    /// overflow, or a hole in the range — after syncing what is mapped), EBUSY (MS_INVALIDATE on
    /// locked memory). Linux: SYSCALL_DEFINE3(msync), mm/msync.c
    public func msync(_ task: Task, addr: UInt64, length: UInt64, flags: MsyncFlags) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        if !flags.subtracting([.async, .invalidate, .sync]).isEmpty { return .failure(.EINVAL) }
        if addr & ~PAGE_MASK != 0 { return .failure(.EINVAL) }
        if flags.contains(.async) && flags.contains(.sync) { return .failure(.EINVAL) }
        guard let alen = pageAlignUp(length) else { return .failure(.ENOMEM) }
        let (end, o) = addr.addingReportingOverflow(alen)
        if o { return .failure(.ENOMEM) }
        if end == addr { return .success(()) }
        var start = addr
        var unmapped = false
        var written = 0
        while true {
            guard let i = mm.vmas.findVMAIndex(VirtAddr(start)) else { return .failure(.ENOMEM) }
            let v = mm.vmas[i]
            if start < v.start.raw {
                if flags == .async { return .failure(.ENOMEM) }
                start = v.start.raw
                if start >= end { return .failure(.ENOMEM) }
                unmapped = true
            }
            if flags.contains(.invalidate) && v.flags.contains(.locked) { return .failure(.EBUSY) }
            let fstart = (start - v.start.raw) + (v.pgoff << PAGE_SHIFT)
            let fend = fstart + (min(end, v.end.raw) - start) - 1
            start = v.end.raw
            if flags.contains(.sync) && v.flags.contains(.shared), let inode = v.file != nil || v.shmemObject != 0 ? vmaInode(v) : nil {
                written += writebackRange(inode, fstart >> PAGE_SHIFT, fend >> PAGE_SHIFT)
            }
            if start >= end { break }
        }
        narrate("msync: \(written) dirty page(s) written back\(unmapped ? "; part of the range is unmapped: ENOMEM" : "")")
        return unmapped ? .failure(.ENOMEM) : .success(())
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

    // MARK: - Dropping and freeing cache pages

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

    /// Frees the shmem objects of shared anonymous mappings that no VMA of any process maps any
    /// more, with their pages (the last fput of the "/dev/zero" file evicts its inode).
    /// Linux: fput() → shmem_evict_inode() → shmem_truncate_range(), mm/shmem.c
    func shmemReleaseUnused() {
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

    // MARK: - File I/O and creation

    /// Creates a file in the simulated file system. A tmpfs file's pages exist only in its page
    /// cache, so the pages holding its bytes are created there at once (as write(2) would).
    /// Returns the inode, or the file-system error (bad path, exists, too large), or ENOMEM when
    /// a tmpfs page cannot be allocated. Linux: do_sys_open(O_CREAT) + write(2)
    /// With `fill`, every byte of the file is that value (as if written with it); else the file
    /// is sparse past `data`. A tmpfs file that cannot get its pages (the mount holds at most half
    /// of RAM) throws ENOSPC, keeping the pages it got (a short write).
    public func createFile(path: String, size: UInt64, data: [UInt8] = [], kind: FileSystemKind = .disk, fill: UInt8 = 0) throws -> Inode {
        let inode = try fs.create(path: path, size: size, data: data, kind: kind, fill: fill)
        if kind == .tmpfs {
            let stored = fill != 0 ? size : UInt64(inode.data.count)
            let pages = (stored + PAGE_SIZE - 1) >> PAGE_SHIFT
            // What was not written (a short write) is a hole.
            defer { inode.data = []; inode.fill = 0 }
            var idx: UInt64 = 0
            while idx < pages {
                guard tmpfsHasRoom(inode) else { throw Errno.ENOSPC }
                var page = phys.allocPages(order: 0, gfp: .highuserMovable)
                while page == nil && shrinkPageCache(Kernel.swapClusterMax) > 0 { page = phys.allocPages(order: 0, gfp: .highuserMovable) }
                guard let p = page else { throw Errno.ENOSPC }
                vmstat.pgalloc += 1
                addToPageCache(inode, idx, p)
                idx += 1
            }
        }
        return inode
    }

    /// read(2) of [offset, offset+length) of `inode`: brings the pages into the page cache
    /// (as reading into a buffer would) without mapping them. Returns the pages read from disk.
    /// Linux: filemap_read() → page_cache_sync_ra(), mm/filemap.c
    @discardableResult
    public func fileRead(_ inode: Inode, offset: UInt64, length: UInt64) -> Int {
        guard length > 0, offset < inode.size else { return 0 }
        let (sum, o) = offset.addingReportingOverflow(length)
        let last = min(inode.size, o ? UInt64.max : sum) - 1
        let first = offset >> PAGE_SHIFT
        if inode.isShmem {
            // Holes of a tmpfs file read as zeros without being allocated.
            return 0
        }
        let n = pageCacheReadahead(inode, from: first, to: (last >> PAGE_SHIFT) + 1)
        narrate("read: pages \(first)-\(last >> PAGE_SHIFT) of \(inode.path) are in the page cache (\(n) read from disk)")
        return n
    }

    /// write(2) of `bytes` at `offset` of `inode` through the page cache: each page touched is
    /// found or brought in, changed and marked dirty (disk files); the file grows when written past
    /// its end. Returns ENOMEM when a page cannot be allocated, ENOSPC when the tmpfs mount is
    /// full, EFBIG beyond the model's maximum size.
    /// Linux: generic_perform_write() → write_begin / write_end, mm/filemap.c
    public func fileWrite(_ inode: Inode, offset: UInt64, _ bytes: [UInt8]) -> Result<Void, Errno> {
        let (end, o) = offset.addingReportingOverflow(UInt64(bytes.count))
        if o || end > FileSystem.maxFileSize { return .failure(.EFBIG) }
        if end > inode.size { inode.size = end }
        var i = 0
        while i < bytes.count {
            let off = offset + UInt64(i)
            let idx = off >> PAGE_SHIFT
            let pfn: PFN
            if let p = inode.pages[idx] { pfn = p } else {
                guard tmpfsHasRoom(inode) else { return .failure(.ENOSPC) }
                guard let p = allocPageOrOOM(gfp: .highuserMovable, task: nil) else { return .failure(.ENOMEM) }
                addToPageCache(inode, idx, p)
                pfn = p
            }
            let n = min(bytes.count - i, Int(PAGE_SIZE - (off & PAGE_MASK_LOW)))
            for j in 0..<n {
                phys.contents.writeByte(PhysAddr(pfn.raw << PAGE_SHIFT + (off & PAGE_MASK_LOW) + UInt64(j)), bytes[i + j])
            }
            markPageDirty(pfn)
            i += n
        }
        narrate("write: \(bytes.count) byte(s) at offset \(offset) of \(inode.path) written into its page cache\(inode.isShmem ? "" : " (dirty)")")
        return .success(())
    }

    // MARK: - Invariants

    /// Returns every broken page-cache invariant (empty when consistent): each cached page holds
    /// the cache's reference plus one per mapping, is uptodate, not anonymous, swap-backed exactly
    /// for shmem; NR_FILE_PAGES, NR_SHMEM, NR_FILE_MAPPED and NR_FILE_DIRTY equal what the caches
    /// hold; every mapped non-anonymous page is in a page cache.
    func pageCacheInvariantViolations() -> [String] {
        var out: [String] = []
        var files = 0, shmem = 0, mapped = 0, dirty = 0
        var cached = Set<Int>()
        for inode in fs.allInodes {
            for (idx, pfn) in inode.pages {
                let i = pfn.index
                guard i < phys.frameCount else { out.append("\(inode.path) page \(idx): PFN \(pfn) past RAM"); continue }
                if !cached.insert(i).inserted { out.append("PFN \(pfn) is in two page caches") }
                let f = phys.memMap.flags[i]
                files += 1
                if inode.isShmem { shmem += 1 }
                if phys.memMap.mapcount[i] > 0 { mapped += 1 }
                if f.contains(.dirty) { dirty += 1 }
                if phys.memMap.refcount[i] != 1 + phys.memMap.mapcount[i] {
                    out.append("\(inode.path) page \(idx) (PFN \(pfn)): refcount \(phys.memMap.refcount[i]) but mapcount \(phys.memMap.mapcount[i]) + the page cache's")
                }
                if !f.contains(.uptodate) || f.contains(.anon) || f.contains(.buddy) || f.contains(.swapbacked) != inode.isShmem {
                    out.append("\(inode.path) page \(idx) (PFN \(pfn)): flags \(String(f.rawValue, radix: 16)) do not fit a \(inode.isShmem ? "shmem" : "file") cache page")
                }
                if inode.isShmem && f.contains(.dirty) { out.append("\(inode.path) page \(idx): shmem page counted dirty") }
            }
        }
        if files != stat.nrFilePages { out.append("NR_FILE_PAGES = \(stat.nrFilePages) but the page caches hold \(files) pages") }
        if shmem != stat.nrShmem { out.append("NR_SHMEM = \(stat.nrShmem) but shmem caches hold \(shmem) pages") }
        if mapped != stat.nrFileMapped { out.append("NR_FILE_MAPPED = \(stat.nrFileMapped) but \(mapped) cache pages are mapped") }
        if dirty != stat.nrDirty { out.append("NR_FILE_DIRTY = \(stat.nrDirty) but \(dirty) cache pages are dirty") }
        for i in 0..<phys.frameCount where phys.memMap.mapcount[i] > 0 && !cached.contains(i) {
            let f = phys.memMap.flags[i]
            if !f.contains(.anon) && !f.contains(.pageTable) && PFN(index: i) != zeroPFN {
                out.append("PFN \(PFN(index: i)) is mapped, not anonymous and in no page cache")
            }
        }
        return out
    }
}
