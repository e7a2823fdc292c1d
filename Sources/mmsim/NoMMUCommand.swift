import ArgumentParser
import MMScenario

/// `mmsim no-mmu`: memory without an MMU, then with paging (seed 001 §3).
struct NoMMUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "no-mmu",
        abstract: "Show the three problems of memory without an MMU, then the same steps with paging.",
        discussion: """
        Options: --memory BYTES (64K; a multiple of 16 pages), --page-size BYTES (4K), --json.

        Examples:
          mmsim no-mmu
          mmsim no-mmu --memory 128K --page-size 8K
        """)

    @Argument(parsing: .captureForPassthrough, help: "Options (see above).")
    var args: [String] = []

    func run() throws {
        if args.contains("--help") || args.contains("-h") { throw CleanExit.helpRequest(self) }
        let s = runLab("no-mmu", args)
        if s != 0 { throw ExitCode(s) }
    }
}

/// `mmsim segmentation`: x86 segments, segmented paging, external fragmentation, swap cost.
struct SegmentationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segmentation",
        abstract: "Segmentation: x86 and Linux's flat segments, segmented paging, external fragmentation.",
        discussion: """
        Options: --memory BYTES (1M), --fit first|best|worst|all (all), --disk-mbps N (100), --json.

        Examples:
          mmsim segmentation
          mmsim segmentation --fit worst --disk-mbps 50
        """)

    @Argument(parsing: .captureForPassthrough, help: "Options (see above).")
    var args: [String] = []

    func run() throws {
        if args.contains("--help") || args.contains("-h") { throw CleanExit.helpRequest(self) }
        let s = runLab("segmentation", args)
        if s != 0 { throw ExitCode(s) }
    }
}
