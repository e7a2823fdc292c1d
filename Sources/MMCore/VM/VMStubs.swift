/// PLACEHOLDERS for the memory system calls. The VM work deletes this file and implements each
/// call in its own file (mmap.swift, mprotect.swift, mremap.swift, madvise.swift, mlock.swift).

extension Kernel {
    /// mmap(2). Returns the mapped address or Linux's errno.
    /// Linux: ksys_mmap_pgoff() / do_mmap(), mm/mmap.c
    public func mmap(_ task: Task, addr: UInt64, length: UInt64, prot: Prot, flags: MapFlags,
                     file: MappedFile? = nil, offset: UInt64 = 0) -> Result<VirtAddr, Errno> { .failure(.ENOSYS) }
    /// munmap(2). Linux: __vm_munmap() / do_vmi_munmap(), mm/mmap.c
    public func munmap(_ task: Task, addr: UInt64, length: UInt64) -> Result<Void, Errno> { .failure(.ENOSYS) }
    /// mprotect(2). Linux: do_mprotect_pkey(), mm/mprotect.c
    public func mprotect(_ task: Task, addr: UInt64, length: UInt64, prot: Prot) -> Result<Void, Errno> { .failure(.ENOSYS) }
    /// brk(2): returns the new break, or the old one when the request is refused.
    /// Linux: SYSCALL_DEFINE1(brk), mm/mmap.c
    public func brk(_ task: Task, _ addr: UInt64) -> UInt64 { 0 }
    /// mremap(2). Linux: SYSCALL_DEFINE5(mremap), mm/mremap.c
    public func mremap(_ task: Task, oldAddr: UInt64, oldSize: UInt64, newSize: UInt64, flags: MremapFlags,
                       newAddr: UInt64 = 0) -> Result<VirtAddr, Errno> { .failure(.ENOSYS) }
    /// madvise(2). Linux: do_madvise(), mm/madvise.c
    public func madvise(_ task: Task, addr: UInt64, length: UInt64, advice: Advice) -> Result<Void, Errno> { .failure(.ENOSYS) }
    /// mlock(2) / mlock2(2). Linux: do_mlock(), mm/mlock.c
    public func mlock(_ task: Task, addr: UInt64, length: UInt64, flags: MlockFlags = []) -> Result<Void, Errno> { .failure(.ENOSYS) }
    /// munlock(2). Linux: SYSCALL_DEFINE2(munlock), mm/mlock.c
    public func munlock(_ task: Task, addr: UInt64, length: UInt64) -> Result<Void, Errno> { .failure(.ENOSYS) }
    /// getpagesize(2): the base page size.
    public func getpagesize() -> Int { Int(PAGE_SIZE) }
    /// Sets up the user address-space layout of a new mm: mmap_base from the stack rlimit and gap.
    /// Linux: arch_pick_mmap_layout(), arch/x86/mm/mmap.c
    public func archPickMmapLayout(_ mm: MMStruct) {}
}
