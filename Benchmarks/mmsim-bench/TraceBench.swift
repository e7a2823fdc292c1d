/// Benchmarks of the trace path: replay of synthetic traces (sequential: TLB hits; uniform
/// random over 1 GiB: TLB misses, 4-level walks and first-touch faults) and import of lackey
/// text, each next to its reference (the target rate, or a C fgets loop over the same file).
import Foundation
import MMCore
import MMTrace

/// A measured figure with its reference.
struct TraceFigure { var name: String; var ops: Int; var seconds: Double; var reference: String }

/// Returns the trace benchmarks' figures; files go to a temporary directory removed afterwards.
/// With `randomOnly`, replays only the uniform random trace, three times, printing each figure.
func traceBenchmarks(scale: Int, randomOnly: Bool = false) -> [TraceFigure] {
    let dir = NSTemporaryDirectory() + "mmsim-bench-\(getpid())"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var out: [TraceFigure] = []
    func seconds(_ d: Double) -> Double { d }

    func replayFigure(_ name: String, _ p: SynthParams, target: Double) {
        let path = dir + "/\(p.pattern.rawValue).mmt"
        let w = try! TraceWriter(path: path)
        writeSynth(p, into: w)
        try! w.finish()
        var report: ReplayReport? = nil
        // Booting the machine is not part of the replay: only reading and replaying the trace is timed.
        let replayer = try! Replayer(config: MachineConfig(ramBytes: 4 << 30))
        let d = cpuSeconds {
            report = try! replayer.run(TraceReader(path: path))
        }
        let r = report!.total
        if randomOnly {
        // Three replays of the same trace, each on a fresh machine (for best-of-3 comparisons).
        for _ in 0..<2 {
            let again = try! Replayer(config: MachineConfig(ramBytes: 4 << 30))
            let d2 = cpuSeconds { _ = try! again.run(TraceReader(path: path)) }
            print(String(format: "%@ %6.1f ns/op", name, d2 * 1e9 / Double(p.length)))
        }
        print(String(format: "%@ %6.1f ns/op", name, d * 1e9 / Double(p.length)))
    }
    out.append(TraceFigure(name: name, ops: Int(p.length), seconds: seconds(d),
                               reference: "target \(Int(target / 1e6)) M/s: \(verdict(Double(p.length) / seconds(d) >= target)); "
                                   + "\(r.tlb.l1dHits) L1 hits, \(r.tlb.pageWalks) walks (\(r.tlb.walkMemoryRefs) memory references), \(r.pgfault) faults"))
    }
    if randomOnly {
        replayFigure("replay, uniform random over 1 GiB (walks)",
                     SynthParams(pattern: .random, span: 1 << 30, length: UInt64(4_000_000 * scale), seed: 7), target: 20e6)
        return out
    }
    replayFigure("replay, sequential 8-byte loads (TLB hits)",
                 SynthParams(pattern: .sequential, span: 64 << 20, length: UInt64(20_000_000 * scale)), target: 100e6)
    replayFigure("replay, uniform random over 1 GiB (walks)",
                 SynthParams(pattern: .random, span: 1 << 30, length: UInt64(4_000_000 * scale), seed: 7), target: 20e6)

    // Lackey text: 8 instruction fetches per data access, as in real programs.
    let log = dir + "/lackey.log"
    let lines = 5_000_000 * scale
    if let f = fopen(log, "w") {
        var pc: UInt64 = 0x401000, sp: UInt64 = 0x1ffefff000
        var rng = SplitMix64(seed: 1)
        for i in 0..<lines {
            if i % 9 == 8 {
                sp = 0x1ffefff000 - (rng.next() & 0xff8)
                fputs(i % 2 == 0 ? " L \(String(sp, radix: 16)),8\n" : " S \(String(sp, radix: 16)),8\n", f)
            } else {
                let n = 1 + rng.next() % 7
                fputs("I  \(String(pc, radix: 16)),\(n)\n", f)
                pc &+= n
            }
        }
        fclose(f)
    }
    let w = try! TraceWriter(path: dir + "/imported.mmt")
    let d = cpuSeconds { _ = try! importLackey(log, layout: nil, exe: nil, into: w) }
    try! w.finish()
    var reference = "C fgets loop: not measured (gcc not found)"
    let src = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("c/fgets_loop.c").path
    if let gcc = resolveProgram("gcc") {
        let exe = dir + "/fgets_loop"
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: gcc)
        cc.arguments = ["-O2", "-o", exe, src]
        try? cc.run(); cc.waitUntilExit()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = [log]
        let pipe = Pipe()
        p.standardOutput = pipe
        if cc.terminationStatus == 0, (try? p.run()) != nil {
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            let f = text.split(separator: " ")
            if f.count == 2, let s = Double(f[1].trimmingCharacters(in: .whitespacesAndNewlines)), s > 0 {
                reference = String(format: "C fgets loop over the same file: %.1f M lines/s; target 15 M/s: ", Double(lines) / s / 1e6)
                    + verdict(Double(lines) / seconds(d) >= 15e6)
            }
        }
    }
    out.append(TraceFigure(name: "import of lackey text (lines)", ops: lines, seconds: seconds(d), reference: reference))
    return out
}
