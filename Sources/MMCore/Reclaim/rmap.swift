/// Reverse mapping (Linux mm/rmap.c): from a page to every PTE that maps it. An anonymous page
/// carries its anon_vma id and linear page index, so the walk visits the VMAs with that anon_vma
/// in every address space (fork keeps the id in the child, mremap keeps vm_pgoff); a page-cache
/// page carries its inode and index, so the walk visits the VMAs mapping that inode.

/// One PTE that maps a page.
struct RmapHit {
    let mm: MMStruct
    let vma: VMA
    let va: VirtAddr
    let slot: PTESlot
    let pte: PTE
}

extension Kernel {
    /// The distinct live address spaces, in task order (cached while a reclaim pass runs: no
    /// task comes or goes inside one).
    func rmapAddressSpaces() -> [MMStruct] {
        if let c = reclaim.mmCache { return c }
        var seen = Set<ObjectIdentifier>()
        var out: [MMStruct] = []
        for t in allTasks {
            guard let mm = t.mm, seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            out.append(mm)
        }
        return out
    }

    /// Every PTE mapping `pfn`, found through its anon_vma or its inode. Returns them in address-space
    /// and VMA order. Linux: rmap_walk() → rmap_walk_anon() / rmap_walk_file(), mm/rmap.c
    func rmapWalk(_ pfn: PFN) -> [RmapHit] {
        let i = pfn.index
        guard phys.memMap.mapcount[i] > 0 else { return [] }
        let f = phys.memMap.flags[i]
        let index = reclaim.rmapIndex[i]
        let anonVMA = reclaim.rmapAnonVMA[i]
        let inode = reclaim.rmapInode[i]
        var out: [RmapHit] = []
        for mm in rmapAddressSpaces() {
            for v in mm.vmas.vmas {
                if f.contains(.anon) {
                    guard v.anonVMA == anonVMA, anonVMA != 0 else { continue }
                } else {
                    guard let ino = inode, vmaMaps(v, ino) else { continue }
                }
                guard index >= v.pgoff, index - v.pgoff < UInt64(v.pages) else { continue }
                let va = VirtAddr(v.start.raw &+ ((index - v.pgoff) << PAGE_SHIFT))
                guard let s = phys.walk(mm.pgd, va) else {
                    // A huge PMD mapping the THP this frame belongs to (page_vma_mapped_walk()).
                    if f.contains(.transHuge), let pmd = pmdLookup(mm, va), case let e = phys.readPMD(pmd),
                       e.isPresent && e.isHuge && e.pfn.index == i & ~(HPAGE_PMD_NR - 1) {
                        out.append(RmapHit(mm: mm, vma: v, va: va, slot: pmd, pte: e))
                    }
                    continue
                }
                let pte = phys.readPTE(s)
                if pte.isPresent && pte.pfn == pfn { out.append(RmapHit(mm: mm, vma: v, va: va, slot: s, pte: pte)) }
            }
        }
        return out
    }

    /// Tests and clears the accessed bit of every PTE mapping `pfn` (flushing each cleared entry
    /// from the TLBs, so that the next access sets it again). Returns how many PTEs were young and
    /// the union of the mapping VMAs' flags. Linux: folio_referenced() → folio_referenced_one(), mm/rmap.c
    /// (x86's ptep_clear_flush_young() skips the flush as an optimisation; the model flushes.)
    func folioReferenced(_ pfn: PFN) -> (refs: Int, vmFlags: VMFlags) {
        var refs = 0
        var flags: VMFlags = []
        for h in rmapWalk(pfn) {
            flags.formUnion(h.vma.flags)
            if h.pte.isAccessed {
                phys.writePTE(h.slot, PTE(raw: h.pte.raw & ~PTE.accessed))
                flushTLBRange(h.mm, h.va, VirtAddr(h.va.raw &+ PAGE_SIZE))
                refs += 1
            }
        }
        return (refs, flags)
    }

    /// Unmaps `pfn` from every PTE: an anonymous page in the swap cache leaves a swap entry (swap
    /// count + 1 per PTE, MM_SWAPENTS), a lazily freed anonymous page and a page-cache page leave
    /// an empty PTE; a dirty PTE makes the page dirty. Returns false, unmapping nothing, when a
    /// mapping VMA is mlocked or a lazily freed page was written again (it becomes swap-backed).
    /// Linux: try_to_unmap() → try_to_unmap_one(), mm/rmap.c
    func tryToUnmap(_ pfn: PFN) -> Bool {
        let i = pfn.index
        let hits = rmapWalk(pfn)
        guard hits.count == Int(phys.memMap.mapcount[i]) else { return false }
        if hits.contains(where: { $0.vma.flags.contains(.locked) }) { return false }
        let f = phys.memMap.flags[i]
        let anon = f.contains(.anon)
        let lazy = anon && !f.contains(.swapbacked)
        if lazy && (f.contains(.dirty) || hits.contains(where: { $0.pte.isDirty })) {
            phys.memMap.flags[i].insert(.swapbacked)
            return false
        }
        let entry = SwapEntry(val: reclaim.swapEntryOf[i])
        for h in hits {
            if h.pte.isDirty {
                if anon { phys.memMap.flags[i].insert(.dirty) } else { markPageDirty(pfn) }
            }
            if anon && !lazy {
                phys.writePTE(h.slot, PTE(swap: entry))
                swapDuplicate(entry)
                h.mm.rss.swapents += 1
            } else {
                phys.writePTE(h.slot, PTE(raw: 0))
            }
            flushTLBRange(h.mm, h.va, VirtAddr(h.va.raw &+ PAGE_SIZE))
            removeMappedPage(h.mm, pfn)
        }
        return true
    }
}

extension Kernel {
    /// Checks that rmap finds every mapping: for each frame mapped by a PTE, the walk from its
    /// anon_vma or inode finds exactly `mapcount` PTEs.
    func rmapInvariantViolations() -> [String] {
        var out: [String] = []
        for i in 0..<phys.frameCount where phys.memMap.mapcount[i] > 0 {
            let f = phys.memMap.flags[i]
            guard !f.contains(.pageTable), PFN(index: i) != zeroPFN else { continue }
            let n = rmapWalk(PFN(index: i)).count
            if n != Int(phys.memMap.mapcount[i]) { out.append("rmap: PFN \(PFN(index: i)) has mapcount \(phys.memMap.mapcount[i]) but the reverse map finds \(n) PTEs") }
        }
        return out
    }
}
