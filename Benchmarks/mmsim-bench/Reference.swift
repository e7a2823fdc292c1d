/// Reference measurements on the host: small C programs (Benchmarks/c) compiled with gcc and run
/// in the same benchmark run, and the big-machine measurement in a child process (so that its
/// peak RSS is its own).
import Foundation
import MMTrace

/// The directory of the C reference programs.
let cSourceDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("c").path

/// Runs `exe` with `args`; returns its standard output, or nil when it cannot run or fails.
func runProgram(_ exe: String, _ args: [String]) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    guard (try? p.run()) != nil else { return nil }
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return p.terminationStatus == 0 ? text : nil
}

/// Compiles Benchmarks/c/`name`.c with gcc -O2 into `dir`, runs it with `args` and returns the two
/// numbers it prints ("COUNT SECONDS"), or nil when gcc is missing or the program fails.
func runCReference(_ name: String, args: [String], dir: String) -> (count: Double, seconds: Double)? {
    guard let gcc = resolveProgram("gcc") else { return nil }
    let exe = dir + "/" + name
    guard runProgram(gcc, ["-O2", "-o", exe, cSourceDir + "/\(name).c"]) != nil else { return nil }
    guard let out = runProgram(exe, args) else { return nil }
    let f = out.split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard f.count == 2, let n = Double(f[0]), let s = Double(f[1]), s > 0 else { return nil }
    return (n, s)
}

/// "met" or "NOT met".
func verdict(_ ok: Bool) -> String { ok ? "met" : "NOT met" }

/// CPU seconds this thread has used (user + system). The suite times CPU, not wall-clock time, on
/// both sides (the C references read CLOCK_PROCESS_CPUTIME_ID): on a shared machine a process
/// waiting for a core would otherwise count the wait.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// CPU seconds `body` takes on this thread.
func cpuSeconds(_ body: () -> Void) -> Double {
    let a = threadCPUSeconds()
    body()
    return threadCPUSeconds() - a
}
