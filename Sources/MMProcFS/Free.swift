/// free(1) from procps-ng 4.x.
import MMCore

/// The unit flag of free(1).
public enum FreeUnit: Sendable, Equatable, CaseIterable {
    /// `-b`: bytes.
    case bytes
    /// The default, or `-k`: kibibytes.
    case kibi
    /// `-m`: mebibytes (truncated).
    case mebi
    /// `-g`: gibibytes (truncated).
    case gibi
    /// `--tebi`, `--pebi`.
    case tebi, pebi
    /// `--kilo`, `--mega`, `--giga`, `--tera`, `--peta`: powers of 1000 (truncated).
    case kilo, mega, giga, tera, peta
    /// `-h`: human readable with binary units (B, Ki, Mi, Gi, Ti, Pi).
    case human
    /// `-h --si`: human readable with decimal units (B, K, M, G, T, P).
    case humanSI

    /// procps's `args.exponent` (1 = bytes, 2 = kilo, …) and whether the base is 1000.
    var exponentAndSI: (exponent: Int, si: Bool) {
        switch self {
        case .bytes: return (1, false)
        case .kibi: return (2, false)
        case .mebi: return (3, false)
        case .gibi: return (4, false)
        case .tebi: return (5, false)
        case .pebi: return (6, false)
        case .kilo: return (2, true)
        case .mega: return (3, true)
        case .giga: return (4, true)
        case .tera: return (5, true)
        case .peta: return (6, true)
        case .human: return (0, false)
        case .humanSI: return (0, true)
        }
    }

    var isHuman: Bool { self == .human || self == .humanSI }
}

/// The /proc/meminfo fields free(1) reads, in kB.
public struct FreeValues: Sendable, Equatable {
    public var memTotal: UInt64
    public var memFree: UInt64
    public var memAvailable: UInt64
    public var buffers: UInt64
    public var cached: UInt64
    public var sReclaimable: UInt64
    public var shmem: UInt64
    public var swapTotal: UInt64
    public var swapFree: UInt64
    public var commitLimit: UInt64
    public var committedAS: UInt64
    /// LowTotal/LowFree and HighTotal/HighFree; procps uses MemTotal/MemFree and 0 for a kernel that
    /// prints no such lines (no CONFIG_HIGHMEM).
    public var lowTotal: UInt64 = 0, lowFree: UInt64 = 0, highTotal: UInt64 = 0, highFree: UInt64 = 0

    public init(memTotal: UInt64, memFree: UInt64, memAvailable: UInt64, buffers: UInt64 = 0, cached: UInt64 = 0,
                sReclaimable: UInt64 = 0, shmem: UInt64 = 0, swapTotal: UInt64 = 0, swapFree: UInt64 = 0,
                commitLimit: UInt64 = 0, committedAS: UInt64 = 0) {
        self.memTotal = memTotal; self.memFree = memFree; self.memAvailable = memAvailable
        self.buffers = buffers; self.cached = cached; self.sReclaimable = sReclaimable; self.shmem = shmem
        self.swapTotal = swapTotal; self.swapFree = swapFree
        self.commitLimit = commitLimit; self.committedAS = committedAS
    }

    /// The fields free reads from a /proc/meminfo.
    public init(_ m: MeminfoValues) {
        self.init(memTotal: m.memTotal, memFree: m.memFree, memAvailable: m.memAvailable, buffers: m.buffers,
                  cached: m.cached, sReclaimable: m.sReclaimable, shmem: m.shmem, swapTotal: m.swapTotal,
                  swapFree: m.swapFree, commitLimit: m.commitLimit, committedAS: m.committedAS)
        let ht = m.highTotal ?? 0, hf = m.highTotal == nil ? 0 : m.highFree
        highTotal = ht; highFree = hf
        lowTotal = m.memTotal &- ht; lowFree = m.memFree &- hf
    }

    /// MemAvailable as the procps library corrects it: MemFree when absent (0) or above MemTotal.
    public var available: UInt64 {
        (memAvailable == 0 || memAvailable > memTotal) ? memFree : memAvailable
    }
    /// "used": MemTotal - MemAvailable (procps-ng 4.x), or MemTotal - MemFree if that is negative.
    /// procps-ng: meminfo_read_failed(), library/meminfo.c
    public var used: UInt64 {
        available <= memTotal ? memTotal - available : memTotal &- memFree
    }
    /// "buff/cache": Buffers + Cached + SReclaimable.
    public var buffCache: UInt64 { buffers + cached + sReclaimable }
    /// Swap in use: SwapTotal - SwapFree (0 when free is not below total).
    public var swapUsed: UInt64 { swapFree < swapTotal ? swapTotal - swapFree : 0 }
}

/// free(1) from procps-ng 4.x.
public enum Free {
    /// One number as free prints it in the given unit.
    /// procps-ng: scale_size(), local/units.c (in src/free.c in earlier 4.0.x releases)
    public static func scale(_ kb: UInt64, _ unit: FreeUnit) -> String {
        let (exponent, si) = unit.exponentAndSI
        let base: Double = si ? 1000 : 1024
        let bytes = kb &* 1024
        func power(_ e: Int) -> Double { e <= 0 ? 1 : base * power(e - 1) }
        if !unit.isHuman {
            switch exponent {
            case 1: return String(bytes)
            case 2 where !si: return String(kb)
            default: return String(UInt64(Double(bytes) / power(exponent - 1)))
            }
        }
        var buf = "\(bytes)B"
        if buf.count <= 4 { return buf }
        let units: [Character] = ["K", "M", "G", "T", "P"]
        for (i, u) in units.enumerated() {
            let q = Double(bytes) / power(i + 1)
            // (float)(bytes / power): the quotient is rounded to single precision before %.1f.
            let rounded = Double(Float(q))
            let suffix = si ? String(u) : String(u) + "i"
            let limit = si ? 4 : 5
            buf = Fmt.oneDecimal(rounded) + suffix
            if buf.count <= limit { return buf }
            buf = String(UInt64(q)) + suffix
            if buf.count <= limit { return buf }
        }
        return buf
    }

    /// The output of free for these values.
    /// procps-ng: main(), src/free.c (the default layout; `-w`, `-t` and `-v` on request)
    public static func format(_ v: FreeValues, unit: FreeUnit = .kibi, wide: Bool = false,
                              total: Bool = false, committed: Bool = false, lohi: Bool = false) -> String {
        func row(_ label: String, _ values: [UInt64]) -> String {
            // print_head_col(): the label padded to 9 columns, then "%11s" and " %11s"...
            var s = Fmt.left(label, 9)
            for (i, x) in values.enumerated() { s += (i == 0 ? "" : " ") + Fmt.right(scale(x, unit), 11) }
            return s + "\n"
        }
        var s = wide
            ? "               total        used        free      shared     buffers       cache   available\n"
            : "               total        used        free      shared  buff/cache   available\n"
        if wide {
            s += row("Mem:", [v.memTotal, v.used, v.memFree, v.shmem, v.buffers, v.cached + v.sReclaimable, v.available])
        } else {
            s += row("Mem:", [v.memTotal, v.used, v.memFree, v.shmem, v.buffCache, v.available])
        }
        if lohi {
            // `-l`: Low and High rows (used = total - free), between Mem and Swap.
            s += row("Low:", [v.lowTotal, v.lowTotal &- v.lowFree, v.lowFree])
            s += row("High:", [v.highTotal, v.highTotal &- v.highFree, v.highFree])
        }
        s += row("Swap:", [v.swapTotal, v.swapUsed, v.swapFree])
        if total {
            s += row("Total:", [v.memTotal + v.swapTotal, v.used + v.swapUsed, v.memFree + v.swapFree])
        }
        if committed {
            // The unsigned difference wraps when Committed_AS exceeds CommitLimit, as in procps.
            s += row("Comm:", [v.commitLimit, v.committedAS, v.commitLimit &- v.committedAS])
        }
        return s
    }

    /// The output of `free` with the given unit flag on this machine.
    public static func render(_ k: Kernel, unit: FreeUnit, lohi: Bool = false) -> String {
        format(FreeValues(Meminfo.gather(k)), unit: unit, lohi: lohi)
    }
}
