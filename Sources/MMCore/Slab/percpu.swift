/// The per-CPU allocator: alloc_percpu() returns one offset that names a separate copy of the
/// object for every CPU, each in that CPU's unit of a chunk; chunks live in the vmalloc area and
/// their pages are populated on demand. Follows Linux mm/percpu.c and mm/percpu-vm.c.
///
/// Model: dynamic chunks only, each with one unit per CPU of PCPU_UNIT_SIZE (32 KiB, the
/// minimum unit size; a real kernel sizes units from the first chunk, typically larger), first
/// fit in 4-byte granules (PCPU_MIN_ALLOC_SIZE) with alignment, a page populated in every unit the
/// first time an allocation touches it (Percpu: in meminfo), an empty chunk depopulated and
/// destroyed at once (the kernel keeps one and defers the work to pcpu_balance_workfn). The
/// first chunk (static per-CPU variables, set up before the buddy allocator) is not modelled.

/// Size of each CPU's unit in a chunk, and the allocation granule.
public let PCPU_UNIT_SIZE = 32 << 10
public let PCPU_MIN_ALLOC_SIZE = 4

/// One chunk: a vmalloc area of nrCPUs units, its allocations and populated pages.
public final class PcpuChunk {
    /// Base address of unit 0 in the vmalloc area.
    public let base: UInt64
    /// Allocated ranges in the unit, (offset, size), ascending.
    public internal(set) var allocs: [(offset: Int, size: Int)] = []
    /// For each page index of the unit that is populated, the frame of each CPU's copy.
    public internal(set) var populated: [Int: [PFN]] = [:]
    init(base: UInt64) { self.base = base }
}

/// The per-CPU allocator's chunks.
public final class PcpuState {
    public internal(set) var chunks: [PcpuChunk] = []
    /// Pages populated over all chunks and units (pcpu_nr_populated × nr units).
    public var populatedPages: Int { chunks.reduce(0) { $0 + $1.populated.values.reduce(0) { $0 + $1.count } } }
    public init() {}
}

extension Kernel {
    /// Returns the __percpu address of a new zeroed `size`-byte object aligned to `align` (CPU 0's
    /// copy; CPU n's copy is n units above), populating the pages it touches in every unit; nil
    /// for a size of 0 or above the unit, an alignment that is not a power of two up to a page,
    /// or no memory. Linux: pcpu_alloc() → pcpu_find_block_fit() / pcpu_populate_chunk(), mm/percpu.c
    public func allocPercpu(_ size: Int, align: Int = 8) -> UInt64? {
        guard size > 0, size <= PCPU_UNIT_SIZE, align > 0, align <= Int(PAGE_SIZE), align & (align - 1) == 0 else { return nil }
        let bytes = alignUp(size, PCPU_MIN_ALLOC_SIZE)
        let a = max(align, PCPU_MIN_ALLOC_SIZE)
        func fit(_ c: PcpuChunk) -> Int? {
            var off = 0
            for r in c.allocs {
                if alignUp(off, a) + bytes <= r.offset { return alignUp(off, a) }
                off = r.offset + r.size
            }
            let o = alignUp(off, a)
            return o + bytes <= PCPU_UNIT_SIZE ? o : nil
        }
        var chunk: PcpuChunk? = nil, off = 0
        for c in percpu.chunks { if let o = fit(c) { chunk = c; off = o; break } }
        if chunk == nil {
            // pcpu_create_chunk(): a vmalloc-area range for every unit, no pages yet.
            let total = UInt64(PCPU_UNIT_SIZE * kmem.nrCPUs)
            guard let base = findVmapArea(size: total + PAGE_SIZE, align: PAGE_SIZE) else { return nil }
            let area = VmStruct(addr: base, size: total + PAGE_SIZE, pages: [], caller: "pcpu_get_vm_areas", kind: "vmalloc")
            let i = vmap.areas.firstIndex { $0.addr > base } ?? vmap.areas.count
            vmap.areas.insert(area, at: i)
            let c = PcpuChunk(base: base)
            percpu.chunks.append(c)
            narrate("alloc_percpu: new chunk at 0x\(String(base, radix: 16)): \(kmem.nrCPUs) unit\(kmem.nrCPUs == 1 ? "" : "s") of \(PCPU_UNIT_SIZE >> 10) KiB, no pages yet")
            chunk = c; off = 0
        }
        let c = chunk!
        // pcpu_populate_chunk(): every page of the range, in every unit.
        var newPages: [(Int, [PFN])] = []
        for page in (off >> Int(PAGE_SHIFT))...((off + bytes - 1) >> Int(PAGE_SHIFT)) where c.populated[page] == nil {
            var frames: [PFN] = []
            for _ in 0..<kmem.nrCPUs {
                guard let p = allocKernelPages(order: 0, gfp: GFP.kernel.union(.zero)) else {
                    for f in frames { freeKernelPages(f, order: 0) }
                    for (_, fs) in newPages { for f in fs { freeKernelPages(f, order: 0) } }
                    for (pg, _) in newPages { c.populated[pg] = nil }
                    return nil
                }
                frames.append(p)
            }
            c.populated[page] = frames
            newPages.append((page, frames))
        }
        let i = c.allocs.firstIndex { $0.offset > off } ?? c.allocs.count
        c.allocs.insert((off, bytes), at: i)
        narrate("alloc_percpu(\(size), \(align)): offset \(off) in every unit; \(newPages.count) page\(newPages.count == 1 ? "" : "s") populated in each of \(kmem.nrCPUs) unit\(kmem.nrCPUs == 1 ? "" : "s")")
        return c.base &+ UInt64(off)
    }

    /// Returns CPU `cpu`'s copy of a per-CPU object. Linux: per_cpu_ptr(), include/linux/percpu-defs.h
    public func perCPUPtr(_ ptr: UInt64, cpu: Int) -> UInt64 { ptr &+ UInt64(cpu * PCPU_UNIT_SIZE) }

    /// Frees a per-CPU object; a chunk left empty is depopulated and its vmalloc range released.
    /// Fails for an address that starts no allocation. Linux: free_percpu() / pcpu_free_area(), mm/percpu.c
    public func freePercpu(_ ptr: UInt64) -> Bool {
        guard let c = percpu.chunks.first(where: { ptr >= $0.base && ptr < $0.base &+ UInt64(PCPU_UNIT_SIZE) }),
              let i = c.allocs.firstIndex(where: { $0.offset == Int(ptr &- c.base) }) else { return false }
        c.allocs.remove(at: i)
        if c.allocs.isEmpty {
            for (_, frames) in c.populated { for f in frames { freeKernelPages(f, order: 0) } }
            c.populated = [:]
            vmap.areas.removeAll { $0.addr == c.base }
            percpu.chunks.removeAll { $0 === c }
            narrate("free_percpu: the chunk is empty: its pages go back and its vmalloc range is released")
        }
        return true
    }
}
