/// Virtual-memory accounting and the overcommit policy (the mm/util.c side of Linux 6.x).
///
/// Every private writable mapping, brk extension and stack growth is charged to
/// `committedPages` (vm_committed_as, the Committed_AS line of /proc/meminfo) through
/// `vmEnoughMemory`, which applies vm.overcommit_memory:
/// 0 (OVERCOMMIT_GUESS) refuses only a single request larger than RAM + swap;
/// 1 (OVERCOMMIT_ALWAYS) never refuses; 2 (OVERCOMMIT_NEVER) refuses once the total would reach
/// CommitLimit minus the root and user reserves. hugetlb_total_pages() counts every hugetlb pool.

/// vm.overcommit_memory values. Linux: include/uapi/linux/mman.h
public let OVERCOMMIT_GUESS = 0
public let OVERCOMMIT_ALWAYS = 1
public let OVERCOMMIT_NEVER = 2

extension Kernel {
    /// RAM pages the kernel manages (MemTotal in pages). Linux: totalram_pages(), include/linux/mm.h
    public var totalRAMPages: Int { phys.totalManagedPages }


    /// Charges `pages` to vm_committed_as. Linux: vm_acct_memory(), include/linux/mman.h
    public func vmAcctMemory(pages: Int) { committedPages += pages }

    /// Uncommits pages. Linux: vm_unacct_memory(), include/linux/mman.h
    public func vmUnacctMemory(pages: Int) { committedPages -= pages }

    /// Committed_AS in pages, never negative. Linux: vm_memory_committed(), mm/util.c
    public func vmMemoryCommitted() -> Int { max(0, committedPages) }

    /// CommitLimit in pages: overcommit_kbytes converted to pages when set, else
    /// (RAM − hugetlb) × overcommit_ratio / 100, plus swap. Linux: vm_commit_limit(), mm/util.c
    public func vmCommitLimit() -> Int {
        let allowed: Int
        if sysctl.overcommitKbytes != 0 {
            allowed = sysctl.overcommitKbytes >> Int(PAGE_SHIFT - 10)
        } else {
            let hugetlbTotalPages = self.hugetlbTotalPages
            allowed = (totalRAMPages - hugetlbTotalPages) * sysctl.overcommitRatio / 100
        }
        return allowed + totalSwapPages
    }

    /// Commits `pages` and returns true when the overcommit policy allows it; otherwise logs the
    /// kernel's warning, uncommits them and returns false (the caller fails with ENOMEM).
    /// Linux: __vm_enough_memory(), mm/util.c
    public func vmEnoughMemory(_ mm: MMStruct?, pages: Int, capSysAdmin: Bool) -> Bool {
        vmAcctMemory(pages: pages)
        switch sysctl.overcommitMemory {
        case OVERCOMMIT_ALWAYS:
            return true
        case OVERCOMMIT_GUESS:
            if pages <= totalRAMPages + totalSwapPages { return true }
        default:
            var allowed = vmCommitLimit()
            // Reserve some for root.
            if !capSysAdmin { allowed -= sysctl.adminReserveKbytes >> Int(PAGE_SHIFT - 10) }
            // Do not let one process grow so big that its user cannot recover.
            if let mm {
                let reserve = sysctl.userReserveKbytes >> Int(PAGE_SHIFT - 10)
                allowed -= min(mm.totalVM / 32, reserve)
            }
            if vmMemoryCommitted() < allowed { return true }
        }
        if let t = (mm.flatMap { m in allTasks.first { $0.mm === m } }) ?? current {
            let bytes = UInt64(truncatingIfNeeded: pages) << PAGE_SHIFT
            printk("__vm_enough_memory: pid: \(t.pid), comm: \(t.comm), bytes: \(bytes) not enough memory for the allocation")
        }
        vmUnacctMemory(pages: pages)
        return false
    }

    /// vmEnoughMemory for `mm` with CAP_SYS_ADMIN taken from its owner (uid 0 holds it):
    /// true when the pages were committed. Linux: security_vm_enough_memory_mm() /
    /// cap_vm_enough_memory(), security/commoncap.c
    public func securityVMEnoughMemoryMM(_ mm: MMStruct, pages: Int) -> Bool {
        let owner = allTasks.first { $0.mm === mm }
        return vmEnoughMemory(mm, pages: pages, capSysAdmin: owner?.uid == 0)
    }
}
