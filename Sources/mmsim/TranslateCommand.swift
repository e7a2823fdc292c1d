import ArgumentParser
import MMCore
import MMScenario

/// `mmsim translate`: solve an address-translation problem step by step.
struct TranslateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate addresses through page tables, a memory dump, segments or base and bounds.",
        discussion: """
        Forms (ADDR: decimal, 0x hex, 0b binary; sizes may end in K, M, G):
          translate --arch ARCH [--map VA:PA[:SIZE[:PROT]]]... [--access read|write|exec] [--kernel] [--asid N] ADDR...
              builds page tables of ARCH for the mappings (PROT letters: w x, k = kernel only, g = global;
              default rw user) and prints every level's index and entry, then the physical address or
              the faulting level. ARCH: x86-32, x86-pae, x86-64, x86-64-la57, arm64-{4k,16k,64k}-{36..52}, sv39, sv48, sv57.
          translate multilevel (--dump FILE | --page "N: XX XX ...") --pdbr N --page-size B --va-bits V
              [--entry-bytes E] [--valid-bit N] [--pfn-bits HIGH-LOW] ADDR...
              FILE has lines 'page N: <hex bytes>'; entries are big-endian.
          translate linear --entries E,E,... --page-size B --va-bits V [--entry-bytes 4] [--valid-bit 31] [--pfn-bits H-L] ADDR...
          translate base-bounds --base B --bounds L ADDR...
          translate segmentation --va-bits V --base0 B --limit0 L --base1 B --limit1 L ADDR...
          translate x86-segment [--descriptor I=BASE:LIMIT:byte|page:DPL:TYPE]... [--cpl N] [--access K] SEL:OFFSET...
        --json prints one JSON document. Bad arguments exit 2; a bad dump line is reported as FILE:LINE:COL.

        Examples:
          mmsim translate --arch arm64-4k-48 --map 0x400000:0x80000000 0x400123
          mmsim translate --arch x86-64-la57 --map 0x100000000000000:0x200000:2M 0x100000000012345
          mmsim translate multilevel --dump dump.txt --pdbr 108 --page-size 32 --va-bits 15 --pfn-bits 6-0 0x611c
        """)

    @Argument(parsing: .captureForPassthrough, help: "The form, options and addresses (see above).")
    var args: [String] = []

    func run() throws {
        if args.contains("--help") || args.contains("-h") { throw CleanExit.helpRequest(self) }
        let s = runLab("translate", args)
        if s != 0 { throw ExitCode(s) }
    }
}
