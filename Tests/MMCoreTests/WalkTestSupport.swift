import XCTest
@testable import MMCore

/// Builds x86-64 page tables by hand in a small simulated machine, for walker and TLB tests.
final class PageTableBuilder {
    let mem: PhysicalMemory
    let pgd: PFN

    /// 64 MiB of RAM and an empty PGD.
    init() throws {
        mem = try PhysicalMemory(config: .init(ramBytes: 64 << 20))
        pgd = try XCTUnwrap(mem.allocPages(order: 0, gfp: [.zero]))
    }

    /// A zeroed frame for a page table.
    func newTable() -> PFN? { mem.allocPages(order: 0, gfp: [.zero]) }

    /// Maps the 4 KiB page at `va` to `pfn` with leaf `flags`; upper levels as walk() creates them.
    @discardableResult
    func map(_ va: UInt64, to pfn: PFN, flags: UInt64, pgd: PFN? = nil) -> PTESlot {
        let slot = mem.walk(pgd ?? self.pgd, VirtAddr(va), allocTable: { self.newTable() })!
        mem.writePTE(slot, PTE(pfn: pfn, flags: flags))
        return slot
    }

    /// Maps a huge page at `level` (.pmd: 2 MiB, .pud: 1 GiB) for `va` to `pfn` with `flags` | PS.
    func mapHuge(_ va: UInt64, level: PageTableLevel, to pfn: PFN, flags: UInt64) {
        var table = pgd
        for l in PageTableLevel.allCases where l.rawValue < level.rawValue {
            let idx = l.index(of: VirtAddr(va))
            var e = PTE(raw: mem.contents.readWord(table, idx))
            if !e.isPresent {
                e = PTE(pfn: newTable()!, flags: PTE.present | PTE.rw | PTE.user | PTE.accessed | PTE.dirty)
                mem.contents.writeWord(table, idx, e.raw)
            }
            table = e.pfn
        }
        mem.contents.writeWord(table, level.index(of: VirtAddr(va)), PTE(pfn: pfn, flags: flags | PTE.pse).raw)
    }

    /// Where the entry used at `level` for `va` lives (the upper levels must be present).
    func slot(_ va: UInt64, _ level: PageTableLevel) -> PTESlot {
        var table = pgd
        for l in PageTableLevel.allCases where l.rawValue < level.rawValue {
            table = PTE(raw: mem.contents.readWord(table, l.index(of: VirtAddr(va)))).pfn
        }
        return PTESlot(table: table, index: level.index(of: VirtAddr(va)))
    }

    /// The entry used at `level` for `va`.
    func entry(_ va: UInt64, _ level: PageTableLevel) -> PTE { mem.readPTE(slot(va, level)) }

    /// Rewrites the entry at `level` for `va` with `transform`.
    func update(_ va: UInt64, _ level: PageTableLevel, _ transform: (UInt64) -> UInt64) {
        let s = slot(va, level)
        mem.writePTE(s, PTE(raw: transform(mem.readPTE(s).raw)))
    }
}

extension Translation {
    /// The fault with error-code raw value `raw` (bit 0 P, 1 W, 2 U, 3 RSVD, 4 I).
    static func faultCode(_ raw: UInt32) -> Translation { .fault(PFErrorCode(rawValue: raw)) }
}
