/// `mmsim serve` (the web visualizer) and `mmsim report` (a self-contained HTML report).
import ArgumentParser
import Foundation
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
        RAM and body-size limits. --port 0 picks a free port (printed on the first line).

        Examples:
          mmsim serve
          mmsim serve --port 9000
        """)

    @Option(name: .long, help: "Address to listen on; 127.0.0.1 serves this machine only.")
    var host = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on (0 = any free port).")
    var port = 8080
    @Option(name: .long, help: "Most steps a scenario may have.")
    var maxSteps = RunLimits().maxSteps
    @Option(name: .long, help: "Most seconds one run may take.")
    var maxSeconds = RunLimits().maxSeconds

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard maxSteps > 0, maxSeconds > 0 else { throw ValidationError("--max-steps and --max-seconds must be positive") }
    }

    func run() throws {
        let limits = RunLimits(maxSteps: maxSteps, maxSeconds: maxSeconds)
        let host = self.host, port = self.port
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        _Concurrency.Task {
            do {
                try await runServer(host: host, port: port, limits: limits) { bound in
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
        """)

    @Argument(help: "The scenario file ('-' for standard input), or the example's name with --example.")
    var file: String
    @Flag(name: .long, help: "FILE names a built-in example.")
    var example = false
    @Option(name: .shortAndLong, help: "The HTML file to write.")
    var output: String

    func run() throws {
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
        let html = Report.html(rec)
        guard FileManager.default.createFile(atPath: output, contents: Data(html.utf8)) else {
            writeErr("mmsim: error: cannot write '\(output)'\n")
            throw ExitCode(ExitStatus.failure)
        }
        writeOut("mmsim report: wrote \(output) (\(rec.events.count) events)\n")
        if rec.exitStatus != 0 { writeErr(rec.diagnostics) }
    }
}
