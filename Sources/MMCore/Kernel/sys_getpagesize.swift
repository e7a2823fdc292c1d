extension Kernel {
    /// getpagesize(2): the base page size in bytes (4096 on x86-64).
    /// Linux: SYSCALL_DEFINE0(getpagesize), kernel/sys.c
    public func getpagesize() -> Int { Int(PAGE_SIZE) }
}
