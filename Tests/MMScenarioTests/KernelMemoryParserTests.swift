import XCTest
import MMCore
import MMProcFS
@testable import MMScenario

/// The kernel-memory commands: parsing, errors with their positions, and a run of each.
final class KernelMemoryParserTests: XCTestCase {
    func run(_ src: String) throws -> (String, Int32) {
        let s = try Parser.parse(src, file: "t.mmsim")
        var out = "", err = ""
        let status = Runner(scenario: s, options: RunOptions(check: true)).run(out: { out += $0 }, err: { err += $0 })
        return (out + err, status)
    }

    func testEveryKernelMemoryCommandParses() throws {
        let src = """
        machine ram=256M slab=slub
        kmem_cache_create foo 100 align 32 hwcache_align reclaim_account typesafe_by_rcu account ctor
        kmem_cache_alloc foo gfp GFP_KERNEL|__GFP_ZERO as o
        kmem_cache_free foo o
        kmem_cache_shrink foo
        kmem_cache_destroy foo
        kmalloc 100 gfp GFP_ATOMIC as p
        kfree p
        vmalloc 10K as v
        vfree v
        alloc_pages order 3 gfp GFP_DMA32|__GFP_NOWARN as pg
        free_pages pg order 3
        get_zeroed_page as z
        alloc_percpu 16 align 16 as pc
        free_percpu pc
        compact_memory
        layout arm32 ram=1G
        layout x86_32
        layout
        highmem32 ram=3G nopae
        highmem32 ram=2G arch=arm32
        kmap 0x80000 as km
        kunmap 0x80000
        kmap_atomic 0x80001 as ka
        kunmap_atomic ka
        __pa 0xc0000000
        __va 0x1000
        show slabinfo
        show slabtop
        show vmallocinfo
        cat /proc/slabinfo
        cat /proc/vmallocinfo
        cat /proc/pagetypeinfo
        cat /sys/kernel/debug/extfrag/unusable_index
        cat /sys/kernel/debug/extfrag/extfrag_index | grep DMA
        """
        let s = try Parser.parse(src, file: "t.mmsim")
        XCTAssertEqual(s.stepCount, 34)
        XCTAssertEqual(s.machine.slab, .slub)
        let (out, status) = try run(src)
        XCTAssertEqual(status, 0, out)
    }

    func testErrors() {
        assertError("kmalloc 10 gfp GFP_KERNEL|GFP_BOGUS", 1, 16, "unknown GFP flag 'GFP_BOGUS' (known: " + GFP.names.map(\.0).joined(separator: ", ") + ")")
        assertError("kmalloc", 1, 8, "missing size for 'kmalloc'")
        assertError("alloc_pages order 21", 1, 19, "order 21 is out of range (0...20)")
        assertError("free_pages 0x1000 order 11", 1, 25, "order 11 is out of range (0...10)")
        assertError("alloc_pages 3", 1, 13, "expected 'order N', found '3'")
        assertError("kmap 0x1000", 1, 1, "'kmap' needs a 32-bit kernel: 'machine arch=x86-32' or 'arch=arm32', or 'highmem32 ram=SIZE' first")
        assertError("highmem32 ram=8G", 1, 15, "ram=8G is out of range (64M...4G)")
        assertError("highmem32 ram=1G arch=mips", 1, 23, "unknown 32-bit architecture 'mips' (known: x86_32, arm32)")
        assertError("highmem32 ram=1G pae arch=arm32", 1, 18, "'pae' applies to x86_32 only (ARM's LPAE is not modelled)")
        assertError("layout sparc", 1, 8, "unknown architecture 'sparc' (known: x86_64, x86_32, arm32)")
        assertError("layout x86_64 ram=1G", 1, 15, "'ram=' is for the 32-bit layouts; x86_64 shows this machine")
        assertError("machine slab=slob2", 1, 14, "slab must be 'slub', 'slab' or 'slob', found 'slob2'")
        assertError("kmem_cache_create foo 10 fancy", 1, 26, "unknown kmem_cache_create option 'fancy' (known: align N, hwcache_align, reclaim_account, typesafe_by_rcu, account, ctor)")
        assertError("kmalloc 10 as p\nkfree q", 2, 7, "unknown variable 'q'")
        assertError("kmalloc 0xffffffffffffffff+1", 1, 9, "'0xffffffffffffffff+1' overflows 64 bits")
    }

    func testRuntimeResults() throws {
        var (out, status) = try run("kmem_cache_alloc nosuch")
        XCTAssertEqual(status, 1)
        XCTAssertTrue(out.contains("t.mmsim:1:1: error: no slab cache named 'nosuch' (see 'show slabinfo')"), out)
        (out, status) = try run("kmalloc 24 as p\nkfree p\nkfree p\nkfree 0x1234")
        XCTAssertEqual(status, 0)
        XCTAssertEqual(out, """
        kmalloc(24, GFP_KERNEL) = 0xffff888003004000 (kmalloc-32, 32 bytes, 8 wasted)
        kfree(0xffff888003004000)
        kfree(0xffff888003004000): refused: double free of object 0xffff888003004000
        kfree(0x1234): refused: 0x1234 is not an object of any slab or a kmalloc'ed page

        """)
        (out, status) = try run("machine slab=slob\ncat /proc/slabinfo")
        XCTAssertEqual(out, "cat: /proc/slabinfo: No such file or directory\n")
        (out, status) = try run("kmalloc 5M as p\nvmalloc 0 as v\nvfree 0x5")
        XCTAssertEqual(out, """
        kmalloc(5242880, GFP_KERNEL) = NULL (larger than KMALLOC_MAX_SIZE 4194304)
        vmalloc(0) = NULL (size 0 is 0 or larger than RAM)
        vfree(0x5): refused: Trying to vfree() nonexistent vm area (0x5)

        """)
    }
}
