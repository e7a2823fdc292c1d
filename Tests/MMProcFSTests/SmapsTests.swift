import XCTest
import MMCore
@testable import MMProcFS

final class SmapsTests: XCTestCase {
    static let start: UInt64 = 0x7f00_0000_0000

    /// The counts of a 24 KiB anonymous VMA: a private dirty page, a private clean page, a page also
    /// mapped by another process (mapcount 2), the zero page (not counted), a swap entry and a hole.
    static func sampleCounts(locked: Bool = false) -> SmapsCounts {
        var c = SmapsCounts()
        let anon = { (refcount: Int, mapcount: Int) in
            SmapsCounts.Frame(anon: true, swapBacked: true, dirty: false, referenced: false,
                              refcount: refcount, mapcounts: [mapcount])
        }
        c.account(anon(1, 1), young: true, dirty: true, locked: locked)
        c.account(anon(1, 1), young: true, dirty: false, locked: locked)
        c.account(anon(2, 2), young: false, dirty: false, locked: locked)
        c.accountSwap(swapCount: 1)
        return c
    }

    static let expectedBlock = [
        "7f0000000000-7f0000006000 rw-p 00000000 00:00 0 ",
        "Size:                 24 kB",
        "KernelPageSize:        4 kB",
        "MMUPageSize:           4 kB",
        "Rss:                  12 kB",
        "Pss:                  10 kB",
        "Pss_Dirty:             4 kB",
        "Shared_Clean:          4 kB",
        "Shared_Dirty:          0 kB",
        "Private_Clean:         4 kB",
        "Private_Dirty:         4 kB",
        "Referenced:            8 kB",
        "Anonymous:            12 kB",
        "KSM:                   0 kB",
        "LazyFree:              0 kB",
        "AnonHugePages:         0 kB",
        "ShmemPmdMapped:        0 kB",
        "FilePmdMapped:         0 kB",
        "Shared_Hugetlb:        0 kB",
        "Private_Hugetlb:       0 kB",
        "Swap:                  4 kB",
        "SwapPss:               4 kB",
        "Locked:                0 kB",
        "THPeligible:           0",
        "VmFlags: rd wr mr mw me ac ",
    ]

    func testFormatterIsByteExact() {
        let header = MapsLine(start: Self.start, end: Self.start + 0x6000, read: true, write: true, exec: false, mayShare: false)
        let e = SmapsEntry(header: header, counts: Self.sampleCounts(), vmFlags: anonRW.rawValue)
        XCTAssertEqual(Smaps.formatEntry(e), text(Self.expectedBlock))
    }

    func testPssFixedPoint() {
        var c = SmapsCounts()
        let shared3 = SmapsCounts.Frame(anon: false, swapBacked: false, dirty: false, referenced: false,
                                        refcount: 3, mapcounts: [3])
        for _ in 0..<3 { c.account(shared3, young: false, dirty: false, locked: true) }
        // Three pages each shared by three processes: 3 * (4096 << 12) / 3 is exactly 4096 bytes.
        XCTAssertEqual(c.pss, (4096 << 12) / 3 * 3)
        XCTAssertEqual(c.pss >> SmapsCounts.pssShift, 4095)   // truncated per page, as in Linux
        XCTAssertEqual(c.pssLocked, c.pss)
        XCTAssertEqual(c.sharedClean, 3 * 4096)
        XCTAssertEqual(c.pssFile, c.pss)
        // Refcount 2 but mapcount 1 (e.g. also in the swap cache): still private, whole page.
        var d = SmapsCounts()
        d.account(SmapsCounts.Frame(anon: true, swapBacked: true, dirty: true, referenced: false, refcount: 2,
                                    mapcounts: [1]), young: false, dirty: false, locked: false)
        XCTAssertEqual(d.privateDirty, 4096)
        XCTAssertEqual(d.pss, 4096 << 12)
        // A clean anonymous page without PG_swapbacked is lazily freeable (MADV_FREE).
        var lazy = SmapsCounts()
        lazy.account(SmapsCounts.Frame(anon: true, swapBacked: false, dirty: false, referenced: true, refcount: 1,
                                       mapcounts: [1]), young: false, dirty: false, locked: false)
        XCTAssertEqual(lazy.lazyfree, 4096)
        XCTAssertEqual(lazy.referenced, 4096)
        // A swap slot shared by 3: SwapPss is a third.
        var s = SmapsCounts()
        s.accountSwap(swapCount: 3)
        XCTAssertEqual(s.swapPss, (4096 << 12) / 3)
    }

    func testVmFlagsInBitOrder() {
        let stack: VMFlags = [.read, .write, .mayread, .maywrite, .mayexec, .growsdown, .account, .softdirty]
        XCTAssertEqual(Smaps.vmFlagsLine(stack.rawValue), "VmFlags: rd wr mr mw me gd ac sd \n")
        let everything: VMFlags = [.shared, .mayshare, .pfnmap, .locked, .io, .seqRead, .randRead, .dontcopy,
                                   .dontexpand, .lockonfault, .noreserve, .hugetlb, .wipeonfork, .dontdump,
                                   .mixedmap, .hugepage, .nohugepage, .mergeable, .exec]
        XCTAssertEqual(Smaps.vmFlagsLine(everything.rawValue),
                       "VmFlags: ex sh ms pf lo io sr rr dc de lf nr ht wf dd mm hg nh mg \n")
        // Protection-key bits print nothing; unnamed bits print "??"; shadow stack and sealing have names.
        XCTAssertEqual(Smaps.vmFlagsLine(1 << 32 | 1 << 11 | 1 << 37 | 1 << 42), "VmFlags: ?? ss sl \n")
    }

    func testRollupAndProtectionKey() {
        var header = MapsLine(start: 0x1000, end: 0x2000, read: true, write: false, exec: false, mayShare: false)
        header.name = "/x"
        let e = SmapsEntry(header: header, thpEligible: true, protectionKey: 0, vmFlags: VMFlags.read.rawValue)
        let out = Smaps.formatEntry(e)
        XCTAssertTrue(out.hasSuffix("Locked:                0 kB\nTHPeligible:           1\nProtectionKey:         0\nVmFlags: rd \n"))
        let rollup = Smaps.formatRollup(start: 0x555555554000, end: 0x7ffffffff000, Self.sampleCounts())
        XCTAssertEqual(rollup, text([
            "555555554000-7ffffffff000 ---p 00000000 00:00 0                          [rollup]",
            "Rss:                  12 kB",
            "Pss:                  10 kB",
            "Pss_Dirty:             4 kB",
            "Pss_Anon:             10 kB",
            "Pss_File:              0 kB",
            "Pss_Shmem:             0 kB",
            "Shared_Clean:          4 kB",
            "Shared_Dirty:          0 kB",
            "Private_Clean:         4 kB",
            "Private_Dirty:         4 kB",
            "Referenced:            8 kB",
            "Anonymous:            12 kB",
            "KSM:                   0 kB",
            "LazyFree:              0 kB",
            "AnonHugePages:         0 kB",
            "ShmemPmdMapped:        0 kB",
            "FilePmdMapped:         0 kB",
            "Shared_Hugetlb:        0 kB",
            "Private_Hugetlb:       0 kB",
            "Swap:                  4 kB",
            "SwapPss:               4 kB",
            "Locked:                0 kB",
        ]))
    }

    func testThpEligibility() {
        func vma(_ s: UInt64, _ e: UInt64, _ f: VMFlags = anonRW, file: MappedFile? = nil) -> VMA {
            VMA(start: VirtAddr(s), end: VirtAddr(e), flags: f, file: file)
        }
        let m2: UInt64 = 2 << 20
        XCTAssertTrue(Smaps.thpEligible(vma(0x7f0000000000, 0x7f0000000000 + m2), mode: .always))
        XCTAssertFalse(Smaps.thpEligible(vma(0x7f0000001000, 0x7f0000001000 + m2), mode: .always)) // no aligned 2 MiB inside
        XCTAssertTrue(Smaps.thpEligible(vma(0x7f0000001000, 0x7f0000001000 + 2 * m2), mode: .always))
        XCTAssertFalse(Smaps.thpEligible(vma(0x7f0000000000, 0x7f0000000000 + m2), mode: .madvise))
        XCTAssertTrue(Smaps.thpEligible(vma(0x7f0000000000, 0x7f0000000000 + m2, anonRW.union(.hugepage)), mode: .madvise))
        XCTAssertFalse(Smaps.thpEligible(vma(0x7f0000000000, 0x7f0000000000 + m2, anonRW.union(.nohugepage)), mode: .always))
        XCTAssertFalse(Smaps.thpEligible(vma(0x7f0000000000, 0x7f0000000000 + m2), mode: .never))
        XCTAssertFalse(Smaps.thpEligible(vma(0x7f0000000000, 0x7f0000000000 + m2, file: MappedFile(path: "/f")), mode: .always))
    }

    /// Builds the sample VMA's pages by hand and checks the walk finds what the formatter test expects.
    func testGatherWalksThePageTables() throws {
        let k = try bootedKernel()
        let mm = newMM(k)
        let s = Self.start
        mm.vmas.insert(VMA(start: VirtAddr(s), end: VirtAddr(s + 0x6000), flags: anonRW))
        func anonPage(refcount: Int32, mapcount: Int32) -> PFN {
            let p = k.phys.allocPages(order: 0, gfp: [.zero])!
            k.phys.memMap.refcount[p.index] = refcount
            k.phys.memMap.mapcount[p.index] = mapcount
            k.phys.memMap.flags[p.index].insert([.anon, .swapbacked, .uptodate, .lru])
            return p
        }
        mapPTE(k, mm, s, PTE(pfn: anonPage(refcount: 1, mapcount: 1), flags: userRW | PTE.accessed | PTE.dirty))
        mapPTE(k, mm, s + 0x1000, PTE(pfn: anonPage(refcount: 1, mapcount: 1), flags: userRW | PTE.accessed))
        mapPTE(k, mm, s + 0x2000, PTE(pfn: anonPage(refcount: 2, mapcount: 2), flags: PTE.present | PTE.user))
        mapPTE(k, mm, s + 0x3000, PTE(pfn: k.zeroPFN, flags: PTE.present | PTE.user | PTE.accessed))
        mapPTE(k, mm, s + 0x4000, PTE(raw: 0x0000_0000_0001_2340))   // not present: a swap entry
        let t = k.addTask(comm: "demo", mm: mm)
        XCTAssertEqual(Smaps.format(Array(Smaps.gather(k, t, thp: .always).prefix(1))), text(Self.expectedBlock))
        XCTAssertTrue(ProcFS.smaps(k, t).hasSuffix("VmFlags: ex \n"), "the [vsyscall] gate page ends smaps")
        XCTAssertEqual(Smaps.gather(k, t).first?.counts, Self.sampleCounts())

        // VM_LOCKED: Locked equals Pss.
        mm.vmas.replace(at: 0, with: VMA(start: VirtAddr(s), end: VirtAddr(s + 0x6000), flags: anonRW.union(.locked)))
        XCTAssertEqual(Smaps.gather(k, t).first?.counts, Self.sampleCounts(locked: true))
        XCTAssertTrue(ProcFS.smaps(k, t).contains("\nLocked:               10 kB\n"))
        XCTAssertTrue(ProcFS.smapsRollup(k, t).contains("\nLocked:               10 kB\n"))
    }

    func testGatherCountsAPMDMappedHugePage() throws {
        let k = try bootedKernel()
        let mm = newMM(k)
        let s: UInt64 = 0x7f00_0020_0000
        mm.vmas.insert(VMA(start: VirtAddr(s), end: VirtAddr(s + (2 << 20)), flags: anonRW))
        // Create the upper levels, then turn the PMD entry into a 2 MiB leaf.
        mapPTE(k, mm, s, PTE(raw: 0))
        let c = k.phys.contents
        let pud = PTE(raw: c.readWord(mm.pgd, PageTableLevel.pgd.index(of: VirtAddr(s)))).pfn
        let pmdTable = PTE(raw: c.readWord(pud, PageTableLevel.pud.index(of: VirtAddr(s)))).pfn
        let head = PFN(0x40000)
        k.phys.memMap.refcount[head.index] = 1
        for i in 0..<512 { k.phys.memMap.mapcount[head.index + i] = 1 }
        k.phys.memMap.flags[head.index].insert([.anon, .swapbacked, .head])
        k.phys.contents.writeWord(pmdTable, PageTableLevel.pmd.index(of: VirtAddr(s)),
                                  PTE(pfn: head, flags: userRW | PTE.pse | PTE.accessed | PTE.dirty).raw)
        let t = k.addTask(comm: "thp", mm: mm)
        let e = try XCTUnwrap(Smaps.gather(k, t, thp: .always).first)
        XCTAssertEqual(e.counts.anonymousTHP, 2 << 20)
        XCTAssertEqual(e.counts.resident, 2 << 20)
        XCTAssertEqual(e.counts.privateDirty, 2 << 20)
        XCTAssertEqual(e.counts.pss >> SmapsCounts.pssShift, 2 << 20)
        XCTAssertTrue(e.thpEligible)
        XCTAssertTrue(ProcFS.smaps(k, t).contains("\nAnonHugePages:      2048 kB\n"))
    }
}
