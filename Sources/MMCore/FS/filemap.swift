/// The page cache: finding a file's pages, reading them in (with mmap read-around) on a fault,
/// mapping the cached ones around the faulting address, dirtying them, and read(2)/write(2)
/// through it (Linux mm/filemap.c, mm/readahead.c, mm/rmap.c).
///
/// What the model keeps of Linux 6.x: order-0 folios only (no large folios); a cache miss on a
/// disk file is a major fault that reads the page and its mmap read-around window (ra_pages = 32,
/// read_ahead_kb 128, centred on the fault; VM_RAND_READ reads the page alone, VM_SEQ_READ reads
/// forward) synchronously; no asynchronous readahead (PG_readahead markers are not modelled); a
/// shmem/tmpfs miss allocates a zeroed page (a minor fault); fault-around maps only pages already
/// in the cache, before the fault reads anything, exactly as do_fault_around() computes its window.
/// The fault handlers that use it are in VM/memory.swift; writeback in writeback.swift.

/// Entries in one page table (PTRS_PER_PTE on x86-64).
public let PTRS_PER_PTE = 512

extension Kernel {
    /// Pages the mmap read-around of a major fault reads (bdi read_ahead_kb 128 → ra_pages 32).
    public static let readAroundPages: UInt64 = 32

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

    /// Puts `pfn` (a fresh page) into `inode`'s cache at `index`: fills it from the file's
    /// stored bytes (zeros past them), marks it uptodate and on the LRU (the anon LRU for shmem),
    /// and counts it in NR_FILE_PAGES (and NR_SHMEM). The allocation's reference becomes the
    /// cache's reference. Linux: filemap_add_folio() + read_folio / shmem_alloc_and_add_folio()
    func addToPageCache(_ inode: Inode, _ index: UInt64, _ pfn: PFN) {
        fillFromFile(inode, index, pfn)
        var f: PageFlags = [.uptodate]
        if inode.isShmem {
            f.insert(.swapbacked)
            stat.nrShmem += 1
        } else {
            f.insert(.mappedtodisk)
        }
        stat.nrFilePages += 1
        phys.memMap.flags[pfn.index] = f
        phys.memMap.mapcount[pfn.index] = 0
        inode.pages[index] = pfn
        reclaim.rmapAnonVMA[pfn.index] = 0
        reclaim.rmapIndex[pfn.index] = index
        reclaim.rmapInode[pfn.index] = inode
        lruAdd(pfn)
        if !reclaim.fileShadows.isEmpty, reclaim.fileShadows.remove(FileShadow(inode: ObjectIdentifier(inode), index: index)) != nil {
            vmstat.workingsetRefaultFile += 1
        }
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
            if off >= dataEnd && off + 8 <= inode.size && !inode.overlapsHole(off, off + 8) {
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
        if f.contains(.mlocked) { stat.nrMlock -= 1 }
        lruDel(pfn)
        reclaim.rmapInode[pfn.index] = nil
        if inode.isShmem { stat.nrShmem -= 1 }
        stat.nrFilePages -= 1
        phys.memMap.flags[pfn.index] = []
        inode.pages[index] = nil
        phys.putPage(pfn)
    }

    /// Removes pages [first, last] of `inode` from every page table mapping them (not private
    /// copies) and from the page cache, and zeroes those bytes of the file: the range reads as zeros
    /// afterwards. Returns the cache pages freed. Linux: vfs_fallocate(FALLOC_FL_PUNCH_HOLE) →
    /// unmap_mapping_range() + truncate_pagecache_range(), mm/truncate.c; shmem_fallocate(), mm/shmem.c
    @discardableResult
    func punchHole(_ inode: Inode, _ first: UInt64, _ last: UInt64) -> Int {
        var n = 0
        var seen = Set<ObjectIdentifier>()
        var mms: [MMStruct] = []
        for t in allTasks { if let mm = t.mm, seen.insert(ObjectIdentifier(mm)).inserted { mms.append(mm) } }
        for idx in inode.cachedIndices where idx >= first && idx <= last {
            guard let pfn = inode.pages[idx] else { continue }
            for mm in mms {
                for v in mm.vmas.vmas where vmaMaps(v, inode) && idx >= v.pgoff && idx - v.pgoff < UInt64(v.pages) {
                    let va = VirtAddr(v.start.raw + ((idx - v.pgoff) << PAGE_SHIFT))
                    guard let s = phys.walk(mm.pgd, va) else { continue }
                    let pte = phys.readPTE(s)
                    guard pte.isPresent, pte.pfn == pfn else { continue }
                    phys.writePTE(s, PTE(raw: 0))
                    removeMappedPage(mm, pfn)
                    flushTLBRange(mm, va, VirtAddr(va.raw + PAGE_SIZE))
                }
            }
            deleteFromPageCache(inode, idx)
            n += 1
        }
        if !inode.isShmem && first < maxIndex(inode) {
            inode.punchStored(first << PAGE_SHIFT, last >= (UInt64.max >> PAGE_SHIFT) ? inode.size : (last + 1) << PAGE_SHIFT)
        }
        narrate("punch hole: pages \(first)-\(last) of \(inode.path) unmapped everywhere and \(n) cache page(s) freed; the range reads as zeros")
        return n
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
        if vma.flags.contains(.locked) && !f.contains(.mlocked) { lruSetMlocked(pfn, true) }
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
                while page == nil && tryToFreePages(gfp: .highuserMovable) > 0 { page = phys.allocPages(order: 0, gfp: .highuserMovable) }
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
        // filemap_read() → folio_mark_accessed() on every page copied out.
        var idx = first
        while idx <= last >> PAGE_SHIFT {
            if let p = inode.pages[idx] { markPageAccessed(p) }
            idx += 1
        }
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
        if files + swapCachePages != stat.nrFilePages { out.append("NR_FILE_PAGES = \(stat.nrFilePages) but the page caches hold \(files) pages and the swap cache \(swapCachePages)") }
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
