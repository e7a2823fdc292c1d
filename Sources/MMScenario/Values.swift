/// Numbers, expressions and flag words of the scenario language, parsed with overflow checks.
import MMCore

/// One operand of an expression: a number or a variable.
enum Operand: Equatable {
    case number(UInt64)
    case variable(String)
}

/// One signed term of an expression (`buf`, `+4K`, `-0x10`).
struct Term: Equatable {
    var negate: Bool
    var operand: Operand
    /// 1-based source column of the term.
    var column: Int
}

/// An unsigned 64-bit expression: `NUMBER`, `NULL`, `VAR`, or terms joined by `+`/`-`.
struct Expr: Equatable {
    var terms: [Term]
    /// The expression as written.
    var text: String
    /// 1-based source column of the first character.
    var column: Int

    /// The variables the expression reads.
    var variables: [(name: String, column: Int)] {
        terms.compactMap { if case .variable(let n) = $0.operand { return (n, $0.column) } else { return nil } }
    }

    /// The value when the expression has no variables, else nil.
    var constantValue: UInt64? {
        guard variables.isEmpty else { return nil }
        return try? evaluate { _ in nil }
    }

    /// Returns the value, evaluated left to right; throws a `LineError` when a variable has no
    /// value or the arithmetic leaves 0...2^64-1.
    func evaluate(_ lookup: (String) -> UInt64?) throws -> UInt64 {
        var acc: UInt64 = 0
        for (i, t) in terms.enumerated() {
            let v: UInt64
            switch t.operand {
            case .number(let n): v = n
            case .variable(let name):
                guard let x = lookup(name) else {
                    throw LineError(column: t.column, message: "variable '\(name)' has no value (the step that sets it did not run)")
                }
                v = x
            }
            if i == 0 && !t.negate { acc = v; continue }
            let (r, o) = t.negate ? acc.subtractingReportingOverflow(v) : acc.addingReportingOverflow(v)
            if o {
                throw LineError(column: column, message: t.negate
                    ? "'\(text)' is negative (values are unsigned 64-bit)"
                    : "'\(text)' overflows 64 bits")
            }
            acc = r
        }
        return acc
    }
}

/// Parsing of numbers, expressions and flag words.
enum Values {
    /// Size suffixes: binary multiples.
    static let suffixShift: [Character: UInt64] = ["K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60]

    /// Returns the value of a number literal (`42`, `0x2a`, `4K`, `NULL`), or throws a
    /// `LineError` at `column` when it is malformed or does not fit in 64 bits.
    static func number(_ text: String, column: Int) throws -> UInt64 {
        if text == "NULL" { return 0 }
        let lower = text.lowercased()
        if lower.hasPrefix("0x") {
            let digits = text.dropFirst(2)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isHexDigit }) else {
                throw LineError(column: column, message: "invalid hexadecimal number '\(text)'")
            }
            let significant = digits.drop(while: { $0 == "0" })
            guard significant.count <= 16, let v = UInt64(significant.isEmpty ? "0" : String(significant), radix: 16) else {
                throw LineError(column: column, message: "number '\(text)' does not fit in 64 bits")
            }
            return v
        }
        var digits = Substring(text)
        var shift: UInt64 = 0
        if let last = text.last, let s = suffixShift[Character(last.uppercased())] {
            shift = s
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else {
            throw LineError(column: column, message: "invalid number '\(text)' (expected decimal, 0x hex, a K/M/G/T/P/E size or NULL)")
        }
        guard let base = UInt64(digits) else {
            throw LineError(column: column, message: "number '\(text)' does not fit in 64 bits")
        }
        guard shift == 0 || base <= (UInt64.max >> shift) else {
            throw LineError(column: column, message: "number '\(text)' does not fit in 64 bits")
        }
        return base << shift
    }

    /// Returns a signed literal (`-4K`, `12`) in `range`, or throws a `LineError` naming `what`.
    static func signed(_ text: String, column: Int, what: String, range: ClosedRange<Int64>) throws -> Int64 {
        let negative = text.hasPrefix("-")
        let body = negative || text.hasPrefix("+") ? String(text.dropFirst()) : text
        guard !body.isEmpty, body.first?.isNumber == true || body == "NULL" else {
            throw LineError(column: column, message: "invalid \(what) '\(text)' (expected a number)")
        }
        let magnitude = try number(body, column: column)
        let outOfRange = LineError(column: column, message: "\(what) \(text) is out of range (\(range.lowerBound)...\(range.upperBound))")
        let value: Int64
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw outOfRange }
            value = magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        } else {
            guard magnitude <= UInt64(Int64.max) else { throw outOfRange }
            value = Int64(magnitude)
        }
        guard range.contains(value) else { throw outOfRange }
        return value
    }

    /// Returns whether `s` is a valid variable or process name: a letter or `_`, then letters, digits, `_`.
    static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.first, f.isASCII, f.isLetter || f == "_" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// Returns the expression written in `text` at `column`; a constant expression is folded
    /// and checked here. Throws a `LineError` at the offending term.
    static func expression(_ text: String, column: Int) throws -> Expr {
        let chars = Array(text)
        guard !chars.isEmpty else { throw LineError(column: column, message: "expected a value") }
        var terms: [Term] = []
        var i = 0
        var negate = false
        while true {
            let start = i
            while i < chars.count, chars[i] != "+", chars[i] != "-" { i += 1 }
            let piece = String(chars[start..<i])
            let col = column + start
            if piece.isEmpty {
                throw LineError(column: col, message: start == 0 && i < chars.count
                    ? "expected a value before '\(chars[i])' (negative values are not allowed here)"
                    : "expected a value after '\(chars[start - 1])'")
            }
            let operand: Operand
            if piece == "NULL" || piece.first?.isNumber == true {
                operand = .number(try number(piece, column: col))
            } else if isIdentifier(piece) {
                operand = .variable(piece)
            } else {
                throw LineError(column: col, message: "invalid value '\(piece)' (expected a number or a variable)")
            }
            terms.append(Term(negate: negate, operand: operand, column: col))
            if i >= chars.count { break }
            negate = chars[i] == "-"
            i += 1
        }
        let e = Expr(terms: terms, text: text, column: column)
        if e.variables.isEmpty { _ = try e.evaluate { _ in nil } }
        return e
    }

    /// Returns the protection written as letters (`rw-`, `r-x`), names joined by `|` or `,`
    /// (`read|write`, `PROT_READ`), or `none`; throws a `LineError` at the unknown part.
    static func prot(_ text: String, column: Int) throws -> Prot {
        let lower = text.lowercased()
        if lower == "none" || lower == "prot_none" || lower == "---" { return [] }
        if lower.allSatisfy({ "rwx-".contains($0) }) && lower.count <= 3 {
            let chars = Array(lower)
            var p: Prot = []
            for (i, c) in chars.enumerated() {
                let flag: Prot
                switch c {
                case "r": flag = .read
                case "w": flag = .write
                case "x": flag = .exec
                default: continue
                }
                if p.contains(flag) { throw LineError(column: column + i, message: "'\(c)' repeated in protection '\(text)'") }
                p.insert(flag)
            }
            return p
        }
        var p: Prot = []
        for (name, col) in splitList(text, column: column) {
            var n = name.lowercased()
            if n.hasPrefix("prot_") { n.removeFirst(5) }
            switch n {
            case "read": p.insert(.read)
            case "write": p.insert(.write)
            case "exec": p.insert(.exec)
            case "none": break
            default:
                throw LineError(column: col, message: "unknown protection '\(name)' (use letters like rw- or read|write|exec|none)")
            }
        }
        return p
    }

    /// The mmap flag names the language accepts, with their values.
    static let mapFlagNames: [(String, MapFlags)] = [
        ("shared", .shared), ("private", .private), ("shared_validate", .sharedValidate),
        ("fixed", .fixed), ("anonymous", .anonymous), ("anon", .anonymous), ("growsdown", .growsdown),
        ("locked", .locked), ("noreserve", .noreserve), ("populate", .populate), ("nonblock", .nonblock),
        ("stack", .stack), ("hugetlb", .hugetlb), ("fixed_noreplace", .fixedNoreplace),
        // MAP_HUGE_2MB / MAP_HUGE_1GB: log2 of the huge page size in bits 26..31.
        ("huge_2mb", MapFlags(rawValue: 21 << MAP_HUGE_SHIFT)), ("huge_1gb", MapFlags(rawValue: 30 << MAP_HUGE_SHIFT)),
    ]

    /// Returns the mmap flags written as names joined by `,` or `|` (`private,anonymous`,
    /// `MAP_SHARED`); throws a `LineError` at an unknown name.
    static func mapFlags(_ text: String, column: Int) throws -> MapFlags {
        var f: MapFlags = []
        for (name, col) in splitList(text, column: column) {
            var n = name.lowercased()
            if n.hasPrefix("map_") { n.removeFirst(4) }
            guard let v = mapFlagNames.first(where: { $0.0 == n })?.1 else {
                throw LineError(column: col, message: "unknown mmap flag '\(name)' (known: shared, private, anonymous, fixed, fixed_noreplace, populate, noreserve, locked, growsdown, stack, hugetlb, huge_2mb, huge_1gb, nonblock)")
            }
            f.insert(v)
        }
        return f
    }

    /// Returns the madvise advice named `text` (`dontneed`, `MADV_DONTNEED`); throws a `LineError` otherwise.
    static func advice(_ text: String, column: Int) throws -> Advice {
        var n = text.lowercased()
        if n.hasPrefix("madv_") { n.removeFirst(5) }
        guard let a = Advice.allCases.first(where: { String(describing: $0) == n }) else {
            let known = Advice.allCases.map { String(describing: $0) }.joined(separator: ", ")
            throw LineError(column: column, message: "unknown madvise advice '\(text)' (known: \(known))")
        }
        return a
    }

    /// Splits `a,b|c` into its non-empty parts with their columns.
    static func splitList(_ text: String, column: Int) -> [(String, Int)] {
        var out: [(String, Int)] = []
        var cur = "", start = 0
        for (i, c) in text.enumerated() {
            if c == "," || c == "|" {
                if !cur.isEmpty { out.append((cur, column + start)) }
                cur = ""; start = i + 1
            } else { cur.append(c) }
        }
        if !cur.isEmpty { out.append((cur, column + start)) }
        return out
    }
}

/// strace/ltrace-style formatting of values.
enum Fmt {
    /// `0x1f` style hex.
    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
    /// A pointer as strace prints it: `NULL` for zero, else hex.
    static func ptr(_ v: UInt64) -> String { v == 0 ? "NULL" : hex(v) }

    /// `PROT_READ|PROT_WRITE`, or `PROT_NONE`.
    static func prot(_ p: Prot) -> String {
        var parts: [String] = []
        if p.contains(.read) { parts.append("PROT_READ") }
        if p.contains(.write) { parts.append("PROT_WRITE") }
        if p.contains(.exec) { parts.append("PROT_EXEC") }
        if p.contains(.growsdown) { parts.append("PROT_GROWSDOWN") }
        if p.contains(.growsup) { parts.append("PROT_GROWSUP") }
        return parts.isEmpty ? "PROT_NONE" : parts.joined(separator: "|")
    }

    /// `MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS`: the mapping type first, then flags by bit value, as strace does.
    static func mapFlags(_ f: MapFlags) -> String {
        var parts: [String] = []
        switch f.rawValue & 0x3 {
        case 1: parts.append("MAP_SHARED")
        case 2: parts.append("MAP_PRIVATE")
        case 3: parts.append("MAP_SHARED_VALIDATE")
        default: break
        }
        let names: [(MapFlags, String)] = [
            (.fixed, "MAP_FIXED"), (.anonymous, "MAP_ANONYMOUS"), (.growsdown, "MAP_GROWSDOWN"),
            (.denywrite, "MAP_DENYWRITE"), (.executable, "MAP_EXECUTABLE"), (.locked, "MAP_LOCKED"),
            (.noreserve, "MAP_NORESERVE"), (.populate, "MAP_POPULATE"), (.nonblock, "MAP_NONBLOCK"),
            (.stack, "MAP_STACK"), (.hugetlb, "MAP_HUGETLB"), (.fixedNoreplace, "MAP_FIXED_NOREPLACE"),
        ]
        for (flag, name) in names where f.contains(flag) { parts.append(name) }
        switch (f.rawValue >> MAP_HUGE_SHIFT) & 0x3f {
        case 0: break
        case 21: parts.append("MAP_HUGE_2MB")
        case 30: parts.append("MAP_HUGE_1GB")
        case let n: parts.append("\(n) << MAP_HUGE_SHIFT")
        }
        return parts.isEmpty ? "0" : parts.joined(separator: "|")
    }

    /// `MREMAP_MAYMOVE|MREMAP_FIXED`, or `0`.
    static func mremapFlags(_ f: MremapFlags) -> String {
        var parts: [String] = []
        if f.contains(.maymove) { parts.append("MREMAP_MAYMOVE") }
        if f.contains(.fixed) { parts.append("MREMAP_FIXED") }
        if f.contains(.dontunmap) { parts.append("MREMAP_DONTUNMAP") }
        return parts.isEmpty ? "0" : parts.joined(separator: "|")
    }

    /// `MS_SYNC|MS_INVALIDATE`, or `0`.
    static func msyncFlags(_ f: MsyncFlags) -> String {
        var parts: [String] = []
        if f.contains(.async) { parts.append("MS_ASYNC") }
        if f.contains(.invalidate) { parts.append("MS_INVALIDATE") }
        if f.contains(.sync) { parts.append("MS_SYNC") }
        return parts.isEmpty ? "0" : parts.joined(separator: "|")
    }

    /// `MADV_DONTNEED`.
    static func advice(_ a: Advice) -> String { "MADV_" + String(describing: a).uppercased() }

    /// `-1 ENOMEM (Cannot allocate memory)`.
    static func errno(_ e: Errno) -> String { "-1 \(e.name) (\(e.message))" }
}
