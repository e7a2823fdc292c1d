/// The performance suite: times the hot paths of the model (TLB hits, page walks, page faults,
/// teardown) on the host clock. Run with `swift run -c release mmsim-bench`; numbers go to stdout
/// as a table (or JSON with --json). The model itself never reads a clock.
import MMCore
import Foundation

struct Result { var name: String; var ops: Int; var seconds: Double }

/// Times `body`, which performs `ops` operations.
func measure(_ name: String, ops: Int, _ body: () -> Void) -> Result {
    let clock = ContinuousClock()
    let d = clock.measure(body)
    let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    return Result(name: name, ops: ops, seconds: s)
}

func machine(_ ram: UInt64) -> (Kernel, Task) {
    let k = try! Kernel(config: MachineConfig(ramBytes: ram))
    let t = try! k.spawn(ProgramImage(path: "/usr/bin/bench")).get()
    return (k, t)
}

var results: [Result] = []
let pages = 131_072 // 512 MiB
let args = CommandLine.arguments
/// `--only trace` runs only the trace benchmarks; `--output FILE` also writes the table to FILE.
let onlyTrace = args.firstIndex(of: "--only").map { args.count > $0 + 1 && args[$0 + 1] == "trace" } ?? false
let outputFile = args.firstIndex(of: "--output").flatMap { args.count > $0 + 1 ? args[$0 + 1] : nil }

if !onlyTrace {
do { // Anonymous write faults (do_anonymous_page), then TLB-hit accesses over 16 pages.
    let (k, t) = machine(2 << 30)
    let a = try! k.mmap(t, addr: 0, length: UInt64(pages) << 12, prot: [.read, .write], flags: [.private, .anonymous]).get()
    results.append(measure("anonymous write fault", ops: pages) {
        _ = k.touch(t, a, length: UInt64(pages) << 12, .write)
    })
    let n = 4_000_000
    results.append(measure("access, TLB hit (16 pages)", ops: n) {
        var va = a.raw
        for i in 0..<n { _ = k.access(t, VirtAddr(va), .read); va = a.raw + UInt64(i & 15) << 12 }
    })
    let spread = 1 << 20
    results.append(measure("access, TLB miss + 4-level walk", ops: spread) {
        for i in 0..<spread { _ = k.access(t, VirtAddr(a.raw + (UInt64(i &* 7919) % UInt64(pages)) << 12), .read) }
    })
    results.append(measure("munmap of 512 MiB populated (per page)", ops: pages) {
        _ = k.munmap(t, addr: a.raw, length: UInt64(pages) << 12)
    })
}
do { // Read faults that map the zero page.
    let (k, t) = machine(2 << 30)
    let a = try! k.mmap(t, addr: 0, length: UInt64(pages) << 12, prot: [.read], flags: [.private, .anonymous]).get()
    results.append(measure("zero-page read fault", ops: pages) {
        _ = k.touch(t, a, length: UInt64(pages) << 12, .read)
    })
}

}
let traceFigures = traceBenchmarks(scale: 1)
for f in traceFigures { results.append(Result(name: f.name, ops: f.ops, seconds: f.seconds)) }

let json = CommandLine.arguments.contains("--json")
if json {
    let rows = results.map { "  {\"name\": \"\($0.name)\", \"ops\": \($0.ops), \"ns_per_op\": \(Int(($0.seconds * 1e9 / Double($0.ops)).rounded()))}" }
    print("[\n" + rows.joined(separator: ",\n") + "\n]")
} else {
    var table = ""
    for r in results {
        let ns = r.seconds * 1e9 / Double(r.ops)
        let name = r.name.padding(toLength: 44, withPad: " ", startingAt: 0)
        let rate = Double(r.ops) / r.seconds / 1e6
        let ref = traceFigures.first { $0.name == r.name }.map { "  [\($0.reference)]" } ?? ""
        table += "\(name) \(String(format: "%10.1f", ns)) ns/op \(String(format: "%8.2f", rate)) M/s  (\(r.ops) ops)\(ref)\n"
    }
    print(table, terminator: "")
    if let f = outputFile { try! table.write(toFile: f, atomically: true, encoding: .utf8) }
}
