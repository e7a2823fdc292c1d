import XCTest
import MMCore
@testable import MMScenario

/// Random sequences of kernel-memory commands (valid syntax, random sizes, frees of live, freed
/// and bogus pointers, processes coming and going) on every slab allocator, run under --check:
/// no trap, and every invariant holds after every step.
final class KernelMemoryFuzzTests: XCTestCase {
    struct RNG: RandomNumberGenerator {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    func testRandomKernelMemoryScenariosKeepInvariants() throws {
        var rng = RNG(s: 2026)
        var completed = 0
        let sizes = [0, 1, 8, 24, 96, 100, 192, 700, 4096, 5000, 8192, 8193, 40000, 100000, 3 << 20]
        for round in 0..<36 {
            let kind = ["slub", "slab", "slob"][round % 3]
            var lines = ["machine ram=64M slab=\(kind) cpus=\(1 + round % 2)", "kmem_cache_create obj \(sizes[rng.below(10)] + 1) hwcache_align"]
            var live: [String] = [], pages: [String] = [], vm: [String] = [], pc: [String] = [], objs: [String] = []
            var procs = 0, n = 0
            for _ in 0..<30 {
                n += 1
                let v = "v\(n)"
                switch rng.below(14) {
                case 0, 1: lines.append("kmalloc \(sizes[rng.below(sizes.count)]) gfp \(["GFP_KERNEL", "GFP_ATOMIC", "GFP_KERNEL|__GFP_ZERO"][rng.below(3)]) as \(v)"); live.append(v)
                case 2: if let p = live.randomElement(using: &rng) { lines.append("kfree \(p)") } else { lines.append("kfree 0x1234") }
                case 3: lines.append("kmem_cache_alloc obj as \(v)"); objs.append(v)
                case 4: if let p = objs.randomElement(using: &rng) { lines.append("kmem_cache_free obj \(p)") }
                case 5: lines.append("vmalloc \(sizes[rng.below(sizes.count)]) as \(v)"); vm.append(v)
                case 6: if let p = vm.popLast() { lines.append("vfree \(p)") }
                case 7: lines.append("alloc_pages order \(rng.below(6)) gfp \(["GFP_KERNEL", "GFP_ATOMIC", "GFP_DMA", "GFP_KERNEL|__GFP_NOWARN"][rng.below(4)]) as \(v)"); pages.append(v)
                case 8:
                    if let p = pages.popLast() {
                        // free_pages needs the allocation's order: look it up in the line that bound it.
                        if let l = lines.last(where: { $0.hasSuffix(" as \(p)") }), let o = l.split(separator: " ").dropFirst(2).first {
                            lines.append("free_pages \(p) order \(o)")
                        }
                    }
                case 9: lines.append("alloc_percpu \(sizes[rng.below(9)] + 1) as \(v)"); pc.append(v)
                case 10: if let p = pc.popLast() { lines.append("free_percpu \(p)") }
                case 11:
                    if procs == 0 { lines.append("spawn /bin/p\(n) as p\(n)") } else { lines.append(rng.below(2) == 0 ? "fork as p\(n)" : "thread as p\(n)") }
                    procs += 1
                case 12: if procs > 0 { lines.append("exit 0") ; procs = 0 }
                default: lines.append(["compact_memory", "kmem_cache_shrink obj", "cat /proc/meminfo | grep Slab"][rng.below(3)])
                }
            }
            // free_pages of a failed alloc_pages (bound to 0) stops the run with exit 1: allowed.
            let src = lines.joined(separator: "\n")
            let s = try Parser.parse(src, file: "fuzz.mmsim")
            var out = ""
            let status = Runner(scenario: s, options: RunOptions(check: true)).run(out: { out += $0 }, err: { out += $0 })
            XCTAssertFalse(out.contains("invariant violated"), "\(src)\n---\n\(out)")
            XCTAssertTrue(status == 0 || out.contains("is not a page address"), "\(src)\n---\n\(out)")
            if status == 0 { completed += 1 }
        }
        XCTAssertGreaterThan(completed, 24, "most random scenarios should run to their end")
    }
}
