/// The address-translation labs shared by the command line (`mmsim translate`, `mmsim exercise`,
/// `mmsim pagetable-cost`, `mmsim no-mmu`, `mmsim segmentation`) and the scenario commands of the
/// same names: one argument parser and one renderer, so both forms print the same text.
import Foundation
import MMCore

/// A bad lab argument or input: the argument it is about (index into argv) or a place in a file.
public struct LabError: Error, Equatable, Sendable {
    /// Index of the offending argument in argv, when the error is about one.
    public var argument: Int?
    /// File, line and column, when the error is inside an input file (a memory dump).
    public var file: String?
    public var line: Int = 0
    public var column: Int = 0
    public var message: String
    public init(argument: Int? = nil, _ message: String) { self.argument = argument; self.message = message }
    public init(file: String, line: Int, column: Int, _ message: String) {
        self.file = file; self.line = line; self.column = column; self.message = message
    }
}

/// What a lab printed.
public struct LabOutput: Sendable {
    public var text: String
    /// The same result as one JSON document (with a trailing newline).
    public var json: String
}

/// Command-line style arguments: `--name VALUE`, `--name=VALUE`, `--flag` and positionals.
struct LabArgs {
    let argv: [String]
    var used: [Bool]
    init(_ argv: [String]) { self.argv = argv; used = [Bool](repeating: false, count: argv.count) }

    /// Returns every value of `--name` with its argument index; throws when a value is missing.
    mutating func values(_ name: String) throws -> [(String, Int)] {
        var out: [(String, Int)] = []
        var i = 0
        while i < argv.count {
            let a = argv[i]
            if !used[i] && a == "--" + name {
                guard i + 1 < argv.count else { throw LabError(argument: i, "--\(name) needs a value") }
                used[i] = true; used[i + 1] = true
                out.append((argv[i + 1], i + 1)); i += 2; continue
            }
            if !used[i] && a.hasPrefix("--" + name + "=") {
                used[i] = true
                out.append((String(a.dropFirst(name.count + 3)), i))
            }
            i += 1
        }
        return out
    }

    /// Returns the single value of `--name`, nil when absent; throws when given twice.
    mutating func value(_ name: String) throws -> (String, Int)? {
        let v = try values(name)
        if v.count > 1 { throw LabError(argument: v[1].1, "--\(name) given more than once") }
        return v.first
    }

    /// Returns true when `--name` is present (and marks it used).
    mutating func flag(_ name: String) -> Bool {
        var found = false
        for (i, a) in argv.enumerated() where !used[i] && a == "--" + name { used[i] = true; found = true }
        return found
    }

    /// Returns the unused arguments that do not start with `--`, with their indices; throws on an
    /// unknown `--option`.
    mutating func positionals() throws -> [(String, Int)] {
        var out: [(String, Int)] = []
        for (i, a) in argv.enumerated() where !used[i] {
            if a.hasPrefix("--") { throw LabError(argument: i, "unknown option '\(a)'") }
            used[i] = true
            out.append((a, i))
        }
        return out
    }

    /// Parses a number: decimal, 0x hex, 0b binary or 0o octal, `_` allowed, optional K/M/G/T
    /// suffix (powers of 1024); throws on anything else or on overflow.
    static func number(_ s: String, _ index: Int, what: String) throws -> UInt64 {
        var t = s.replacingOccurrences(of: "_", with: "").lowercased()
        var mult: UInt64 = 1
        if !t.hasPrefix("0x"), let last = t.last, let p = ["k": 10, "m": 20, "g": 30, "t": 40][last] {
            mult = 1 << UInt64(p); t.removeLast()
            if t.hasSuffix("i") { t.removeLast() }
        }
        var radix = 10
        if t.hasPrefix("0x") { radix = 16; t.removeFirst(2) } else if t.hasPrefix("0b") { radix = 2; t.removeFirst(2) } else if t.hasPrefix("0o") { radix = 8; t.removeFirst(2) }
        guard !t.isEmpty, let v = UInt64(t, radix: radix) else { throw LabError(argument: index, "\(what): '\(s)' is not a number") }
        let (r, o) = v.multipliedReportingOverflow(by: mult)
        guard !o else { throw LabError(argument: index, "\(what): '\(s)' does not fit in 64 bits") }
        return r
    }

    /// Returns `--name`'s number, `def` when absent; throws when outside `range`.
    mutating func number(_ name: String, default def: UInt64?, in range: ClosedRange<UInt64>) throws -> UInt64 {
        guard let (s, i) = try value(name) else {
            guard let d = def else { throw LabError("--\(name) is required") }
            return d
        }
        let v = try LabArgs.number(s, i, what: "--" + name)
        guard range.contains(v) else { throw LabError(argument: i, "--\(name): \(v) is out of range (\(range.lowerBound)...\(range.upperBound))") }
        return v
    }

    /// Returns `--name` as an Int in `range`.
    mutating func int(_ name: String, default def: Int?, in range: ClosedRange<Int>) throws -> Int {
        Int(try number(name, default: def.map { UInt64($0) }, in: UInt64(range.lowerBound)...UInt64(range.upperBound)))
    }
}

/// Hex with a 0x prefix.
func hx(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
/// Hex with a 0x prefix and at least `digits` digits.
func hx(_ v: UInt64, _ digits: Int) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, digits - s.count)) + s
}
/// Left-justifies `s` in `w` columns.
func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
/// Right-justifies `s` in `w` columns.
func rpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }

/// The labs by name.
public enum Labs {
    /// The lab names, which are also the CLI subcommands and the scenario command words.
    public static let names = ["translate", "exercise", "pagetable-cost", "no-mmu", "segmentation"]

    /// Returns the one-line `--explain` narration of lab `argv` (what mechanism it models).
    public static func explainLine(_ argv: [String]) -> String {
        switch argv.first ?? "" {
        case "translate":
            if let i = argv.firstIndex(of: "--arch"), i + 1 < argv.count {
                return "translate: builds \(argv[i + 1]) page tables in the lab's own frames and walks them as that MMU does (the kernel's x86-64 MMU is not involved)"
            }
            return "translate: solves the textbook translation step by step (segment table or page-table entries read from the given memory)"
        case "exercise": return "exercise: generates a seeded textbook problem (SplitMix64) and solves it with the same solvers as translate and policy"
        case "pagetable-cost": return "pagetable-cost: linear table = 2^(VA bits - page bits) entries; multi-level = top table + the used fraction of the lower levels"
        case "no-mmu": return "no-mmu: programs address physical memory directly, then the same steps with a page table per process"
        default: return "segmentation: selectors and descriptors (base, limit, DPL), segmented paging, first/best/worst fit and whole-segment swapping"
        }
    }

    /// Runs lab `argv[0]` with the arguments `argv[1...]` and returns its text and JSON, or throws
    /// a LabError naming the bad argument (index into argv) or the file place. `readFile` reads an
    /// input file (nil: files are not allowed, as in scenarios); `kernel`, when given, is the
    /// scenario's kernel whose measured page-table memory `pagetable-cost --measured` reports.
    public static func run(_ argv: [String], readFile: ((String) -> String?)? = nil, kernel: Kernel? = nil) throws -> LabOutput {
        guard let name = argv.first else { throw LabError("missing lab name (known: \(names.joined(separator: ", ")))") }
        var a = LabArgs(argv)
        a.used[0] = true
        let out: (String, JSON)
        switch name {
        case "translate": out = try LabTranslate.run(&a, readFile: readFile)
        case "exercise": out = try LabExercise.run(&a)
        case "pagetable-cost": out = try LabCost.run(&a, readFile: readFile, kernel: kernel)
        case "no-mmu": out = try LabSegments.noMMU(&a)
        case "segmentation": out = try LabSegments.segmentation(&a)
        default: throw LabError(argument: 0, "unknown lab '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        return LabOutput(text: out.0, json: out.1.rendered() + "\n")
    }
}
