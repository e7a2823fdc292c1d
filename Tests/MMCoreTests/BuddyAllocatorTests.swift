import XCTest
@testable import MMCore

extension SplitMix64 {
    /// A value in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Buddy split and merge, zone fallback, watermark refusal, migrate-type fallback, bad frees and a
/// long random alloc/free run. Boot layouts as derived in PageAllocBootTests.
final class BuddyAllocatorTests: XCTestCase {
    private func boot(_ bytes: UInt64) throws -> PhysicalMemory {
        try PhysicalMemory(config: PhysicalMemoryConfig(ramBytes: bytes))
    }
    private func buddyinfo(_ z: Zone) -> [Int] { (0..<NR_PAGE_ORDERS).map { z.nrFree(order: $0) } }

    /// 8 GiB: Normal holds only max-order blocks (992 of them, ascending, freed to the tail at
    /// boot). A movable order-0 allocation takes the head block 0x100000 and splits it 10 times:
    /// order 10 loses one block, each of orders 9...0 gains one (the upper halves 0x100200,
    /// 0x100100, ..., 0x100001). Freeing it merges all the way back.
    func testSplitFromMaxOrderAndMergeBack() throws {
        let m = try boot(8 << 30)
        let normal = m.zones[2]
        let before = buddyinfo(normal)
        XCTAssertEqual(before, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 992])
        let p = try XCTUnwrap(m.allocPages(order: 0, gfp: .highuserMovable))
        XCTAssertEqual(p, PFN(index: 0x100000))
        XCTAssertEqual(buddyinfo(normal), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 991])
        XCTAssertEqual(normal.freePages, 1015808 - 1)
        XCTAssertEqual(m.memMap.refcount[p.index], 1)
        XCTAssertFalse(m.memMap.flags[p.index].contains(.buddy))
        // The upper halves head their free blocks: 0x100001 (order 0) ... 0x100200 (order 9).
        for o in 0..<10 {
            XCTAssertEqual(m.memMap.order[0x100000 + (1 << o)], UInt8(o))
            XCTAssertTrue(m.memMap.flags[0x100000 + (1 << o)].contains(.buddy))
        }
        XCTAssertEqual(m.invariantViolations(), [])
        m.freePages(p, order: 0)
        XCTAssertEqual(buddyinfo(normal), before)
        XCTAssertEqual(normal.freePages, 1015808)
        XCTAssertEqual(m.zones[2].freeHead[10 * MIGRATE_TYPES + MigrateType.movable.rawValue], 0x100000)
        XCTAssertEqual(m.invariantViolations(), [])
    }

    /// 2 GiB: DMA32's smallest movable block of order ≥ 6 is the order-8 block at 12032.
    /// Allocating order 6 splits it: order 8 −1, order 7 +1 (12160), order 6 +1 (12096).
    /// Freeing merges 12032+12096 → order 7, + 12160 → order 8; its order-8 buddy 12288 heads an
    /// order-10 block, so merging stops: buddyinfo is back to the boot state.
    func testSplitMidOrderAndMerge() throws {
        let m = try boot(2 << 30)
        let z = m.zones[1]
        let before = buddyinfo(z)
        let p = try XCTUnwrap(m.allocPages(order: 6, gfp: [.highuserMovable, .comp]))
        XCTAssertEqual(p, PFN(index: 12032))
        var expected = before
        expected[8] -= 1; expected[7] += 1; expected[6] += 1
        XCTAssertEqual(buddyinfo(z), expected)
        XCTAssertEqual(z.nrFree(order: 7, migrateType: .movable), 1)
        XCTAssertTrue(m.memMap.flags[12160].contains(.buddy))
        XCTAssertTrue(m.memMap.flags[12096].contains(.buddy))
        // __GFP_COMP: PageHead with the folio order; put_page frees the whole block.
        XCTAssertTrue(m.memMap.flags[12032].contains(.head))
        XCTAssertEqual(m.allocatedPages, 64)
        XCTAssertEqual(m.invariantViolations(), [])
        XCTAssertTrue(m.putPage(p))
        XCTAssertEqual(buddyinfo(z), before)
        XCTAssertEqual(m.allocatedPages, 0)
        XCTAssertEqual(m.invariantViolations(), [])
    }

    /// __GFP_ZERO clears what the frames held.
    func testGFPZeroClearsContents() throws {
        let m = try boot(64 << 20)
        let p = try XCTUnwrap(m.allocPages(order: 1, gfp: .kernel))
        m.contents.writeWord(p, 7, 0xDEAD)
        m.contents.writeWord(p.advanced(by: 1), 3, 0xBEEF)
        m.freePages(p, order: 1)
        let q = try XCTUnwrap(m.allocPages(order: 1, gfp: [.kernel, .zero]))
        XCTAssertEqual(q, p)
        XCTAssertEqual(m.contents.readWord(q, 7), 0)
        XCTAssertEqual(m.contents.readWord(q.advanced(by: 1), 3), 0)
    }

    /// 64 MiB (DMA32 low 115 / min 92, DMA low 106 / min 85 + lowmem_reserve 16 against GFP_KERNEL).
    /// Fast path (low watermark): DMA32 serves while free > 115, so the first DMA page comes when
    /// DMA32 is at exactly 115; DMA then serves while free > 106 + 16 = 122. The slow path (min
    /// watermark) goes on to DMA32 = 92 and DMA = 85 + 16 = 101, then allocation fails.
    func testZoneFallbackAndWatermarkRefusal() throws {
        let m = try boot(64 << 20)
        let dma = m.zones[0], dma32 = m.zones[1]
        var held: [PFN] = []
        var firstDMAAt: Int?
        while let p = m.allocPages(order: 0, gfp: .kernel) {
            held.append(p)
            if firstDMAAt == nil && p.index < 4096 {
                firstDMAAt = dma32.freePages
                XCTAssertEqual(dma.freePages, 3839)
            }
        }
        XCTAssertEqual(firstDMAAt, 115)
        XCTAssertEqual(dma32.freePages, 92)
        XCTAssertEqual(dma.freePages, 101)
        XCTAssertEqual(held.count, 7983 - 92 - 101)
        // Checking against low alone refuses; against min with __GFP_HIGH (min/2 = 46, non-blocking
        // another quarter off: 46 − 11 = 35) it passes.
        XCTAssertFalse(m.zoneWatermarkOK(dma32, order: 0, level: .low, highestZone: .normal))
        XCTAssertTrue(m.zoneWatermarkOK(dma32, order: 0, mark: dma32.watermarkMin, highestZone: .normal,
                                        allocFlags: m.gfpToAllocFlags(.atomic, order: 0)))
        // GFP_ATOMIC digs down to DMA32 = 35 and DMA = (85 − 42 − 10 = 33) + 16 = 49.
        while let p = m.allocPages(order: 0, gfp: .atomic) { held.append(p) }
        XCTAssertEqual(dma32.freePages, 35)
        XCTAssertEqual(dma.freePages, 49)
        // __GFP_MEMALLOC ignores watermarks entirely.
        let emergency = m.allocPages(order: 0, gfp: [.kernel, .memalloc])
        XCTAssertNotNil(emergency)
        XCTAssertEqual(dma32.freePages, 34)
        XCTAssertEqual(m.invariantViolations(), [])
        if let e = emergency { held.append(e) }
        for p in held { m.freePages(p, order: 0) }
        XCTAssertEqual(m.freePageCount, 7983)
        XCTAssertEqual(buddyinfo(dma32), [1, 1, 1, 1, 0, 1, 0, 0, 2, 1, 3])
        XCTAssertEqual(m.invariantViolations(), [])
    }

    /// 8 GiB: movable order-10 allocations come from Normal while free − 1023 > low 2431, i.e.
    /// 989 of them (free 1015808 − 989 × 1024 = 3072 after); the next comes from DMA32, and a
    /// GFP_DMA32 request never touches Normal.
    func testFallbackFromNormalToDMA32() throws {
        let m = try boot(8 << 30)
        var fromNormal = 0
        var next: PFN?
        while let p = m.allocPages(order: 10, gfp: .highuserMovable) {
            if p.index >= 0x100000 { fromNormal += 1 } else { next = p; break }
        }
        XCTAssertEqual(fromNormal, 989)
        XCTAssertEqual(m.zones[2].freePages, 3072)
        XCTAssertEqual(m.zone(of: try XCTUnwrap(next))?.type, .dma32)
        let d = try XCTUnwrap(m.allocPages(order: 0, gfp: .gfpDMA32))
        XCTAssertLessThan(d.index, 0x100000)
        let dd = try XCTUnwrap(m.allocPages(order: 0, gfp: .gfpDMA))
        XCTAssertLessThan(dd.index, 4096)
        XCTAssertEqual(m.invariantViolations(), [])
    }

    /// An unmovable request on all-Movable memory claims the largest Movable block (order 10, at
    /// 12288 in DMA32 of 64 MiB): both of its pageblocks turn Unmovable and the split remainders
    /// go on the Unmovable lists, one block of each order 0...9.
    func testMigrateTypeClaimWholeBlock() throws {
        let m = try boot(64 << 20)
        let z = m.zones[1]
        let p = try XCTUnwrap(m.allocPages(order: 0, gfp: .kernel))
        XCTAssertEqual(p, PFN(index: 12288))
        XCTAssertEqual(m.pageblockMigrateType(of: PFN(index: 12288)), .unmovable)
        XCTAssertEqual(m.pageblockMigrateType(of: PFN(index: 12800)), .unmovable)
        XCTAssertEqual(m.pageblockCount(zone: z, migrateType: .unmovable), 2)
        XCTAssertEqual(z.nrFree(order: 10, migrateType: .movable), 2)
        for o in 0..<10 { XCTAssertEqual(z.nrFree(order: o, migrateType: .unmovable), 1, "order \(o)") }
        // The small Movable blocks (orders 0...3, 5, 8, 9) were left alone: largest first.
        XCTAssertEqual(z.nrFree(order: 0, migrateType: .movable), 1)
        // A Reclaimable request prefers Unmovable over Movable, but the claim search runs from the
        // largest order down: at order 10 only Movable has a block, so it claims 13312 rather than
        // the order-9 Unmovable block at 12800.
        let r = try XCTUnwrap(m.allocPages(order: 0, gfp: [.kernel, .reclaimable]))
        XCTAssertEqual(r, PFN(index: 13312))
        XCTAssertEqual(m.pageblockMigrateType(of: r), .reclaimable)
        XCTAssertEqual(m.invariantViolations(), [])
    }

    /// Claiming part of a pageblock: DMA of 64 MiB with its order-9/10 blocks taken away leaves
    /// the order-8 block at 256 whose pageblock [0, 512) has 256 free frames and 256 reserved
    /// (non-movable, hence "alike" for an Unmovable request): 256 + 256 ≥ 256 → claim.
    func testMigrateTypeClaimPartialBlock() throws {
        let m = try boot(64 << 20)
        let dma = m.zones[0]
        let mov = MigrateType.movable.rawValue, unm = MigrateType.unmovable.rawValue
        for _ in 0..<3 { XCTAssertGreaterThanOrEqual(m.rmqueueSmallest(dma, order: 10, mov), 1024) }
        XCTAssertEqual(m.rmqueueSmallest(dma, order: 9, mov), 512)
        XCTAssertEqual(m.rmqueue(dma, order: 0, unm, []), 256)
        XCTAssertEqual(m.pageblockMigrateType(of: PFN(index: 0)), .unmovable)
        XCTAssertEqual((0..<8).map { dma.nrFree(order: $0, migrateType: .unmovable) }, [1, 1, 1, 1, 1, 1, 1, 1])
        XCTAssertEqual(dma.nrFree(order: 8, migrateType: .movable), 0)
    }

    /// Stealing without claiming: a Movable order-0 request when only small (< pageblock_order/2)
    /// Unmovable blocks are free takes one, leaving the pageblock Unmovable and the remainder of a
    /// split on the Unmovable list.
    func testMigrateTypeSteal() throws {
        let m = try boot(64 << 20)
        let z = m.zones[1]
        let mov = MigrateType.movable.rawValue, unm = MigrateType.unmovable.rawValue
        XCTAssertEqual(m.allocPages(order: 0, gfp: .kernel), PFN(index: 12288))   // claims 12288...13311
        // Take the Unmovable blocks of orders 4...9 and every Movable block of the zone.
        for o in 4...9 { XCTAssertEqual(m.rmqueueSmallest(z, order: o, unm), 12288 + (1 << o)) }
        while m.rmqueueSmallest(z, order: 0, mov) >= 0 {}
        XCTAssertEqual((0..<NR_PAGE_ORDERS).map { z.nrFree(order: $0, migrateType: .unmovable) }, [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
        // Claim search gives up at order 3 (too small for Movable to claim); steal takes order 0.
        XCTAssertEqual(m.rmqueue(z, order: 0, mov, []), 12289)
        XCTAssertEqual(m.pageblockMigrateType(of: PFN(index: 12289)), .unmovable)
        // Next steal splits the order-1 block 12290: 12291 goes back on the Unmovable order-0 list.
        XCTAssertEqual(m.rmqueue(z, order: 0, mov, []), 12290)
        XCTAssertEqual(z.freeHead[0 * MIGRATE_TYPES + unm], 12291)
        // ALLOC_NOFRAGMENT forbids stealing.
        XCTAssertEqual(m.rmqueue(z, order: 0, mov, [.noFragment]), -1)
    }

    /// Bad frees are refused and reported, never crash.
    func testBadFreesAreReported() throws {
        let m = try boot(64 << 20)
        let p = try XCTUnwrap(m.allocPages(order: 2, gfp: .kernel))
        m.freePages(p.advanced(by: 1), order: 2)                 // misaligned
        m.freePages(PFN(index: 0x1000), order: 0)                 // kernel image
        m.freePages(PFN(index: 1 << 40), order: 0)                // out of range
        m.freePages(p, order: 2)
        m.freePages(p, order: 2)                                  // double free
        m.freePages(p.advanced(by: 2), order: 0)                  // inside a free block
        XCTAssertFalse(m.putPage(PFN(index: 20000)))              // out of range
        let v = m.invariantViolations()
        XCTAssertEqual(v.count, 6, "\(v)")
        XCTAssertTrue(v[0].contains("not aligned"))
        XCTAssertTrue(v[1].contains("reserved at boot"))
        XCTAssertTrue(v[3].contains("double free"))
        XCTAssertEqual(m.freePageCount, 7983)
    }

    /// 2500 seeded random steps of allocation (orders 0...10 weighted small, all GFP kinds) and
    /// frees; invariants hold after every step, and freeing everything restores the free count
    /// and the per-order buddyinfo of boot.
    func testRandomAllocFreeSequence() throws {
        let m = try boot(64 << 20)
        let bootInfo = m.zones.map { buddyinfo($0) }
        var rng = SplitMix64(seed: 0x5EED_0F_B0DD1E5)
        let kinds: [GFP] = [.kernel, .highuserMovable, [.kernel, .reclaimable], .atomic, .gfpDMA, .gfpDMA32, [.highuserMovable, .comp]]
        let orderWeights = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 6, 8, 9, 10]
        var held: [(PFN, Int)] = []
        var failures = 0
        for step in 0..<2500 {
            if held.isEmpty || rng.below(100) < 55 {
                let order = orderWeights[rng.below(orderWeights.count)]
                if let p = m.allocPages(order: order, gfp: kinds[rng.below(kinds.count)]) {
                    XCTAssertEqual(p.index & ((1 << order) - 1), 0)
                    held.append((p, order))
                } else {
                    failures += 1
                }
            } else {
                let (p, o) = held.remove(at: rng.below(held.count))
                m.freePages(p, order: o)
            }
            let v = m.invariantViolations()
            if !v.isEmpty { XCTFail("step \(step): \(v.prefix(5))"); return }
            let allocated = held.reduce(0) { $0 + (1 << $1.1) }
            XCTAssertEqual(m.allocatedPages, allocated)
        }
        XCTAssertGreaterThan(failures, 0, "the run should reach the watermarks")
        for (p, o) in held { m.freePages(p, order: o) }
        XCTAssertEqual(m.freePageCount, 7983)
        XCTAssertEqual(m.zones.map { buddyinfo($0) }, bootInfo)
        XCTAssertEqual(m.invariantViolations(), [])
    }
}
