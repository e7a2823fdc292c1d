/// khugepaged (Linux mm/khugepaged.c): the kernel thread that scans the address spaces
/// registered for THP and collapses 2 MiB ranges of 4 KiB pages into a transparent huge page,
/// and the /sys/kernel/mm/transparent_hugepage files that steer THP.
///
/// Model: a wakeup is run on demand (the scenario's `khugepaged [N]`), never by a timer, so runs
/// are deterministic; scan_sleep_millisecs is kept only as a setting. A range with swap PTEs is
/// not collapsed (Linux swaps up to max_ptes_swap of them in first); file and shmem collapse
/// (collapse_file) are not modelled.

/// Why a scan of one PMD range did not collapse it. Linux: enum scan_result, mm/khugepaged.c
public enum CollapseScanResult: String, Sendable {
    case succeed = "SCAN_SUCCEED"
    case pmdNull = "SCAN_PMD_NULL"
    case pmdMapped = "SCAN_PMD_MAPPED"
    case exceedNonePTE = "SCAN_EXCEED_NONE_PTE"
    case exceedSwapPTE = "SCAN_EXCEED_SWAP_PTE"
    case exceedSharedPTE = "SCAN_EXCEED_SHARED_PTE"
    case swapPTE = "SCAN_SWAP_PTE"
    case pageRO = "SCAN_PAGE_RO"
    case lackReferencedPage = "SCAN_LACK_REFERENCED_PAGE"
    case pageLRU = "SCAN_PAGE_LRU"
    case pageAnon = "SCAN_PAGE_ANON"
    case pageCount = "SCAN_PAGE_COUNT"
    case allocHugePageFail = "SCAN_ALLOC_HUGE_PAGE_FAIL"
}

/// What one khugepaged wakeup did.
public struct KhugepagedScanReport: Sendable, Equatable {
    /// Progress in pages (HPAGE_PMD_NR per PMD range scanned, one per VMA skipped).
    public var progress = 0
    /// 2 MiB ranges collapsed into THPs.
    public var collapsed = 0
    /// The result of each range scanned, in order: (address, result).
    public var ranges: [(UInt64, CollapseScanResult)] = []
    public static func == (a: Self, b: Self) -> Bool {
        a.progress == b.progress && a.collapsed == b.collapsed && a.ranges.map(\.0) == b.ranges.map(\.0) && a.ranges.map(\.1) == b.ranges.map(\.1)
    }
}

extension Kernel {
    // MARK: - sysfs

    /// The files under /sys/kernel/mm/transparent_hugepage/ the model has, by relative path.
    public static let thpSysfsFiles = ["enabled", "defrag", "use_zero_page", "hpage_pmd_size",
                                       "khugepaged/defrag", "khugepaged/pages_to_scan", "khugepaged/max_ptes_none",
                                       "khugepaged/max_ptes_swap", "khugepaged/max_ptes_shared", "khugepaged/pages_collapsed",
                                       "khugepaged/full_scans", "khugepaged/scan_sleep_millisecs", "khugepaged/alloc_sleep_millisecs"]

    /// The text of /sys/kernel/mm/transparent_hugepage/`name` (with its newline), or nil for a
    /// file the model does not have. Linux: the *_show() handlers, mm/huge_memory.c, mm/khugepaged.c
    public func thpSysfsRead(_ name: String) -> String? {
        let v: String
        switch name {
        case "enabled": v = thp.enabledText
        case "defrag": v = thp.defragText
        case "use_zero_page": v = thp.useZeroPage ? "1" : "0"
        case "hpage_pmd_size": v = String(HPAGE_PMD_SIZE)
        case "khugepaged/defrag": v = "1"
        case "khugepaged/pages_to_scan": v = String(thp.pagesToScan)
        case "khugepaged/max_ptes_none": v = String(thp.maxPtesNone)
        case "khugepaged/max_ptes_swap": v = String(thp.maxPtesSwap)
        case "khugepaged/max_ptes_shared": v = String(thp.maxPtesShared)
        case "khugepaged/pages_collapsed": v = String(thp.pagesCollapsed)
        case "khugepaged/full_scans": v = String(thp.fullScans)
        case "khugepaged/scan_sleep_millisecs": v = String(thp.scanSleepMillisecs)
        case "khugepaged/alloc_sleep_millisecs": v = "60000"
        default: return nil
        }
        return v + "\n"
    }

    /// Writes `value` to /sys/kernel/mm/transparent_hugepage/`name`. Returns nil on success,
    /// EINVAL for a value the file rejects (unknown mode, pages_to_scan 0, a max_ptes_* above
    /// 511, not a number), EACCES for a read-only file, ENOENT for an unknown file.
    /// Linux: enabled_store() / defrag_store() / use_zero_page_store(), mm/huge_memory.c;
    /// pages_to_scan_store() / max_ptes_*_store(), mm/khugepaged.c
    public func thpSysfsWrite(_ name: String, _ value: String) -> Errno? {
        func number(_ max: Int) -> Int? {
            guard let n = Int(value), n >= 0, n <= max else { return nil }
            return n
        }
        switch name {
        case "enabled":
            guard let m = THPMode(rawValue: value) else { return .EINVAL }
            let wasNever = thp.enabled == .never
            thp.enabled = m
            // start_stop_khugepaged() → set_recommended_min_free_kbytes().
            if wasNever && m != .never && config.minFreeKbytes == nil { setRecommendedMinFreeKbytes() }
        case "defrag":
            guard let d = THPDefrag(rawValue: value) else { return .EINVAL }
            thp.defrag = d
        case "use_zero_page":
            guard let n = number(Int(UInt32.max)) else { return .EINVAL }
            thp.useZeroPage = n != 0
        case "khugepaged/pages_to_scan":
            guard let n = number(Int(UInt32.max)), n > 0 else { return .EINVAL }
            thp.pagesToScan = n
        case "khugepaged/max_ptes_none":
            guard let n = number(HPAGE_PMD_NR - 1) else { return .EINVAL }
            thp.maxPtesNone = n
        case "khugepaged/max_ptes_swap":
            guard let n = number(HPAGE_PMD_NR - 1) else { return .EINVAL }
            thp.maxPtesSwap = n
        case "khugepaged/max_ptes_shared":
            guard let n = number(HPAGE_PMD_NR - 1) else { return .EINVAL }
            thp.maxPtesShared = n
        case "khugepaged/scan_sleep_millisecs":
            guard let n = number(Int(UInt32.max)) else { return .EINVAL }
            thp.scanSleepMillisecs = n
        case "khugepaged/defrag", "khugepaged/alloc_sleep_millisecs":
            guard number(Int(UInt32.max)) != nil else { return .EINVAL }
        case "hpage_pmd_size", "khugepaged/pages_collapsed", "khugepaged/full_scans":
            return .EACCES
        default:
            return .ENOENT
        }
        return nil
    }

    // MARK: - Scanning

    /// The address spaces registered with khugepaged, in task order.
    /// Linux: khugepaged_scan.mm_head (mm_slot list), mm/khugepaged.c
    func khugepagedMMs() -> [MMStruct] {
        var seen = Set<ObjectIdentifier>()
        var out: [MMStruct] = []
        for t in allTasks where t.state.isAlive {
            guard let mm = t.mm, mm.khugepagedRegistered, seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            out.append(mm)
        }
        return out
    }

    /// One khugepaged wakeup: scans up to pages_to_scan pages of the registered address spaces
    /// from where the last wakeup stopped, collapsing each eligible 2 MiB range; at most one pass
    /// over the list (full_scans counts completed passes). Returns what it did.
    /// Linux: khugepaged_do_scan() → khugepaged_scan_mm_slot(), mm/khugepaged.c
    @discardableResult
    public func khugepagedDoScan() -> KhugepagedScanReport {
        var report = KhugepagedScanReport()
        let pages = thp.pagesToScan
        var passThroughHead = 0
        scan: while report.progress < pages {
            let mms = khugepagedMMs()
            if mms.isEmpty { break }
            if thp.scanMM == 0 && thp.scanAddress == 0 {
                passThroughHead += 1
                if passThroughHead >= 2 { break }
            }
            if thp.scanMM >= mms.count { thp.scanMM = 0; thp.scanAddress = 0; continue }
            let mm = mms[thp.scanMM]
            var allocFailed = false
            vmaLoop: for vma in mm.vmas.vmas {
                if vma.end.raw <= thp.scanAddress { continue }
                guard thp.enabled != .never, thpVMAAllowable(vma) else { report.progress += 1; continue }
                let hstart = (vma.start.raw &+ HPAGE_PMD_SIZE &- 1) & ~(HPAGE_PMD_SIZE - 1)
                let hend = vma.end.raw & ~(HPAGE_PMD_SIZE - 1)
                if hstart >= hend { report.progress += 1; continue }
                var addr = max(hstart, thp.scanAddress)
                while addr < hend {
                    let r = collapseScanPMD(mm, vma, addr)
                    report.ranges.append((addr, r))
                    if r == .succeed { report.collapsed += 1 }
                    addr &+= HPAGE_PMD_SIZE
                    thp.scanAddress = addr
                    report.progress += HPAGE_PMD_NR
                    if r == .allocHugePageFail { allocFailed = true; break vmaLoop }
                    if report.progress >= pages { break vmaLoop }
                }
            }
            if allocFailed { break scan }
            if report.progress >= pages && mm.vmas.vmas.contains(where: { $0.end.raw > thp.scanAddress }) { break scan }
            // This mm is done: the next one, or the list head again (a full scan).
            if thp.scanMM + 1 < mms.count {
                thp.scanMM += 1
            } else {
                thp.scanMM = 0
                thp.fullScans += 1
            }
            thp.scanAddress = 0
        }
        narrate("khugepaged: scanned \(report.progress) pages, collapsed \(report.collapsed) range(s) into THPs (pages_collapsed \(thp.pagesCollapsed), full_scans \(thp.fullScans))")
        return report
    }

    /// Checks whether the 2 MiB range at `haddr` of `vma` can be collapsed — a PTE table whose
    /// empty/zero-page PTEs are at most max_ptes_none, shared pages at most max_ptes_shared, no
    /// swap PTEs, every page anonymous, on the LRU and without extra references, one PTE
    /// writable and one page referenced — and collapses it when it can.
    /// Linux: hpage_collapse_scan_pmd() → collapse_huge_page(), mm/khugepaged.c
    func collapseScanPMD(_ mm: MMStruct, _ vma: VMA, _ haddr: UInt64) -> CollapseScanResult {
        guard let pmd = pmdLookup(mm, VirtAddr(haddr)) else { return .pmdNull }
        let e = phys.readPMD(pmd)
        if e.isNone { return .pmdNull }
        if e.isHuge { return .pmdMapped }
        let table = e.pfn
        var noneOrZero = 0, unmapped = 0, shared = 0, referenced = 0
        var writable = false
        for i in 0..<HPAGE_PMD_NR {
            let pte = phys.readPTE(PTESlot(table: table, index: i))
            if pte.isSwap {
                unmapped += 1
                if unmapped > thp.maxPtesSwap { vmstat.thpScanExceedSwapPTE += 1; return .exceedSwapPTE }
                continue
            }
            if pte.isNone || pte.pfn == zeroPFN {
                noneOrZero += 1
                if noneOrZero > thp.maxPtesNone { vmstat.thpScanExceedNonePTE += 1; return .exceedNonePTE }
                continue
            }
            guard pte.isPresent else { return .pageLRU }
            if pte.isWritable { writable = true }
            let p = pte.pfn.index
            if phys.memMap.mapcount[p] > 1 {
                shared += 1
                if shared > thp.maxPtesShared { vmstat.thpScanExceedSharedPTE += 1; return .exceedSharedPTE }
            }
            let f = phys.memMap.flags[p]
            guard f.contains(.lru) else { return .pageLRU }
            guard f.contains(.anon) else { return .pageAnon }
            let cacheRef: Int32 = f.contains(.swapcache) ? 1 : 0
            guard phys.memMap.refcount[p] == phys.memMap.mapcount[p] + cacheRef else { return .pageCount }
            if pte.isAccessed || f.contains(.referenced) { referenced += 1 }
        }
        if !writable { return .pageRO }
        if referenced == 0 || (unmapped > 0 && referenced < HPAGE_PMD_NR / 2) { return .lackReferencedPage }
        // The model does not swap pages in for a collapse (__collapse_huge_page_swapin()).
        if unmapped > 0 { return .swapPTE }
        return collapseHugePage(mm, vma, haddr, pmd, table)
    }

    /// Allocates a THP (khugepaged/defrag: with direct compaction), copies the 512 pages of the
    /// range into it (empty and zero-page PTEs become zeroes), unmaps and frees the old pages,
    /// deposits the emptied PTE table and maps the THP by the PMD (writable in a writable VMA).
    /// Counts thp_collapse_alloc / thp_collapse_alloc_failed and pages_collapsed.
    /// Linux: collapse_huge_page() → __collapse_huge_page_copy(), mm/khugepaged.c
    func collapseHugePage(_ mm: MMStruct, _ vma: VMA, _ haddr: UInt64, _ pmd: PTESlot, _ table: PFN) -> CollapseScanResult {
        guard let head = allocTHPBlock([.highmem, .movable, .hardwall, .nowarn, .directReclaim]) else {
            vmstat.thpCollapseAllocFailed += 1
            narrate("khugepaged: no order-9 block for a collapse (thp_collapse_alloc_failed)")
            return .allocHugePageFail
        }
        vmstat.thpCollapseAlloc += 1
        for i in 0..<HPAGE_PMD_NR {
            let dst = PFN(index: head.index + i)
            let pte = phys.readPTE(PTESlot(table: table, index: i))
            phys.writePTE(PTESlot(table: table, index: i), PTE(raw: 0))
            if pte.isPresent && pte.pfn != zeroPFN {
                phys.contents.copy(from: pte.pfn, to: dst)
                removeMappedPage(mm, pte.pfn)
            } else {
                phys.contents.clear(dst)
            }
            addNewPage(mm, vma, dst, VirtAddr(haddr &+ UInt64(i) << PAGE_SHIFT))
            phys.memMap.flags[dst.index].insert(.transHuge)
        }
        // The emptied PTE table is deposited for a later split (pgtable_trans_huge_deposit()).
        mm.hugePMDDeposits[haddr] = table
        thp.entireMapcount[head.index] = 1
        stat.nrAnonTHPs += 1
        phys.writePMD(pmd, PTE(pfn: head, flags: pteFlags(vma.flags, writable: vma.flags.contains(.write), dirty: true) | PTE.pse))
        flushTLBRange(mm, VirtAddr(haddr), VirtAddr(haddr &+ HPAGE_PMD_SIZE))
        thp.pagesCollapsed += 1
        narrate("khugepaged: collapsed \(VirtAddr(haddr))-\(VirtAddr(haddr &+ HPAGE_PMD_SIZE)) into the THP at PFN \(head); page table PFN \(table) deposited (thp_collapse_alloc)")
        return .succeed
    }
}
