/// vmalloc: virtually contiguous kernel memory built from single pages wherever the buddy
/// allocator finds them, mapped page by page in the vmalloc area with a guard page after each
/// area; and the vmapped kernel stacks of tasks (THREAD_SIZE = 16 KiB on x86-64).
/// Follows Linux 6.x mm/vmalloc.c and kernel/fork.c.
///
/// Model: the vmalloc area is searched first-fit from VMALLOC_START (alloc_vmap_area's lowest
/// free address); each area records the frame behind each of its pages (its page-table
/// mapping; the kernel's own page tables are not simulated in frames). Not modelled: lazy
/// purging of freed areas (a freed range is reusable at once), huge vmalloc mappings, per-CPU
/// vmap blocks (vm_map_ram), KASAN shadow.

/// Start and end of the vmalloc area with 4-level paging and KASLR off (VMALLOC_START, VMALLOC_END).
public let VMALLOC_START: UInt64 = 0xffff_c900_0000_0000
public let VMALLOC_END: UInt64 = 0xffff_e8ff_ffff_ffff
/// Size of a kernel stack on the 64-bit machines (x86-64 THREAD_SIZE = PAGE_SIZE << THREAD_SIZE_ORDER(2)),
/// and its alignment there; `Kernel.threadSize` is the machine's.
public let THREAD_SIZE = 16384
/// Freed stacks each CPU keeps for reuse instead of vfree()ing them (NR_CACHED_STACKS).
public let NR_CACHED_STACKS = 2

/// One vmalloc'ed area (struct vm_struct): its range including the guard page and its pages.
public final class VmStruct {
    /// First address and size in bytes, the trailing guard page included (vm_struct->size).
    public let addr: UInt64
    public let size: UInt64
    /// The frame behind each page of the area, in address order.
    public internal(set) var pages: [PFN]
    /// The function that asked for it (vm_struct->caller, printed as a symbol).
    public let caller: String
    /// What kind of area it is, as /proc/vmallocinfo names it ("vmalloc", "vmap", "ioremap").
    public let kind: String
    init(addr: UInt64, size: UInt64, pages: [PFN], caller: String, kind: String) {
        self.addr = addr; self.size = size; self.pages = pages; self.caller = caller; self.kind = kind
    }
    /// Usable bytes (get_vm_area_size(): the size without the guard page).
    public var usableSize: UInt64 { size - PAGE_SIZE }
    /// Runs of physically consecutive frames among the pages (1 when the area is physically contiguous).
    public var physicalRuns: Int {
        var runs = pages.isEmpty ? 0 : 1
        for i in pages.indices.dropFirst() where pages[i].raw != pages[i - 1].raw &+ 1 { runs += 1 }
        return runs
    }
}

/// The vmalloc allocator's state: areas by address, the count of vmalloc'ed pages, cached stacks.
public final class VmapState {
    /// Busy areas sorted by address (vmap_area_root).
    public internal(set) var areas: [VmStruct] = []
    /// Pages vmalloc holds (nr_vmalloc_pages, behind VmallocUsed).
    public internal(set) var nrVmallocPages = 0
    /// Freed kernel stacks kept for the next task (cached_stacks[] of the CPU).
    public internal(set) var cachedStacks: [VmStruct] = []
    /// Each live task's stack area, by pid (CONFIG_VMAP_STACK).
    public internal(set) var taskStacks: [PID: VmStruct] = [:]
    /// Each live task's stack pages, by pid: the first of THREAD_SIZE contiguous lowmem frames
    /// (machines without CONFIG_VMAP_STACK: x86-32).
    public internal(set) var taskStackPages: [PID: PFN] = [:]
    /// The vmalloc area [start, end]: x86-64's by default; a 32-bit ARM machine sets its own
    /// (VMALLOC_START = high_memory + 8 MiB rounded down to 8 MiB, VMALLOC_END 0xff800000).
    public internal(set) var start = VMALLOC_START, end = VMALLOC_END
    public init() {}

    /// The area starting exactly at `addr`, or nil. Linux: find_vm_area(), mm/vmalloc.c
    public func findVMArea(_ addr: UInt64) -> VmStruct? { areas.first { $0.addr == addr } }
}

/// Why vmalloc failed.
public enum VmallocError: Error, Equatable, CustomStringConvertible {
    case badSize(UInt64)
    case noSpace
    case noMemory
    case noSuchArea(UInt64)
    public var description: String {
        switch self {
        case .badSize(let s): return "size \(s) is 0 or larger than RAM"
        case .noSpace: return "vmap allocation failed: no free range in the vmalloc area"
        case .noMemory: return "vmalloc error: failed to allocate pages"
        case .noSuchArea(let a): return "Trying to vfree() nonexistent vm area (0x\(String(a, radix: 16)))"
        }
    }
}

extension Kernel {
    /// Returns the lowest address in the vmalloc area [vmap.start, vmap.end] where `size` bytes aligned to
    /// `align` fit between the busy areas, or nil. Linux: alloc_vmap_area() → __alloc_vmap_area(), mm/vmalloc.c
    func findVmapArea(size: UInt64, align: UInt64) -> UInt64? {
        var candidate = vmap.start
        for a in vmap.areas {
            if candidate &+ size <= a.addr { return candidate }
            if a.addr &+ a.size > candidate {
                let end = a.addr &+ a.size
                candidate = (end &+ align &- 1) & ~(align &- 1)
            }
        }
        let (last, o) = candidate.addingReportingOverflow(size)
        return !o && last &- 1 <= vmap.end ? candidate : nil
    }

    /// Returns a virtually contiguous area of `size` bytes (rounded up to pages) plus a guard page,
    /// each page a separate order-0 frame (zeroed with __GFP_ZERO); fails for size 0 or above RAM,
    /// when the vmalloc area is full, or when pages run out (every page taken so far is returned).
    /// Linux: vmalloc() → __vmalloc_node_range() → __vmalloc_area_node(), mm/vmalloc.c
    public func vmalloc(_ size: UInt64, align: UInt64 = PAGE_SIZE, gfp: GFP = .kernel, caller: String = "vmalloc") -> Result<VmStruct, VmallocError> {
        guard size > 0, let rounded = pageAlignUp(size), rounded >> PAGE_SHIFT <= UInt64(phys.totalManagedPages) else {
            return .failure(.badSize(size))
        }
        let total = rounded &+ PAGE_SIZE   // the guard page (no VM_NO_GUARD)
        guard let addr = findVmapArea(size: total, align: max(align, PAGE_SIZE)) else { return .failure(.noSpace) }
        let n = Int(rounded >> PAGE_SHIFT)
        var pages: [PFN] = []
        pages.reserveCapacity(n)
        let pageGFP = gfp.union([.highmem, .nowarn])
        for _ in 0..<n {
            guard let p = allocKernelPages(order: 0, gfp: pageGFP) else {
                for q in pages { freeKernelPages(q, order: 0) }
                let comm = current?.comm ?? "swapper/0"
                printk("\(comm): vmalloc error: size \(rounded), failed to allocate pages, mode:\(formatGFPMask(gfp)), nodemask=(null),cpuset=/,mems_allowed=0")
                return .failure(.noMemory)
            }
            pages.append(p)
        }
        let area = VmStruct(addr: addr, size: total, pages: pages, caller: caller, kind: "vmalloc")
        let i = vmap.areas.firstIndex { $0.addr > addr } ?? vmap.areas.count
        vmap.areas.insert(area, at: i)
        vmap.nrVmallocPages += n
        narrate("vmalloc(\(size)): \(n) page\(n == 1 ? "" : "s") from the buddy allocator one at a time (\(area.physicalRuns) physically contiguous run\(area.physicalRuns == 1 ? "" : "s")), mapped at 0x\(String(addr, radix: 16)) with a guard page after them")
        return .success(area)
    }

    /// Unmaps and frees the area that starts at `addr`; fails (changing nothing) when no area
    /// starts there. Linux: vfree() → remove_vm_area() / __free_pages(), mm/vmalloc.c
    public func vfree(_ addr: UInt64) -> Result<Void, VmallocError> {
        guard let i = vmap.areas.firstIndex(where: { $0.addr == addr }) else { return .failure(.noSuchArea(addr)) }
        let a = vmap.areas.remove(at: i)
        for p in a.pages { freeKernelPages(p, order: 0) }
        vmap.nrVmallocPages -= a.pages.count
        narrate("vfree(0x\(String(addr, radix: 16))): \(a.pages.count) page\(a.pages.count == 1 ? "" : "s") back to the buddy allocator, the range is free again")
        return .success(())
    }

    /// Returns the frame behind a vmalloc address, or nil when it lies in no area or in a guard page.
    /// Linux: vmalloc_to_page(), mm/vmalloc.c
    public func vmallocToPFN(_ addr: UInt64) -> PFN? {
        guard let a = vmap.areas.last(where: { $0.addr <= addr }), addr &- a.addr < a.usableSize else { return nil }
        return a.pages[Int((addr &- a.addr) >> PAGE_SHIFT)]
    }

    /// The machine's THREAD_SIZE: 16 KiB on the 64-bit machines (x86-64 THREAD_SIZE_ORDER 2),
    /// 8 KiB (THREAD_SIZE_ORDER 1) on x86-32 and 32-bit ARM.
    /// Linux: arch/x86/include/asm/page_{32,64}_types.h, arch/arm/include/asm/thread_info.h
    public var threadSize: Int { phys.paging.is32Bit ? 8192 : THREAD_SIZE }

    /// True when kernel stacks are vmalloc'ed (CONFIG_VMAP_STACK): every machine but x86-32,
    /// where HAVE_ARCH_VMAP_STACK is x86-64 only. Linux: arch/x86/Kconfig, arch/arm/Kconfig
    public var vmapStack: Bool { !(phys.paging.encoding == .x86_32 || phys.paging.encoding == .x86PAE) }

    /// Gives `task` a kernel stack and counts KernelStack; returns false when none can be had.
    /// With CONFIG_VMAP_STACK: a cached one if the CPU keeps any, else a new vmalloc area of
    /// THREAD_SIZE aligned to THREAD_ALIGN (THREAD_SIZE; twice that on ARM, for overflow checks).
    /// Without (x86-32): THREAD_SIZE of contiguous lowmem pages (order 1, THREADINFO_GFP).
    /// Linux: alloc_thread_stack_node() / account_kernel_stack(), kernel/fork.c
    @discardableResult
    public func allocThreadStack(_ task: Task) -> Bool {
        let size = threadSize
        guard vmapStack else {
            guard let p = allocKernelPages(order: (size >> PAGE_SHIFT).trailingZeroBitCount, gfp: GFP.kernelAccount.union(.zero)) else { return false }
            vmap.taskStackPages[task.pid] = p
            stat.nrKernelStackKB += size / 1024
            narrate("kernel stack for pid \(task.pid): \(size >> 10) KiB of lowmem from PFN \(p) at 0x\(String(X86_32Kernel.pageOffset &+ UInt64(p.index) << PAGE_SHIFT, radix: 16)) (no CONFIG_VMAP_STACK on x86-32)")
            return true
        }
        let area: VmStruct
        if let c = vmap.cachedStacks.popLast() {
            area = c
            narrate("kernel stack for pid \(task.pid): reuses a cached stack at 0x\(String(c.addr, radix: 16))")
        } else {
            let align = phys.paging.encoding == .arm32 ? 2 * size : size
            switch vmalloc(UInt64(size), align: UInt64(align), gfp: GFP.kernelAccount.union(.zero), caller: "dup_task_struct") {
            case .success(let a): area = a
            case .failure: return false
            }
        }
        vmap.taskStacks[task.pid] = area
        stat.nrKernelStackKB += size / 1024
        return true
    }

    /// Releases `task`'s kernel stack: a vmapped one is kept in the CPU's cache while it has room,
    /// else vfree()d; lowmem pages go back to the buddy allocator. Does nothing for a task
    /// without a stack. Linux: free_thread_stack() / account_kernel_stack(), kernel/fork.c
    public func freeThreadStack(_ task: Task) {
        if let p = vmap.taskStackPages.removeValue(forKey: task.pid) {
            stat.nrKernelStackKB -= threadSize / 1024
            freeKernelPages(p, order: (threadSize >> PAGE_SHIFT).trailingZeroBitCount)
            return
        }
        guard let area = vmap.taskStacks.removeValue(forKey: task.pid) else { return }
        stat.nrKernelStackKB -= threadSize / 1024
        if vmap.cachedStacks.count < NR_CACHED_STACKS {
            vmap.cachedStacks.append(area)
            narrate("kernel stack of pid \(task.pid) kept in the CPU's cache of \(NR_CACHED_STACKS) stacks")
        } else {
            _ = vfree(area.addr)
        }
    }
}
