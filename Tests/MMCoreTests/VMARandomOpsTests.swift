import XCTest
@testable import MMCore

/// Seeded random sequences of memory system calls, ordinary and hostile: none may trap, and
/// after every call the mm invariants hold and the commit charge equals the VM_ACCOUNT pages.
final class VMARandomOpsTests: VMTestCase {

    /// SplitMix64: deterministic across platforms.
    struct RNG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func below(_ n: UInt64) -> UInt64 { next() % n }
    }

    func testRandomOperationsKeepInvariants() {
        var rng = RNG(state: 42)
        mm.startBrk = 0x5555_5556_0000
        mm.brk = mm.startBrk
        let hostile: [UInt64] = [0, 1, 0xfff, UInt64.max, UInt64.max - 0xfff, 0x7ffffffff000, 0x8000_0000_0000,
                                 0xffff_ffff_ffff_f000, 1 << 63]
        func addr() -> UInt64 {
            if rng.below(8) == 0 { return hostile[Int(rng.below(UInt64(hostile.count)))] }
            return F + rng.below(64) * 0x1000
        }
        func len() -> UInt64 {
            if rng.below(8) == 0 { return hostile[Int(rng.below(UInt64(hostile.count)))] }
            return (1 + rng.below(8)) * 0x1000 - (rng.below(4) == 0 ? 0x800 : 0)
        }
        let prots: [Prot] = [[], PROT_RO, PROT_RW, [.read, .exec], [.read, .write, .exec]]
        for step in 0..<3000 {
            let p = prots[Int(rng.below(UInt64(prots.count)))]
            switch rng.below(10) {
            case 0, 1:
                var f: MapFlags = rng.below(5) == 0 ? [.shared, .anonymous] : PA
                if rng.below(2) == 0 { f.insert(.fixed) }
                if rng.below(10) == 0 { f.insert(.fixedNoreplace) }
                if rng.below(10) == 0 { f.insert(.growsdown) }
                _ = k.mmap(t, addr: addr(), length: len(), prot: p, flags: f)
            case 2: _ = k.munmap(t, addr: addr(), length: len())
            case 3: _ = k.mprotect(t, addr: addr(), length: len(), prot: p)
            case 4:
                let flags: MremapFlags = [[], [.maymove], [.maymove, .fixed]][Int(rng.below(3))]
                _ = k.mremap(t, oldAddr: addr(), oldSize: len(), newSize: len(), flags: flags, newAddr: addr())
            case 5: _ = k.madvise(t, addr: addr(), length: len(), advice: Advice.allCases[Int(rng.below(UInt64(Advice.allCases.count)))])
            case 6: _ = rng.below(2) == 0 ? k.mlock(t, addr: addr(), length: len()) : k.munlock(t, addr: addr(), length: len())
            case 7: _ = k.brk(t, rng.below(4) == 0 ? addr() : mm.startBrk + rng.below(32) * 0x800)
            case 8:
                // Pretend a fault gave a VMA an anon_vma (ids 1...3, so some are incompatible).
                if mm.vmas.count > 0 { mm.vmas[Int(rng.below(UInt64(mm.vmas.count)))].anonVMA = 1 + rng.below(3) }
            default: _ = k.expandStack(mm, VirtAddr(addr()))
            }
            let violations = mm.invariantViolations()
            XCTAssertEqual(violations, [], "step \(step)")
            let accounted = mm.vmas.vmas.filter { $0.flags.contains(.account) }.reduce(0) { $0 + $1.pages }
            XCTAssertEqual(k.committedPages, accounted, "step \(step)")
            if !violations.isEmpty || k.committedPages != accounted { break }
        }
        // The run did build a non-trivial address space.
        XCTAssertGreaterThan(mm.vmas.count, 3)
    }
}

