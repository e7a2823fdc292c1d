/// `mmsim serve` (the web visualizer) and `mmsim report` (a self-contained HTML report).
import ArgumentParser
import Foundation
import MMCore
import MMScenario
import MMServe

/// `mmsim serve [--host H] [--port N]`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the web visualizer on 127.0.0.1 (default port 8080).",
        discussion: """
        Open the printed address in a browser, pick a built-in example or paste a scenario, and \
        step through its events. Pasted scenarios never read host files and run with step, time, \
        RAM and body-size limits. --port 0 picks a free port (printed on the first line). \
        Each --trace FILE is replayed at startup (as by `mmsim replay`, on the machine of the \
        machine flags) and listed in the page next to the examples: one event per sample of the \
        replay, at most --trace-samples of them, each with all the views.

        Examples:
          mmsim serve
          mmsim serve --port 9000
          mmsim serve --trace seq.mmt --trace rand.mmt --ram 256M
        """)

    @Option(name: .long, help: "Address to listen on; 127.0.0.1 serves this machine only.")
    var host = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on (0 = any free port).")
    var port = 8080
    @Option(name: .long, help: "Most steps a scenario may have.")
    var maxSteps = RunLimits().maxSteps
    @Option(name: .long, help: "Most seconds one run may take.")
    var maxSeconds = RunLimits().maxSeconds
    @Option(name: .long, help: "A trace to replay and list in the page (repeatable).")
    var trace: [String] = []
    @Option(name: .long, help: "Most samples (events) kept of each trace replay.")
    var traceSamples = 100
    @OptionGroup var machine: MachineFlags

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard maxSteps > 0, maxSeconds > 0 else { throw ValidationError("--max-steps and --max-seconds must be positive") }
        guard (2...100_000).contains(traceSamples) else { throw ValidationError("--trace-samples must be 2...100000") }
    }

    func run() throws {
        let limits = RunLimits(maxSteps: maxSteps, maxSeconds: maxSeconds)
        let traces = try recordTraces(trace, machine: machine, samples: traceSamples)
        let host = self.host, port = self.port
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        _Concurrency.Task {
            do {
                try await runServer(host: host, port: port, limits: limits, traces: traces) { bound in
                    writeOut("mmsim serve: listening on http://\(host):\(bound)/\n")
                }
            } catch {
                failure.message = "\(error)"
            }
            done.signal()
        }
        done.wait()
        if let m = failure.message {
            writeErr("mmsim: error: cannot serve on \(host):\(port): \(m)\n")
            throw ExitCode(ExitStatus.failure)
        }
    }
}

/// Returns the replays of the traces at `paths` on the machine of `machine`, at most `samples`
/// events each; prints the error and throws ExitCode(2) for a bad machine or a bad trace.
func recordTraces(_ paths: [String], machine: MachineFlags, samples: Int) throws -> [Recording] {
    guard !paths.isEmpty else { return [] }
    let config: MachineConfig
    do { config = try machine.machine() } catch { throw badInput("\(error)") }
    return try paths.map { p in
        do { return try Recording(trace: p, machine: config, maxSamples: samples) } catch let e as RecordingError {
            throw badInput("\(p): \(e.message)")
        }
    }
}

/// Carries an error message out of the server task.
final class FailureBox: @unchecked Sendable { var message: String? }

/// `mmsim report FILE -o OUT.html`.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Run a scenario and write a self-contained HTML report with its charts as SVG.",
        discussion: """
        FILE is a scenario ('-' for standard input) or, with --example, the name of a built-in \
        example. The report has the timelines (RSS per process, free and available memory, page \
        faults, TLB miss rate), the final address spaces, physical memory, the buddy free lists, \
        free(1) and the events; it needs no network and no script.

        Examples:
          mmsim report lazy.mmsim -o lazy.html
          mmsim report --example fork-cow -o fork.html
          mmsim report --trace seq.mmt --ram 256M -o seq.html
        """)

    @Argument(help: "The scenario file ('-' for standard input), or the example's name with --example, or a trace with --trace.")
    var file: String
    @Flag(name: .long, help: "FILE names a built-in example.")
    var example = false
    @Flag(name: .long, help: "FILE is a trace: report its replay (samples as events; machine flags as for `mmsim replay`).")
    var trace = false
    @Option(name: .long, help: "Most samples (events) kept of the trace replay.")
    var traceSamples = 100
    @OptionGroup var machine: MachineFlags
    @Option(name: .shortAndLong, help: "The HTML file to write.")
    var output: String

    func run() throws {
        if trace {
            guard !example else { throw badInput("--trace and --example are exclusive") }
            guard (2...100_000).contains(traceSamples) else { throw badInput("--trace-samples must be 2...100000") }
            let rec = try recordTraces([file], machine: machine, samples: traceSamples)[0]
            try write(rec)
            return
        }
        let text: String, name: String
        if example {
            guard let e = Examples.named(file) else {
                writeErr("mmsim: error: unknown example '\(file)'\n")
                throw ExitCode(ExitStatus.badInput)
            }
            text = e.source; name = "\(e.name).mmsim"
        } else {
            guard let (t, n) = readScenario(file) else { throw ExitCode(ExitStatus.badInput) }
            text = t; name = n
        }
        let rec: Recording
        do {
            rec = try Recording(source: text, file: name, limits: RunLimits(maxSteps: Int.max, maxSeconds: .infinity, maxRAMBytes: .max))
        } catch let e as RecordingError {
            writeErr(e.rendered)
            throw ExitCode(ExitStatus.badInput)
        }
        try write(rec)
        if rec.exitStatus != 0 { writeErr(rec.diagnostics) }
    }

    /// Writes the report of `rec` to the output file; throws ExitCode(1) when it cannot be written.
    func write(_ rec: Recording) throws {
        let html = Report.html(rec)
        guard FileManager.default.createFile(atPath: output, contents: Data(html.utf8)) else {
            writeErr("mmsim: error: cannot write '\(output)'\n")
            throw ExitCode(ExitStatus.failure)
        }
        writeOut("mmsim report: wrote \(output) (\(rec.events.count) events)\n")
    }
}
