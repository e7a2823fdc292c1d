/// The performance suite: times the hot paths of the model (TLB hits, page walks, page faults,
/// fork, teardown) in CPU time of the host, each target figure next to its reference measured in the
/// same run (C programs on the host kernel, Benchmarks/c). Run with
/// `swift run -c release mmsim-bench --output Benchmarks/results.txt`; numbers go to stdout as a
/// table (or JSON with --json). The model itself never reads a clock.
import MMCore
import Foundation

struct Result { var name: String; var ops: Int; var seconds: Double; var reference = "" }

/// Times `body`, which performs `ops` operations.
func measure(_ name: String, ops: Int, _ body: () -> Void) -> Result {
    return Result(name: name, ops: ops, seconds: cpuSeconds(body))
}

func machine(_ ram: UInt64) -> (Kernel, Task) {
    let k = try! Kernel(config: MachineConfig(ramBytes: ram))
    let t = try! k.spawn(ProgramImage(path: "/usr/bin/bench")).get()
    return (k, t)
}

var results: [Result] = []
let pages = 131_072 // 512 MiB
let args = CommandLine.arguments
/// `--only trace` runs only the trace benchmarks; `--only big-machine` only the 64 GiB machine
/// (in this process: the parent runs it as a child to read its peak RSS); `--only random` only the
/// uniform random replay, three times; `--only faults` only the
/// two fault lines, three times; `--output FILE` also
/// writes the table to FILE.
let only = args.firstIndex(of: "--only").flatMap { args.count > $0 + 1 ? args[$0 + 1] : nil }
let onlyTrace = only == "trace"
if only == "random" {
    // Only the uniform random replay, three times (for best-of-3 comparisons while tuning the walk path).
    _ = traceBenchmarks(scale: 1, randomOnly: true)
    exit(0)
}
let outputFile = args.firstIndex(of: "--output").flatMap { args.count > $0 + 1 ? args[$0 + 1] : nil }
let tmpDir = NSTemporaryDirectory() + "mmsim-bench-c-\(getpid())"
try! FileManager.default.createDirectory(atPath: tmpDir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: tmpDir) }

if only == "big-machine" {
    // A 64 GiB machine with a 32 GiB resident anonymous process; prints "FAULTS SECONDS MAXRSS_KB".
    let start = threadCPUSeconds()
    let (k, t) = machine(64 << 30)
    let len: UInt64 = 32 << 30
    let a = try! k.mmap(t, addr: 0, length: len, prot: [.read, .write], flags: [.private, .anonymous]).get()
    _ = k.touch(t, a, length: len, .write)
    let d = threadCPUSeconds() - start
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    let rss = t.mm!.rss.total
    print("\(rss) \(d) \(ru.ru_maxrss)")
    exit(0)
}

if only == "faults" {
    // Only the two fault lines, three times each (for best-of-3 comparisons while tuning the fault path).
    for _ in 0..<3 {
        let (k, t) = machine(2 << 30)
        let a = try! k.mmap(t, addr: 0, length: UInt64(pages) << 12, prot: [.read, .write], flags: [.private, .anonymous]).get()
        let w = measure("", ops: pages) { _ = k.touch(t, a, length: UInt64(pages) << 12, .write) }
        let (k2, t2) = machine(2 << 30)
        let b = try! k2.mmap(t2, addr: 0, length: UInt64(pages) << 12, prot: [.read], flags: [.private, .anonymous]).get()
        let z = measure("", ops: pages) { _ = k2.touch(t2, b, length: UInt64(pages) << 12, .read) }
        print(String(format: "anonymous write fault %6.1f ns/op   zero-page read fault %6.1f ns/op",
                     w.seconds * 1e9 / Double(pages), z.seconds * 1e9 / Double(pages)))
    }
    exit(0)
}

if !onlyTrace {
do { // Anonymous write faults (do_anonymous_page), then TLB-hit accesses over 16 pages.
    let (k, t) = machine(2 << 30)
    let a = try! k.mmap(t, addr: 0, length: UInt64(pages) << 12, prot: [.read, .write], flags: [.private, .anonymous]).get()
    var r = measure("anonymous write fault", ops: pages) {
        _ = k.touch(t, a, length: UInt64(pages) << 12, .write)
    }
    let rate = Double(pages) / r.seconds
    if let c = runCReference("fault_rate", args: ["1024"], dir: tmpDir) {
        r.reference = String(format: "host kernel, C first-touch loop over 1 GiB: %.2f M/s; target 10 M/s: ", c.count / c.seconds / 1e6)
            + verdict(rate >= 10e6)
    } else {
        r.reference = "target 10 M/s: \(verdict(rate >= 10e6)); host kernel reference not measured (gcc not found)"
    }
    results.append(r)
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
do { // fork() of a process with 1 GiB resident (4 KiB anonymous pages), against the host kernel's.
    let (k, t) = machine(4 << 30)
    let len: UInt64 = 1 << 30
    let a = try! k.mmap(t, addr: 0, length: len, prot: [.read, .write], flags: [.private, .anonymous]).get()
    _ = k.touch(t, a, length: len, .write)
    let rounds = 5
    var total = 0.0
    for _ in 0..<rounds {
        var child: Task? = nil
        total += measure("", ops: 1) { child = try! k.fork(t).get() }.seconds
        k.exitTask(child!, status: 0)
    }
    var r = Result(name: "fork of a process with 1 GiB resident", ops: rounds, seconds: total)
    if let c = runCReference("fork_rss", args: ["1024", "\(rounds)"], dir: tmpDir) {
        let real = c.seconds / c.count
        r.reference = String(format: "%.2f ms per fork; host kernel, C fork with 1 GiB touched: %.2f ms; target faster: ",
                             total / Double(rounds) * 1e3, real * 1e3) + verdict(total / Double(rounds) < real)
    } else {
        r.reference = "host kernel reference not measured (gcc not found)"
    }
    results.append(r)
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
for f in traceFigures { results.append(Result(name: f.name, ops: f.ops, seconds: f.seconds, reference: f.reference)) }

if !onlyTrace { // The 64 GiB machine, in a child process so that its peak RSS is its own.
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
    if let out = runProgram(me, ["--only", "big-machine"]) {
        let f = out.split(whereSeparator: { $0 == " " || $0 == "\n" })
        if f.count == 3, let pages = Int(f[0]), let s = Double(f[1]), let kb = Double(f[2]) {
            results.append(Result(name: "64 GiB machine, 32 GiB resident (faults)", ops: pages, seconds: s,
                                  reference: String(format: "host max RSS %.0f MiB; target < 1024 MiB: ", kb / 1024) + verdict(kb < 1024 * 1024)))
        }
    } else {
        results.append(Result(name: "64 GiB machine, 32 GiB resident (faults)", ops: 1, seconds: 1, reference: "failed to run"))
    }
}

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
        let ref = r.reference.isEmpty ? "" : "  [\(r.reference)]"
        table += "\(name) \(String(format: "%10.1f", ns)) ns/op \(String(format: "%8.2f", rate)) M/s  (\(r.ops) ops)\(ref)\n"
    }
    print(table, terminator: "")
    if let f = outputFile { try! table.write(toFile: f, atomically: true, encoding: .utf8) }
}
