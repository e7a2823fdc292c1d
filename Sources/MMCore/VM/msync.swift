/// msync(2): writing the dirty pages of shared file mappings back (Linux mm/msync.c).

/// msync(2) flags.
public struct MsyncFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let async = MsyncFlags(rawValue: 1)
    public static let invalidate = MsyncFlags(rawValue: 2)
    public static let sync = MsyncFlags(rawValue: 4)
}

extension Kernel {
    /// msync(2): MS_SYNC writes the dirty pages of the shared file mappings in [addr, addr+len)
    /// back (the whole file range each VMA covers); MS_ASYNC does nothing (dirty pages are
    /// tracked through the page tables since 2.6.19); MS_INVALIDATE fails on a VM_LOCKED mapping.
    /// Returns EINVAL (unknown flags, unaligned addr, MS_SYNC with MS_ASYNC), ENOMEM (addr + length
    /// wraps, or a hole in the range — after syncing what is mapped; a length that wraps to 0 when
    /// page-aligned succeeds at once, as in C), EBUSY (MS_INVALIDATE on
    /// locked memory). Linux: SYSCALL_DEFINE3(msync), mm/msync.c
    public func msync(_ task: Task, addr: UInt64, length: UInt64, flags: MsyncFlags) -> Result<Void, Errno> {
        guard let mm = task.mm else { return .failure(.EINVAL) }
        if !flags.subtracting([.async, .invalidate, .sync]).isEmpty { return .failure(.EINVAL) }
        if addr & ~PAGE_MASK != 0 { return .failure(.EINVAL) }
        if flags.contains(.async) && flags.contains(.sync) { return .failure(.EINVAL) }
        // As in C: the page-aligned length wraps (to 0 for a length within a page of 2^64).
        let alen = (length &+ (PAGE_SIZE - 1)) & PAGE_MASK
        let end = addr &+ alen
        if end < addr { return .failure(.ENOMEM) }
        if end == addr { return .success(()) }
        var start = addr
        var unmapped = false
        var written = 0
        while true {
            guard let i = mm.vmas.findVMAIndex(VirtAddr(start)) else { return .failure(.ENOMEM) }
            let v = mm.vmas[i]
            if start < v.start.raw {
                if flags == .async { return .failure(.ENOMEM) }
                start = v.start.raw
                if start >= end { return .failure(.ENOMEM) }
                unmapped = true
            }
            if flags.contains(.invalidate) && v.flags.contains(.locked) { return .failure(.EBUSY) }
            let fstart = (start - v.start.raw) + (v.pgoff << PAGE_SHIFT)
            let fend = fstart + (min(end, v.end.raw) - start) - 1
            start = v.end.raw
            if flags.contains(.sync) && v.flags.contains(.shared), let inode = v.file != nil || v.shmemObject != 0 ? vmaInode(v) : nil {
                written += writebackRange(inode, fstart >> PAGE_SHIFT, fend >> PAGE_SHIFT)
            }
            if start >= end { break }
        }
        narrate("msync: \(written) dirty page(s) written back\(unmapped ? "; part of the range is unmapped: ENOMEM" : "")")
        return unmapped ? .failure(.ENOMEM) : .success(())
    }
}
