import XCTest
@testable import MMCore

/// The MMU's one-function data path (`translateData4K`, taken while the data arrays hold only
/// 4K entries) against the general path (`translateProbe` → `walkAndFill`): two machines run the
/// same random accesses and memory system calls, one with the fast path turned off, and must
/// give the same results and end every step with the same counters, TLB entries (slot by slot,
/// so the same LRU victims) and paging-structure-cache entries. Huge pages (THP, madvise mode)
/// come and go, so the path is left and taken again.
final class TranslateData4KTests: XCTestCase {
    func testFastDataPathMatchesTheGeneralPath() throws {
        // Skylake's arrays; then PCIDs on with small arrays (a 6-way STLB of 4 sets and a 2-way L1
        // dTLB), so that sets fill, entries are evicted and other PCIDs' entries stay cached.
        let small = TLBConfig(l1d: .init(entries: 8, ways: 2), stlb: .init(entries: 24, ways: 6), pcid: true)
        for (seed, tlb) in [(UInt64(11), TLBConfig()), (12, TLBConfig()), (13, small)] {
            let fast = try Kernel(config: MachineConfig(ramBytes: 256 << 20, tlb: tlb, thp: .madvise))
            let slow = try Kernel(config: MachineConfig(ramBytes: 256 << 20, tlb: tlb, thp: .madvise))
            let tf = try fast.spawn(ProgramImage(path: "/usr/bin/rand")).get()
            let ts = try slow.spawn(ProgramImage(path: "/usr/bin/rand")).get()
            slow.mmu.dataFastPath = false
            var rng = SplitMix64(seed: seed)
            /// Mapped regions: start, length, and whether writable (a store elsewhere would kill the task).
            var regions: [(UInt64, UInt64, Bool)] = []
            var fastTaken = 0
            /// The outcome of a system call, comparable whatever its success type.
            func errno<T>(_ r: Result<T, Errno>) -> Errno? { if case .failure(let e) = r { return e }; return nil }
            for step in 0..<400 {
                let ctx = "seed \(seed) step \(step)"
                switch rng.next() % 16 {
                case 0, 1:
                    let huge: UInt64 = (rng.next() % 3 + 1) << 21
                    let small: UInt64 = (rng.next() % 64 + 1) << 12
                    let len = rng.next() % 4 == 0 ? huge : small
                    let prot: Prot = rng.next() % 5 == 0 ? .read : [.read, .write]
                    let a = fast.mmap(tf, addr: 0, length: len, prot: prot, flags: [.private, .anonymous])
                    let b = slow.mmap(ts, addr: 0, length: len, prot: prot, flags: [.private, .anonymous])
                    XCTAssertEqual(a, b, ctx)
                    if case .success(let base) = a {
                        regions.append((base.raw, len, prot.contains(.write)))
                        if len >= 2 << 20 && rng.next() % 2 == 0 {
                            XCTAssertEqual(errno(fast.madvise(tf, addr: base.raw, length: len, advice: .hugepage)),
                                           errno(slow.madvise(ts, addr: base.raw, length: len, advice: .hugepage)), ctx)
                        }
                    }
                case 2 where !regions.isEmpty:
                    let (base, len, _) = regions.remove(at: Int(rng.next() % UInt64(regions.count)))
                    XCTAssertEqual(errno(fast.munmap(tf, addr: base, length: len)), errno(slow.munmap(ts, addr: base, length: len)), ctx)
                case 3 where !regions.isEmpty:
                    let i = Int(rng.next() % UInt64(regions.count))
                    let (base, len, _) = regions[i]
                    let prot: Prot = rng.next() % 2 == 0 ? .read : [.read, .write]
                    regions[i].2 = prot.contains(.write)
                    XCTAssertEqual(errno(fast.mprotect(tf, addr: base, length: len, prot: prot)),
                                   errno(slow.mprotect(ts, addr: base, length: len, prot: prot)), ctx)
                case 4 where !regions.isEmpty:
                    let (base, len, _) = regions[Int(rng.next() % UInt64(regions.count))]
                    XCTAssertEqual(errno(fast.madvise(tf, addr: base, length: len, advice: .dontneed)),
                                   errno(slow.madvise(ts, addr: base, length: len, advice: .dontneed)), ctx)
                case 5:
                    // fork and exit: CR3 switches, COW write protection and flushes.
                    if case .success(let cf) = fast.fork(tf), case .success(let cs) = slow.fork(ts) {
                        fast.exitTask(cf, status: 0); slow.exitTask(cs, status: 0)
                    }
                default:
                    guard !regions.isEmpty else { continue }
                    let (base, len, writable) = regions[Int(rng.next() % UInt64(regions.count))]
                    let kind: AccessKind = writable && rng.next() % 3 == 0 ? .write : .read
                    for _ in 0..<32 {
                        let va = VirtAddr(base + (rng.next() % len))
                        if fast.mmu.dataArraysHold4KOnly { fastTaken += 1 }
                        XCTAssertEqual(fast.access(tf, va, kind), slow.access(ts, va, kind), ctx)
                    }
                }
                XCTAssertEqual(fast.mmu.stats, slow.mmu.stats, ctx)
                for ((name, a), (_, b)) in zip(fast.mmu.arrays, slow.mmu.arrays) {
                    XCTAssertEqual(a.entries(), b.entries(), "\(name), \(ctx)")
                }
                for ((name, a), (_, b)) in zip(fast.mmu.walkCaches, slow.mmu.walkCaches) {
                    XCTAssertEqual(a.entries(), b.entries(), "\(name) cache, \(ctx)")
                }
                if fast.mmu.stats != slow.mmu.stats { return }
            }
            XCTAssertTrue(tf.state.isAlive && ts.state.isAlive, "seed \(seed)")
            // Both paths were exercised: the fast one, and the general one while huge entries were cached.
            XCTAssertGreaterThan(fastTaken, 1000, "seed \(seed)")
            XCTAssertGreaterThan(fast.mmu.stats.l1d2MHits + fast.mmu.stats.stlb2MHits, 0, "seed \(seed)")
        }
    }
}
