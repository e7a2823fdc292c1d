import MMCore

/// /proc/vmstat, restricted to the counters the model keeps (the others are added as the
/// mechanisms behind them arrive), in the kernel's order and format: "name value" per line.
/// Linux: vmstat_show() with vmstat_text[], mm/vmstat.c
public enum Vmstat {
    /// The lines for a kernel, in /proc/vmstat order.
    public static func lines(_ k: Kernel) -> [(String, UInt64)] {
        let s = k.stat, v = k.vmstat
        func u(_ v: Int) -> UInt64 { UInt64(max(0, v)) }
        return [
            ("nr_free_pages", u(k.phys.freePageCount)),
            ("nr_zone_inactive_anon", u(s.nrInactiveAnon)),
            ("nr_zone_active_anon", u(s.nrActiveAnon)),
            ("nr_zone_inactive_file", u(s.nrInactiveFile)),
            ("nr_zone_active_file", u(s.nrActiveFile)),
            ("nr_zone_unevictable", u(s.nrUnevictable)),
            ("nr_mlock", u(s.nrMlock)),
            ("nr_inactive_anon", u(s.nrInactiveAnon)),
            ("nr_active_anon", u(s.nrActiveAnon)),
            ("nr_inactive_file", u(s.nrInactiveFile)),
            ("nr_active_file", u(s.nrActiveFile)),
            ("nr_unevictable", u(s.nrUnevictable)),
            ("workingset_refault_anon", k.vmstat.workingsetRefaultAnon),
            ("workingset_refault_file", k.vmstat.workingsetRefaultFile),
            ("nr_anon_pages", u(s.nrAnonMapped)),
            ("nr_mapped", u(s.nrFileMapped)),
            ("nr_file_pages", u(s.nrFilePages)),
            ("nr_dirty", u(s.nrDirty)),
            ("nr_writeback", u(s.nrWriteback)),
            ("nr_shmem", u(s.nrShmem)),
            ("nr_shmem_hugepages", 0),
            ("nr_shmem_pmdmapped", 0),
            ("nr_file_hugepages", 0),
            ("nr_file_pmdmapped", 0),
            ("nr_anon_transparent_hugepages", u(s.nrAnonTHPs)),
            ("nr_dirtied", k.vmstat.nrDirtied),
            ("nr_written", k.vmstat.nrWritten),
            ("nr_page_table_pages", u(s.nrPageTable)),
            ("nr_swapcached", u(k.swapCachePages)),
            ("pgpgin", k.vmstat.pgpgin),
            ("pgpgout", k.vmstat.pgpgout),
            ("pswpin", k.vmstat.pswpin),
            ("pswpout", k.vmstat.pswpout),
            ("allocstall_dma", 0),
            ("allocstall_dma32", k.vmstat.allocstallDMA32),
            ("allocstall_normal", k.vmstat.allocstallNormal),
            ("allocstall_movable", 0),
            ("pgactivate", k.vmstat.pgactivate),
            ("pgdeactivate", k.vmstat.pgdeactivate),
            ("pglazyfree", k.vmstat.pglazyfree),
            ("pgfault", k.vmstat.pgfault),
            ("pgmajfault", k.vmstat.pgmajfault),
            ("pglazyfreed", k.vmstat.pglazyfreed),
            ("pgrefill", k.vmstat.pgrefill),
            ("pgsteal_kswapd", k.vmstat.pgstealKswapd),
            ("pgsteal_direct", k.vmstat.pgstealDirect),
            ("pgscan_kswapd", k.vmstat.pgscanKswapd),
            ("pgscan_direct", k.vmstat.pgscanDirect),
            ("pgscan_anon", k.vmstat.pgscanAnon),
            ("pgscan_file", k.vmstat.pgscanFile),
            ("pgsteal_anon", k.vmstat.pgstealAnon),
            ("pgsteal_file", k.vmstat.pgstealFile),
            ("pageoutrun", UInt64(k.reclaim.kswapdRuns)),
            ("drop_pagecache", k.vmstat.dropPagecache),
            ("drop_slab", k.vmstat.dropSlab),
            ("oom_kill", k.vmstat.oomKill),
            // CONFIG_HUGETLB_PAGE: fresh 2 MiB pool pages from the buddy allocator (alloc_buddy_hugetlb_folio()).
            ("htlb_buddy_alloc_success", UInt64(k.hugetlb.hstates.reduce(0) { $0 + $1.buddyAllocSuccess })),
            ("htlb_buddy_alloc_fail", UInt64(k.hugetlb.hstates.reduce(0) { $0 + $1.buddyAllocFail })),
            ("thp_fault_alloc", v.thpFaultAlloc),
            ("thp_fault_fallback", v.thpFaultFallback),
            ("thp_fault_fallback_charge", 0),
            ("thp_collapse_alloc", v.thpCollapseAlloc),
            ("thp_collapse_alloc_failed", v.thpCollapseAllocFailed),
            ("thp_file_alloc", 0),
            ("thp_file_fallback", 0),
            ("thp_file_fallback_charge", 0),
            ("thp_file_mapped", 0),
            ("thp_split_page", v.thpSplitPage),
            ("thp_split_page_failed", 0),
            ("thp_deferred_split_page", v.thpDeferredSplitPage),
            ("thp_underused_split_page", 0),
            ("thp_split_pmd", v.thpSplitPMD),
            ("thp_scan_exceed_none_pte", v.thpScanExceedNonePTE),
            ("thp_scan_exceed_swap_pte", v.thpScanExceedSwapPTE),
            ("thp_scan_exceed_share_pte", v.thpScanExceedSharedPTE),
            ("thp_split_pud", 0),
            ("thp_zero_page_alloc", v.thpZeroPageAlloc),
            ("thp_zero_page_alloc_failed", v.thpZeroPageAllocFailed),
            ("thp_swpout", v.thpSwpout),
            ("thp_swpout_fallback", v.thpSwpoutFallback),
            ("swap_ra", k.vmstat.swapRa),
            ("swap_ra_hit", k.vmstat.swapRaHit),
        ]
    }

    /// The file's text.
    public static func format(_ lines: [(String, UInt64)]) -> String {
        lines.map { "\($0.0) \($0.1)\n" }.joined()
    }
}

extension ProcFS {
    /// /proc/vmstat (the counters the model keeps).
    public static func vmstat(_ k: Kernel) -> String { Vmstat.format(Vmstat.lines(k)) }
}
