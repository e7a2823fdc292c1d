/// /proc/PID/smaps and /proc/PID/smaps_rollup.
import MMCore

/// Memory statistics of one VMA (or of all of them for smaps_rollup), as the kernel accumulates
/// them: sizes in bytes, proportional sizes in bytes << `SmapsCounts.pssShift`.
/// Linux: struct mem_size_stats, fs/proc/task_mmu.c
public struct SmapsCounts: Sendable, Equatable {
    /// PSS_SHIFT: proportional sizes are kept in fixed point with 12 fractional bits.
    public static let pssShift: UInt64 = 12

    public var resident: UInt64 = 0
    public var sharedClean: UInt64 = 0
    public var sharedDirty: UInt64 = 0
    public var privateClean: UInt64 = 0
    public var privateDirty: UInt64 = 0
    public var referenced: UInt64 = 0
    public var anonymous: UInt64 = 0
    public var lazyfree: UInt64 = 0
    public var anonymousTHP: UInt64 = 0
    public var shmemTHP: UInt64 = 0
    public var fileTHP: UInt64 = 0
    public var swap: UInt64 = 0
    public var sharedHugetlb: UInt64 = 0
    public var privateHugetlb: UInt64 = 0
    public var ksm: UInt64 = 0
    public var pss: UInt64 = 0
    public var pssAnon: UInt64 = 0
    public var pssFile: UInt64 = 0
    public var pssShmem: UInt64 = 0
    public var pssDirty: UInt64 = 0
    public var pssLocked: UInt64 = 0
    public var swapPss: UInt64 = 0
    public init() {}

    /// Adds another set (smaps_rollup sums the VMAs).
    public mutating func add(_ o: SmapsCounts) {
        resident += o.resident; sharedClean += o.sharedClean; sharedDirty += o.sharedDirty
        privateClean += o.privateClean; privateDirty += o.privateDirty; referenced += o.referenced
        anonymous += o.anonymous; lazyfree += o.lazyfree; anonymousTHP += o.anonymousTHP
        shmemTHP += o.shmemTHP; fileTHP += o.fileTHP; swap += o.swap; sharedHugetlb += o.sharedHugetlb
        privateHugetlb += o.privateHugetlb; ksm += o.ksm; pss += o.pss; pssAnon += o.pssAnon
        pssFile += o.pssFile; pssShmem += o.pssShmem; pssDirty += o.pssDirty; pssLocked += o.pssLocked
        swapPss += o.swapPss
    }

    /// What smaps needs to know about a mapped frame (a folio's head for a huge mapping).
    public struct Frame: Sendable, Equatable {
        public var anon: Bool
        public var swapBacked: Bool
        public var ksm: Bool
        /// PageDirty.
        public var dirty: Bool
        /// PageReferenced.
        public var referenced: Bool
        /// The folio's reference count.
        public var refcount: Int
        /// Mapcount of each base page of the folio (one entry for a base page).
        public var mapcounts: [Int]
        public init(anon: Bool, swapBacked: Bool, ksm: Bool = false, dirty: Bool, referenced: Bool,
                    refcount: Int, mapcounts: [Int]) {
            self.anon = anon; self.swapBacked = swapBacked; self.ksm = ksm; self.dirty = dirty
            self.referenced = referenced; self.refcount = refcount; self.mapcounts = mapcounts
        }
    }

    /// Accumulates one accounting unit into the proportional and clean/dirty counters.
    /// Linux: smaps_page_accumulate(), fs/proc/task_mmu.c
    mutating func accumulate(_ f: Frame, size: UInt64, pss p: UInt64, dirty: Bool, locked: Bool, isPrivate: Bool) {
        pss += p
        if f.anon { pssAnon += p } else if f.swapBacked { pssShmem += p } else { pssFile += p }
        if locked { pssLocked += p }
        if dirty || f.dirty {
            pssDirty += p
            if isPrivate { privateDirty += size } else { sharedDirty += size }
        } else {
            if isPrivate { privateClean += size } else { sharedClean += size }
        }
    }

    /// Accounts a mapped frame: a base page, or a whole folio mapped by one PMD when it has several
    /// mapcounts. A folio with refcount 1 (or a non-present entry) is private and counts whole;
    /// otherwise each base page's share is PAGE_SIZE / mapcount (PSS fixed point, truncated).
    /// Linux: smaps_account(), fs/proc/task_mmu.c
    public mutating func account(_ f: Frame, young: Bool, dirty: Bool, locked: Bool, present: Bool = true) {
        let nr = UInt64(max(1, f.mapcounts.count))
        let size = nr * PAGE_SIZE
        if f.anon {
            anonymous += size
            if !f.swapBacked && !dirty && !f.dirty { lazyfree += size }
        }
        if f.ksm { ksm += size }
        resident += size
        if young || f.referenced { referenced += size }
        if f.refcount == 1 || !present {
            accumulate(f, size: size, pss: size << SmapsCounts.pssShift, dirty: dirty, locked: locked, isPrivate: present)
            return
        }
        for i in 0..<Int(nr) {
            let mapcount = i < f.mapcounts.count ? f.mapcounts[i] : 1
            var p = PAGE_SIZE << SmapsCounts.pssShift
            if mapcount >= 2 { p /= UInt64(mapcount) }
            accumulate(f, size: PAGE_SIZE, pss: p, dirty: dirty, locked: locked, isPrivate: mapcount < 2)
        }
    }

    /// Accounts a swap entry referenced `swapCount` times. Linux: smaps_pte_entry(), fs/proc/task_mmu.c
    public mutating func accountSwap(swapCount: Int) {
        swap += PAGE_SIZE
        if swapCount >= 2 {
            swapPss += (PAGE_SIZE << SmapsCounts.pssShift) / UInt64(swapCount)
        } else {
            swapPss += PAGE_SIZE << SmapsCounts.pssShift
        }
    }
}

/// One VMA's block of /proc/PID/smaps.
public struct SmapsEntry: Sendable, Equatable {
    public var header: MapsLine
    public var kernelPageSize: UInt64 = PAGE_SIZE
    public var mmuPageSize: UInt64 = PAGE_SIZE
    public var counts: SmapsCounts
    public var thpEligible: Bool
    /// Printed only when the CPU and kernel use protection keys (arch_pkeys_enabled()).
    public var protectionKey: Int?
    /// The raw vm_flags.
    public var vmFlags: UInt64

    public init(header: MapsLine, counts: SmapsCounts = SmapsCounts(), thpEligible: Bool = false,
                protectionKey: Int? = nil, vmFlags: UInt64) {
        self.header = header; self.counts = counts; self.thpEligible = thpEligible
        self.protectionKey = protectionKey; self.vmFlags = vmFlags
    }

    /// Size of the mapping in bytes.
    public var size: UInt64 { header.end - header.start }
}

/// The system-wide transparent_hugepage/enabled setting.

/// /proc/PID/smaps: formatter and gatherer.
public enum Smaps {
    /// The two-letter names of vm_flags bits 0...63 on x86-64 (Linux 6.12, Debian config: soft-dirty,
    /// protection keys, user shadow stacks); "" = never printed, "??" = a bit with no name.
    /// Linux: show_smap_vma_flags(), fs/proc/task_mmu.c
    static let mnemonics: [String] = {
        var m = [String](repeating: "??", count: 64)
        let named: [(Int, String)] = [
            (0, "rd"), (1, "wr"), (2, "ex"), (3, "sh"), (4, "mr"), (5, "mw"), (6, "me"), (7, "ms"),
            (8, "gd"), (9, "um"), (10, "pf"), (12, "uw"), (13, "lo"), (14, "io"), (15, "sr"), (16, "rr"),
            (17, "dc"), (18, "de"), (19, "lf"), (20, "ac"), (21, "nr"), (22, "ht"), (23, "sf"), (24, "ar"),
            (25, "wf"), (26, "dd"), (27, "sd"), (28, "mm"), (29, "hg"), (30, "nh"), (31, "mg"),
            // VM_PKEY_BIT0...3 (shown as ProtectionKey instead).
            (32, ""), (33, ""), (34, ""), (35, ""),
            (37, "ss"), (38, "ui"), (40, "dp"), (42, "sl"),
        ]
        for (bit, name) in named { m[bit] = name }
        return m
    }()

    /// The VmFlags line: the name of every set bit in bit order, each followed by a space.
    public static func vmFlagsLine(_ flags: UInt64) -> String {
        var s = "VmFlags: "
        for bit in 0..<64 where flags & (1 << UInt64(bit)) != 0 && !mnemonics[bit].isEmpty {
            s += mnemonics[bit] + " "
        }
        return s + "\n"
    }

    /// The counter lines shared by smaps and smaps_rollup (the Pss_Anon/File/Shmem lines only in rollup).
    /// Linux: __show_smap(), fs/proc/task_mmu.c
    static func counterLines(_ c: SmapsCounts, rollup: Bool) -> String {
        var s = ""
        func kb(_ label: String, _ bytes: UInt64) { s += Fmt.left(label + ":", 16) + Fmt.dec(bytes >> 10, 8) + " kB\n" }
        let shift = SmapsCounts.pssShift
        kb("Rss", c.resident)
        kb("Pss", c.pss >> shift)
        kb("Pss_Dirty", c.pssDirty >> shift)
        if rollup {
            kb("Pss_Anon", c.pssAnon >> shift)
            kb("Pss_File", c.pssFile >> shift)
            kb("Pss_Shmem", c.pssShmem >> shift)
        }
        kb("Shared_Clean", c.sharedClean)
        kb("Shared_Dirty", c.sharedDirty)
        kb("Private_Clean", c.privateClean)
        kb("Private_Dirty", c.privateDirty)
        kb("Referenced", c.referenced)
        kb("Anonymous", c.anonymous)
        kb("KSM", c.ksm)
        kb("LazyFree", c.lazyfree)
        kb("AnonHugePages", c.anonymousTHP)
        kb("ShmemPmdMapped", c.shmemTHP)
        kb("FilePmdMapped", c.fileTHP)
        kb("Shared_Hugetlb", c.sharedHugetlb)
        s += "Private_Hugetlb: " + Fmt.dec(c.privateHugetlb >> 10, 7) + " kB\n"
        kb("Swap", c.swap)
        kb("SwapPss", c.swapPss >> shift)
        kb("Locked", c.pssLocked >> shift)
        return s
    }

    /// One VMA's smaps block. Linux: show_smap(), fs/proc/task_mmu.c
    public static func formatEntry(_ e: SmapsEntry) -> String {
        var s = Maps.formatLine(e.header)
        s += "Size:           " + Fmt.dec(e.size >> 10, 8) + " kB\n"
        s += "KernelPageSize: " + Fmt.dec(e.kernelPageSize >> 10, 8) + " kB\n"
        s += "MMUPageSize:    " + Fmt.dec(e.mmuPageSize >> 10, 8) + " kB\n"
        s += counterLines(e.counts, rollup: false)
        s += "THPeligible:    " + Fmt.dec(e.thpEligible ? 1 : 0, 8) + "\n"
        if let key = e.protectionKey { s += "ProtectionKey:  " + Fmt.dec(key, 8) + "\n" }
        s += vmFlagsLine(e.vmFlags)
        return s
    }

    /// The whole smaps file for these entries.
    public static func format(_ entries: [SmapsEntry]) -> String { entries.map(formatEntry).joined() }

    /// smaps_rollup: a "[rollup]" header spanning [start, end) and the summed counters.
    /// Linux: show_smaps_rollup(), fs/proc/task_mmu.c
    public static func formatRollup(start: UInt64, end: UInt64, _ c: SmapsCounts) -> String {
        let header = MapsLine(start: start, end: end, read: false, write: false, exec: false, mayShare: false,
                              name: "[rollup]")
        return Maps.formatLine(header) + counterLines(c, rollup: true)
    }

    /// Whether THP may back this VMA, as smaps reports it: anonymous private memory only (files on
    /// ext4 and shmem with shmem_enabled=never get none), not VM_NOHUGEPAGE/VM_HUGETLB/VM_PFNMAP, the
    /// system mode allowing it (always, or madvise with VM_HUGEPAGE), and room for one aligned 2 MiB
    /// block inside the VMA. Linux: __thp_vma_allowable_orders() / thp_vma_suitable_order(), mm/huge_memory.c
    public static func thpEligible(_ vma: VMA, mode: THPMode) -> Bool {
        let f = vma.flags
        guard vma.file == nil, vma.special == .none, !f.contains(.mayshare) else { return false }
        if f.contains(.nohugepage) || f.contains(.hugetlb) || f.contains(.pfnmap) || f.contains(.mixedmap) { return false }
        switch mode {
        case .never: return false
        case .madvise: if !f.contains(.hugepage) { return false }
        case .always: break
        }
        let hpage: UInt64 = 2 << 20
        guard vma.length >= hpage else { return false }
        let haddr = (vma.end.raw - hpage) & ~(hpage - 1)
        return haddr >= vma.start.raw
    }

    /// The smaps statistics of one frame, or nil when vm_normal_page() would find no struct page to
    /// count (the shared zero page, PFNs outside RAM).
    static func frame(_ k: Kernel, _ pfn: PFN, pages: Int) -> SmapsCounts.Frame? {
        let mm = k.phys.memMap
        guard pfn.index + pages <= k.phys.frameCount, pfn != k.zeroPFN else { return nil }
        let fl = mm.flags[pfn.index]
        if fl.contains(.zeroPage) { return nil }
        return SmapsCounts.Frame(anon: fl.contains(.anon), swapBacked: fl.contains(.swapbacked),
                                 dirty: fl.contains(.dirty), referenced: fl.contains(.referenced),
                                 refcount: Int(mm.refcount[pfn.index]),
                                 mapcounts: (0..<pages).map { Int(mm.mapcount[pfn.index + $0]) })
    }

    /// Walks the page tables under one VMA (without creating any) and accumulates its statistics:
    /// present PTEs through vm_normal_page(), PMD-mapped huge pages as one folio, and
    /// swap PTEs as swap entries (SwapPss divided by the slot's swap count).
    /// Linux: smap_gather_stats() / smaps_pte_range() / smaps_pte_entry() / smaps_pmd_entry(), fs/proc/task_mmu.c
    public static func gatherCounts(_ k: Kernel, _ mm: MMStruct, _ vma: VMA) -> SmapsCounts {
        var c = SmapsCounts()
        if vma.flags.contains(.pfnmap) { return c }
        if vma.hugetlbObject != 0 {
            // Hugetlb pages are not in Rss; smaps_hugetlb_range() counts them apart.
            let h = k.hugetlbSmaps(mm, vma)
            c.sharedHugetlb = h.shared
            c.privateHugetlb = h.private
            return c
        }
        let locked = vma.flags.contains(.locked)
        let contents = k.phys.contents
        let f = k.phys.paging
        let end = vma.end.raw
        var va = vma.start.raw
        /// The next multiple of 2^shift above `a`, capped at `end` (and safe at the top of the address space).
        func next(_ a: UInt64, _ shift: UInt64) -> UInt64 {
            let (n, o) = (a | ((1 << shift) - 1)).addingReportingOverflow(1)
            return o ? end : min(n, end)
        }
        walk: while va < end {
            var table = mm.pgd
            for level in 0..<f.pmdLevel {
                let e = f.decode(f.readRaw(contents, table, f.index(VirtAddr(va), level: level), level: level), level: level)
                // 1 GiB leaves are not modelled; an entry pointing outside RAM is not followed.
                if !e.isPresent || e.isHuge || e.pfn.index >= k.phys.frameCount {
                    va = next(va, f.shift(level))
                    continue walk
                }
                table = e.pfn
            }
            let pmdEnd = next(va, f.shift(f.pmdLevel))
            let pmd = f.decode(f.readRaw(contents, table, f.index(VirtAddr(va), level: f.pmdLevel), level: f.pmdLevel), level: f.pmdLevel)
            if pmd.isPresent && pmd.isHuge {
                let nr = 512  // HPAGE_PMD_NR
                if let f = frame(k, pmd.pfn, pages: nr) {
                    if f.anon { c.anonymousTHP += 2 << 20 } else if f.swapBacked { c.shmemTHP += 2 << 20 } else { c.fileTHP += 2 << 20 }
                    c.account(f, young: pmd.isAccessed, dirty: pmd.isDirty, locked: locked)
                }
            } else if pmd.isPresent && pmd.pfn.index < k.phys.frameCount {
                let pteTable = pmd.pfn
                var a = va
                while a < pmdEnd {
                    let pte = f.decode(f.readRaw(contents, pteTable, f.index(VirtAddr(a), level: f.pteLevel), level: f.pteLevel), level: f.pteLevel)
                    if pte.isPresent {
                        if let f = frame(k, pte.pfn, pages: 1) {
                            c.account(f, young: pte.isAccessed, dirty: pte.isDirty, locked: locked)
                        }
                    } else if pte.isSwap {
                        c.accountSwap(swapCount: max(1, k.swapCount(pte.swapEntry)))
                    }
                    a += PAGE_SIZE
                }
            }
            va = pmdEnd
        }
        return c
    }

    /// The smaps entries of a task, in address order (empty without an mm).
    public static func gather(_ k: Kernel, _ t: Task, thp: THPMode? = nil) -> [SmapsEntry] {
        guard let mm = t.mm else { return [] }
        let thp = thp ?? k.thp.enabled
        return mm.vmasWithGate.map { vma in
            var e = SmapsEntry(header: Maps.line(of: vma, in: mm), counts: gatherCounts(k, mm, vma),
                               thpEligible: thpEligible(vma, mode: thp), vmFlags: vma.flags.rawValue)
            if let size = k.hugetlbPageSize(vma) { e.kernelPageSize = size; e.mmuPageSize = size }
            return e
        }
    }

    /// The smaps_rollup text of a task (empty without an mm or VMAs). The [vsyscall] gate area is not
    /// part of the rollup, as in Linux.
    public static func rollup(_ k: Kernel, _ t: Task) -> String {
        guard let mm = t.mm else { return "" }
        let vmas = mm.vmas.vmas.filter { $0.special != .vsyscall }
        guard let first = vmas.first, let last = vmas.last else { return "" }
        var c = SmapsCounts()
        for vma in vmas { c.add(gatherCounts(k, mm, vma)) }
        return formatRollup(start: first.start.raw, end: last.end.raw, c)
    }
}
