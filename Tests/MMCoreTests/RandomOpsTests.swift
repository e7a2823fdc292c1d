import XCTest
@testable import MMCore

/// SeededRNG: a small seeded generator so random tests are reproducible.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Long random sequences of memory system calls and accesses, with every invariant checked after
/// each step and every stored value read back against a shadow copy kept by the test.
final class RandomOpsTests: XCTestCase {
    func testRandomSyscallsKeepInvariantsAndValues() throws {
        for seed: UInt64 in [1, 2, 3] { try runSequence(seed: seed, steps: 400) }
    }

    func runSequence(seed: UInt64, steps: Int) throws {
        var rng = SeededRNG(seed: seed)
        let k = try Kernel(config: MachineConfig(ramBytes: 128 << 20))
        let t = try k.spawn(ProgramImage(path: "/usr/bin/rand")).get()
        XCTAssertEqual(k.checkInvariants(), [], "after spawn")
        /// Pages this test mapped, with whether they are writable.
        var pages: [UInt64: Bool] = [:]
        /// Bytes this test stored, by virtual address.
        var shadow: [UInt64: UInt8] = [:]
        let mm = t.mm!

        func ourVMAs() -> [VMA] {
            mm.vmas.vmas.filter { v in
                v.isAnonymous && stride(from: v.start.raw, to: v.end.raw, by: Int(MMCore.PAGE_SIZE)).allSatisfy { pages[$0] != nil }
            }
        }
        func dropShadow(_ lo: UInt64, _ hi: UInt64) {
            for a in shadow.keys where a >= lo && a < hi { shadow[a] = nil }
        }

        for step in 0..<steps {
            let op = rng.next() % 8
            let ctx = "seed \(seed) step \(step) op \(op)"
            switch op {
            case 0: // mmap
                let len = (rng.next() % 32 + 1) * MMCore.PAGE_SIZE
                let writable = rng.next() % 4 != 0
                let prot: Prot = writable ? [.read, .write] : .read
                if case .success(let a) = k.mmap(t, addr: 0, length: len, prot: prot, flags: [.private, .anonymous]) {
                    for p in stride(from: a.raw, to: a.raw + len, by: Int(MMCore.PAGE_SIZE)) { pages[p] = writable }
                }
            case 1: // munmap part of one of our VMAs
                guard let v = ourVMAs().randomElement(using: &rng) else { continue }
                let n = UInt64(v.pages)
                let first = rng.next() % n, count = rng.next() % (n - first) + 1
                let lo = v.start.raw + first * MMCore.PAGE_SIZE, hi = lo + count * MMCore.PAGE_SIZE
                XCTAssertNoThrow(try k.munmap(t, addr: lo, length: hi - lo).get(), ctx)
                for p in stride(from: lo, to: hi, by: Int(MMCore.PAGE_SIZE)) { pages[p] = nil }
                dropShadow(lo, hi)
            case 2: // mprotect part of one of our VMAs
                guard let v = ourVMAs().randomElement(using: &rng) else { continue }
                let n = UInt64(v.pages)
                let first = rng.next() % n, count = rng.next() % (n - first) + 1
                let lo = v.start.raw + first * MMCore.PAGE_SIZE, hi = lo + count * MMCore.PAGE_SIZE
                let writable = rng.next() % 2 == 0
                XCTAssertNoThrow(try k.mprotect(t, addr: lo, length: hi - lo, prot: writable ? [.read, .write] : .read).get(), ctx)
                for p in stride(from: lo, to: hi, by: Int(MMCore.PAGE_SIZE)) { pages[p] = writable }
            case 3, 4: // store a u64 in a writable page of ours
                guard let p = pages.filter({ $0.value }).keys.sorted().randomElement(using: &rng) else { continue }
                let off = rng.next() % (MMCore.PAGE_SIZE - 8)
                let value = rng.next()
                let bytes = withUnsafeBytes(of: value.littleEndian, Array.init)
                XCTAssertNoThrow(try k.store(t, VirtAddr(p + off), bytes).get(), ctx)
                for (i, b) in bytes.enumerated() { shadow[p + off + UInt64(i)] = b }
            case 5: // read back a stored byte range
                guard let a = shadow.keys.sorted().randomElement(using: &rng) else { continue }
                let got = try k.load(t, VirtAddr(a), count: 1).get()
                XCTAssertEqual(got, [shadow[a]!], ctx)
            case 6: // madvise(MADV_DONTNEED): private anonymous memory reads back as zero
                guard let v = ourVMAs().randomElement(using: &rng) else { continue }
                XCTAssertNoThrow(try k.madvise(t, addr: v.start.raw, length: v.length, advice: .dontneed).get(), ctx)
                dropShadow(v.start.raw, v.end.raw)
            default: // mremap a whole VMA of ours, letting it move
                guard let v = ourVMAs().randomElement(using: &rng) else { continue }
                let newLen = (rng.next() % 48 + 1) * MMCore.PAGE_SIZE
                guard case .success(let na) = k.mremap(t, oldAddr: v.start.raw, oldSize: v.length, newSize: newLen, flags: .maymove) else {
                    XCTFail("mremap failed: \(ctx)"); continue
                }
                var moved: [UInt64: UInt8] = [:]
                for (a, b) in shadow where a >= v.start.raw && a < v.end.raw {
                    if a - v.start.raw < newLen { moved[na.raw + (a - v.start.raw)] = b }
                }
                let writable = pages[v.start.raw] ?? false
                dropShadow(v.start.raw, v.end.raw)
                for p in stride(from: v.start.raw, to: v.end.raw, by: Int(MMCore.PAGE_SIZE)) { pages[p] = nil }
                for p in stride(from: na.raw, to: na.raw + newLen, by: Int(MMCore.PAGE_SIZE)) { pages[p] = writable }
                shadow.merge(moved) { $1 }
            }
            let bad = k.checkInvariants()
            XCTAssertEqual(bad, [], ctx)
            if !bad.isEmpty { return }
        }
        // Every stored value reads back.
        for a in shadow.keys.sorted() {
            XCTAssertEqual(try k.load(t, VirtAddr(a), count: 1).get(), [shadow[a]!], "seed \(seed) final read at \(a)")
        }
        k.exitTask(t, status: 0)
        XCTAssertEqual(k.checkInvariants(), [])
        XCTAssertEqual(k.committedPages, 0, "seed \(seed): commit charge released")
        XCTAssertEqual(k.stat.nrPageTable, 1, "only the PGD, still the CPU's active_mm")
    }
}
