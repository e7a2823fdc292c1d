import XCTest
import MMCore
@testable import MMScenario

/// The address-translation labs as scenario commands: their arguments are checked at parse time
/// with the column of the bad argument, and their text is exact.
final class LabTests: XCTestCase {
    func testLabCommandsParse() throws {
        let s = try Parser.parse("""
        translate --arch sv39 --map 0x1000:0x80001000 0x1234
        translate base-bounds --base 100 --bounds 10 5
        exercise tlb --seed 3 --answers
        pagetable-cost --levels 10,10 --used 20%
        no-mmu
        segmentation --fit best
        """, file: "t.mmsim")
        XCTAssertEqual(s.stepCount, 6)
    }

    func testLabArgumentErrorsPointAtTheArgument() {
        assertError("translate --arch sv40 1", 1, 18, "--arch: unknown architecture 'sv40' (known: \(Architecture.names.joined(separator: ", ")))")
        assertError("translate --arch x86-64 --map 0x1001:0 1", 1, 31, "--map 0x1001:0: address 0x1001 is not aligned to the page size 0x1000")
        assertError("translate --arch x86-64 --map 0:0 0x1g", 1, 35, "address: '0x1g' is not a number")
        assertError("translate --arch x86-64", 1, 24, "no address to translate")
        assertError("translate linear --page-size 16 --va-bits 6 --entries 1,2 0", 1, 55, "--entries: 2 entries, but a 64-byte space of 16-byte pages has 4 virtual pages")
        assertError("translate multilevel --dump x --pdbr 0 --page-size 4 --va-bits 6 0", 1, 29, "--dump: files cannot be read here; give the pages with --page \"N: XX XX ...\"")
        assertError("translate multilevel --page \"0: 00 zz 00 00\" --pdbr 0 --page-size 4 --va-bits 6 0", 1, 29, "--page: column 7: bad byte 'zz' (expected two hex digits)")
        assertError("exercise paging", 1, 10, "unknown exercise kind 'paging' (one of base-bounds, segmentation, linear, multilevel, tlb, replacement)")
        assertError("exercise tlb --seed -1", 1, 21, "--seed: '-1' is not a number")
        assertError("pagetable-cost --used 120%", 1, 27, "the fraction in use is more than 100%")
        assertError("pagetable-cost --processes 99999999999999999999", 1, 28, "--processes: '99999999999999999999' is not a number")
        assertError("no-mmu --memory 1000", 1, 17, "--memory: 1000 is out of range (4096...1073741824)")
        assertError("no-mmu --memory 4097", 1, 21, "--memory must be a multiple of 16 pages (at most 65536) and --page-size a power of two")
        assertError("segmentation --fit next", 1, 20, "--fit: 'next' is not first, best, worst or all")
        assertError("segmentation extra", 1, 14, "unexpected 'extra'")
        assertError("translate --arch x86-64 --bogus 1", 1, 25, "unknown option '--bogus'")
    }

    func testToyPageTableText() throws {
        let out = try Labs.run(["translate", "linear", "--page-size", "100", "--va-size", "500",
                                "--entries", "0x80000005,0x80000006,0x80000007,0,0", "299", "300"])
        XCTAssertEqual(out.text, """
        100-byte pages, a 500-byte address space, a linear table of 5 4-byte entries (valid bit 31, PFN bits 30-0)
        va 0x12b (299): vpn 2, offset 99, entry 0x80000007 valid 1 pfn 7 -> pa 0x31f (799)
        va 0x12c (300): vpn 3, offset 0, entry 0x00000000 valid 0 pfn 0 -> page fault: invalid entry (no frame)

        """)
    }

    func testExercisesAreDeterministicAndSeeded() throws {
        for k in ["base-bounds", "segmentation", "linear", "multilevel", "tlb", "replacement"] {
            let a = try Labs.run(["exercise", k, "--seed", "9", "--answers"])
            let b = try Labs.run(["exercise", k, "--seed", "9", "--answers"])
            let c = try Labs.run(["exercise", k, "--seed", "10", "--answers"])
            XCTAssertEqual(a.text, b.text, k)
            XCTAssertEqual(a.json, b.json, k)
            XCTAssertNotEqual(a.text, c.text, k)
            XCTAssertTrue(a.text.contains("answers:"), k)
        }
    }

    /// Random argument lists never trap: every one either runs or throws a LabError.
    func testHostileArgumentsNeverTrap() {
        var rng = SplitMix64(seed: 5)
        let words = ["translate", "exercise", "pagetable-cost", "no-mmu", "segmentation", "--arch", "x86-32", "arm64-64k-52", "sv57",
                     "--map", "0:0", "0xffffffffffffffff:0xffffffffffffffff:1G:rwxkg", "--page-size", "0", "1", "3", "65536",
                     "--va-bits", "64", "0", "--entry-bytes", "8", "--valid-bit", "63", "--pfn-bits", "63-0", "--entries",
                     "0xffffffffffffffff", "--used", "0.000000001%", "--levels", "1,1,1", "--processes", "1048576",
                     "--memory", "1T", "--disk-mbps", "1", "--seed", "18446744073709551615", "--answers", "linear",
                     "multilevel", "--pdbr", "1099511627776", "--page", "0: ff", "base-bounds", "--base", "--bounds",
                     "segmentation", "--base0", "--limit0", "--base1", "--limit1", "x86-segment", "--descriptor",
                     "8191=0xffffffff:0xfffff:page:3:data-down", "0xffff:0xffffffff", "--cpl", "3", "tlb", "replacement"]
        for _ in 0..<3000 {
            var argv = [words[Int(rng.next() % 5)]]
            for _ in 0..<Int(rng.next() % 12) { argv.append(words[Int(rng.next() % UInt64(words.count))]) }
            do { _ = try Labs.run(argv) } catch is LabError {} catch { XCTFail("\(argv): \(error)") }
        }
    }
}
