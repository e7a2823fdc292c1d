import XCTest
@testable import MMCore

/// Boot layout, zones, min_free_kbytes, watermarks and lowmem reserves, with the expected values
/// derived by hand from Linux's formulas (mm/page_alloc.c, 6.x).
///
/// Common to every machine:
/// - reserved: the first MiB (256 pages), the kernel image at PFN 0x1000 of ceil(31553 KiB / 4 KiB)
///   = ceil(7888.25) = 7889 pages (PFNs 4096...11984), and mem_map = frames × 64 B / 4 KiB pages at
///   the top of RAM.
/// - min_free_kbytes = int_sqrt(managed × 4 KiB × 16); pages_min = min_free_kbytes / 4.
/// - zone min = pages_min × managed(zone) / managed(all); gap = max(min / 4, managed × 10 / 10000
///   computed as mult_frac); low = min + gap; high = low + gap.
/// - lowmem_reserve[j] of zone i = (managed of zones i+1...j) / ratio(i), ratios 256, 256, 32.
/// - totalreserve = Σ min(max lowmem_reserve + high, managed).
final class PageAllocBootTests: XCTestCase {
    private func boot(_ bytes: UInt64) throws -> PhysicalMemory {
        try PhysicalMemory(config: PhysicalMemoryConfig(ramBytes: bytes))
    }

    /// Asserts one zone's numbers.
    private func check(_ z: Zone, _ type: ZoneType, start: Int, spanned: Int, managed: Int,
                       min: Int, low: Int, high: Int, reserve: [Int], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(z.type, type, file: file, line: line)
        XCTAssertEqual(z.startPFN, PFN(index: start), "\(type.name) start", file: file, line: line)
        XCTAssertEqual(z.spannedPages, spanned, "\(type.name) spanned", file: file, line: line)
        XCTAssertEqual(z.presentPages, spanned, "\(type.name) present", file: file, line: line)
        XCTAssertEqual(z.managedPages, managed, "\(type.name) managed", file: file, line: line)
        XCTAssertEqual(z.freePages, managed, "\(type.name) free at boot", file: file, line: line)
        XCTAssertEqual([z.watermarkMin, z.watermarkLow, z.watermarkHigh], [min, low, high], "\(type.name) watermarks", file: file, line: line)
        XCTAssertEqual(z.lowmemReserve, reserve, "\(type.name) lowmem_reserve", file: file, line: line)
    }

    /// 2 GiB = 524288 frames; mem_map 8192 pages at PFN 516096.
    /// DMA: 4096 spanned, managed 4096 − 256 = 3840. DMA32: 520192 spanned, managed
    /// 520192 − 7889 − 8192 = 504111. Total managed 507951, reserved 16337.
    /// min_free_kbytes = int_sqrt(507951 × 64 = 32508864) = 5701 (5701² = 32501401, 5702² = 32512804).
    /// pages_min = 1425.
    /// DMA: min = 1425 × 3840 / 507951 = 10; gap = max(2, 3840×10/10000 = 3) = 3 → 10/13/16.
    /// DMA32: min = 1425 × 504111 / 507951 = 1414; gap = max(353, 50×10 + 4111×10/10000 = 504) → 1414/1918/2422.
    /// lowmem_reserve: DMA [0, 504111/256 = 1969, 1969]; DMA32 [0, 0, 0].
    /// totalreserve = min(1969 + 16, 3840) + min(2422, 504111) = 4407; Σ low = 1931.
    func testBoot2GiB() throws {
        let m = try boot(2 << 30)
        XCTAssertEqual(m.frameCount, 524288)
        XCTAssertEqual(m.zones.map(\.type), [.dma, .dma32])
        check(m.zones[0], .dma, start: 0, spanned: 4096, managed: 3840, min: 10, low: 13, high: 16, reserve: [0, 1969, 1969])
        check(m.zones[1], .dma32, start: 4096, spanned: 520192, managed: 504111, min: 1414, low: 1918, high: 2422, reserve: [0, 0, 0])
        XCTAssertEqual(m.totalManagedPages, 507951)
        XCTAssertEqual(m.reservedPages, 16337)
        XCTAssertEqual(m.freePageCount, 507951)
        XCTAssertEqual(m.minFreeKbytes, 5701)
        XCTAssertEqual(m.totalReservePages, 4407)
        XCTAssertEqual(m.totalLowWatermarkPages, 1931)
        XCTAssertEqual(m.reservedRegions.map(\.startPFN.index), [0, 1, 0xA0, 0x1000, 516096])
        XCTAssertEqual(m.reservedRegions.map(\.pages), [1, 159, 96, 7889, 8192])
        XCTAssertNil(m.zone(of: PFN(index: 524288)))
        XCTAssertEqual(m.zone(of: PFN(index: 4095))?.type, .dma)
        XCTAssertEqual(m.zone(of: PFN(index: 4096))?.type, .dma32)
        XCTAssertEqual(m.invariantViolations(), [])
    }

    /// 64 MiB = 16384 frames; mem_map 256 pages at PFN 16128.
    /// DMA managed 3840; DMA32 spanned 12288, managed 12288 − 7889 − 256 = 4143. Total 7983, reserved 8401.
    /// min_free_kbytes = int_sqrt(7983 × 64 = 510912) = 714 (714² = 509796, 715² = 511225); pages_min = 178.
    /// DMA: min = 178 × 3840 / 7983 = 85; gap = max(21, 3) = 21 → 85/106/127.
    /// DMA32: min = 178 × 4143 / 7983 = 92; gap = max(23, 4) = 23 → 92/115/138.
    /// lowmem_reserve: DMA [0, 4143/256 = 16, 16]. totalreserve = (16 + 127) + 138 = 281.
    ///
    /// Buddy at boot (free ranges freed in the largest aligned chunks, merged):
    /// DMA [256, 4096): 256 (order 8), 512 (order 9), 1024, 2048, 3072 (order 10).
    /// DMA32 [11985, 16128): 11985 (0), 11986 (1), 11988 (2), 11992 (3), 12000 (5), 12032 (8),
    /// 12288, 13312, 14336 (10), 15360 (9), 15872 (8).
    func testBoot64MiB() throws {
        let m = try boot(64 << 20)
        XCTAssertEqual(m.zones.map(\.type), [.dma, .dma32])
        check(m.zones[0], .dma, start: 0, spanned: 4096, managed: 3840, min: 85, low: 106, high: 127, reserve: [0, 16, 16])
        check(m.zones[1], .dma32, start: 4096, spanned: 12288, managed: 4143, min: 92, low: 115, high: 138, reserve: [0, 0, 0])
        XCTAssertEqual(m.totalManagedPages, 7983)
        XCTAssertEqual(m.reservedPages, 8401)
        XCTAssertEqual(m.minFreeKbytes, 714)
        XCTAssertEqual(m.totalReservePages, 281)
        XCTAssertEqual((0..<NR_PAGE_ORDERS).map { m.zones[0].nrFree(order: $0) }, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3])
        XCTAssertEqual((0..<NR_PAGE_ORDERS).map { m.zones[1].nrFree(order: $0) }, [1, 1, 1, 1, 0, 1, 0, 0, 2, 1, 3])
        // Everything starts Movable (memmap_init()).
        XCTAssertEqual(m.zones[1].nrFree(order: 10, migrateType: .movable), 3)
        XCTAssertEqual(m.zones[1].nrFree(order: 10, migrateType: .unmovable), 0)
        XCTAssertEqual(m.pageblockCount(zone: m.zones[0], migrateType: .movable), 8)
        XCTAssertEqual(m.pageblockCount(zone: m.zones[1], migrateType: .movable), 24)
        // Reserved frames keep PG_reserved and a reference; free frames have neither.
        XCTAssertTrue(m.memMap.flags[0x1000].contains(.reserved))
        XCTAssertEqual(m.memMap.refcount[16383], 1)
        XCTAssertEqual(m.memMap.flags[256], [.buddy])
        XCTAssertEqual(m.memMap.refcount[256], 0)
        XCTAssertEqual(m.invariantViolations(), [])
    }

    /// 8 GiB = 2097152 frames; mem_map 32768 pages at PFN 2064384.
    /// DMA 3840; DMA32 spanned 1044480, managed 1044480 − 7889 = 1036591; Normal start 0x100000,
    /// spanned 1048576, managed 1048576 − 32768 = 1015808. Total 2056239, reserved 40913.
    /// min_free_kbytes = int_sqrt(2056239 × 64 = 131599296) = 11471 (11471² = 131583841,
    /// 11472² = 131606784); pages_min = 2867.
    /// DMA: 2867 × 3840 / 2056239 = 5; gap max(1, 3) = 3 → 5/8/11.
    /// DMA32: 2867 × 1036591 / 2056239 = 1445; gap max(361, 1030 + 6591×10/10000 = 1036) → 1445/2481/3517.
    /// Normal: 2867 × 1015808 / 2056239 = 1416; gap max(354, 1010 + 5808×10/10000 = 1015) → 1416/2431/3446.
    /// lowmem_reserve: DMA [0, 1036591/256 = 4049, 2052399/256 = 8017]; DMA32 [0, 0, 1015808/256 = 3968].
    /// totalreserve = min(8017 + 11, 3840) + (3968 + 3517) + 3446 = 3840 + 7485 + 3446 = 14771.
    func testBoot8GiB() throws {
        let m = try boot(8 << 30)
        XCTAssertEqual(m.zones.map(\.type), [.dma, .dma32, .normal])
        check(m.zones[0], .dma, start: 0, spanned: 4096, managed: 3840, min: 5, low: 8, high: 11, reserve: [0, 4049, 8017])
        check(m.zones[1], .dma32, start: 4096, spanned: 1044480, managed: 1036591, min: 1445, low: 2481, high: 3517, reserve: [0, 0, 3968])
        check(m.zones[2], .normal, start: 0x100000, spanned: 1048576, managed: 1015808, min: 1416, low: 2431, high: 3446, reserve: [0, 0, 0])
        XCTAssertEqual(m.totalManagedPages, 2056239)
        XCTAssertEqual(m.reservedPages, 40913)
        XCTAssertEqual(m.minFreeKbytes, 11471)
        XCTAssertEqual(m.totalReservePages, 14771)
        // Normal is free from 0x100000 to mem_map: 1015808 / 1024 = 992 max-order blocks.
        XCTAssertEqual(m.zones[2].nrFree(order: 10), 992)
        XCTAssertEqual(m.invariantViolations(), [])
    }

    /// 100 MiB + 48 KiB (not a multiple of 2 MiB): 25612 frames, mem_map ceil(25612 × 64 / 4096)
    /// = 401 pages at PFN 25211; DMA32 managed 21516 − 7889 − 401 = 13226; total 17066;
    /// min_free_kbytes = int_sqrt(17066 × 64 = 1092224) = 1045 (1045² = 1092025, 1046² = 1094116).
    func testBootOddSize() throws {
        let m = try boot((100 << 20) + 48 * 1024)
        XCTAssertEqual(m.frameCount, 25612)
        XCTAssertEqual(m.reservedRegions.last, MemblockRegion(name: "mem_map", startPFN: PFN(index: 25211), pages: 401))
        XCTAssertEqual(m.zones[1].spannedPages, 21516)
        XCTAssertEqual(m.zones[1].managedPages, 13226)
        XCTAssertEqual(m.totalManagedPages, 17066)
        XCTAssertEqual(m.minFreeKbytes, 1045)
        XCTAssertEqual(m.invariantViolations(), [])
        // The partial last pageblock can still be allocated from and freed into.
        var got: [PFN] = []
        while let p = m.allocPages(order: 0, gfp: .gfpDMA32) { got.append(p) }
        XCTAssertEqual(m.invariantViolations(), [])
        for p in got { m.freePages(p, order: 0) }
        XCTAssertEqual(m.freePageCount, 17066)
        XCTAssertEqual(m.invariantViolations(), [])
    }

    func testSizeErrorsAndTunables() throws {
        XCTAssertThrowsError(try boot(64 << 20 - 4096)) { XCTAssertEqual($0 as? PhysicalMemoryError, .tooSmall(64 << 20 - 4096)) }
        XCTAssertThrowsError(try boot((1 << 40) + 4096)) { XCTAssertEqual($0 as? PhysicalMemoryError, .tooLarge((1 << 40) + 4096)) }
        XCTAssertThrowsError(try PhysicalMemory(config: PhysicalMemoryConfig(ramBytes: 64 << 20, kernelImageBytes: 60 << 20))) {
            XCTAssertEqual($0 as? PhysicalMemoryError, .kernelImageTooLarge(60 << 20))
        }
        // A configured min_free_kbytes is used as is: 2 GiB with 65536 → pages_min 16384;
        // DMA min = 16384 × 3840 / 507951 = 123; DMA32 min = 16384 × 504111 / 507951 = 16260,
        // gap = max(4065, 504) → low 20325, high 24390.
        let m = try PhysicalMemory(config: PhysicalMemoryConfig(ramBytes: 2 << 30, minFreeKbytes: 65536))
        XCTAssertEqual(m.minFreeKbytes, 65536)
        XCTAssertEqual(m.zones[0].watermarkMin, 123)
        XCTAssertEqual([m.zones[1].watermarkMin, m.zones[1].watermarkLow, m.zones[1].watermarkHigh], [16260, 20325, 24390])
        // watermark_scale_factor 100 (1%): DMA32 gap = max(4065, 5041×... = 504111×100/10000 = 5041) → 21301, 26342.
        m.setWatermarkScaleFactor(100)
        XCTAssertEqual([m.zones[1].watermarkLow, m.zones[1].watermarkHigh], [21301, 26342])
        XCTAssertEqual(intSqrt(0), 0)
        XCTAssertEqual(intSqrt(UInt64.max), 4294967295)
        XCTAssertEqual(intSqrt(32508864), 5701)
    }
}
