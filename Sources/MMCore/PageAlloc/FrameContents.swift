import CMMHost

/// The bytes stored in physical frames, kept sparsely.
///
/// A frame that nobody wrote costs no host memory and reads as zeros. The first write to a frame
/// gives it a 4 KiB slot (512 little-endian 64-bit words) in one flat arena; `clear(_:)` gives the
/// slot back. Page tables live here too: an entry is one word of its table's frame.
public struct FrameContents {
    /// Slot of each PFN in `arena`, or -1 when the frame has never been written since its last clear.
    @usableFromInline var slotOf: [Int32]
    /// 512 words per slot.
    @usableFromInline var arena: [UInt64] = []
    @usableFromInline var freeSlots: [Int32] = []

    /// Words per frame.
    public static let wordsPerFrame = Int(PAGE_SIZE / 8)

    /// Creates storage for `frames` frames, all reading as zero.
    public init(frames: Int) {
        slotOf = [Int32](repeating: -1, count: frames)
    }

    /// Number of frames that currently hold non-zero data (host memory in use / 4 KiB).
    public var storedFrames: Int { arena.count / FrameContents.wordsPerFrame - freeSlots.count }

    /// Reads word `index` (0..<512) of frame `pfn`; zero if never written.
    @inlinable public func readWord(_ pfn: PFN, _ index: Int) -> UInt64 {
        let s = slotOf[pfn.index]
        if s < 0 { return 0 }
        return arena[Int(s) &* FrameContents.wordsPerFrame &+ index]
    }

    /// Reads word `index` (0..<512) of frame `pfn` as `readWord` does, without bounds checks:
    /// the caller has checked `pfn` against the frame count (the page walker's hot path).
    @inlinable @inline(__always)
    func readWordUnchecked(_ pfn: PFN, _ index: Int) -> UInt64 {
        let s = slotOf._baseAddressIfContiguous.unsafelyUnwrapped[pfn.index]
        if s < 0 { return 0 }
        return arena._baseAddressIfContiguous.unsafelyUnwrapped[Int(s) &* FrameContents.wordsPerFrame &+ (index & 511)]
    }

    /// Writes word `index` (0..<512) of frame `pfn`, giving the frame a slot if it has none.
    @inlinable public mutating func writeWord(_ pfn: PFN, _ index: Int, _ value: UInt64) {
        var s = slotOf[pfn.index]
        if s < 0 {
            if value == 0 { return }
            s = allocSlot()
            slotOf[pfn.index] = s
        }
        arena[Int(s) &* FrameContents.wordsPerFrame &+ index] = value
    }

    /// Asks the host CPU to cache word `index` of frame `pfn` for a read soon (a hint: changes
    /// nothing); does nothing for a frame out of range or never written (it reads as zero).
    @inline(__always)
    func prefetchWord(_ pfn: PFN, _ index: Int) {
        guard pfn.raw < UInt64(slotOf.count) else { return }
        let s = slotOf[pfn.index]
        // The arena's base address without a closure (which would retain the array).
        if s < 0 { return }
        guard let base = arena._baseAddressIfContiguous else { return }
        cmm_prefetch_read(base + (Int(s) &* FrameContents.wordsPerFrame &+ (index & 511)))
    }

    @usableFromInline mutating func allocSlot() -> Int32 {
        if let s = freeSlots.popLast() {
            let base = Int(s) * FrameContents.wordsPerFrame
            for i in base..<(base + FrameContents.wordsPerFrame) { arena[i] = 0 }
            return s
        }
        let s = Int32(arena.count / FrameContents.wordsPerFrame)
        arena.append(contentsOf: repeatElement(0, count: FrameContents.wordsPerFrame))
        return s
    }

    /// Reads one byte at physical address `pa`.
    public func readByte(_ pa: PhysAddr) -> UInt8 {
        let off = Int(pa.raw & (PAGE_SIZE - 1))
        let w = readWord(pa.pfn, off >> 3)
        return UInt8(truncatingIfNeeded: w >> (UInt64(off & 7) * 8))
    }

    /// Writes one byte at physical address `pa`.
    public mutating func writeByte(_ pa: PhysAddr, _ b: UInt8) {
        let off = Int(pa.raw & (PAGE_SIZE - 1))
        let shift = UInt64(off & 7) * 8
        let w = readWord(pa.pfn, off >> 3)
        writeWord(pa.pfn, off >> 3, (w & ~(0xff << shift)) | (UInt64(b) << shift))
    }

    /// Zeroes a frame and releases its slot (clear_page()).
    public mutating func clear(_ pfn: PFN) {
        let s = slotOf[pfn.index]
        if s >= 0 {
            slotOf[pfn.index] = -1
            freeSlots.append(s)
        }
    }

    /// Copies frame `src` into frame `dst` (copy_page()).
    public mutating func copy(from src: PFN, to dst: PFN) {
        clear(dst)
        let s = slotOf[src.index]
        if s < 0 { return }
        let d = allocSlot()
        slotOf[dst.index] = d
        let sb = Int(s) * FrameContents.wordsPerFrame, db = Int(d) * FrameContents.wordsPerFrame
        for i in 0..<FrameContents.wordsPerFrame { arena[db + i] = arena[sb + i] }
    }

    /// True when the frame has never been written since it was last cleared.
    public func isZero(_ pfn: PFN) -> Bool { slotOf[pfn.index] < 0 }
}
