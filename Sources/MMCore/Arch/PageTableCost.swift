/// The memory page tables need (seed 003): a linear table covers the whole address space; a
/// multi-level table needs its top table plus only the lower tables of the part in use.

/// Inputs of a page-table cost computation.
public struct PageTableCost: Equatable, Sendable {
    public var vaBits: Int
    public var pageShift: Int
    public var entryBytes: UInt64
    /// Index bits per level, root first (their sum is vaBits - pageShift).
    public var levelBits: [Int]
    /// The fraction of the address space in use, as numerator / denominator.
    public var usedNumerator: UInt64
    public var usedDenominator: UInt64
    public var processes: UInt64

    public init(vaBits: Int, pageShift: Int, entryBytes: UInt64, levelBits: [Int]? = nil,
                usedNumerator: UInt64 = 1, usedDenominator: UInt64 = 1, processes: UInt64 = 1) {
        self.vaBits = vaBits; self.pageShift = pageShift; self.entryBytes = entryBytes
        let perTable = pageShift - entryBytes.trailingZeroBitCount
        if let l = levelBits { self.levelBits = l } else {
            var rest = vaBits - pageShift, out: [Int] = []
            while rest > 0 { let b = min(rest, max(perTable, 1)); out.insert(b, at: 0); rest -= b }
            self.levelBits = out
        }
        self.usedNumerator = usedNumerator; self.usedDenominator = max(usedDenominator, 1); self.processes = processes
    }

    /// Returns nil when the inputs are consistent, else why not.
    public func validate() -> String? {
        if vaBits < 1 || vaBits > 64 { return "virtual-address bits must be in 1...64" }
        if pageShift < 1 || pageShift >= vaBits { return "the page size must be smaller than the address space" }
        if entryBytes == 0 || entryBytes.nonzeroBitCount != 1 || entryBytes > 64 { return "entry size must be a power of two up to 64" }
        if levelBits.isEmpty || levelBits.contains(where: { $0 < 1 }) { return "every level needs at least one index bit" }
        if levelBits.reduce(0, +) != vaBits - pageShift { return "the level bits add up to \(levelBits.reduce(0, +)), not \(vaBits - pageShift) (VA bits - page bits)" }
        if usedNumerator > usedDenominator { return "the fraction in use is more than 100%" }
        if processes > 1 << 20 { return "at most 1048576 processes" }
        // Every size below must fit in 64 bits: entries * entry size for the widest level.
        if vaBits - pageShift + entryBytes.trailingZeroBitCount > 62 { return "the linear table would not fit in 2^62 bytes" }
        if linearBytes.multipliedReportingOverflow(by: processes).overflow { return "the total does not fit in 64 bits" }
        let (f, o) = fullBytes.multipliedReportingOverflow(by: usedDenominator)
        if o || f.multipliedReportingOverflow(by: processes).overflow { return "the total does not fit in 64 bits (use a shorter fraction)" }
        return nil
    }

    /// Bytes of a linear (one-level) table: 2^(vaBits - pageShift) entries.
    public var linearBytes: UInt64 { (1 << UInt64(vaBits - pageShift)) * entryBytes }

    /// Bytes of one table at level `i` (2^levelBits[i] entries).
    public func tableBytes(_ i: Int) -> UInt64 { (1 << UInt64(levelBits[i])) * entryBytes }

    /// Number of tables at level `i` when the whole space is mapped.
    public func fullTables(_ i: Int) -> UInt64 { 1 << UInt64(levelBits[..<i].reduce(0, +)) }

    /// Bytes of a fully populated multi-level table.
    public var fullBytes: UInt64 { levelBits.indices.reduce(0) { $0 + fullTables($1) * tableBytes($1) } }

    /// The seed's estimate in bytes times `usedDenominator`: the top table in full plus the used
    /// fraction of every lower level (4 KiB + 20 % × 4 MiB = 0.804 MiB for 32-bit, 4 KiB pages).
    public var estimateScaled: UInt64 {
        let lower = levelBits.indices.dropFirst().reduce(UInt64(0)) { $0 + fullTables($1) * tableBytes($1) }
        return tableBytes(0) * usedDenominator + lower * usedNumerator
    }

    /// Whole tables per level when the used part is one contiguous run from address 0: the tables
    /// at level i that cover ceil(fraction × space) bytes.
    public var wholeTables: [UInt64] {
        levelBits.indices.map { i in
            let n = fullTables(i)
            return i == 0 ? 1 : max(1, (n * usedNumerator + usedDenominator - 1) / usedDenominator)
        }
    }

    /// Bytes of `wholeTables`.
    public var wholeBytes: UInt64 { zip(levelBits.indices, wholeTables).reduce(0) { $0 + $1.1 * tableBytes($1.0) } }
}
