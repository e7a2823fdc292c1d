/// hugetlbfs (Linux mm/hugetlb.c): persistent pools of 2 MiB and 1 GiB pages, reservations
/// made at mmap time, faults that map a whole huge page with one PMD (2 MiB) or PUD (1 GiB)
/// leaf, copy-on-write of private huge pages after fork, and the pool files under
/// /sys/kernel/mm/hugepages.
///
/// Model: one node; a 2 MiB page is an order-9 compound block from the buddy allocator
/// (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_RETRY_MAYFAIL | __GFP_NOWARN, one round of
/// compaction on failure); a 1 GiB page is an aligned 1 GiB range taken with alloc_contig_range
/// only when every frame in it is free (Linux may also migrate movable pages out of it).
/// Every MAP_HUGETLB mapping is backed by an object of its own standing in for the hidden
/// hugetlbfs file (private mappings keep their reservations there as Linux keeps them in the
/// VMA's resv_map; a forked child's private mapping gets a fresh object without reservations,
/// as reset_vma_resv_huge_pages() leaves it). Pool pages are never on the LRU, never swapped and
/// never split; their mapcounts are kept here, not in mem_map.

/// One pool of huge pages of one size. Linux: struct hstate, include/linux/hugetlb.h
public struct HState: Sendable, Equatable {
    /// log2 of the page size in 4 KiB pages: 9 (2 MiB) or 18 (1 GiB).
    public let order: Int
    /// nr_huge_pages, free_huge_pages, resv_huge_pages, surplus_huge_pages, nr_overcommit_huge_pages.
    public var nr = 0, free = 0, resv = 0, surplus = 0, nrOvercommit = 0
    /// The free pages' first frames, most recently freed last (dequeued from the end).
    public var freeList: [PFN] = []
    /// htlb_buddy_alloc_success / htlb_buddy_alloc_fail for this size.
    public var buddyAllocSuccess = 0, buddyAllocFail = 0
    /// Page size in bytes.
    public var size: UInt64 { PAGE_SIZE << UInt64(order) }
    /// Page size in kB (the "hugepages-NkB" directory name).
    public var sizeKB: UInt64 { size >> 10 }
    /// Pages that are not surplus. Linux: persistent_huge_pages(), mm/hugetlb.c
    public var persistent: Int { nr - surplus }
}

/// The backing object of one MAP_HUGETLB mapping (the hidden hugetlbfs file).
public struct HugetlbObject: Sendable, Equatable {
    /// Index into `HugeTLB.hstates`.
    public var h: Int
    public var shared: Bool
    /// Huge-page indices (file offset / page size) that hold a reservation not yet consumed.
    public var reserved: Set<Int> = []
    /// Shared objects: the page at each index (the hugetlbfs page cache).
    public var pages: [Int: PFN] = [:]
}

/// hugetlb state: the two hstates, the backing objects and each huge page's counts.
public struct HugeTLB: Sendable, Equatable {
    /// [0] = 2 MiB (default_hstate), [1] = 1 GiB.
    public var hstates = [HState(order: 9), HState(order: 18)]
    public var objects: [UInt64: HugetlbObject] = [:]
    public var nextObject: UInt64 = 1
    /// Per in-use huge page (by first frame): references (mappings plus the page cache's).
    public var refs: [Int: Int] = [:]
    /// Per in-use huge page: page-table mappings (folio_mapcount()).
    public var mapcount: [Int: Int] = [:]
    /// The hstate of every in-use huge page.
    public var pageH: [Int: Int] = [:]
    public init() {}
    /// The hstate index for a size in bytes, or nil.
    public func hstateIndex(size: UInt64) -> Int? { hstates.firstIndex { $0.size == size } }
}

/// MAP_HUGE_SHIFT: mmap flag bits 26..31 hold log2 of the huge page size (0 = default).
public let MAP_HUGE_SHIFT: UInt32 = 26

extension Kernel {
    // MARK: - Pool

    /// Allocates one fresh huge page for hstate `hi` from the buddy allocator and counts it in
    /// htlb_buddy_alloc_success/fail (2 MiB) ; returns its first frame or nil.
    /// Linux: alloc_fresh_hugetlb_folio() / alloc_buddy_hugetlb_folio(), alloc_gigantic_folio(), mm/hugetlb.c
    func allocFreshHugePage(_ hi: Int) -> PFN? {
        // The 2 MiB and 1 GiB hstates are those of a 64-bit kernel; a 32-bit machine's (4 MiB,
        // or 2 MiB with PAE) is not modelled, so its pools cannot grow.
        guard !phys.paging.is32Bit else { return nil }
        let order = hugetlb.hstates[hi].order
        var page: PFN? = nil
        if order <= MAX_PAGE_ORDER {
            let gfp: GFP = [.highmem, .movable, .hardwall, .reclaim, .io, .fs, .comp, .retryMayfail, .nowarn]
            page = phys.allocPages(order: order, gfp: gfp)
            if page == nil {
                for z in phys.zones.reversed() where z.spannedPages > 0 { compactZone(z, order: order) }
                page = phys.allocPages(order: order, gfp: gfp)
            }
            if page == nil { hugetlb.hstates[hi].buddyAllocFail += 1 } else { hugetlb.hstates[hi].buddyAllocSuccess += 1 }
        } else {
            // alloc_contig_pages(): each zone from the highest, aligned ranges from its start.
            let n = 1 << order
            outer: for z in phys.zones.reversed() where z.spannedPages >= n {
                var p = (z.startPFN.index + n - 1) & ~(n - 1)
                while p + n <= z.startPFN.index + z.spannedPages {
                    if phys.allocContigRange(PFN(index: p), order: order) { page = PFN(index: p); break outer }
                    p += n
                }
            }
        }
        if let p = page {
            let n = 1 << order
            for i in 0..<n { phys.contents.clear(PFN(index: p.index + i)) }
            vmstat.pgalloc += UInt64(n)
        }
        return page
    }

    /// Returns a huge page to the buddy allocator. Linux: update_and_free_hugetlb_folio(), mm/hugetlb.c
    func freeHugePageToBuddy(_ p: PFN, _ hi: Int) {
        let order = hugetlb.hstates[hi].order
        if order <= MAX_PAGE_ORDER { phys.freePages(p, order: order) } else { phys.freeContigRange(p, order: order) }
    }

    /// Sets the persistent pool of hstate `hi` to `count` pages as far as memory allows: surplus
    /// pages become persistent first, fresh pages are allocated until one fails, and shrinking
    /// frees free pages and turns in-use ones into surplus. Returns the resulting nr_hugepages.
    /// Linux: set_max_huge_pages(), mm/hugetlb.c
    @discardableResult
    public func setMaxHugePages(_ hi: Int, _ count: Int) -> Int {
        var count = max(0, count)
        while hugetlb.hstates[hi].surplus > 0 && count > hugetlb.hstates[hi].persistent { hugetlb.hstates[hi].surplus -= 1 }
        while count > hugetlb.hstates[hi].persistent {
            guard let p = allocFreshHugePage(hi) else { break }
            hugetlb.hstates[hi].nr += 1
            hugetlb.hstates[hi].free += 1
            hugetlb.hstates[hi].freeList.append(p)
        }
        let h = hugetlb.hstates[hi]
        count = max(count, h.resv + h.nr - h.free)
        while count < hugetlb.hstates[hi].persistent, let p = hugetlb.hstates[hi].freeList.popLast() {
            hugetlb.hstates[hi].free -= 1
            hugetlb.hstates[hi].nr -= 1
            freeHugePageToBuddy(p, hi)
        }
        while count < hugetlb.hstates[hi].persistent { hugetlb.hstates[hi].surplus += 1 }
        narrate("set_max_huge_pages: \(hugetlb.hstates[hi].sizeKB) kB pool now \(hugetlb.hstates[hi].nr) pages (\(hugetlb.hstates[hi].free) free)")
        return hugetlb.hstates[hi].nr
    }

    /// Takes a free page of hstate `hi` for a fault: a reserved one when `reserved`, else one
    /// not promised to a reservation, else a fresh surplus page within nr_overcommit_hugepages.
    /// Returns its first frame or nil (the fault then raises SIGBUS).
    /// Linux: alloc_hugetlb_folio() / dequeue_hugetlb_folio_vma() / alloc_surplus_hugetlb_folio(), mm/hugetlb.c
    func allocHugetlbPage(_ hi: Int, reserved: Bool) -> PFN? {
        var h = hugetlb.hstates[hi]
        if reserved || h.free - h.resv > 0, let p = h.freeList.popLast() {
            h.free -= 1
            if reserved { h.resv -= 1 }
            hugetlb.hstates[hi] = h
            for i in 0..<(1 << h.order) { phys.contents.clear(PFN(index: p.index + i)) }
            return p
        }
        guard h.surplus < h.nrOvercommit, let p = allocFreshHugePage(hi) else { return nil }
        hugetlb.hstates[hi].nr += 1
        hugetlb.hstates[hi].surplus += 1
        return p
    }

    /// Drops one reference to the huge page `p`; at zero it goes back to the free list, or to the
    /// buddy allocator when the pool has surplus pages. Linux: free_huge_folio(), mm/hugetlb.c
    func putHugetlbPage(_ p: PFN) {
        let k = p.index
        let r = (hugetlb.refs[k] ?? 1) - 1
        if r > 0 { hugetlb.refs[k] = r; return }
        hugetlb.refs[k] = nil
        hugetlb.mapcount[k] = nil
        guard let hi = hugetlb.pageH.removeValue(forKey: k) else { return }
        if hugetlb.hstates[hi].surplus > 0 {
            hugetlb.hstates[hi].surplus -= 1
            hugetlb.hstates[hi].nr -= 1
            freeHugePageToBuddy(p, hi)
        } else {
            hugetlb.hstates[hi].free += 1
            hugetlb.hstates[hi].freeList.append(p)
        }
    }

    /// Reserves `n` pages of hstate `hi` for a mapping: free pages not yet reserved, else surplus
    /// pages allocated up to nr_overcommit_hugepages. Returns false (nothing reserved) when the
    /// pool cannot cover them. Linux: hugetlb_acct_memory() / gather_surplus_pages(), mm/hugetlb.c
    func hugetlbAcctMemory(_ hi: Int, _ n: Int) -> Bool {
        let h = hugetlb.hstates[hi]
        let needed = h.resv + n - h.free
        if needed > 0 {
            guard h.surplus + needed <= h.nrOvercommit else { return false }
            var got: [PFN] = []
            for _ in 0..<needed {
                guard let p = allocFreshHugePage(hi) else { break }
                got.append(p)
            }
            if got.count < needed {
                for p in got { freeHugePageToBuddy(p, hi) }
                return false
            }
            hugetlb.hstates[hi].nr += needed
            hugetlb.hstates[hi].surplus += needed
            hugetlb.hstates[hi].free += needed
            hugetlb.hstates[hi].freeList += got
        }
        hugetlb.hstates[hi].resv += n
        return true
    }

    /// Gives back `n` reservations of hstate `hi`, freeing surplus pages no longer needed.
    /// Linux: hugetlb_acct_memory(h, -n) / return_unused_surplus_pages(), mm/hugetlb.c
    func hugetlbUnreserve(_ hi: Int, _ n: Int) {
        guard n > 0 else { return }
        hugetlb.hstates[hi].resv -= n
        var toFree = min(n, hugetlb.hstates[hi].surplus)
        while toFree > 0, let p = hugetlb.hstates[hi].freeList.popLast() {
            hugetlb.hstates[hi].free -= 1
            hugetlb.hstates[hi].nr -= 1
            hugetlb.hstates[hi].surplus -= 1
            freeHugePageToBuddy(p, hi)
            toFree -= 1
        }
    }

    /// Frees the objects no VMA uses any more and the reservations of private objects for
    /// indices no VMA covers any more (unmapped before they were faulted); shared objects drop
    /// their cached pages and reservations when their last mapping goes.
    /// Linux: hugetlb_vm_op_close(), resv_map_release() / remove_inode_hugepages(), mm/hugetlb.c, fs/hugetlbfs/inode.c
    func hugetlbReleaseUnused() {
        guard !hugetlb.objects.isEmpty else { return }
        var covered: [UInt64: Set<Int>] = [:]
        var seen = Set<ObjectIdentifier>()
        for t in allTasks {
            guard let mm = t.mm, seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            for v in mm.vmas.vmas where v.hugetlbObject != 0 {
                guard let o = hugetlb.objects[v.hugetlbObject] else { continue }
                let per = UInt64(1) << UInt64(hugetlb.hstates[o.h].order)
                let first = Int(v.pgoff / per), n = Int(v.length / hugetlb.hstates[o.h].size)
                covered[v.hugetlbObject, default: []].formUnion(first..<(first + n))
            }
        }
        for id in hugetlb.objects.keys.sorted() {
            guard var o = hugetlb.objects[id] else { continue }
            let cov = covered[id]
            if cov == nil {
                hugetlbUnreserve(o.h, o.reserved.count)
                for idx in o.pages.keys.sorted() { putHugetlbPage(o.pages[idx]!) }
                hugetlb.objects[id] = nil
                continue
            }
            if !o.shared {
                let gone = o.reserved.subtracting(cov!)
                if !gone.isEmpty {
                    o.reserved.subtract(gone)
                    hugetlbUnreserve(o.h, gone.count)
                    hugetlb.objects[id] = o
                }
            }
        }
    }

    // MARK: - mmap

    /// mmap(MAP_HUGETLB): maps anonymous huge pages of the size in flag bits 26..31 (default
    /// 2 MiB), the length rounded up to it and the address aligned to it, and reserves the pages
    /// unless MAP_NORESERVE. Returns the address, or EINVAL (unknown size, unaligned MAP_FIXED
    /// address, not anonymous), ENOMEM (pool cannot cover the reservation, no room).
    /// Linux: ksys_mmap_pgoff() → hugetlb_file_setup(), hugetlb_get_unmapped_area(),
    /// hugetlbfs_file_mmap() → hugetlb_reserve_pages(), fs/hugetlbfs/inode.c, mm/hugetlb.c
    func hugetlbMmap(_ task: Task, _ mm: MMStruct, addr: UInt64, length: UInt64, prot: Prot, flags: MapFlags) -> Result<VirtAddr, Errno> {
        guard flags.contains(.anonymous) else { return .failure(.EINVAL) }
        let log2 = (flags.rawValue >> MAP_HUGE_SHIFT) & 0x3f
        let size: UInt64 = log2 == 0 ? HPAGE_PMD_SIZE : (log2 < 64 ? UInt64(1) << UInt64(log2) : 0)
        guard let hi = hugetlb.hstateIndex(size: size) else { return .failure(.EINVAL) }
        if length == 0 { return .failure(.EINVAL) }
        let (l1, o1) = length.addingReportingOverflow(size - 1)
        if o1 { return .failure(.ENOMEM) }
        let len = l1 & ~(size - 1)
        let mapType = flags.rawValue & 0x0f
        guard mapType == MapFlags.shared.rawValue || mapType == MapFlags.private.rawValue else { return .failure(.EINVAL) }
        let shared = mapType == MapFlags.shared.rawValue
        var fixed = flags.contains(.fixed) || flags.contains(.fixedNoreplace)
        var where_ = addr
        if fixed {
            if addr & (size - 1) != 0 { return .failure(.EINVAL) }
            if flags.contains(.fixedNoreplace) && !mm.vmas.overlapping(VirtAddr(addr), VirtAddr(addr &+ len)).isEmpty { return .failure(.EEXIST) }
        } else {
            // hugetlb_get_unmapped_area(): a huge-page-aligned hole; the hint, aligned up, when free.
            let (h1, o0) = addr.addingReportingOverflow(size - 1)
            let hint = h1 & ~(size - 1)
            if addr != 0 && !o0 && hint >= MMAP_MIN_ADDR && hint < mm.taskSize && len <= mm.taskSize - hint
                && mm.vmas.overlapping(VirtAddr(hint), VirtAddr(hint + len)).isEmpty {
                where_ = hint
            } else {
                let (want, o2) = len.addingReportingOverflow(size)
                if o2 { return .failure(.ENOMEM) }
                guard case .success(let a) = getUnmappedArea(mm, file: nil, addr: 0, len: want, pgoff: 0, flags: MapFlags(rawValue: mapType)) else { return .failure(.ENOMEM) }
                where_ = mm.topDown ? (a + want - len) & ~(size - 1) : (a + size - 1) & ~(size - 1)
            }
            fixed = true
        }
        if where_ > mm.taskSize || len > mm.taskSize - where_ { return .failure(.ENOMEM) }
        let pages = Int(len / size)
        let reserve = !flags.contains(.noreserve)
        if reserve && !hugetlbAcctMemory(hi, pages) {
            narrate("hugetlb_reserve_pages: \(pages) x \(size >> 10) kB pages cannot be reserved (\(hugetlb.hstates[hi].free) free, \(hugetlb.hstates[hi].resv) reserved): ENOMEM")
            return .failure(.ENOMEM)
        }
        let id = hugetlb.nextObject
        hugetlb.nextObject += 1
        var obj = HugetlbObject(h: hi, shared: shared)
        if reserve { obj.reserved = Set(0..<pages) }
        hugetlb.objects[id] = obj
        var vmFlags = Kernel.calcVMProtBits(prot).union(Kernel.calcVMFlagBits(flags)).union(mm.defFlags)
            .union([.mayread, .maywrite, .mayexec, .hugetlb, .dontexpand])
        vmFlags.remove(.nohugepage)
        if shared { vmFlags.formUnion([.shared, .mayshare]) }
        if !reserve { vmFlags.insert(.noreserve) }
        switch mmapRegion(mm, file: nil, addr: VirtAddr(where_), len: len, vmFlags: vmFlags, pgoff: 0, shmem: 0) {
        case .failure(let e):
            hugetlbReleaseUnused()
            return .failure(e)
        case .success(let a):
            if let i = mm.vmas.findVMAIndex(a) { mm.vmas[i].hugetlbObject = id }
            narrate("mmap MAP_HUGETLB \(a)-\(VirtAddr(a.raw + len)): \(pages) x \(size >> 10) kB pages\(reserve ? " reserved" : ", MAP_NORESERVE")")
            if flags.contains(.populate) || vmFlags.contains(.locked) { mmPopulate(task, a, VirtAddr(a.raw + len)) }
            return .success(a)
        }
    }

    // MARK: - Page tables

    /// The table level of a huge leaf of hstate `hi` in the machine's format: the PMD level for
    /// 2 MiB pages, the level above it for 1 GiB pages.
    @inline(__always) func hugeLevel(_ hi: Int) -> Int {
        phys.paging.pmdLevel - (hugetlb.hstates[hi].order == 9 ? 0 : 1)
    }

    /// Reads the huge leaf of hstate `hi` at `slot`, decoded at its level.
    /// Linux: huge_ptep_get(), include/linux/hugetlb.h
    func readHugePTE(_ slot: PTESlot, _ hi: Int) -> PTE { phys.readEntry(slot.table, slot.index, level: hugeLevel(hi)) }

    /// Writes the huge leaf of hstate `hi` at `slot`, encoded at its level (x86 PS, ARM64 block,
    /// RISC-V mega/gigapage). Linux: set_huge_pte_at(), arch/*/mm/hugetlbpage.c
    func writeHugePTE(_ slot: PTESlot, _ hi: Int, _ e: PTE) { phys.writeEntry(slot.table, slot.index, level: hugeLevel(hi), e) }

    /// Returns the slot of the leaf entry mapping a huge page of hstate `hi` at `va` (a PMD for
    /// 2 MiB, a PUD for 1 GiB), creating the levels above; nil when a table cannot be allocated
    /// or a larger leaf is in the way. Linux: huge_pte_alloc(), mm/hugetlb.c
    func hugePTEAlloc(_ mm: MMStruct, _ va: VirtAddr, _ hi: Int, task: Task?) -> PTESlot? {
        let leaf = hugeLevel(hi)
        guard let table = tableAlloc(mm, va, level: leaf, task: task) else { return nil }
        return PTESlot(table: table, index: phys.paging.index(va, level: leaf))
    }

    /// Whether `pfn` is the first frame of an in-use hugetlb page.
    @inline(__always) func isHugetlbPage(_ pfn: PFN) -> Bool { hugetlb.pageH[pfn.index] != nil }

    /// Calls `body` with the address, slot, entry and hstate of every hugetlb leaf (PUD or PMD)
    /// in [start, end) of `mm`, through the machine's levels. Allocates nothing.
    /// Linux: walk_hugetlb_range(), mm/pagewalk.c
    func forEachHugetlbLeaf(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, _ body: (UInt64, PTESlot, PTE, Int) -> Void) {
        guard !hugetlb.pageH.isEmpty else { return }
        let f = phys.paging
        var va = start.raw & ~(HPAGE_PMD_SIZE - 1)
        while va < end.raw {
            var step = HPAGE_PMD_SIZE
            var table = mm.pgd
            var level = 0
            while level <= f.pmdLevel {
                let slot = PTESlot(table: table, index: f.index(VirtAddr(va), level: level))
                let e = phys.readEntry(slot.table, slot.index, level: level)
                step = UInt64(1) << f.shift(level)
                if !e.isPresent { break }
                if e.isHuge || level == f.pmdLevel {
                    if e.isHuge, let hi = hugetlb.pageH[e.pfn.index], hugeLevel(hi) == level { body(va & ~(step - 1), slot, e, hi) }
                    break
                }
                table = e.pfn
                level += 1
            }
            let next = (va & ~(step - 1)) &+ step
            if next <= va { return }
            va = next
        }
    }

    /// Unmaps every hugetlb leaf in [start, end) of `mm`: the page loses a mapping and a
    /// reference (back to the pool at zero) and HugetlbPages shrinks. Returns how many leaves
    /// were cleared. Linux: __unmap_hugepage_range(), mm/hugetlb.c
    @discardableResult
    func unmapHugepageRange(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr) -> Int {
        var found: [(PTESlot, PTE, Int)] = []
        forEachHugetlbLeaf(mm, start, end) { _, s, e, hi in found.append((s, e, hi)) }
        for (s, e, hi) in found {
            writeHugePTE(s, hi, PTE(raw: 0))
            hugetlb.mapcount[e.pfn.index, default: 1] -= 1
            mm.hugetlbUsage -= Int(hugetlb.hstates[hi].size >> PAGE_SHIFT)
            putHugetlbPage(e.pfn)
        }
        return found.count
    }

    /// The leaf entry for huge page `p` in `vma`: present, user, accessed, PSE, writable when
    /// `writable`, dirty when written, NX unless executable. Linux: make_huge_pte(), mm/hugetlb.c
    func makeHugePTE(_ vma: VMA, _ p: PFN, writable: Bool) -> PTE {
        var f = PTE.present | PTE.user | PTE.accessed | PTE.pse
        if writable { f |= PTE.rw | PTE.dirty }
        if !vma.flags.contains(.exec) { f |= PTE.nx }
        return PTE(pfn: p, flags: f)
    }

    // MARK: - Faults

    /// Handles a fault in a hugetlb VMA: maps the object's page (shared) or a new zeroed pool page
    /// (consuming the reservation) with one PMD/PUD leaf, or copies a private page shared since
    /// fork on a write. Returns .minor, .oom, or .sigbus when the pool has no page for it.
    /// Linux: hugetlb_fault() / hugetlb_no_page() / hugetlb_wp(), mm/hugetlb.c
    func hugetlbFault(_ task: Task, _ mm: MMStruct, _ vma: VMA, _ va: VirtAddr, write: Bool) -> FaultResult {
        guard var obj = hugetlb.objects[vma.hugetlbObject] else { return .sigbus }
        let hi = obj.h
        let h = hugetlb.hstates[hi]
        let haddr = va.raw & ~(h.size - 1)
        let idx = Int((vma.pgoff >> UInt64(h.order)) + (haddr - vma.start.raw) / h.size)
        guard let slot = hugePTEAlloc(mm, VirtAddr(haddr), hi, task: task) else { return .oom }
        let e = readHugePTE(slot, hi)
        let writable = vma.flags.contains(.write)
        if e.isNone {
            var page: PFN
            if obj.shared, let cached = obj.pages[idx] {
                page = cached
            } else {
                let reserved = obj.reserved.contains(idx)
                guard let p = allocHugetlbPage(hi, reserved: reserved) else {
                    narrate("hugetlb_no_page: no free \(h.sizeKB) kB huge page (\(h.free) free, \(h.resv) reserved): VM_FAULT_SIGBUS")
                    return .sigbus
                }
                page = p
                if reserved { obj.reserved.remove(idx) }
                hugetlb.pageH[p.index] = hi
                hugetlb.refs[p.index] = 0
                hugetlb.mapcount[p.index] = 0
                if obj.shared { obj.pages[idx] = p; hugetlb.refs[p.index] = 1 }
                hugetlb.objects[vma.hugetlbObject] = obj
                clockNs &+= hugeAnonymousFaultCost << UInt64(h.order - 9)
                narrate("hugetlb_no_page: \(reserved ? "reserved " : "")\(h.sizeKB) kB page PFN \(p) zeroed and mapped at \(VirtAddr(haddr)) by a \(h.order == 9 ? "PMD" : "PUD") leaf")
            }
            hugetlb.refs[page.index, default: 0] += 1
            hugetlb.mapcount[page.index, default: 0] += 1
            mm.hugetlbUsage += Int(h.size >> PAGE_SHIFT)
            writeHugePTE(slot, hi, makeHugePTE(vma, page, writable: writable && (obj.shared || write)))
            return .minor
        }
        if write && !e.isWritable {
            if obj.shared || hugetlb.mapcount[e.pfn.index] == 1 {
                writeHugePTE(slot, hi, makeHugePTE(vma, e.pfn, writable: true))
                mmu.flushPage(VirtAddr(haddr))
                narrate("hugetlb_wp: the \(h.sizeKB) kB page at \(VirtAddr(haddr)) is ours alone: made writable")
                return .minor
            }
            guard let p = allocHugetlbPage(hi, reserved: false) else {
                narrate("hugetlb_wp: no free \(h.sizeKB) kB huge page to copy into: VM_FAULT_SIGBUS")
                return .sigbus
            }
            for i in 0..<(1 << h.order) { phys.contents.copy(from: PFN(index: e.pfn.index + i), to: PFN(index: p.index + i)) }
            hugetlb.pageH[p.index] = hi
            hugetlb.refs[p.index] = 1
            hugetlb.mapcount[p.index] = 1
            hugetlb.mapcount[e.pfn.index, default: 1] -= 1
            putHugetlbPage(e.pfn)
            writeHugePTE(slot, hi, makeHugePTE(vma, p, writable: true))
            flushTLBRange(mm, VirtAddr(haddr), VirtAddr(haddr + h.size))
            clockNs &+= hugeAnonymousFaultCost << UInt64(h.order - 9)
            narrate("hugetlb_wp: copy-on-write of the \(h.sizeKB) kB page at \(VirtAddr(haddr)) into PFN \(p)")
            return .minor
        }
        writeHugePTE(slot, hi, PTE(raw: e.raw | PTE.accessed | (write ? PTE.dirty : 0)))
        mmu.flushPage(VirtAddr(haddr))
        return .minor
    }

    // MARK: - fork, mprotect

    /// Copies the hugetlb leaves of `vma` into the child at fork: a shared mapping shares its
    /// pages; a private one shares them read-only in both (copy on write). The child's private
    /// mapping gets a fresh object with no reservations. Returns false when a table could not be
    /// allocated. Linux: copy_hugetlb_page_range(), mm/hugetlb.c; reset_vma_resv_huge_pages()
    func copyHugetlbPageRange(_ child: Task, _ dst: MMStruct, _ src: MMStruct, _ vma: VMA) -> Bool {
        guard let obj = hugetlb.objects[vma.hugetlbObject] else { return true }
        let cow = !obj.shared && vma.flags.contains(.maywrite)
        var ok = true
        var leaves: [(UInt64, PTESlot, PTE, Int)] = []
        forEachHugetlbLeaf(src, vma.start, vma.end) { a, s, e, hi in leaves.append((a, s, e, hi)) }
        for (a, s, e, hi) in leaves {
            guard let d = hugePTEAlloc(dst, VirtAddr(a), hi, task: child) else { ok = false; break }
            var raw = e.raw
            if cow { raw &= ~PTE.rw; writeHugePTE(s, hi, PTE(raw: raw)) }
            writeHugePTE(d, hi, PTE(raw: raw))
            hugetlb.refs[e.pfn.index, default: 0] += 1
            hugetlb.mapcount[e.pfn.index, default: 0] += 1
            dst.hugetlbUsage += Int(hugetlb.hstates[hi].size >> PAGE_SHIFT)
        }
        return ok
    }

    /// Gives the child's copy of a private hugetlb VMA its own object (no reservations).
    func hugetlbForkObject(_ vma: VMA) -> UInt64 {
        guard let obj = hugetlb.objects[vma.hugetlbObject], !obj.shared else { return vma.hugetlbObject }
        let id = hugetlb.nextObject
        hugetlb.nextObject += 1
        hugetlb.objects[id] = HugetlbObject(h: obj.h, shared: false)
        return id
    }

    /// Rewrites the hugetlb leaves in [start, end) for `newFlags`: writable only when shared, or
    /// private and mapped once. Linux: hugetlb_change_protection(), mm/hugetlb.c
    func hugetlbChangeProtection(_ mm: MMStruct, _ start: VirtAddr, _ end: VirtAddr, newFlags: VMFlags) {
        var leaves: [(PTESlot, PTE, Int)] = []
        forEachHugetlbLeaf(mm, start, end) { _, s, e, hi in leaves.append((s, e, hi)) }
        for (s, e, hi) in leaves {
            let w = newFlags.contains(.write) && (newFlags.contains(.shared) || (e.isWritable && hugetlb.mapcount[e.pfn.index] == 1))
            var raw = e.raw & ~(PTE.rw | PTE.nx)
            if w { raw |= PTE.rw }
            if !newFlags.contains(.exec) { raw |= PTE.nx }
            writeHugePTE(s, hi, PTE(raw: raw))
        }
    }

    // MARK: - Reports

    /// The page size of a hugetlb VMA in bytes, or nil for other VMAs.
    /// Linux: vma_kernel_pagesize() / huge_page_size(hstate_vma()), mm/hugetlb.c
    public func hugetlbPageSize(_ vma: VMA) -> UInt64? {
        hugetlb.objects[vma.hugetlbObject].map { hugetlb.hstates[$0.h].size }
    }

    /// Bytes of `vma` mapped by hugetlb pages that are mapped more than once (shared) and once
    /// (private). Linux: smaps_hugetlb_range(), fs/proc/task_mmu.c
    public func hugetlbSmaps(_ mm: MMStruct, _ vma: VMA) -> (shared: UInt64, private: UInt64) {
        var s: UInt64 = 0, p: UInt64 = 0
        forEachHugetlbLeaf(mm, vma.start, vma.end) { _, _, e, hi in
            if (hugetlb.mapcount[e.pfn.index] ?? 0) >= 2 { s += hugetlb.hstates[hi].size } else { p += hugetlb.hstates[hi].size }
        }
        return (s, p)
    }

    /// hugetlb_total_pages(): every pool's pages in 4 KiB pages.
    public var hugetlbTotalPages: Int { hugetlb.hstates.reduce(0) { $0 + ($1.nr << $1.order) } }

    /// Checks the pool accounting: free list length = free, resv ≤ free, surplus ≤ nr, free ≤ nr,
    /// every in-use page counted once, no pool page on the LRU.
    func hugetlbInvariantViolations() -> [String] {
        var out: [String] = []
        for (hi, h) in hugetlb.hstates.enumerated() {
            let inUse = hugetlb.pageH.values.filter { $0 == hi }.count
            if h.freeList.count != h.free { out.append("hugetlb \(h.sizeKB)kB: \(h.freeList.count) pages on the free list but free_huge_pages = \(h.free)") }
            if h.resv > h.free { out.append("hugetlb \(h.sizeKB)kB: resv \(h.resv) > free \(h.free)") }
            if h.surplus > h.nr || h.free > h.nr { out.append("hugetlb \(h.sizeKB)kB: surplus \(h.surplus) / free \(h.free) exceed nr \(h.nr)") }
            if inUse + h.free != h.nr { out.append("hugetlb \(h.sizeKB)kB: \(inUse) in use + \(h.free) free != nr_hugepages \(h.nr)") }
            for p in h.freeList {
                for i in 0..<(1 << h.order) where phys.memMap.flags[p.index + i].contains(.lru) { out.append("hugetlb page PFN \(p) is on the LRU"); break }
            }
        }
        for (k, _) in hugetlb.pageH where phys.memMap.flags[k].contains(.lru) { out.append("hugetlb page PFN \(PFN(index: k)) is on the LRU") }
        return out
    }

    // MARK: - sysfs and sysctl

    /// The files of each /sys/kernel/mm/hugepages/hugepages-NkB directory.
    public static let hugetlbSysfsFiles = ["nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages", "nr_overcommit_hugepages"]
    /// The directories under /sys/kernel/mm/hugepages.
    public static let hugetlbSysfsDirs = ["hugepages-2048kB", "hugepages-1048576kB"]

    /// The text of /sys/kernel/mm/hugepages/`dir`/`file` (with its newline), or nil for a file
    /// the model does not have. Linux: nr_hugepages_show() etc., mm/hugetlb_sysfs.c
    public func hugetlbSysfsRead(_ dir: String, _ file: String) -> String? {
        guard let hi = Kernel.hugetlbSysfsDirs.firstIndex(of: dir) else { return nil }
        let h = hugetlb.hstates[hi]
        switch file {
        case "nr_hugepages": return "\(h.nr)\n"
        case "free_hugepages": return "\(h.free)\n"
        case "resv_hugepages": return "\(h.resv)\n"
        case "surplus_hugepages": return "\(h.surplus)\n"
        case "nr_overcommit_hugepages": return "\(h.nrOvercommit)\n"
        default: return nil
        }
    }

    /// Writes `value` to /sys/kernel/mm/hugepages/`dir`/`file`: nr_hugepages resizes the pool
    /// (as far as memory allows), nr_overcommit_hugepages sets the surplus limit (EINVAL for
    /// 1 GiB pages, which cannot be surplus). Returns nil, EINVAL (not a number), EACCES
    /// (read-only file) or ENOENT. Linux: nr_hugepages_store() / nr_overcommit_hugepages_store()
    public func hugetlbSysfsWrite(_ dir: String, _ file: String, _ value: String) -> Errno? {
        guard let hi = Kernel.hugetlbSysfsDirs.firstIndex(of: dir), Kernel.hugetlbSysfsFiles.contains(file) else { return .ENOENT }
        switch file {
        case "nr_hugepages":
            guard let n = Int(value), n >= 0 else { return .EINVAL }
            setMaxHugePages(hi, n)
        case "nr_overcommit_hugepages":
            guard let n = Int(value), n >= 0 else { return .EINVAL }
            if hugetlb.hstates[hi].order > MAX_PAGE_ORDER { return .EINVAL }
            hugetlb.hstates[hi].nrOvercommit = n
        default: return .EACCES
        }
        return nil
    }
}

extension MachineConfig {
    /// Parses a boot-time pool list `2M:N,1G:M` (parts joined by `,` or `+`, either part may be
    /// left out; sizes also as 2048kB / 1048576kB; `0` = no pools). Returns (2 MiB pages, 1 GiB
    /// pages), or nil for bad text or a count above 2^30. Linux: hugepagesz= / hugepages= boot parameters, mm/hugetlb.c
    public static func parseHugepages(_ text: String) -> (Int, Int)? {
        var r = (0, 0)
        if text == "0" { return r }
        for part in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "," || $0 == "+" }) {
            let kv = part.split(separator: ":", omittingEmptySubsequences: false).map { String($0).lowercased() }
            guard kv.count == 2, let n = Int(kv[1]), n >= 0, n <= 1 << 30 else { return nil }
            switch kv[0] {
            case "2m", "2048kb": r.0 = n
            case "1g", "1048576kb": r.1 = n
            default: return nil
            }
        }
        return r
    }

    /// The boot-time pools as `parseHugepages` reads them, comma-free for CSV: `2M:512+1G:2`,
    /// the nonzero parts only, or `0`.
    public var hugepagesText: String {
        var parts: [String] = []
        if hugepages2M > 0 { parts.append("2M:\(hugepages2M)") }
        if hugepages1G > 0 { parts.append("1G:\(hugepages1G)") }
        return parts.isEmpty ? "0" : parts.joined(separator: "+")
    }
}
