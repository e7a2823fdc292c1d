/// Synthetic workloads: traces of classic access patterns over one anonymous region, the same
/// bytes for the same parameters and seed.
import Foundation
import MMCore

/// The access patterns `mmsim synth` writes.
public enum SynthPattern: String, CaseIterable, Sendable {
    /// base, base+stride, base+2·stride… wrapping at the span.
    case sequential
    /// The same, with a page-sized default stride.
    case strided
    /// Uniformly random aligned addresses in the span.
    case random
    /// Pages drawn from a Zipf distribution of exponent `zipf` (rank 1 the most popular page),
    /// random offsets within the page.
    case zipf
    /// Pointer chasing: each access is to the next node (cache line) of a random cyclic
    /// permutation of the span's lines, as a linked-list walk does.
    case pointerChase = "pointer-chase"
}

/// Parameters of a synthetic trace.
public struct SynthParams: Sendable, Equatable {
    public var pattern: SynthPattern
    /// Bytes of the region (a multiple of 4096, at least one page).
    public var span: UInt64
    /// Number of accesses.
    public var length: UInt64
    /// Bytes between consecutive addresses (sequential, strided); nil = 8 for sequential, 4096 for strided.
    public var stride: UInt64?
    /// Fraction of accesses that are stores (0...1).
    public var writeFraction: Double
    /// Bytes per access (1 to 64, a power of two).
    public var accessSize: UInt32
    /// Zipf exponent (> 0).
    public var zipf: Double
    public var seed: UInt64
    /// Start of the region.
    public var base: UInt64
    public init(pattern: SynthPattern, span: UInt64, length: UInt64, stride: UInt64? = nil, writeFraction: Double = 0,
                accessSize: UInt32 = 8, zipf: Double = 1.0, seed: UInt64 = 1, base: UInt64 = 0x7f00_0000_0000) {
        self.pattern = pattern; self.span = span; self.length = length; self.stride = stride
        self.writeFraction = writeFraction; self.accessSize = accessSize; self.zipf = zipf; self.seed = seed; self.base = base
    }

    /// Returns nil when the parameters are valid, else why not.
    public func validationError() -> String? {
        if span < 4096 || span & 0xfff != 0 { return "--span must be a multiple of 4096 bytes, at least 4096" }
        if span > 1 << 46 { return "--span must be at most 64T" }
        if base & 0xfff != 0 || base < 0x10000 { return "--base must be page aligned and at least 0x10000" }
        let (end, o) = base.addingReportingOverflow(span)
        if o || end > X86_64.taskSize { return "the region \(hex(base))+\(formatSize(span)) does not fit below \(hex(X86_64.taskSize))" }
        if !(0...1).contains(writeFraction) { return "--writes must be between 0 and 1" }
        if accessSize == 0 || accessSize > 64 || accessSize & (accessSize - 1) != 0 { return "--size must be a power of two from 1 to 64" }
        if let s = stride, s == 0 || s >= span { return "--stride must be from 1 to less than the span" }
        if !(zipf > 0 && zipf < 100) { return "--zipf must be between 0 and 100 (exclusive)" }
        if length > 1 << 40 { return "--length must be at most 2^40" }
        return nil
    }
}

extension SplitMix64 {
    /// Returns a uniform double in [0, 1).
    @inline(__always) public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    /// Returns a uniform integer in [0, n) (n > 0), by Lemire's multiply-shift.
    @inline(__always) public mutating func below(_ n: UInt64) -> UInt64 { n.multipliedFullWidth(by: next()).high }
}

/// Writes the synthetic trace described by `p` into `writer`: META records with the parameters,
/// one anonymous rw region, then the accesses as process 1.
public func writeSynth(_ p: SynthParams, into w: TraceWriter) {
    w.meta("source", "mmsim synth")
    w.meta("pattern", p.pattern.rawValue)
    w.meta("params", "span=\(formatSize(p.span)) length=\(p.length) stride=\(p.stride.map(String.init) ?? "default") writes=\(p.writeFraction) size=\(p.accessSize) zipf=\(p.zipf) seed=\(p.seed) base=\(hex(p.base))")
    w.region(TraceRegion(start: p.base, end: p.base + p.span, prot: 3, kind: .anon))
    w.thread(pid: 1, tid: 1)
    var rng = SplitMix64(seed: p.seed)
    let size = UInt64(p.accessSize)
    let slots = p.span / size
    let pages = p.span >> 12
    let wf = p.writeFraction
    @inline(__always) func kind(_ r: inout SplitMix64) -> TraceAccessKind {
        if wf == 0 { return .load }
        if wf == 1 { return .store }
        return r.unit() < wf ? .store : .load
    }
    switch p.pattern {
    case .sequential, .strided:
        let stride = p.stride ?? (p.pattern == .sequential ? size : 4096)
        var off: UInt64 = 0
        for _ in 0..<p.length {
            let a = p.base + (off & ~(size - 1))
            w.access(kind(&rng), a, size: p.accessSize)
            off += stride
            if off + size > p.span { off = off % p.span; if off + size > p.span { off = 0 } }
        }
    case .random:
        for _ in 0..<p.length {
            let a = p.base + rng.below(slots) * size
            w.access(kind(&rng), a, size: p.accessSize)
        }
    case .zipf:
        // Inverse-CDF sampling of the continuous Zipf(s) on [1, pages+1): rank = floor(x).
        let n = Double(pages), s = p.zipf
        for _ in 0..<p.length {
            let u = rng.unit()
            let x: Double = abs(s - 1) < 1e-12 ? pow(n + 1, u) : pow((pow(n + 1, 1 - s) - 1) * u + 1, 1 / (1 - s))
            let rank = min(UInt64(max(1, x.rounded(.down))), pages) - 1
            let a = p.base + rank << 12 + rng.below(4096 / size) * size
            w.access(kind(&rng), a, size: p.accessSize)
        }
    case .pointerChase:
        // A full-period linear congruential permutation of the power-of-two node count that
        // covers the span; nodes past the span are skipped (cycle walking).
        let nodes = max(1, p.span / 64)
        var m: UInt64 = 1
        while m < nodes { m <<= 1 }
        let a = (rng.next() & ~3) | 5          // a ≡ 1 (mod 4)
        let c = rng.next() | 1                 // c odd
        var x = rng.below(nodes)
        for _ in 0..<p.length {
            w.access(kind(&rng), p.base + x * 64, size: p.accessSize)
            repeat { x = (a &* x &+ c) & (m - 1) } while x >= nodes
        }
    }
}
