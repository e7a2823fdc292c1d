import ArgumentParser
import Foundation
import MMCore
import MMScenario

/// Runs lab `name` with the command-line arguments `args` (`--json` selects the JSON document),
/// printing the result; returns the exit status (2 after printing a bad argument or a bad line
/// of an input file as FILE:LINE:COL: error: MESSAGE).
func runLab(_ name: String, _ args: [String], kernel: Kernel? = nil) -> Int32 {
    var rest = args
    let json = rest.contains("--json")
    rest.removeAll { $0 == "--json" }
    do {
        let out = try Labs.run([name] + rest, readFile: { path in
            guard let d = FileManager.default.contents(atPath: path) else { return nil }
            return String(decoding: d, as: UTF8.self)
        }, kernel: kernel)
        writeOut(json ? out.json : out.text)
        return 0
    } catch let e as LabError {
        if let f = e.file {
            writeErr("\(f):\(e.line):\(e.column): error: \(e.message)\n")
        } else {
            writeErr("mmsim \(name): error: \(e.message)\n")
        }
        return ExitStatus.badInput
    } catch {
        writeErr("mmsim \(name): error: \(error)\n")
        return ExitStatus.badInput
    }
}
