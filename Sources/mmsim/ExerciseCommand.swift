import ArgumentParser
import MMScenario

/// `mmsim exercise KIND`: a seeded textbook problem and, with --answers, its solution.
struct ExerciseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exercise",
        abstract: "Generate a seeded address-translation or replacement exercise (and its answers).",
        discussion: """
        KIND: base-bounds, segmentation, linear, multilevel, tlb, replacement.
        Options: --seed S (default 1), --answers (print the solution), --json.
        The same seed always gives the same problem; each problem names the 'mmsim translate' or
        'mmsim policy' command that solves it.

        Examples:
          mmsim exercise multilevel --seed 7
          mmsim exercise tlb --seed 3 --answers
          mmsim exercise replacement --seed 2 --answers --json
        """)

    @Argument(parsing: .captureForPassthrough, help: "KIND and options.")
    var args: [String] = []

    func run() throws {
        if args.contains("--help") || args.contains("-h") { throw CleanExit.helpRequest(self) }
        let s = runLab("exercise", args)
        if s != 0 { throw ExitCode(s) }
    }
}
