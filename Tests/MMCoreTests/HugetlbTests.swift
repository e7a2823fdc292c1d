import XCTest
@testable import MMCore

/// hugetlbfs (mm/hugetlb.c): pools, reservations, PMD/PUD leaf faults, SIGBUS, fork COW,
/// munmap/mprotect alignment, the 1 GiB pool and the TLB arrays the leaves fill.
final class HugetlbTests: XCTestCase {
    let rw: Prot = [.read, .write]
    let hugePriv: MapFlags = [.private, .anonymous, .hugetlb]
    let huge1G = MapFlags(rawValue: 30 << MMCore.MAP_HUGE_SHIFT)

    func machine(_ ram: UInt64 = 256 << 20, pool: Int) throws -> (Kernel, Task) {
        let k = try Kernel(config: MachineConfig(ramBytes: ram))
        XCTAssertEqual(k.setMaxHugePages(0, pool), pool)
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        return (k, t)
    }

    func err<T>(_ r: Result<T, Errno>) -> Errno? {
        if case .failure(let e) = r { return e }
        return nil
    }
    func sig<T>(_ r: Result<T, AccessFailure>) -> AccessFailure? {
        if case .failure(let e) = r { return e }
        return nil
    }

    func counts(_ k: Kernel, _ hi: Int = 0) -> [Int] {
        let h = k.hugetlb.hstates[hi]
        return [h.nr, h.free, h.resv, h.surplus]
    }

    func testPoolGrowsFromOrder9BlocksAndShrinks() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let free0 = k.phys.freePageCount
        XCTAssertEqual(k.setMaxHugePages(0, 10), 10)
        XCTAssertEqual(free0 - k.phys.freePageCount, 10 * 512)
        XCTAssertEqual(k.hugetlb.hstates[0].buddyAllocSuccess, 10)
        XCTAssertEqual(counts(k), [10, 10, 0, 0])
        XCTAssertEqual(k.hugetlbTotalPages, 5120)
        // Asking for more than RAM: the pool grows as far as the buddy allocator allows.
        let got = k.setMaxHugePages(0, 1000)
        XCTAssertLessThan(got, 128)
        XCTAssertGreaterThan(got, 10)
        XCTAssertEqual(k.hugetlb.hstates[0].buddyAllocFail, 1)
        XCTAssertEqual(k.hugetlbSysfsRead("hugepages-2048kB", "nr_hugepages"), "\(got)\n")
        XCTAssertEqual(k.hugetlbSysfsWrite("hugepages-2048kB", "nr_hugepages", "3"), nil)
        XCTAssertEqual(counts(k), [3, 3, 0, 0])
        XCTAssertEqual(free0 - k.phys.freePageCount, 3 * 512)
        XCTAssertEqual(k.hugetlbSysfsWrite("hugepages-2048kB", "free_hugepages", "3"), .EACCES)
        XCTAssertEqual(k.hugetlbSysfsWrite("hugepages-2048kB", "nr_hugepages", "x"), .EINVAL)
        XCTAssertEqual(k.hugetlbSysfsWrite("hugepages-1048576kB", "nr_overcommit_hugepages", "1"), .EINVAL)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testMmapReservesFaultConsumesMunmapReturns() throws {
        let (k, t) = try machine(pool: 4)
        let a = try k.mmap(t, addr: 0, length: 5 << 20, prot: rw, flags: hugePriv).get()
        XCTAssertEqual(a.raw & (HPAGE_PMD_SIZE - 1), 0)
        let v = t.mm!.vmas.findVMA(a)!
        XCTAssertEqual(v.length, 6 << 20)   // rounded up to 3 huge pages
        XCTAssertFalse(v.flags.contains(.account))
        XCTAssertEqual(counts(k), [4, 4, 3, 0])
        let flt0 = t.minFlt
        XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
        XCTAssertEqual(t.minFlt - flt0, 2)
        XCTAssertEqual(counts(k), [4, 2, 1, 0])
        XCTAssertEqual(t.mm!.hugetlbUsage, 1024)
        let e = k.phys.readPTE(k.pmdLookup(t.mm!, a)!)
        XCTAssertTrue(e.isHuge && e.isWritable)
        XCTAssertEqual(e.pfn.index % 512, 0)
        XCTAssertFalse(k.phys.memMap.flags[e.pfn.index].contains(.lru))
        XCTAssertEqual(try k.load(t, VirtAddr(a.raw + 0x1234), count: 1).get(), [0])
        XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + 0x1234), [9]).get())
        XCTAssertEqual(k.hugetlbSmaps(t.mm!, v).private, 4 << 20)
        XCTAssertEqual(k.checkInvariants(), [])
        // A hint is aligned up to the huge page size.
        XCTAssertEqual(err(k.mmap(t, addr: 0x4000_1000, length: 2 << 20, prot: rw, flags: hugePriv.union(.noreserve))), nil)
        XCTAssertNotNil(t.mm!.vmas.findVMA(VirtAddr(0x4020_0000)).flatMap { $0.start == VirtAddr(0x4020_0000) ? $0 : nil })
        // Another 4 MiB needs 2 pages; 2 free, 1 of them promised: ENOMEM.
        XCTAssertEqual(err(k.mmap(t, addr: 0, length: 4 << 20, prot: rw, flags: hugePriv)), .ENOMEM)
        // Partial munmap must be huge-page aligned; mprotect too.
        XCTAssertEqual(err(k.munmap(t, addr: a.raw, length: 1 << 20)), .EINVAL)
        XCTAssertEqual(err(k.mprotect(t, addr: a.raw + 0x1000, length: 2 << 20, prot: [.read])), .EINVAL)
        XCTAssertNoThrow(try k.mprotect(t, addr: a.raw, length: 2 << 20, prot: [.read]).get())
        XCTAssertFalse(k.phys.readPTE(k.pmdLookup(t.mm!, a)!).isWritable)
        // Unmapping the unfaulted third page gives its reservation back.
        XCTAssertNoThrow(try k.munmap(t, addr: a.raw + (4 << 20), length: 2 << 20).get())
        XCTAssertEqual(counts(k), [4, 2, 0, 0])
        XCTAssertNoThrow(try k.munmap(t, addr: a.raw, length: 4 << 20).get())
        XCTAssertEqual(counts(k), [4, 4, 0, 0])
        XCTAssertEqual(t.mm!.hugetlbUsage, 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testMadviseDontneedAndMremapOnHugetlb() throws {
        let (k, t) = try machine(pool: 2)
        let a = try k.mmap(t, addr: 0, length: 4 << 20, prot: rw, flags: hugePriv).get()
        XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
        XCTAssertEqual(counts(k), [2, 0, 0, 0])
        XCTAssertEqual(err(k.madvise(t, addr: a.raw + 0x1000, length: 0x1000, advice: .dontneed)), .EINVAL)
        // The end is rounded down: 3 MiB from the start frees only the first page.
        XCTAssertNoThrow(try k.madvise(t, addr: a.raw, length: 3 << 20, advice: .dontneed).get())
        XCTAssertEqual(counts(k), [2, 1, 0, 0])
        XCTAssertEqual(t.mm!.hugetlbUsage, 512)
        XCTAssertEqual(err(k.madvise(t, addr: a.raw, length: 2 << 20, advice: .free)), .EINVAL)
        XCTAssertEqual(err(k.mremap(t, oldAddr: a.raw, oldSize: 4 << 20, newSize: 8 << 20, flags: .maymove, newAddr: 0)), .EINVAL)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testNoreserveFaultsRaiseSigbusWhenThePoolIsEmpty() throws {
        let (k, t) = try machine(pool: 1)
        let a = try k.mmap(t, addr: 0, length: 4 << 20, prot: rw, flags: hugePriv.union(.noreserve)).get()
        XCTAssertEqual(counts(k), [1, 1, 0, 0])
        XCTAssertNoThrow(try k.store(t, a, [1]).get())
        XCTAssertEqual(counts(k), [1, 0, 0, 0])
        XCTAssertEqual(sig(k.store(t, VirtAddr(a.raw + (2 << 20)), [1])), .signal(.SIGBUS, VirtAddr(a.raw + (2 << 20))))
        XCTAssertEqual(counts(k), [1, 1, 0, 0])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testOvercommitAllocatesSurplusPagesAndFreesThem() throws {
        let (k, t) = try machine(pool: 1)
        XCTAssertEqual(err(k.mmap(t, addr: 0, length: 4 << 20, prot: rw, flags: hugePriv)), .ENOMEM)
        k.hugetlb.hstates[0].nrOvercommit = 1
        let a = try k.mmap(t, addr: 0, length: 4 << 20, prot: rw, flags: hugePriv).get()
        XCTAssertEqual(counts(k), [2, 2, 2, 1])
        XCTAssertNoThrow(try k.touch(t, a, length: 4 << 20, .write).get())
        XCTAssertEqual(counts(k), [2, 0, 0, 1])
        XCTAssertNoThrow(try k.munmap(t, addr: a.raw, length: 4 << 20).get())
        XCTAssertEqual(counts(k), [1, 1, 0, 0])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testForkSharesPrivatePagesReadOnlyAndCopiesOnWrite() throws {
        let (k, parent) = try machine(pool: 4)
        let a = try k.mmap(parent, addr: 0, length: 2 << 20, prot: rw, flags: hugePriv).get()
        XCTAssertNoThrow(try k.store(parent, VirtAddr(a.raw + 8), [0x55]).get())
        let child = try k.fork(parent).get()
        XCTAssertEqual(counts(k), [4, 3, 0, 0])
        let v = child.mm!.vmas.findVMA(a)!
        XCTAssertEqual(k.hugetlbSmaps(child.mm!, v).shared, 2 << 20)
        XCTAssertFalse(k.phys.readPTE(k.pmdLookup(parent.mm!, a)!).isWritable)
        XCTAssertEqual(try k.load(child, VirtAddr(a.raw + 8), count: 1).get(), [0x55])
        // The child's write copies the whole 2 MiB page from the pool (hugetlb_wp).
        XCTAssertNoThrow(try k.store(child, VirtAddr(a.raw + 8), [0x66]).get())
        XCTAssertEqual(counts(k), [4, 2, 0, 0])
        XCTAssertEqual(try k.load(parent, VirtAddr(a.raw + 8), count: 1).get(), [0x55])
        // The parent, alone again, reuses its page.
        XCTAssertNoThrow(try k.store(parent, VirtAddr(a.raw + 8), [0x77]).get())
        XCTAssertEqual(counts(k), [4, 2, 0, 0])
        XCTAssertEqual(try k.load(child, VirtAddr(a.raw + 8), count: 1).get(), [0x66])
        XCTAssertEqual(k.checkInvariants(), [])
        k.exitTask(child, status: 0)
        XCTAssertEqual(counts(k), [4, 3, 0, 0])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testSharedMappingStaysSharedAcrossFork() throws {
        let (k, parent) = try machine(pool: 2)
        let a = try k.mmap(parent, addr: 0, length: 2 << 20, prot: rw, flags: [.shared, .anonymous, .hugetlb]).get()
        XCTAssertEqual(counts(k), [2, 2, 1, 0])
        XCTAssertNoThrow(try k.store(parent, a, [1]).get())
        let child = try k.fork(parent).get()
        XCTAssertNoThrow(try k.store(child, a, [2]).get())
        XCTAssertEqual(try k.load(parent, a, count: 1).get(), [2])
        XCTAssertEqual(counts(k), [2, 1, 0, 0])
        XCTAssertNoThrow(try k.munmap(parent, addr: a.raw, length: 2 << 20).get())
        XCTAssertEqual(counts(k), [2, 1, 0, 0])
        k.exitTask(child, status: 0)
        XCTAssertEqual(counts(k), [2, 2, 0, 0])
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testGigantic1GPageMapsAPUDLeafAndFillsThe1GTLB() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 4 << 30))
        XCTAssertEqual(k.hugetlbSysfsWrite("hugepages-1048576kB", "nr_hugepages", "1"), nil)
        XCTAssertEqual(counts(k, 1), [1, 1, 0, 0])
        let t = try k.spawn(ProgramImage(path: "/bin/p")).get()
        XCTAssertEqual(err(k.mmap(t, addr: 0, length: 2 << 30, prot: rw, flags: hugePriv.union(huge1G))), .ENOMEM)
        let a = try k.mmap(t, addr: 0, length: 1 << 30, prot: rw, flags: hugePriv.union(huge1G)).get()
        XCTAssertEqual(a.raw & ((1 << 30) - 1), 0)
        XCTAssertEqual(counts(k, 1), [1, 1, 1, 0])
        let s0 = k.mmu.stats
        XCTAssertNoThrow(try k.store(t, a, [1]).get())
        XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + (512 << 20)), [2]).get())
        XCTAssertNoThrow(try k.store(t, VirtAddr(a.raw + (1 << 30) - 8), [3]).get())
        XCTAssertEqual(counts(k, 1), [1, 0, 0, 0])
        XCTAssertEqual(t.mm!.hugetlbUsage, 262144)
        // One fault, then the other two accesses hit the 1G dTLB array.
        XCTAssertEqual(k.mmu.stats.l1d1GHits - s0.l1d1GHits, 2)
        XCTAssertEqual(k.mmu.stats.l1d2MHits - s0.l1d2MHits, 0)
        let pud = PTE(raw: k.phys.contents.readWord(t.mm!.pgd, PageTableLevel.pgd.index(of: a)))
        let leaf = PTE(raw: k.phys.contents.readWord(pud.pfn, PageTableLevel.pud.index(of: a)))
        XCTAssertTrue(leaf.isHuge && leaf.isPresent)
        XCTAssertEqual(leaf.pfn.index % 262144, 0)
        XCTAssertEqual(k.hugetlbPageSize(t.mm!.vmas.findVMA(a)!), 1 << 30)
        XCTAssertEqual(k.checkInvariants(), [])
        XCTAssertNoThrow(try k.munmap(t, addr: a.raw, length: 1 << 30).get())
        XCTAssertEqual(k.setMaxHugePages(1, 0), 0)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func test2MTranslationsFillThe2MTLB() throws {
        let (k, t) = try machine(pool: 1)
        let a = try k.mmap(t, addr: 0, length: 2 << 20, prot: rw, flags: hugePriv).get()
        XCTAssertNoThrow(try k.store(t, a, [1]).get())
        let s0 = k.mmu.stats
        for i in 0..<8 { XCTAssertNoThrow(try k.load(t, VirtAddr(a.raw + UInt64(i) * 0x40000), count: 1).get()) }
        XCTAssertEqual(k.mmu.stats.l1d2MHits - s0.l1d2MHits, 8)
        XCTAssertEqual(k.mmu.stats.l1dMisses - s0.l1dMisses, 0)
    }

    /// Random hugetlb mmaps (private/shared, reserved or not), touches, munmaps (aligned or not),
    /// forks, exits and pool resizes keep the pool accounting and every invariant.
    func testRandomHugetlbOpsKeepInvariants() throws {
        var maxInUse = 0, forks = 0
        for seed in UInt64(1)...6 {
            var rng = SplitMix64(seed: seed)
            let k = try Kernel(config: MachineConfig(ramBytes: 128 << 20))
            k.setMaxHugePages(0, 8)
            k.hugetlb.hstates[0].nrOvercommit = Int(seed % 3)
            var tasks = [try k.spawn(ProgramImage(path: "/bin/p")).get()]
            var maps: [(Task, VirtAddr, UInt64)] = []
            for step in 0..<80 {
                let ctx = "seed \(seed) step \(step)"
                tasks = tasks.filter { $0.state.isAlive && $0.mm != nil }
                if tasks.isEmpty { tasks = [try k.spawn(ProgramImage(path: "/bin/p")).get()] }
                maps = maps.filter { m in m.0.state.isAlive && m.0.mm != nil }
                let t = tasks[Int(rng.next() % UInt64(tasks.count))]
                switch rng.next() % 9 {
                case 0, 1:
                    var f: MapFlags = rng.next() % 2 == 0 ? hugePriv : [.shared, .anonymous, .hugetlb]
                    if rng.next() % 3 == 0 { f.insert(.noreserve) }
                    let len = (rng.next() % 3 + 1) << 21
                    if case .success(let a) = k.mmap(t, addr: 0, length: len, prot: rw, flags: f) { maps.append((t, a, len)) }
                case 2 where !maps.isEmpty:
                    let m = maps[Int(rng.next() % UInt64(maps.count))]
                    _ = k.touch(m.0, m.1, length: m.2, rng.next() % 2 == 0 ? .write : .read)
                case 3 where !maps.isEmpty:
                    let i = Int(rng.next() % UInt64(maps.count))
                    let m = maps[i]
                    let len: UInt64 = rng.next() % 4 == 0 ? 0x1000 : 2 << 20
                    let r = k.munmap(m.0, addr: m.1.raw, length: len)
                    XCTAssertEqual(err(r), len == 0x1000 ? .EINVAL : nil, ctx)
                    if len != 0x1000 {
                        maps.remove(at: i)
                        if m.2 > len { maps.append((m.0, VirtAddr(m.1.raw + len), m.2 - len)) }
                    }
                case 4 where tasks.count < 4:
                    if case .success(let c) = k.fork(t) {
                        tasks.append(c)
                        forks += 1
                        for m in maps where m.0 === t { maps.append((c, m.1, m.2)) }
                    }
                case 5 where tasks.count > 1:
                    k.exitTask(t, status: 0)
                case 6 where !maps.isEmpty:
                    let m = maps[Int(rng.next() % UInt64(maps.count))]
                    XCTAssertEqual(err(k.mprotect(m.0, addr: m.1.raw, length: 2 << 20, prot: rng.next() % 2 == 0 ? [.read] : rw)), nil, ctx)
                case 7 where !maps.isEmpty:
                    let m = maps[Int(rng.next() % UInt64(maps.count))]
                    XCTAssertEqual(err(k.madvise(m.0, addr: m.1.raw, length: m.2, advice: .dontneed)), nil, ctx)
                default:
                    k.setMaxHugePages(0, Int(rng.next() % 12))
                }
                XCTAssertEqual(k.checkInvariants(), [], ctx)
                maxInUse = max(maxInUse, k.hugetlb.pageH.count)
            }
            for t in tasks where t.state.isAlive { k.exitTask(t, status: 0) }
            let h = k.hugetlb.hstates[0]
            XCTAssertEqual(h.resv, 0, "seed \(seed)")
            XCTAssertEqual(h.surplus, 0, "seed \(seed)")
            XCTAssertEqual(h.free, h.nr, "seed \(seed)")
            XCTAssertEqual(k.checkInvariants(), [], "seed \(seed)")
        }
        // The run did map pool pages and fork with them.
        XCTAssertGreaterThanOrEqual(maxInUse, 4)
        XCTAssertGreaterThan(forks, 3)
    }
}
