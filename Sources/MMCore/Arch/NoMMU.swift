/// Memory without an MMU (seed 001 §3): programs use physical addresses directly, so each gets
/// one contiguous region, nothing stops a store into another program's region, and a program
/// linked for a fixed address can run only once. `PagedMemory` is the same machine with a page
/// table per process.

/// A machine whose programs address physical memory directly.
public struct NoMMUMemory: Equatable, Sendable {
    public var size: UInt64
    /// Loaded programs: name, start, length (sorted by start).
    public private(set) var regions: [(name: String, start: UInt64, length: UInt64)] = []
    /// The bytes of memory, zero until written.
    public private(set) var bytes: [UInt64: UInt8] = [:]
    public init(size: UInt64) { self.size = size }
    public static func == (a: NoMMUMemory, b: NoMMUMemory) -> Bool { a.size == b.size && a.bytes == b.bytes && a.regions.map(\.start) == b.regions.map(\.start) }

    /// Why a load failed.
    public enum LoadError: Error, Equatable, CustomStringConvertible {
        /// No free run of `length` bytes although `free` bytes are free in total.
        case notContiguous(length: UInt64, free: UInt64, largest: UInt64)
        /// The fixed address is taken by `owner`.
        case addressInUse(UInt64, owner: String)
        case outOfRange(UInt64)
        public var description: String {
            switch self {
            case .notContiguous(let l, let f, let g): return "no contiguous \(l) bytes (free \(f) bytes in total, largest run \(g))"
            case .addressInUse(let a, let o): return "address 0x\(String(a, radix: 16)) is in use by \(o)"
            case .outOfRange(let a): return "address 0x\(String(a, radix: 16)) is outside memory"
            }
        }
    }

    /// The free runs (start, length), lowest first.
    public var freeRuns: [(start: UInt64, length: UInt64)] {
        var out: [(start: UInt64, length: UInt64)] = []
        var at: UInt64 = 0
        for r in regions {
            if r.start > at { out.append((at, r.start - at)) }
            at = r.start + r.length
        }
        if at < size { out.append((at, size - at)) }
        return out
    }

    /// Loads `name` of `length` bytes at `at` (a program linked for a fixed address) or at the
    /// lowest free run that fits; returns the start or throws why not.
    public mutating func load(_ name: String, length: UInt64, at: UInt64? = nil) throws -> UInt64 {
        if let a = at {
            guard a < size, length <= size - a else { throw LoadError.outOfRange(a) }
            if let r = regions.first(where: { a < $0.start + $0.length && $0.start < a + length }) {
                throw LoadError.addressInUse(a, owner: r.name)
            }
            regions.append((name, a, length)); regions.sort { $0.start < $1.start }
            return a
        }
        let runs = freeRuns
        guard let r = runs.first(where: { $0.length >= length }) else {
            throw LoadError.notContiguous(length: length, free: runs.reduce(0) { $0 + $1.length }, largest: runs.map(\.length).max() ?? 0)
        }
        regions.append((name, r.start, length)); regions.sort { $0.start < $1.start }
        return r.start
    }

    /// Frees `name`'s region.
    public mutating func exit(_ name: String) { regions.removeAll { $0.name == name } }

    /// Stores `value` at physical address `pa` on behalf of `writer` (no check: there is no MMU);
    /// returns the owner of the address when it is not the writer's.
    @discardableResult public mutating func store(_ pa: UInt64, _ value: UInt8, by writer: String) -> String? {
        guard pa < size else { return nil }
        bytes[pa] = value
        let owner = regions.first { pa >= $0.start && pa < $0.start + $0.length }?.name
        return owner == writer ? nil : owner
    }

    /// The byte at `pa`.
    public func load(_ pa: UInt64) -> UInt8 { bytes[pa] ?? 0 }
}

/// The same machine with paging: memory is cut into frames; each process has a page table from
/// its virtual pages to any free frames.
public struct PagedMemory: Equatable, Sendable {
    public var pageSize: UInt64
    /// Owner of each frame (nil = free).
    public private(set) var frames: [String?]
    /// Page tables: process → (virtual page → frame).
    public private(set) var tables: [String: [UInt64: Int]] = [:]
    public private(set) var bytes: [UInt64: UInt8] = [:]
    public init(size: UInt64, pageSize: UInt64) {
        self.pageSize = max(pageSize, 1)
        frames = [String?](repeating: nil, count: Int(size / self.pageSize))
    }

    /// Marks frames `range` as owned by `name` without a page table (to recreate a fragmented state).
    public mutating func reserve(_ name: String, frames range: Range<Int>) {
        for f in range where f >= 0 && f < frames.count { frames[f] = name }
    }

    /// Maps `length` bytes at virtual address `va` for `name` into any free frames; returns the
    /// frames used, or nil when fewer than needed are free.
    public mutating func load(_ name: String, length: UInt64, va: UInt64) -> [Int]? {
        let first = va / pageSize, n = Int((va % pageSize + length + pageSize - 1) / pageSize)
        let free = frames.indices.filter { frames[$0] == nil }
        guard free.count >= n else { return nil }
        var used: [Int] = []
        for i in 0..<n {
            let f = free[i]
            frames[f] = name
            tables[name, default: [:]][first + UInt64(i)] = f
            used.append(f)
        }
        return used
    }

    /// Frees `name`'s frames and page table (exit_mmap()).
    public mutating func exit(_ name: String) {
        for f in frames.indices where frames[f] == name { frames[f] = nil }
        tables[name] = nil
    }

    /// Returns the physical address of `va` in `name`'s address space, or nil (a page fault).
    public func translate(_ name: String, _ va: UInt64) -> UInt64? {
        guard let f = tables[name]?[va / pageSize] else { return nil }
        return UInt64(f) * pageSize + va % pageSize
    }

    /// Stores through `name`'s page table; returns the PA written, or nil on a page fault.
    @discardableResult public mutating func store(_ name: String, _ va: UInt64, _ value: UInt8) -> UInt64? {
        guard let pa = translate(name, va) else { return nil }
        bytes[pa] = value
        return pa
    }

    /// Loads through `name`'s page table; nil on a page fault.
    public func load(_ name: String, _ va: UInt64) -> UInt8? { translate(name, va).map { bytes[$0] ?? 0 } }
}
