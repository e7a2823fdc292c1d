/// The `mmsim` command line: run, check and built-in examples.
import ArgumentParser
import Foundation
import MMCore
import MMScenario

/// Writes `s` to standard output.
func writeOut(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }
/// Writes `s` to standard error.
func writeErr(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }

/// The root command.
struct MMSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mmsim",
        abstract: "A simulator of the Linux memory-management subsystem.",
        discussion: """
        Runs scenarios (small scripts of system calls, memory accesses and procfs reads) on a \
        simulated machine and prints what a real system would show: strace-style system calls, \
        signals, kernel log lines, /proc files and free(1).

        Exit status: 0 success, 1 scenario failure (expectation, invariant or evaluation), \
        2 bad input (parse error, unknown example, bad command-line flag).

        Examples:
          mmsim                     # the guided tour: mmsim example demo
          mmsim run my.mmsim --explain
          mmsim example --list
        """,
        subcommands: [Run.self, ExampleCommand.self, Check.self, PolicyCommand.self,
                      TranslateCommand.self, ExerciseCommand.self, PageTableCostCommand.self,
                      NoMMUCommand.self, SegmentationCommand.self,
                      ServeCommand.self, ReportCommand.self,
                      TraceCommand.self, ImportTraceCommand.self, ReplayCommand.self, SynthCommand.self,
                      SweepCommand.self, DumpTraceCommand.self],
        defaultSubcommand: ExampleCommand.self)
}

/// Flags shared by `run` and `example`.
struct RunFlags: ParsableArguments {
    @Flag(name: .long, help: "Narrate what the kernel does, indented under each step.")
    var explain = false
    @Flag(name: .long, help: "Check the kernel's invariants after every step; a violation fails the run (exit 1).")
    var check = false
    @Flag(name: .long, help: "Print one JSON document (steps, output, kernel log, summary) instead of the transcript.")
    var json = false
    @Option(name: .long, help: "Seed of the machine's random source (ASLR offsets, AT_RANDOM); overrides 'machine seed=N'.")
    var seed: UInt64?
    @Flag(name: .long, help: "Refuse 'import' of host files (for embedding; reading host files is allowed by default).")
    var noHostFiles = false

    var options: RunOptions { RunOptions(explain: explain, check: check, json: json, allowHostFiles: !noHostFiles, seed: seed) }
}

/// Returns the exit status of parsing and running `source`; prints the transcript or the diagnostic.
func runScenario(_ source: String, file: String, options: RunOptions) -> Int32 {
    let scenario: Scenario
    do {
        scenario = try Parser.parse(source, file: file)
    } catch let e as ScenarioError {
        writeErr(e.rendered)
        return ExitStatus.badInput
    } catch {
        writeErr("mmsim: error: \(error)\n")
        return ExitStatus.badInput
    }
    return Runner(scenario: scenario, options: options).run(out: writeOut, err: writeErr)
}

/// Returns the text of FILE (`-` = standard input) and its display name, or nil after printing why not.
func readScenario(_ path: String) -> (text: String, name: String)? {
    if path == "-" {
        return (String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self), "<stdin>")
    }
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
          let data = FileManager.default.contents(atPath: path) else {
        writeErr("mmsim: error: cannot read '\(path)': no such file\n")
        return nil
    }
    return (String(decoding: data, as: UTF8.self), path)
}

/// `mmsim run FILE`.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario file.",
        discussion: """
        FILE is a scenario in the mmsim scenario language (see README.md); '-' reads standard input. \
        Errors are reported as FILE:LINE:COL: error: MESSAGE with the line and a caret.

        Examples:
          mmsim run lazy.mmsim
          mmsim run lazy.mmsim --explain --check
          mmsim run - --json < lazy.mmsim
        """)

    @Argument(help: "The scenario file ('-' for standard input).")
    var file: String
    @OptionGroup var flags: RunFlags

    func run() throws {
        guard let (text, name) = readScenario(file) else { throw ExitCode(ExitStatus.badInput) }
        let status = runScenario(text, file: name, options: flags.options)
        if status != 0 { throw ExitCode(status) }
    }
}

/// `mmsim example [NAME] [--list]`.
struct ExampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example",
        abstract: "Run a built-in example scenario (default: demo), or list them.",
        discussion: """
        The examples reproduce the experiments of the seed chapters: mmap of 100 MiB, a write \
        to NULL, lazy malloc and the OOM killer, free(1) before and after allocating. Their \
        source is in Sources/MMScenario/Examples; copy one to start a scenario of your own.

        Examples:
          mmsim example --list
          mmsim example null-write
          mmsim example lazy-malloc --explain
        """)

    @Flag(name: .long, help: "List the built-in examples with a one-line description.")
    var list = false
    @Argument(help: "The example to run.")
    var name: String = "demo"
    @OptionGroup var flags: RunFlags

    func run() throws {
        let all = Examples.all()
        if list {
            let width = all.map(\.name.count).max() ?? 0
            for e in all { writeOut(e.name + String(repeating: " ", count: width - e.name.count + 2) + e.summary + "\n") }
            return
        }
        guard let e = all.first(where: { $0.name == name }) else {
            writeErr("mmsim: error: unknown example '\(name)' (known: \(all.map(\.name).joined(separator: ", ")))\n")
            throw ExitCode(ExitStatus.badInput)
        }
        let status = runScenario(e.source, file: "\(e.name).mmsim", options: flags.options)
        if status != 0 { throw ExitCode(status) }
    }
}

/// `mmsim check FILE`.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse a scenario without running it and report any error.",
        discussion: """
        Prints 'FILE: OK (N steps)' when the scenario parses, or the first error as \
        FILE:LINE:COL: error: MESSAGE with the line and a caret (exit 2).

        Examples:
          mmsim check lazy.mmsim
          mmsim check - < lazy.mmsim
        """)

    @Argument(help: "The scenario file ('-' for standard input).")
    var file: String

    func run() throws {
        guard let (text, name) = readScenario(file) else { throw ExitCode(ExitStatus.badInput) }
        do {
            let s = try Parser.parse(text, file: name)
            writeOut("\(name): OK (\(s.stepCount) step\(s.stepCount == 1 ? "" : "s"))\n")
        } catch let e as ScenarioError {
            writeErr(e.rendered)
            throw ExitCode(ExitStatus.badInput)
        }
    }
}
