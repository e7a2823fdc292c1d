import MMCore

/// The counters `vmstat` and `sar -r` sample, taken at one moment of the simulated clock.
public struct MonitorSample: Sendable, Equatable {
    public var clockNs: UInt64 = 0, idleNs: UInt64 = 0, ioWaitNs: UInt64 = 0
    public var pswpin: UInt64 = 0, pswpout: UInt64 = 0, pgpgin: UInt64 = 0, pgpgout: UInt64 = 0
    public var interrupts: UInt64 = 0, contextSwitches: UInt64 = 0
    public init() {}

    /// The counters of `k` now.
    public static func take(_ k: Kernel) -> MonitorSample {
        var s = MonitorSample()
        s.clockNs = k.clockNs; s.idleNs = k.reclaim.idleNs; s.ioWaitNs = k.reclaim.ioWaitNs
        s.pswpin = k.vmstat.pswpin; s.pswpout = k.vmstat.pswpout
        s.pgpgin = k.vmstat.pgpgin; s.pgpgout = k.vmstat.pgpgout
        s.interrupts = k.cpus.reduce(0) { $0 &+ UInt64($1.tlbShootdownsReceived) }
        s.contextSwitches = k.reclaim.contextSwitches
        return s
    }
}

/// procps-ng 4.0.2 `vmstat`: the two header lines and one row per sample. A row's rates are the
/// deltas since the previous sample divided by the simulated time between them (the first row:
/// since boot). CPU columns come from the simulated clock: us is 0 (user instructions take no
/// simulated time), wa is time waiting for swap reads, id is idle time (`vmstat DELAY`, `sleep`),
/// sy is the rest (faults and reclaim); st is 0. in counts the interrupts modelled (TLB
/// shootdown IPIs), cs the context switches. Linux/procps: vmstat.c new_format()
public enum VmstatTool {
    public static let header = "procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----\n"
        + " r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st\n"

    /// One row for the interval from `prev` (nil: boot) to `now`.
    public static func row(_ k: Kernel, from prev: MonitorSample?, to now: MonitorSample) -> String {
        let p = prev ?? MonitorSample()
        let m = Meminfo.gather(k)
        let dt = now.clockNs &- p.clockNs
        /// Per-second rate of a delta over the interval, rounded to nearest.
        func rate(_ d: UInt64) -> UInt64 {
            guard dt > 0 else { return 0 }
            return UInt64((Double(d) * 1e9 / Double(dt)).rounded())
        }
        let kbPage = PAGE_SIZE >> 10
        let idle = now.idleNs &- p.idleNs, wa = now.ioWaitNs &- p.ioWaitNs
        let sy = dt &- idle &- wa
        func pct(_ x: UInt64) -> UInt64 { dt == 0 ? 0 : (100 &* x &+ dt / 2) / dt }
        let running = k.allTasks.filter { $0.state.isAlive && k.isRunning($0) }.count
        let cols: [(UInt64, Int)] = [
            (UInt64(running), 2), (0, 2),
            (m.swapTotal &- m.swapFree, 6), (m.memFree, 6), (m.buffers, 6), (m.cached &+ m.sReclaimable, 6),
            (rate((now.pswpin &- p.pswpin) &* kbPage), 4), (rate((now.pswpout &- p.pswpout) &* kbPage), 4),
            (rate(now.pgpgin &- p.pgpgin), 5), (rate(now.pgpgout &- p.pgpgout), 5),
            (rate(now.interrupts &- p.interrupts), 4), (rate(now.contextSwitches &- p.contextSwitches), 4),
            (0, 2), (pct(sy), 2), (dt == 0 ? 100 : pct(idle), 2), (pct(wa), 2), (0, 2),
        ]
        return cols.map { Fmt.right(String($0.0), $0.1) }.joined(separator: " ") + "\n"
    }
}

/// sysstat 12.6 `sar -r`: memory utilisation rows in its layout (LC_TIME=C timestamps from the
/// simulated clock, boot at 00:00:00 on 01/01/70). kbmemused = MemTotal − MemFree − Buffers −
/// Cached − Slab; %memused = kbmemused / MemTotal; %commit = Committed_AS / (MemTotal + SwapTotal);
/// kbactive and kbinact are Active and Inactive; the Average row averages the rows' values.
/// sysstat: rd_stats.c read_meminfo(), pr_stats.c print_memory_stats()
public enum SarTool {
    /// The columns of `sar -r`.
    public static let columns = ["kbmemfree", "kbavail", "kbmemused", "%memused", "kbbuffers", "kbcached",
                                 "kbcommit", "%commit", "kbactive", "kbinact", "kbdirty"]

    /// The banner line and the blank line after it.
    public static func banner(_ k: Kernel) -> String {
        "Linux 6.18.0-mmsim (mmsim) \t01/01/70 \t_x86_64_\t(\(k.cpus.count) CPU)\n\n"
    }

    /// The column header line at the time of the first sample.
    public static func headerLine(_ clockNs: UInt64) -> String {
        Fmt.left(time(clockNs), 11) + columns.map { " " + Fmt.right($0, 9) }.joined() + "\n"
    }

    /// HH:MM:SS of the simulated clock.
    public static func time(_ ns: UInt64) -> String {
        let s = ns / 1_000_000_000
        func two(_ v: UInt64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return two((s / 3600) % 24) + ":" + two((s / 60) % 60) + ":" + two(s % 60)
    }

    /// One sample's values: the nine kB columns (the two percentages are derived).
    public struct Values: Sendable, Equatable {
        public var free: UInt64 = 0, avail: UInt64 = 0, used: UInt64 = 0, buffers: UInt64 = 0, cached: UInt64 = 0
        public var commit: UInt64 = 0, active: UInt64 = 0, inact: UInt64 = 0, dirty: UInt64 = 0
        public var total: UInt64 = 0, swapTotal: UInt64 = 0
        public init() {}
    }

    /// The values of `k` now.
    public static func values(_ k: Kernel) -> Values {
        let m = Meminfo.gather(k)
        var v = Values()
        v.total = m.memTotal; v.swapTotal = m.swapTotal
        v.free = m.memFree; v.avail = m.memAvailable; v.buffers = m.buffers; v.cached = m.cached
        let slab = m.sReclaimable &+ m.sUnreclaim
        let notUsed = m.memFree &+ m.buffers &+ m.cached &+ slab
        v.used = m.memTotal > notUsed ? m.memTotal - notUsed : 0
        v.commit = m.committedAS
        v.active = m.activeAnon &+ m.activeFile
        v.inact = m.inactiveAnon &+ m.inactiveFile
        v.dirty = m.dirty
        return v
    }

    /// "12.34": a percentage with two decimals, rounded to nearest.
    static func fixed2(_ num: UInt64, _ den: UInt64) -> String {
        guard den > 0 else { return "0.00" }
        let h = UInt64((Double(num) * 10000 / Double(den)).rounded())
        let frac = h % 100
        return "\(h / 100)." + (frac < 10 ? "0\(frac)" : "\(frac)")
    }

    /// One row labelled `label` (a time or "Average:").
    public static func row(_ label: String, _ v: Values) -> String {
        let cells = [String(v.free), String(v.avail), String(v.used), fixed2(v.used, v.total), String(v.buffers),
                     String(v.cached), String(v.commit), fixed2(v.commit, v.total &+ v.swapTotal),
                     String(v.active), String(v.inact), String(v.dirty)]
        return Fmt.left(label, 11) + cells.map { " " + Fmt.right($0, 9) }.joined() + "\n"
    }

    /// The Average row over `rows` (integer means of each column, as sysstat sums and divides).
    public static func average(_ rows: [Values]) -> String {
        guard let first = rows.first else { return "" }
        let n = UInt64(rows.count)
        func mean(_ f: (Values) -> UInt64) -> UInt64 { rows.reduce(0) { $0 &+ f($1) } / n }
        var a = Values()
        a.total = first.total; a.swapTotal = first.swapTotal
        a.free = mean(\.free); a.avail = mean(\.avail); a.used = mean(\.used); a.buffers = mean(\.buffers)
        a.cached = mean(\.cached); a.commit = mean(\.commit); a.active = mean(\.active); a.inact = mean(\.inact)
        a.dirty = mean(\.dirty)
        return row("Average:", a)
    }
}
