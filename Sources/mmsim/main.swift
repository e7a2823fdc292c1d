/// Entry point: parses the command line, runs the command and maps every failure to an exit status
/// (0 success or help, 1 scenario failure, 2 bad input including bad flags).
import ArgumentParser
import Foundation
import MMScenario

do {
    var command = try MMSim.parseAsRoot()
    try command.run()
    exit(0)
} catch let code as ExitCode {
    exit(code.rawValue)
} catch {
    var message = MMSim.fullMessage(for: error)
    while message.hasSuffix("\n") { message.removeLast() }
    if MMSim.exitCode(for: error) == .success {
        writeOut(message.isEmpty ? "" : message + "\n")
        exit(0)
    }
    writeErr(message.isEmpty ? "" : message + "\n")
    exit(ExitStatus.badInput)
}
