/// Strong address and frame-number types, so no raw integer crosses an API.

/// The size of a base page on x86-64, in bytes.
public let PAGE_SIZE: UInt64 = 4096
/// log2(PAGE_SIZE).
public let PAGE_SHIFT: UInt64 = 12
/// Mask that clears the offset-in-page bits.
public let PAGE_MASK: UInt64 = ~(PAGE_SIZE - 1)

/// A user or kernel virtual address.
public struct VirtAddr: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    @inlinable public init(_ raw: UInt64) { self.raw = raw }
    @inlinable public static func < (a: VirtAddr, b: VirtAddr) -> Bool { a.raw < b.raw }
    /// The address rounded down to its page.
    @inlinable public var pageDown: VirtAddr { VirtAddr(raw & PAGE_MASK) }
    /// Offset within the page.
    @inlinable public var pageOffset: UInt64 { raw & (PAGE_SIZE - 1) }
    /// Virtual page number.
    @inlinable public var vpn: UInt64 { raw >> PAGE_SHIFT }
    @inlinable public var isPageAligned: Bool { raw & (PAGE_SIZE - 1) == 0 }
    /// Adds `n` bytes; returns nil on overflow.
    @inlinable public func adding(_ n: UInt64) -> VirtAddr? {
        let (r, o) = raw.addingReportingOverflow(n)
        return o ? nil : VirtAddr(r)
    }
    public var description: String { "0x" + String(raw, radix: 16) }
}

/// A physical address.
public struct PhysAddr: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    @inlinable public init(_ raw: UInt64) { self.raw = raw }
    @inlinable public static func < (a: PhysAddr, b: PhysAddr) -> Bool { a.raw < b.raw }
    @inlinable public var pfn: PFN { PFN(raw >> PAGE_SHIFT) }
    public var description: String { "0x" + String(raw, radix: 16) }
}

/// A page frame number: the index of a physical page in `mem_map`.
public struct PFN: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    @inlinable public init(_ raw: UInt64) { self.raw = raw }
    @inlinable public init(index: Int) { self.raw = UInt64(index) }
    @inlinable public static func < (a: PFN, b: PFN) -> Bool { a.raw < b.raw }
    /// The PFN as an array index into the per-frame arrays.
    @inlinable public var index: Int { Int(truncatingIfNeeded: raw) }
    /// The physical address of the first byte of the frame.
    @inlinable public var physAddr: PhysAddr { PhysAddr(raw << PAGE_SHIFT) }
    @inlinable public func advanced(by n: Int) -> PFN { PFN(UInt64(Int(raw) + n)) }
    public var description: String { "0x" + String(raw, radix: 16) }
}

/// Round `x` up to a multiple of PAGE_SIZE; nil if that overflows.
@inlinable public func pageAlignUp(_ x: UInt64) -> UInt64? {
    let (r, o) = x.addingReportingOverflow(PAGE_SIZE - 1)
    return o ? nil : r & PAGE_MASK
}

/// Process identifier.
public typealias PID = Int32
