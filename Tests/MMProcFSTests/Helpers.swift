import MMCore
@testable import MMProcFS

/// Joins expected lines, each ending in a newline (keeps trailing spaces visible in the source).
func text(_ lines: [String]) -> String { lines.map { $0 + "\n" }.joined() }

/// A booted 2 GiB machine.
func bootedKernel() throws -> Kernel { try Kernel(config: MachineConfig(ramBytes: 2 << 30)) }

/// A fresh address space whose PGD is a zeroed frame of `k`.
func newMM(_ k: Kernel) -> MMStruct { MMStruct(pgd: k.phys.allocPages(order: 0, gfp: [.zero])!) }

/// Writes a leaf PTE for `va`, creating the page tables on the way.
func mapPTE(_ k: Kernel, _ mm: MMStruct, _ va: UInt64, _ pte: PTE) {
    let slot = k.phys.walk(mm.pgd, VirtAddr(va), allocTable: { k.phys.allocPages(order: 0, gfp: [.zero]) })!
    k.phys.writePTE(slot, pte)
}

/// The flag bits of a user page mapping.
let userRW = PTE.present | PTE.rw | PTE.user

/// rd wr mr mw me ac: a private writable anonymous mapping.
let anonRW: VMFlags = [.read, .write, .mayread, .maywrite, .mayexec, .account]
