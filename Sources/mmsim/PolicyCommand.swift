import ArgumentParser
import Foundation
import MMCore
import MMProcFS
import MMScenario

/// `mmsim policy`: the page-replacement lab.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Run page-replacement policies over a reference string (the textbook lab).",
        discussion: """
        Prints, for every reference, HIT or MISS, the frames after it, the victim and the \
        policy's own state, then the hits, misses and hit rate. Policies: fifo, lru, opt, mru, \
        clock, rand, lfu, linux (Linux's active/inactive lists). Several policies or frame counts \
        print one table each, or one side-by-side table with --compare. The tie rules are in \
        README.md ("The page-replacement lab").

        Examples:
          mmsim policy --policy fifo --frames 3,4 --refs 1,2,3,4,1,2,5,1,2,3,4,5
          mmsim policy --compare --frames 3 --refs 7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1
          mmsim policy --policy rand,clock --frames 4 --generate 50 --pages 8 --seed 7
          mmsim policy --policy opt --frames 3 --file refs.txt --json
        """)

    @Option(name: .long, help: "Policies, comma-separated (default: fifo; with --compare and no --policy: all).")
    var policy: String?
    @Option(name: .long, help: "Frame counts, comma-separated (e.g. 3,4).")
    var frames: String
    @Option(name: .long, help: "The reference string: page numbers separated by commas or spaces.")
    var refs: String?
    @Option(name: .long, help: "Read the reference string from this file (# starts a comment).")
    var file: String?
    @Option(name: .long, help: "Generate this many uniformly random references instead.")
    var generate: Int?
    @Option(name: .long, help: "Distinct pages the generated references draw from (default 10).")
    var pages: Int = 10
    @Option(name: .long, help: "Seed for --generate and the rand policy (default 1).")
    var seed: UInt64 = 1
    @Flag(name: .long, help: "Print the policies side by side instead of one table each.")
    var compare = false
    @Flag(name: .long, help: "Print one JSON document instead of tables.")
    var json = false

    /// Prints `message` as a command-line error and exits with status 2.
    func fail(_ message: String) -> ExitCode {
        writeErr("mmsim policy: error: \(message)\n")
        return ExitCode(ExitStatus.badInput)
    }

    func run() throws {
        // Policies.
        var policies: [ReplacementPolicy] = compare && policy == nil ? ReplacementPolicy.allCases : [.fifo]
        if let p = policy {
            policies = []
            for name in p.split(separator: ",", omittingEmptySubsequences: false) {
                guard let pol = ReplacementPolicy(rawValue: name.lowercased()) else {
                    throw fail("unknown policy '\(name)' (known: \(ReplacementPolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                policies.append(pol)
            }
        }
        // Frame counts.
        var counts: [Int] = []
        for f in frames.split(separator: ",", omittingEmptySubsequences: false) {
            guard let n = Int(f), n >= 1, n <= PageReplacement.maxFrames else {
                throw fail("--frames: '\(f)' is not a frame count in 1...\(PageReplacement.maxFrames)")
            }
            counts.append(n)
        }
        // The reference string: exactly one source.
        let sources = [refs != nil, file != nil, generate != nil].filter { $0 }.count
        guard sources == 1 else { throw fail("give the references with exactly one of --refs, --file or --generate") }
        var references: [UInt64] = []
        if let r = refs {
            do { references = try ReplacementReport.parseReferences(r) } catch let e as ReferenceStringError {
                throw fail("--refs, column \(e.column): \(e.message)")
            }
        } else if let path = file {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw fail("cannot read '\(path)'")
            }
            do { references = try ReplacementReport.parseReferences(text) } catch let e as ReferenceStringError {
                writeErr("\(path):\(e.line):\(e.column): error: \(e.message)\n")
                throw ExitCode(ExitStatus.badInput)
            }
        } else if let n = generate {
            guard n >= 0, n <= 10_000_000 else { throw fail("--generate: \(n) is out of range (0...10000000)") }
            guard pages >= 1, pages <= 1 << 40 else { throw fail("--pages: \(pages) is out of range (1...2^40)") }
            var rng = SplitMix64(seed: seed)
            references = (0..<n).map { _ in rng.next() % UInt64(pages) }
        }
        var runs: [ReplacementResult] = []
        for n in counts {
            for p in policies { runs.append(try PageReplacement.run(p, refs: references, frames: n, seed: seed)) }
        }
        if json {
            writeOut(ReplacementReport.json(refs: references, runs))
        } else if compare {
            writeOut(ReplacementReport.compare(runs))
        } else {
            writeOut(runs.map(ReplacementReport.table).joined(separator: "\n"))
        }
    }
}
