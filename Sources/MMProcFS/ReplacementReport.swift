import MMCore

/// Text and JSON renderings of page-replacement lab runs (`mmsim policy`, the `policy` command).
public enum ReplacementReport {
    /// "25.0%": hits over accesses, one decimal, rounded half up.
    public static func rate(_ hits: Int, _ total: Int) -> String {
        guard total > 0 else { return "-" }
        let tenths = (hits * 2000 + total) / (2 * total)
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// One run as a table: for every access its number, the page, HIT or MISS, the frames after
    /// it, the victim and the policy's state; then the totals.
    public static func table(_ r: ReplacementResult) -> String {
        let pw = r.steps.map { String($0.page).count }.max() ?? 1
        let w = max(4, pw)
        let n = max(1, String(r.steps.count).count)
        func cell(_ p: UInt64?) -> String { Fmt.right(p.map(String.init) ?? "-", pw) }
        let framesWidth = max(6, r.frameCount * (pw + 1) - 1)
        var s = "\(r.policy.displayName) with \(r.frameCount) frame\(r.frameCount == 1 ? "" : "s"), \(r.steps.count) reference\(r.steps.count == 1 ? "" : "s")\n"
        s += Fmt.right("#", n) + "  " + Fmt.right("page", w) + "  result  " + Fmt.left("frames", framesWidth) + "  " + Fmt.left("victim", 6)
        let anyState = r.steps.contains { $0.state != nil }
        s += anyState ? "  state\n" : ""
        if !anyState { while s.last == " " { s.removeLast() }; s += "\n" }
        for (i, st) in r.steps.enumerated() {
            var line = Fmt.right(String(i + 1), n) + "  " + Fmt.right(String(st.page), w) + "  " + (st.hit ? "HIT   " : "MISS  ") + "  "
                + Fmt.left(st.frames.map(cell).joined(separator: " "), framesWidth) + "  " + Fmt.left(st.victim.map(String.init) ?? "-", 6)
            if let state = st.state { line += "  " + state }
            while line.last == " " { line.removeLast() }
            s += line + "\n"
        }
        s += "hits \(r.hits), misses \(r.misses), hit rate \(rate(r.hits, r.steps.count))\n"
        return s
    }

    /// Several runs over the same references side by side: H or M per policy for every access,
    /// then hits, misses and hit rate per policy.
    public static func compare(_ runs: [ReplacementResult]) -> String {
        guard let first = runs.first else { return "" }
        let names = runs.map { "\($0.policy.displayName)/\($0.frameCount)" }
        let colW = max(8, names.map(\.count).max() ?? 0)
        let w = max(4, first.steps.map { String($0.page).count }.max() ?? 1)
        let n = max(8, String(first.steps.count).count)
        var s = "\(first.steps.count) references; H = hit, M = miss (victim in parentheses)\n"
        var header = Fmt.left("#", n) + "  " + Fmt.right("page", w) + "  " + names.map { Fmt.left($0, colW) }.joined(separator: "  ")
        while header.last == " " { header.removeLast() }
        s += header + "\n"
        for i in 0..<first.steps.count {
            var line = Fmt.left(String(i + 1), n) + "  " + Fmt.right(String(first.steps[i].page), w) + "  "
            line += runs.map { r -> String in
                let st = r.steps[i]
                return Fmt.left(st.hit ? "H" : ("M" + (st.victim.map { " (\($0))" } ?? "")), colW)
            }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            s += line + "\n"
        }
        func row(_ label: String, _ f: (ReplacementResult) -> String) {
            var line = Fmt.left(label, n) + "  " + String(repeating: " ", count: w) + "  " + runs.map { Fmt.left(f($0), colW) }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            s += line + "\n"
        }
        row("hits") { String($0.hits) }
        row("misses") { String($0.misses) }
        row("hit rate") { rate($0.hits, $0.steps.count) }
        return s
    }

    /// A JSON document of the runs: the references, and per run the policy, frames, totals and
    /// every step (keys in a fixed order, so the output is byte-identical run to run).
    public static func json(refs: [UInt64], _ runs: [ReplacementResult]) -> String {
        func arr<T>(_ xs: [T], _ f: (T) -> String) -> String { "[" + xs.map(f).joined(separator: ",") + "]" }
        var s = "{\"references\":" + arr(refs) { String($0) } + ",\"runs\":["
        s += runs.map { r in
            "{\"policy\":\"\(r.policy.displayName)\",\"frames\":\(r.frameCount),\"hits\":\(r.hits),\"misses\":\(r.misses)"
            + ",\"hitRate\":\"\(rate(r.hits, r.steps.count))\",\"steps\":"
            + arr(r.steps) { st in
                "{\"page\":\(st.page),\"hit\":\(st.hit),\"victim\":\(st.victim.map(String.init) ?? "null"),\"frames\":"
                + arr(st.frames) { $0.map(String.init) ?? "null" }
                + (st.state.map { ",\"state\":\"\($0)\"" } ?? "") + "}"
            } + "}"
        }.joined(separator: ",")
        return s + "]}\n"
    }

    /// Parses a reference string: page numbers (decimal or 0x hex) separated by commas, spaces,
    /// tabs or newlines, with `#` starting a comment to the end of the line. Throws
    /// `ReferenceStringError` naming the line and column of the first bad token.
    public static func parseReferences(_ text: String) throws -> [UInt64] {
        var out: [UInt64] = []
        for (ln, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let chars = Array(line.prefix { $0 != "#" })
            var i = 0
            while i < chars.count {
                if chars[i] == "," || chars[i] == " " || chars[i] == "\t" || chars[i] == "\r" { i += 1; continue }
                let start = i
                while i < chars.count, !(chars[i] == "," || chars[i] == " " || chars[i] == "\t" || chars[i] == "\r") { i += 1 }
                let tok = String(chars[start..<i])
                let v: UInt64? = tok.hasPrefix("0x") || tok.hasPrefix("0X") ? UInt64(tok.dropFirst(2), radix: 16) : UInt64(tok)
                guard let page = v else {
                    throw ReferenceStringError(line: ln + 1, column: start + 1, message: "'\(tok)' is not a page number (a decimal or 0x-hex integer below 2^64)")
                }
                out.append(page)
            }
        }
        return out
    }
}

/// A bad token in a reference string, with its 1-based position.
public struct ReferenceStringError: Error, Equatable, Sendable {
    public var line: Int
    public var column: Int
    public var message: String
}
