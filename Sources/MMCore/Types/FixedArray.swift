/// Fixed-length arrays for per-frame and per-list state written on the fault and allocation paths.

/// A fixed-length array in a buffer that its owner, a final class, allocates once and frees in its
/// `deinit` (`deallocate()`). Unlike a Swift array stored in a class, a write needs no uniqueness
/// check and no copy-on-write: copies of the value share the buffer, like a C array behind a
/// pointer, and must not outlive the owner (read through the owner, or copy out with `Array(_:)`).
/// Indices are checked (out of range traps, as an array does).
public struct FixedArray<Element>: RandomAccessCollection {
    @usableFromInline let base: UnsafeMutablePointer<Element>
    /// Number of elements.
    public let count: Int

    /// Allocates `count` elements set to `value` (count ≥ 0).
    public init(repeating value: Element, count: Int) {
        precondition(count >= 0, "negative FixedArray count")
        base = UnsafeMutablePointer<Element>.allocate(capacity: Swift.max(count, 1))
        base.initialize(repeating: value, count: count)
        self.count = count
    }

    /// Frees the buffer; only the owner calls this, once, in its `deinit`.
    public func deallocate() {
        base.deinitialize(count: count)
        base.deallocate()
    }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }

    /// Element `i` (0..<count; traps outside).
    @inlinable public subscript(i: Int) -> Element {
        @inline(__always) get {
            precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "FixedArray index out of range")
            return base[i]
        }
        @inline(__always) nonmutating set {
            precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "FixedArray index out of range")
            base[i] = newValue
        }
    }
}
