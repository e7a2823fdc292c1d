import XCTest
@testable import MMCore

/// A recording stand-in for the process: a brk heap, a top-down mmap area and sparse memory.
struct FakeMallocBackend: MallocBackend {
    static let startBrk: UInt64 = 0x5555_5555_9000
    var curBrk: UInt64 = FakeMallocBackend.startBrk
    /// brk refuses to grow past this.
    var brkLimit: UInt64 = 0x5555_6000_0000
    var mmapTop: UInt64 = 0x7fff_f7ff_0000
    var mmapFails = false
    var mremapFails = false
    var calls: [String] = []
    var memory: [UInt64: UInt8] = [:]
    var storedBytes = 0

    mutating func brk(_ addr: UInt64) -> UInt64 {
        calls.append("brk(0x\(String(addr, radix: 16)))")
        if addr == 0 { return curBrk }
        if addr >= Self.startBrk && addr <= brkLimit { curBrk = addr }
        return curBrk
    }
    mutating func mmap(length: UInt64) -> UInt64? {
        calls.append("mmap(\(length))")
        guard !mmapFails, length < 1 << 40 else { return nil }
        mmapTop -= length
        return mmapTop
    }
    mutating func munmap(addr: UInt64, length: UInt64) -> Bool {
        calls.append("munmap(0x\(String(addr, radix: 16)), \(length))")
        return true
    }
    mutating func mremap(addr: UInt64, oldSize: UInt64, newSize: UInt64) -> UInt64? {
        calls.append("mremap(0x\(String(addr, radix: 16)), \(oldSize), \(newSize))")
        guard !mremapFails else { return nil }
        mmapTop -= newSize
        return mmapTop
    }
    mutating func store(_ addr: UInt64, _ bytes: [UInt8]) -> Bool {
        XCTAssertLessThanOrEqual(bytes.count, Int(MMCore.PAGE_SIZE))
        for (i, b) in bytes.enumerated() { memory[addr + UInt64(i)] = b }
        storedBytes += bytes.count
        return true
    }
    mutating func load(_ addr: UInt64, count: Int) -> [UInt8]? {
        XCTAssertLessThanOrEqual(count, Int(MMCore.PAGE_SIZE))
        return (0..<count).map { memory[addr + UInt64($0)] ?? 0 }
    }
}

final class MallocTests: XCTestCase {
    let S = FakeMallocBackend.startBrk

    func testRequest2size() {
        XCTAssertEqual(checkedRequest2size(0), 32)
        XCTAssertEqual(checkedRequest2size(24), 32)
        XCTAssertEqual(checkedRequest2size(25), 48)
        XCTAssertEqual(checkedRequest2size(100), 112)
        XCTAssertEqual(checkedRequest2size(UInt64(Int64.max)), UInt64(1) << 63 + 16)
        XCTAssertNil(checkedRequest2size(UInt64(Int64.max) + 1))
        XCTAssertNil(checkedRequest2size(.max))
    }

    func testFirstSmallMallocGrowsBrkBy132KiB() {
        var a = MallocArena(), be = FakeMallocBackend()
        XCTAssertEqual(a.malloc(1, &be), S + 0x10)
        XCTAssertEqual(be.calls, ["brk(0x0)", "brk(0x55555557a000)"])
        XCTAssertEqual(be.curBrk - S, 0x21000)
        XCTAssertEqual(a.top, S + 0x20)
        XCTAssertEqual(a.topSize, 0x21000 - 0x20)
        let st = a.stats()
        XCTAssertEqual(st.arenaBytes, 0x21000)
        XCTAssertEqual(st.inUseBytes, 32)
        XCTAssertEqual(st.heapStart, S)
        XCTAssertEqual(be.storedBytes, 0, "malloc writes nothing into user memory")
        // malloc(0) returns a minimum chunk too.
        XCTAssertEqual(a.malloc(0, &be), S + 0x30)
        XCTAssertEqual(a.usableSize(S + 0x30), 24)
    }

    func testSmallMallocFreeReuseAndCoalescing() {
        var a = MallocArena(), be = FakeMallocBackend()
        let p1 = a.malloc(24, &be)!, p2 = a.malloc(100, &be)!, p3 = a.malloc(1000, &be)!, p4 = a.malloc(24, &be)!
        XCTAssertEqual([p1, p2, p3, p4], [S + 0x10, S + 0x30, S + 0xa0, S + 0x490])
        XCTAssertNil(a.free(p2, &be))
        XCTAssertNil(a.free(p1, &be))
        XCTAssertEqual(a.freeChunks, [S: 144], "p1 and p2 coalesce")
        // 120 bytes need a 128-byte chunk; the 16 left over are too small to split off.
        XCTAssertEqual(a.malloc(120, &be), S + 0x10)
        XCTAssertEqual(a.usableSize(S + 0x10), 136)
        XCTAssertNil(a.free(p3, &be))
        XCTAssertEqual(a.malloc(500, &be), S + 0xa0, "best fit splits the 1008-byte chunk")
        XCTAssertEqual(a.freeChunks, [S + 0x290: 496])
        XCTAssertEqual(a.malloc(480, &be), S + 0x2a0, "exact fit takes the remainder")
        XCTAssertTrue(a.freeChunks.isEmpty)
        XCTAssertNil(a.free(p4, &be))
        XCTAssertEqual(a.top, S + 0x480, "a chunk next to top merges into it")
        XCTAssertEqual(be.calls.count, 2, "all of this fits in the first brk")
    }

    func testMmapThresholdBoundary() {
        var a = MallocArena(), be = FakeMallocBackend()
        // nb = 131056 < 128 KiB: served from a brk heap of PAGE_ALIGN(nb + top_pad + MINSIZE).
        XCTAssertEqual(a.malloc(131_048, &be), S + 0x10)
        XCTAssertEqual(be.curBrk - S, 266_240)
        var b = MallocArena(), be2 = FakeMallocBackend()
        // nb = 131072 reaches the threshold: its own mapping of PAGE_ALIGN(nb + SIZE_SZ).
        let p = b.malloc(131_049, &be2)!
        XCTAssertEqual(be2.calls, ["mmap(135168)"])
        XCTAssertEqual(p, be2.mmapTop + 16)
        XCTAssertEqual(b.stats().mmappedRegions, 1)
        XCTAssertEqual(b.stats().mmappedBytes, 135_168)
        XCTAssertNil(b.free(p, &be2))
        XCTAssertEqual(be2.calls.last, "munmap(0x\(String(p - 16, radix: 16)), 135168)")
        XCTAssertEqual(b.stats().mmappedRegions, 0)
    }

    func testLargeRequestFitsInTopComesFromHeap() {
        var a = MallocArena(), be = FakeMallocBackend()
        _ = a.malloc(1, &be)                       // top is now 0x20fe0 = 135136 bytes
        XCTAssertEqual(a.malloc(131_072, &be), S + 0x30, "top (135136) >= nb + MINSIZE (131120)")
        XCTAssertFalse(be.calls.contains { $0.hasPrefix("mmap") })
    }

    func testDynamicThresholdRises() {
        var a = MallocArena(), be = FakeMallocBackend()
        let p = a.malloc(200_000, &be)!
        XCTAssertEqual(be.calls, ["mmap(200704)"])
        XCTAssertNil(a.free(p, &be))
        XCTAssertEqual(a.params.mmapThreshold, 200_704)
        XCTAssertEqual(a.params.trimThreshold, 401_408)
        // The same request now goes to the heap.
        XCTAssertEqual(a.malloc(200_000, &be), S + 0x10)
        XCTAssertEqual(be.curBrk - S, 331_776)
        // A mapping above 32 MiB leaves the threshold alone.
        let big = a.malloc(40 << 20, &be)!
        XCTAssertNil(a.free(big, &be))
        XCTAssertEqual(a.params.mmapThreshold, 200_704)
        // After mallopt the threshold is fixed.
        var c = MallocArena(), be3 = FakeMallocBackend()
        XCTAssertTrue(c.mallopt(.mmapThreshold, 1 << 20))
        let q = c.malloc(2 << 20, &be3)!
        XCTAssertNil(c.free(q, &be3))
        XCTAssertEqual(c.params.mmapThreshold, 1 << 20)
    }

    func testTopGrowsContiguouslyAndTrims() {
        var a = MallocArena(), be = FakeMallocBackend()
        _ = a.malloc(100_000, &be)!
        XCTAssertEqual(be.curBrk - S, 233_472)
        _ = a.malloc(100_000, &be)!
        XCTAssertEqual(a.topSize, 33_440)
        let c = a.malloc(100_000, &be)!
        XCTAssertEqual(c, S + 2 * 100_016 + 16)
        XCTAssertEqual(be.curBrk - S, 233_472 + 200_704, "brk extended by PAGE_ALIGN(nb + top_pad + MINSIZE - old top)")
        XCTAssertEqual(a.topSize, 134_128)
        XCTAssertEqual(a.stats().arenaBytes, 434_176)
        be.calls.removeAll()
        XCTAssertNil(a.free(c, &be))
        // top = 234144 >= trim_threshold: release ALIGN_DOWN(top - MINSIZE - 1 - top_pad) = 102400.
        XCTAssertEqual(be.calls, ["brk(0x\(String(S + 434_176 - 102_400, radix: 16)))"])
        XCTAssertEqual(a.topSize, 234_144 - 102_400)
        XCTAssertEqual(a.stats().arenaBytes, 434_176 - 102_400)
    }

    func testSmallFreeDoesNotTrim() {
        var a = MallocArena(), be = FakeMallocBackend()
        a.params.trimThreshold = 0
        let p = a.malloc(100, &be)!
        be.calls.removeAll()
        XCTAssertNil(a.free(p, &be))
        XCTAssertEqual(be.calls, [], "a freed chunk below 64 KiB never triggers systrim")
    }

    func testOverflowingRequestsFailWithoutTrapping() throws {
        var a = MallocArena(), be = FakeMallocBackend()
        XCTAssertNil(a.calloc(UInt64.max / 2, 3, &be))
        XCTAssertNil(a.calloc(1 << 62, 2, &be), "2^63 bytes exceeds PTRDIFF_MAX")
        XCTAssertNil(a.malloc(.max, &be))
        XCTAssertEqual(be.calls, [])
        XCTAssertNil(a.malloc(UInt64(Int64.max), &be))
        XCTAssertNil(try a.realloc(nil, .max, &be).get())
    }

    func testCallocZeroesOnlyReusedMemory() throws {
        var a = MallocArena(), be = FakeMallocBackend()
        let p = try XCTUnwrap(a.calloc(1, 100, &be))
        XCTAssertEqual(be.storedBytes, 104, "glibc clears a chunk that is not carved from a grown top")
        be.storedBytes = 0
        let big = try XCTUnwrap(a.calloc(1, 1 << 20, &be))
        XCTAssertEqual(be.storedBytes, 0, "fresh mmap memory is known zero")
        XCTAssertNil(a.free(big, &be))
        _ = a.malloc(24, &be)                       // keep p away from top
        be.memory[p] = 0xAA
        XCTAssertNil(a.free(p, &be))
        be.storedBytes = 0
        XCTAssertEqual(a.calloc(10, 10, &be), p)
        XCTAssertEqual(be.storedBytes, 104)
        XCTAssertEqual(be.memory[p], 0)
    }

    func testCallocFromGrownTopClearsOnlyOldPart() {
        var a = MallocArena(), be = FakeMallocBackend()
        _ = a.malloc(1, &be)
        let oldTop = a.topSize                      // 135136
        be.storedBytes = 0
        _ = a.calloc(1, 131_000, &be)               // nb = 131008: carved from the old top, cleared
        XCTAssertEqual(be.storedBytes, 131_000)
        be.storedBytes = 0
        let before = a.topSize
        _ = a.calloc(1, 120_000, &be)               // top too small: the grown top is fresh beyond the old end
        XCTAssertLessThan(before, 120_016 + 32)
        XCTAssertEqual(be.storedBytes, Int(before) - 8)
        XCTAssertEqual(oldTop, 135_136)
    }

    func testReallocOfMmappedChunkUsesMremap() throws {
        var a = MallocArena(), be = FakeMallocBackend()
        let p = try XCTUnwrap(a.malloc(200_000, &be))
        let base = p - 16
        XCTAssertEqual(try a.realloc(p, 199_000, &be).get(), p, "shrink within a page keeps the block")
        let q = try XCTUnwrap(try a.realloc(p, 400_000, &be).get())
        XCTAssertEqual(be.calls.last, "mremap(0x\(String(base, radix: 16)), 200704, 401408)")
        XCTAssertEqual(q, be.mmapTop + 16)
        XCTAssertEqual(a.stats().mmappedBytes, 401_408)
        XCTAssertEqual(a.stats().mmappedRegions, 1)
        // When mremap fails and the block is too small: malloc, copy, munmap.
        be.mremapFails = true
        be.memory[q] = 7
        let r = try XCTUnwrap(try a.realloc(q, 800_000, &be).get())
        XCTAssertNotEqual(r, q)
        XCTAssertEqual(be.memory[r], 7)
        XCTAssertTrue(be.calls.last!.hasPrefix("munmap(0x\(String(q - 16, radix: 16)), 401408"))
    }

    func testReallocHeapPaths() throws {
        var a = MallocArena(), be = FakeMallocBackend()
        let p = try XCTUnwrap(a.malloc(100, &be))
        XCTAssertEqual(try a.realloc(p, 1000, &be).get(), p, "grows into top in place")
        XCTAssertEqual(a.usableSize(p), 1000)
        let guardPtr = try XCTUnwrap(a.malloc(10, &be))
        XCTAssertEqual(try a.realloc(p, 100, &be).get(), p, "shrinks in place")
        XCTAssertEqual(a.freeChunks, [p - 16 + 112: 896])
        XCTAssertEqual(a.malloc(800, &be), p - 16 + 112 + 16, "the split-off tail is reused")
        // Growth blocked by an in-use neighbour moves and copies.
        be.memory[p] = 0x42
        be.memory[p + 103] = 0x43
        let moved = try XCTUnwrap(try a.realloc(p, 5000, &be).get())
        XCTAssertNotEqual(moved, p)
        XCTAssertEqual(be.memory[moved], 0x42)
        XCTAssertEqual(be.memory[moved + 103], 0x43)
        XCTAssertEqual(a.freeChunks[p - 16], 112, "the old block was freed")
        // realloc(p, 0) frees and returns NULL; realloc(NULL, n) is malloc.
        XCTAssertNil(try a.realloc(guardPtr, 0, &be).get())
        XCTAssertNotNil(try a.realloc(nil, 10, &be).get())
    }

    func testInvalidAndDoubleFree() {
        var a = MallocArena(), be = FakeMallocBackend()
        let p = a.malloc(24, &be)!
        _ = a.malloc(24, &be)
        XCTAssertEqual(a.free(S + 0x1230, &be)?.message, "free(): invalid pointer")
        XCTAssertEqual(a.free(p + 8, &be)?.message, "free(): invalid pointer")
        XCTAssertNil(a.free(p, &be))
        XCTAssertEqual(a.free(p, &be)?.message, "double free or corruption (!prev)")
        XCTAssertEqual(a.free(a.top + 16, &be)?.message, "double free or corruption (top)")
        XCTAssertNil(a.free(0, &be), "free(NULL) does nothing")
        if case .failure(let e) = a.realloc(S + 0x5000, 10, &be) {
            XCTAssertEqual(e.message, "realloc(): invalid pointer")
        } else { XCTFail("expected an error") }
    }

    func testBrkFailureFallsBackToMmappedHeap() {
        var a = MallocArena(), be = FakeMallocBackend()
        be.brkLimit = S
        let p = a.malloc(100, &be)!
        XCTAssertEqual(be.calls, ["brk(0x0)", "brk(0x55555557a000)", "mmap(1048576)"])
        XCTAssertEqual(p, be.mmapTop + 16)
        XCTAssertFalse(a.contiguous)
        XCTAssertEqual(a.stats().arenaBytes, 1 << 20)
        XCTAssertEqual(a.stats().mmappedRegions, 0, "the fallback heap is not an mmapped chunk")
    }

    func testMmapFailureFallsBackToBrk() {
        var a = MallocArena(), be = FakeMallocBackend()
        be.mmapFails = true
        XCTAssertEqual(a.malloc(200_000, &be), S + 0x10)
        XCTAssertEqual(be.calls, ["mmap(200704)", "brk(0x0)", "brk(0x\(String(S + 331_776, radix: 16)))"])
    }

    func testMallocStatsText() {
        var a = MallocArena(), be = FakeMallocBackend()
        _ = a.malloc(100, &be)
        _ = a.malloc(200_000, &be)
        XCTAssertEqual(a.stats().mallocStatsText, """
            Arena 0:
            system bytes     =     135168
            in use bytes     =        112
            Total (incl. mmap):
            system bytes     =     335872
            in use bytes     =     200816
            max mmap regions =          1
            max mmap bytes   =     200704

            """)
    }

    func testKernelMallocUsesBrkAndMmapOfTheProcess() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 2 << 30))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/a.out")).get()
        let mm = t.mm!
        let startBrk = mm.startBrk
        XCTAssertEqual(k.mallocStats(t).mmapThreshold, 128 * 1024)
        // A small request: the heap is created with sbrk(0x21000) and the chunk sits at its start.
        XCTAssertEqual(k.malloc(t, 10), VirtAddr(startBrk + 0x10))
        XCTAssertEqual(mm.brk, startBrk + 0x21000)
        // A large request gets its own mapping, returned 16 bytes in; free unmaps it.
        let vmasBefore = mm.vmas.count
        let big = try XCTUnwrap(k.malloc(t, 1 << 20))
        XCTAssertEqual(big.raw & 0xfff, 0x10)
        XCTAssertNotNil(mm.vmas.vmaLookup(big))
        k.free(t, big)
        XCTAssertNil(mm.vmas.vmaLookup(big))
        XCTAssertEqual(mm.vmas.count, vmasBefore)
        XCTAssertEqual(k.freeChecked(t, VirtAddr(0x1234))?.message, "free(): invalid pointer")
        XCTAssertEqual(t.malloc.lastError?.message, "free(): invalid pointer")
        XCTAssertNil(k.calloc(t, .max, 2))
        XCTAssertEqual(k.checkInvariants(), [])
    }
}
