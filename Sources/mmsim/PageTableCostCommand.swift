import ArgumentParser
import Foundation
import MMCore
import MMScenario

/// `mmsim pagetable-cost`: page-table memory of linear and multi-level tables, or measured.
struct PageTableCostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagetable-cost",
        abstract: "Compute the memory linear and multi-level page tables need, or measure a scenario's.",
        discussion: """
        Options: --va-bits V (32), --page-size B (4096), --entry-size E (4), --levels B,B,... (index
        bits per level, root first; default: one page per table), --used F (fraction in use: 20%, 0.2
        or 1/5; default all), --processes N (1), --scenario FILE or --example NAME (run it quietly and
        report the PageTables the model measured), --json.

        Examples:
          mmsim pagetable-cost --processes 100                # 4 MiB each, 400 MiB
          mmsim pagetable-cost --levels 10,10 --used 20%      # 0.804 MiB
          mmsim pagetable-cost --va-bits 48 --entry-size 8 --used 0.001%
          mmsim pagetable-cost --example fork-cow
        """)

    @Argument(parsing: .captureForPassthrough, help: "Options (see above).")
    var args: [String] = []

    func run() throws {
        if args.contains("--help") || args.contains("-h") { throw CleanExit.helpRequest(self) }
        var rest: [String] = []
        var source: (String, String)?
        var i = 0
        while i < args.count {
            if (args[i] == "--scenario" || args[i] == "--example") && i + 1 < args.count {
                if args[i] == "--example" {
                    guard let e = Examples.named(args[i + 1]) else {
                        writeErr("mmsim pagetable-cost: error: unknown example '\(args[i + 1])'\n")
                        throw ExitCode(ExitStatus.badInput)
                    }
                    source = (e.source, e.name + ".mmsim")
                } else {
                    guard let (t, n) = readScenario(args[i + 1]) else { throw ExitCode(ExitStatus.badInput) }
                    source = (t, n)
                }
                i += 2; continue
            }
            rest.append(args[i]); i += 1
        }
        var kernel: Kernel? = nil
        if let (text, name) = source {
            let scenario: Scenario
            do { scenario = try Parser.parse(text, file: name) } catch let e as ScenarioError {
                writeErr(e.rendered); throw ExitCode(ExitStatus.badInput)
            }
            let r = Runner(scenario: scenario, options: RunOptions())
            _ = r.run(out: { _ in }, err: { _ in })
            kernel = r.kernel
            rest.append("--measured")
        }
        let s = runLab("pagetable-cost", rest, kernel: kernel)
        if s != 0 { throw ExitCode(s) }
    }
}
