/// The built-in example scenarios shipped in the resource bundle.
import Foundation

/// One built-in example.
public struct Example: Sendable, Equatable {
    /// Name used on the command line (`mmsim example NAME`).
    public let name: String
    /// One-line description: the first comment line of the file.
    public let summary: String
    /// The scenario text.
    public let source: String
}

/// Access to the scenarios in `Sources/MMScenario/Examples`.
public enum Examples {
    /// Returns every built-in example sorted by name (empty if the resource bundle is missing).
    public static func all() -> [Example] {
        guard let dir = Bundle.module.url(forResource: "Examples", withExtension: nil),
              let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return files.filter { $0.hasSuffix(".mmsim") }.sorted().compactMap { f in
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(f).path) else { return nil }
            let text = String(decoding: data, as: UTF8.self)
            return Example(name: String(f.dropLast(6)), summary: summary(of: text), source: text)
        }
    }

    /// Returns the example called `name`, or nil when there is none.
    public static func named(_ name: String) -> Example? { all().first { $0.name == name } }

    /// Returns the text of the first comment line of `source` without its `#`, or "".
    static func summary(of source: String) -> String {
        for line in source.split(separator: "\n") {
            let t = line.drop(while: { $0 == " " })
            if t.hasPrefix("#") { return String(t.dropFirst().drop(while: { $0 == " " })) }
            if !t.isEmpty { break }
        }
        return ""
    }
}
