/// /proc/meminfo.
import MMCore

/// Every value /proc/meminfo prints, in kB unless named otherwise, in the kernel's order.
///
/// The line set is that of a Debian 13 ("trixie") x86-64 kernel, Linux 6.12 with Debian's config:
/// no HIGHMEM, ZSWAP=y (Zswap/Zswapped), no SHADOW_CALL_STACK, MEMORY_FAILURE=y
/// (HardwareCorrupted), TRANSPARENT_HUGEPAGE=y (the five THP lines), no CMA, UNACCEPTED_MEMORY=y
/// (Unaccepted), HUGETLB_PAGE=y (HugePages_* and Hugetlb) and x86 DirectMap lines with 1 GiB
/// direct-map pages. (The Balloon line only exists from Linux 6.15.)
public struct MeminfoValues: Sendable, Equatable {
    public var memTotal: UInt64 = 0
    public var memFree: UInt64 = 0
    public var memAvailable: UInt64 = 0
    public var buffers: UInt64 = 0
    public var cached: UInt64 = 0
    public var swapCached: UInt64 = 0
    public var activeAnon: UInt64 = 0
    public var inactiveAnon: UInt64 = 0
    public var activeFile: UInt64 = 0
    public var inactiveFile: UInt64 = 0
    public var unevictable: UInt64 = 0
    public var mlocked: UInt64 = 0
    /// HighTotal and HighFree (totalhigh, freehigh); nil on a kernel without CONFIG_HIGHMEM, which
    /// prints neither these nor LowTotal/LowFree.
    public var highTotal: UInt64?
    public var highFree: UInt64 = 0
    public var swapTotal: UInt64 = 0
    public var swapFree: UInt64 = 0
    public var zswap: UInt64 = 0
    public var zswapped: UInt64 = 0
    public var dirty: UInt64 = 0
    public var writeback: UInt64 = 0
    public var anonPages: UInt64 = 0
    public var mapped: UInt64 = 0
    public var shmem: UInt64 = 0
    /// NR_KERNEL_MISC_RECLAIMABLE (KReclaimable = SReclaimable + this).
    public var kernelMiscReclaimable: UInt64 = 0
    public var sReclaimable: UInt64 = 0
    public var sUnreclaim: UInt64 = 0
    public var kernelStack: UInt64 = 0
    public var pageTables: UInt64 = 0
    public var secPageTables: UInt64 = 0
    public var nfsUnstable: UInt64 = 0
    public var bounce: UInt64 = 0
    public var writebackTmp: UInt64 = 0
    public var commitLimit: UInt64 = 0
    public var committedAS: UInt64 = 0
    /// VMALLOC_TOTAL >> 10 on x86-64 with 4-level paging: (32 TiB - 1 byte) >> 10.
    public var vmallocTotal: UInt64 = 34_359_738_367
    public var vmallocUsed: UInt64 = 0
    public var vmallocChunk: UInt64 = 0
    public var percpu: UInt64 = 0
    public var hardwareCorrupted: UInt64 = 0
    public var anonHugePages: UInt64 = 0
    public var shmemHugePages: UInt64 = 0
    public var shmemPmdMapped: UInt64 = 0
    public var fileHugePages: UInt64 = 0
    public var filePmdMapped: UInt64 = 0
    public var unaccepted: UInt64 = 0
    /// Counts of default-size huge pages (not kB).
    public var hugePagesTotal: UInt64 = 0
    public var hugePagesFree: UInt64 = 0
    public var hugePagesRsvd: UInt64 = 0
    public var hugePagesSurp: UInt64 = 0
    public var hugepagesize: UInt64 = 2048
    public var hugetlb: UInt64 = 0
    public var directMap4k: UInt64 = 0
    public var directMap2M: UInt64 = 0
    public var directMap1G: UInt64 = 0
    /// DirectMap4M of a 2-level x86-32 kernel (which prints it instead of DirectMap2M and
    /// DirectMap1G); nil on x86-64.
    public var directMap4M: UInt64?
    /// Whether DirectMap1G is printed (x86-64 with gbpages; not a 32-bit PAE kernel).
    public var showDirectMap1G = true
    /// Whether the kernel has CONFIG_TRANSPARENT_HUGEPAGE and CONFIG_HUGETLB_PAGE (the AnonHugePages
    /// … FilePmdMapped and HugePages_* lines) and reports DirectMap lines (x86 only): all false on
    /// 32-bit ARM without LPAE.
    public var hugePageLines = true
    public var directMapLines = true
    public init() {}
}

/// /proc/meminfo: formatter and gatherer.
public enum Meminfo {
    /// The text of /proc/meminfo for these values.
    /// Linux: meminfo_proc_show(), fs/proc/meminfo.c; hugetlb_report_meminfo(), mm/hugetlb.c;
    /// arch_report_meminfo(), arch/x86/mm/pat/set_memory.c
    public static func format(_ v: MeminfoValues) -> String {
        var s = ""
        // show_val_kb(): a 16-column label, the value in 8 columns, " kB".
        func kb(_ name: String, _ value: UInt64) {
            s += Fmt.left(name + ":", 16) + Fmt.dec(value, 8) + " kB\n"
        }
        kb("MemTotal", v.memTotal)
        kb("MemFree", v.memFree)
        kb("MemAvailable", v.memAvailable)
        kb("Buffers", v.buffers)
        kb("Cached", v.cached)
        kb("SwapCached", v.swapCached)
        kb("Active", v.activeAnon + v.activeFile)
        kb("Inactive", v.inactiveAnon + v.inactiveFile)
        kb("Active(anon)", v.activeAnon)
        kb("Inactive(anon)", v.inactiveAnon)
        kb("Active(file)", v.activeFile)
        kb("Inactive(file)", v.inactiveFile)
        kb("Unevictable", v.unevictable)
        kb("Mlocked", v.mlocked)
        if let ht = v.highTotal {
            // CONFIG_HIGHMEM: LowTotal = totalram - totalhigh, LowFree = freeram - freehigh.
            kb("HighTotal", ht)
            kb("HighFree", v.highFree)
            kb("LowTotal", v.memTotal &- ht)
            kb("LowFree", v.memFree &- v.highFree)
        }
        kb("SwapTotal", v.swapTotal)
        kb("SwapFree", v.swapFree)
        kb("Zswap", v.zswap)
        kb("Zswapped", v.zswapped)
        kb("Dirty", v.dirty)
        kb("Writeback", v.writeback)
        kb("AnonPages", v.anonPages)
        kb("Mapped", v.mapped)
        kb("Shmem", v.shmem)
        kb("KReclaimable", v.sReclaimable + v.kernelMiscReclaimable)
        kb("Slab", v.sReclaimable + v.sUnreclaim)
        kb("SReclaimable", v.sReclaimable)
        kb("SUnreclaim", v.sUnreclaim)
        kb("KernelStack", v.kernelStack)
        kb("PageTables", v.pageTables)
        kb("SecPageTables", v.secPageTables)
        kb("NFS_Unstable", v.nfsUnstable)
        kb("Bounce", v.bounce)
        kb("WritebackTmp", v.writebackTmp)
        kb("CommitLimit", v.commitLimit)
        kb("Committed_AS", v.committedAS)
        kb("VmallocTotal", v.vmallocTotal)
        kb("VmallocUsed", v.vmallocUsed)
        kb("VmallocChunk", v.vmallocChunk)
        kb("Percpu", v.percpu)
        s += "HardwareCorrupted: " + Fmt.dec(v.hardwareCorrupted, 5) + " kB\n"
        if v.hugePageLines {
            kb("AnonHugePages", v.anonHugePages)
            kb("ShmemHugePages", v.shmemHugePages)
            kb("ShmemPmdMapped", v.shmemPmdMapped)
            kb("FileHugePages", v.fileHugePages)
            kb("FilePmdMapped", v.filePmdMapped)
        }
        kb("Unaccepted", v.unaccepted)
        if v.hugePageLines {
            s += "HugePages_Total:   " + Fmt.dec(v.hugePagesTotal, 5) + "\n"
            s += "HugePages_Free:    " + Fmt.dec(v.hugePagesFree, 5) + "\n"
            s += "HugePages_Rsvd:    " + Fmt.dec(v.hugePagesRsvd, 5) + "\n"
            s += "HugePages_Surp:    " + Fmt.dec(v.hugePagesSurp, 5) + "\n"
            kb("Hugepagesize", v.hugepagesize)
            kb("Hugetlb", v.hugetlb)
        }
        guard v.directMapLines else { return s }
        kb("DirectMap4k", v.directMap4k)
        if let m4 = v.directMap4M {
            kb("DirectMap4M", m4)
        } else {
            kb("DirectMap2M", v.directMap2M)
            if v.showDirectMap1G { kb("DirectMap1G", v.directMap1G) }
        }
        return s
    }

    /// MemAvailable in pages: free pages above the reserves, plus the file LRU and reclaimable kernel
    /// memory that can go without dropping below the low watermarks. Never negative.
    /// Linux: si_mem_available(), mm/show_mem.c
    public static func siMemAvailable(freePages: Int, totalReservePages: Int, lowWatermarkPages: Int,
                                      activeFile: Int, inactiveFile: Int,
                                      slabReclaimable: Int, kernelMiscReclaimable: Int = 0) -> Int {
        var available = freePages - totalReservePages
        var pagecache = activeFile + inactiveFile
        pagecache -= min(pagecache / 2, lowWatermarkPages)
        available += pagecache
        var reclaimable = slabReclaimable + kernelMiscReclaimable
        reclaimable -= min(reclaimable / 2, lowWatermarkPages)
        available += reclaimable
        return max(0, available)
    }

    /// The DirectMap4k/2M/1G split (kB) of a direct map covering `ramBytes` of RAM from physical 0.
    ///
    /// The model has no real firmware memory map, so this follows what x86-64 init_mem_mapping() does
    /// for one contiguous RAM range starting at 0: the first 2 MiB (ISA area and the first
    /// megabyte above it) use 4 KiB pages, every other 1 GiB-aligned gigabyte lies in a 1 GiB page, the
    /// rest in 2 MiB pages, and a tail that is not 2 MiB-aligned in 4 KiB pages. A real machine
    /// also splits large pages later (kernel text protection, PCI hole), so it shows more 4k.
    public static func directMap(ramBytes: UInt64) -> (k4: UInt64, m2: UInt64, g1: UInt64) {
        let mib2: UInt64 = 2 << 20, gib: UInt64 = 1 << 30
        let ram = ramBytes & ~(PAGE_SIZE - 1)
        if ram <= mib2 { return (ram >> 10, 0, 0) }
        var k4 = mib2, m2: UInt64 = 0, g1: UInt64 = 0
        // [2 MiB, 1 GiB): 2 MiB pages (the first gigabyte is split because of its 4 KiB start).
        let firstGigEnd = min(ram, gib)
        let m2End = firstGigEnd & ~(mib2 - 1)
        m2 += m2End - mib2
        k4 += firstGigEnd - m2End
        if ram > gib {
            let gigs = (ram - gib) / gib
            g1 = gigs * gib
            let tailStart = gib + g1
            let tail2M = (ram - tailStart) & ~(mib2 - 1)
            m2 += tail2M
            k4 += ram - tailStart - tail2M
        }
        return (k4 >> 10, m2 >> 10, g1 >> 10)
    }

    /// Fills the values from the machine's counters (0 where the model keeps no such counter).
    public static func gather(_ k: Kernel) -> MeminfoValues {
        let kbPerPage = UInt64(PAGE_SIZE >> 10)
        func kb(_ pages: Int) -> UInt64 { UInt64(max(0, pages)) * kbPerPage }
        let st = k.stat
        var v = MeminfoValues()
        v.memTotal = kb(k.phys.totalManagedPages)
        v.memFree = kb(k.phys.freePageCount)
        v.memAvailable = kb(siMemAvailable(freePages: k.phys.freePageCount,
                                           totalReservePages: k.phys.totalReservePages,
                                           lowWatermarkPages: k.phys.totalLowWatermarkPages,
                                           activeFile: st.nrActiveFile, inactiveFile: st.nrInactiveFile,
                                           slabReclaimable: st.nrSlabReclaimable))
        // The model has no block-device buffers: Buffers is 0.
        let bufferPages = 0, swapCachePages = k.swapCachePages
        v.buffers = kb(bufferPages)
        v.swapCached = kb(swapCachePages)
        // Cached = NR_FILE_PAGES - swap cache - buffers, never negative.
        v.cached = kb(st.nrFilePages - swapCachePages - bufferPages)
        v.activeAnon = kb(st.nrActiveAnon)
        v.inactiveAnon = kb(st.nrInactiveAnon)
        v.activeFile = kb(st.nrActiveFile)
        v.inactiveFile = kb(st.nrInactiveFile)
        v.unevictable = kb(st.nrUnevictable)
        v.mlocked = kb(st.nrMlock)
        if k.phys.config.layout.hasHighmem {
            let h = k.phys.highmemPages
            v.highTotal = kb(h.managed)
            v.highFree = kb(h.free)
        }
        v.swapTotal = kb(k.totalSwapPages)
        v.swapFree = kb(k.nrSwapPages)
        v.dirty = kb(st.nrDirty)
        v.writeback = kb(st.nrWriteback)
        v.anonPages = kb(st.nrAnonMapped)
        v.mapped = kb(st.nrFileMapped)
        v.shmem = kb(st.nrShmem)
        v.sReclaimable = kb(st.nrSlabReclaimable)
        v.sUnreclaim = kb(st.nrSlabUnreclaimable)
        v.kernelStack = UInt64(max(0, st.nrKernelStackKB))
        v.pageTables = kb(st.nrPageTable)
        // NR_ANON_THPS counts PMD-mapped THPs; meminfo shows them in kB.
        v.anonHugePages = kb(st.nrAnonTHPs * HPAGE_PMD_NR)
        v.vmallocUsed = kb(k.vmap.nrVmallocPages)
        v.percpu = kb(k.percpu.populatedPages)
        v.commitLimit = kb(k.vmCommitLimit())
        v.committedAS = kb(k.committedPages)
        // hugetlb_report_meminfo(): the default (2 MiB) pool, and every pool's size in kB.
        let h = k.hugetlb.hstates[0]
        v.hugePagesTotal = UInt64(h.nr)
        v.hugePagesFree = UInt64(h.free)
        v.hugePagesRsvd = UInt64(h.resv)
        v.hugePagesSurp = UInt64(h.surplus)
        v.hugepagesize = h.sizeKB
        v.hugetlb = k.hugetlb.hstates.reduce(0) { $0 + UInt64($1.nr) * $1.sizeKB }
        if k.phys.config.layout == .arm32 {
            v.vmallocTotal = (k.vmap.end &- k.vmap.start &+ 1) >> 10
            v.hugePageLines = false
            v.directMapLines = false
        } else if k.phys.config.layout == .x86_32 {
            let low = UInt64(min(k.phys.frameCount, k.phys.config.layout.maxLowPFN)) << PAGE_SHIFT
            v.vmallocTotal = (k.vmap.end &- k.vmap.start &+ 1) >> 10
            let pae = k.phys.paging.encoding == .x86PAE
            let dm = directMap32(lowmemBytes: low, largePage: pae ? 2 << 20 : 4 << 20)
            v.directMap4k = dm.k4
            if pae {
                v.directMap2M = dm.large
                v.showDirectMap1G = false
            } else {
                v.directMap4M = dm.large
            }
            v.hugepagesize = pae ? 2048 : 4096
        } else {
            let dm = directMap(ramBytes: k.config.ramBytes)
            v.directMap4k = dm.k4
            v.directMap2M = dm.m2
            v.directMap1G = dm.g1
        }
        return v
    }

    /// The DirectMap4k/large split (kB) of an x86-32 kernel's linear map of `lowmemBytes` with
    /// `largePage` pages (4 MiB 2-level, 2 MiB PAE): the first large page's span in 4 KiB pages, then
    /// large pages up to the last large boundary of lowmem, the tail in 4 KiB pages (x86-32 maps
    /// only lowmem). Linux: split_mem_range(), arch/x86/mm/init.c
    public static func directMap32(lowmemBytes: UInt64, largePage: UInt64 = 4 << 20) -> (k4: UInt64, large: UInt64) {
        let low = lowmemBytes & ~(PAGE_SIZE - 1)
        if low <= largePage { return (low >> 10, 0) }
        let bigEnd = low & ~(largePage - 1)
        return ((largePage + low - bigEnd) >> 10, (bigEnd - largePage) >> 10)
    }
}
