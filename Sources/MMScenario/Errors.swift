/// Errors of the scenario language, rendered like compiler diagnostics.

/// A problem found in a scenario, located at a file, line and column.
public struct ScenarioError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file name as given on the command line (`<stdin>` for standard input).
    public var file: String
    /// 1-based line number.
    public var line: Int
    /// 1-based column (in characters).
    public var column: Int
    /// What went wrong, without location.
    public var message: String
    /// The text of the offending line (empty when unknown).
    public var sourceLine: String

    public init(file: String, line: Int, column: Int, message: String, sourceLine: String = "") {
        self.file = file; self.line = line; self.column = column
        self.message = message; self.sourceLine = sourceLine
    }

    /// Returns the diagnostic as swiftc prints it: `FILE:LINE:COL: error: MESSAGE`, then the
    /// source line and a caret under the column (tabs kept so the caret lines up).
    public var rendered: String {
        var s = "\(file):\(line):\(column): error: \(message)\n"
        guard !sourceLine.isEmpty else { return s }
        s += sourceLine + "\n"
        var pad = ""
        for (i, ch) in sourceLine.enumerated() where i < column - 1 { pad.append(ch == "\t" ? "\t" : " ") }
        if column - 1 > sourceLine.count { pad += String(repeating: " ", count: column - 1 - sourceLine.count) }
        s += pad + "^\n"
        return s
    }

    public var description: String { rendered }
}

/// A located message produced while parsing one line, before the file name is known.
struct LineError: Error {
    var column: Int
    var message: String
}
