/// A simplified glibc malloc (ptmalloc2, main arena only) running inside a simulated process.
///
/// Modelled on glibc 2.36–2.42 malloc/malloc.c on x86-64 (SIZE_SZ 8, MALLOC_ALIGNMENT 16,
/// MINSIZE 32, chunk header 16 bytes). Faithful: request2size, the brk-heap growth in
/// sysmalloc (top_pad 128 KiB, page rounding, alignment correction, mmap as a non-contiguous
/// fallback heap when brk fails), per-request mmap at mmap_threshold and the brk fallback when
/// that mmap fails, the dynamic mmap/trim thresholds, coalescing with neighbours and top, systrim
/// (only after a free that leaves a chunk of at least 64 KiB, as _int_free_maybe_consolidate),
/// mremap_chunk for mmapped realloc, calloc's MORECORE_CLEARS rule and realloc's in-place paths.
/// Simplified: no tcache and no fastbins (as with glibc.malloc.tcache_count=0 and
/// glibc.malloc.mxfast=0), one arena, and the bins are replaced by a best-fit search over the
/// free chunks (smallest that fits, lowest address on ties).
///
/// All metadata lives host-side: chunk headers are never written into simulated memory, so a
/// malloc that is never touched costs no page fault and no RSS.

/// Bytes of a size field (INTERNAL_SIZE_T). glibc: SIZE_SZ, malloc/malloc-internal.h
public let MALLOC_SIZE_SZ: UInt64 = 8
/// Alignment of every user pointer. glibc: MALLOC_ALIGNMENT, sysdeps/generic/malloc-alignment.h
public let MALLOC_ALIGNMENT: UInt64 = 16
/// Smallest chunk. glibc: MINSIZE, malloc/malloc.c
public let MALLOC_MINSIZE: UInt64 = 32
/// Bytes between a chunk's start and its user pointer. glibc: CHUNK_HDR_SZ, malloc/malloc.c
public let MALLOC_CHUNK_HDR_SZ: UInt64 = 16
/// Initial M_MMAP_THRESHOLD and M_TRIM_THRESHOLD. glibc: DEFAULT_MMAP_THRESHOLD_MIN, DEFAULT_TRIM_THRESHOLD
public let DEFAULT_MMAP_THRESHOLD: UInt64 = 128 * 1024
/// Largest value the dynamic mmap threshold may reach on 64-bit (4 MiB * sizeof(long)).
/// glibc: DEFAULT_MMAP_THRESHOLD_MAX, malloc/malloc.c
public let DEFAULT_MMAP_THRESHOLD_MAX: UInt64 = 32 * 1024 * 1024
/// Default M_TOP_PAD. glibc: DEFAULT_TOP_PAD, sysdeps/generic/malloc-machine.h
public let DEFAULT_TOP_PAD: UInt64 = 128 * 1024
/// Smallest region mmapped as a heap extension when brk fails. glibc: MMAP_AS_MORECORE_SIZE
public let MMAP_AS_MORECORE_SIZE: UInt64 = 1024 * 1024
/// Size of a freed chunk from which free() considers trimming. glibc: FASTBIN_CONSOLIDATION_THRESHOLD
public let FASTBIN_CONSOLIDATION_THRESHOLD: UInt64 = 65536

/// The system calls malloc needs from the process it runs in (the seam that lets the policy be
/// tested with a recording fake). Addresses and lengths are plain byte values.
public protocol MallocBackend {
    /// brk(2): the new break, or the unchanged one when the request is refused.
    mutating func brk(_ addr: UInt64) -> UInt64
    /// mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0): the address, or nil.
    mutating func mmap(length: UInt64) -> UInt64?
    /// munmap(2): true on success.
    mutating func munmap(addr: UInt64, length: UInt64) -> Bool
    /// mremap(addr, oldSize, newSize, MREMAP_MAYMOVE): the new address, or nil.
    mutating func mremap(addr: UInt64, oldSize: UInt64, newSize: UInt64) -> UInt64?
    /// Writes user memory; false when the access failed (the process is gone).
    mutating func store(_ addr: UInt64, _ bytes: [UInt8]) -> Bool
    /// Reads user memory; nil when the access failed.
    mutating func load(_ addr: UInt64, count: Int) -> [UInt8]?
}

/// A heap-corruption or bad-pointer report: glibc prints `message` and aborts the process.
public struct MallocError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text glibc's malloc_printerr prints, e.g. "free(): invalid pointer".
    public let message: String
    /// The user pointer that was passed in.
    public let pointer: VirtAddr
    public init(_ message: String, pointer: VirtAddr) { self.message = message; self.pointer = pointer }
    public var description: String { message }
}

/// mallopt(3) parameters. Values as in <malloc.h>.
public enum MalloptParam: Int32, Sendable {
    case trimThreshold = -1, topPad = -2, mmapThreshold = -3, mmapMax = -4
}

/// Tunables and global counters. glibc: struct malloc_par (mp_), malloc/malloc.c
public struct MallocParams: Sendable, Equatable {
    public var trimThreshold: UInt64 = DEFAULT_MMAP_THRESHOLD
    public var topPad: UInt64 = DEFAULT_TOP_PAD
    public var mmapThreshold: UInt64 = DEFAULT_MMAP_THRESHOLD
    public var nMmapsMax: Int = 65536
    /// Set once mallopt changed a threshold: the dynamic adjustment stops.
    public var noDynThreshold = false
    public var nMmaps = 0, maxNMmaps = 0
    public var mmappedMem: UInt64 = 0, maxMmappedMem: UInt64 = 0
    /// First address sbrk returned (mp_.sbrk_base), nil before the heap exists.
    public var sbrkBase: UInt64?
    public init() {}
}

/// What malloc_stats(3)/mallinfo2(3) report.
public struct MallocStats: Sendable, Equatable {
    /// Bytes obtained from brk (or the mmap fallback) for the heap (mallinfo2.arena, system_mem).
    public var arenaBytes: UInt64
    /// Bytes of heap chunks in use (uordblks).
    public var inUseBytes: UInt64
    /// Free bytes in the heap, top included (fordblks).
    public var freeBytes: UInt64
    /// Free chunks, top included (ordblks).
    public var freeChunks: Int
    /// Size of the top chunk (keepcost).
    public var topBytes: UInt64
    /// Chunks served by their own mmap, and their bytes (hblks, hblkhd).
    public var mmappedRegions: Int
    public var mmappedBytes: UInt64
    public var maxMmappedRegions: Int
    public var maxMmappedBytes: UInt64
    public var mmapThreshold: UInt64
    public var trimThreshold: UInt64
    public var topPad: UInt64
    /// Start of the brk heap, nil before the first heap allocation.
    public var heapStart: UInt64?

    /// The text malloc_stats() writes to stderr. glibc: __malloc_stats(), malloc/malloc.c
    public var mallocStatsText: String {
        func col(_ v: UInt64) -> String { let s = String(v); return String(repeating: " ", count: max(0, 10 - s.count)) + s }
        let sys32 = UInt64(UInt32(truncatingIfNeeded: arenaBytes)), use32 = UInt64(UInt32(truncatingIfNeeded: inUseBytes))
        let tsys = UInt64(UInt32(truncatingIfNeeded: arenaBytes &+ mmappedBytes))
        let tuse = UInt64(UInt32(truncatingIfNeeded: inUseBytes &+ mmappedBytes))
        return "Arena 0:\n"
            + "system bytes     = \(col(sys32))\n"
            + "in use bytes     = \(col(use32))\n"
            + "Total (incl. mmap):\n"
            + "system bytes     = \(col(tsys))\n"
            + "in use bytes     = \(col(tuse))\n"
            + "max mmap regions = \(col(UInt64(maxMmappedRegions)))\n"
            + "max mmap bytes   = \(col(maxMmappedBytes))\n"
    }
}

@inline(__always) private func alignUp(_ x: UInt64, _ a: UInt64) -> UInt64? {
    let (r, o) = x.addingReportingOverflow(a - 1)
    return o ? nil : r & ~(a - 1)
}
@inline(__always) private func checkedAdd(_ a: UInt64, _ b: UInt64) -> UInt64? {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? nil : r
}

/// Converts a request to a chunk size: nil when the request exceeds PTRDIFF_MAX (ENOMEM).
/// glibc: checked_request2size(), malloc/malloc.c
public func checkedRequest2size(_ req: UInt64) -> UInt64? {
    guard req <= UInt64(Int64.max) else { return nil }
    let padded = req + MALLOC_SIZE_SZ + (MALLOC_ALIGNMENT - 1)
    return padded < MALLOC_MINSIZE ? MALLOC_MINSIZE : padded & ~(MALLOC_ALIGNMENT - 1)
}

/// The chunk bookkeeping of the main arena (struct malloc_state plus the chunk headers that real
/// glibc keeps in user memory). Pure: it reaches the process only through a `MallocBackend`.
public struct MallocArena: Sendable, Equatable {
    public var params = MallocParams()
    /// The top chunk (av->top) and its size; 0/0 before the heap exists (initial_top).
    public private(set) var top: UInt64 = 0
    public private(set) var topSize: UInt64 = 0
    /// False once mmap had to stand in for brk (set_noncontiguous).
    public private(set) var contiguous = true
    public private(set) var systemMem: UInt64 = 0
    public private(set) var maxSystemMem: UInt64 = 0
    /// glibc's cached break (__curbrk), nil until the first sbrk.
    public private(set) var curbrk: UInt64?
    /// In-use heap chunks: chunk address → size.
    public private(set) var inUse: [UInt64: UInt64] = [:]
    /// Free heap chunks: chunk address → size, and end address → chunk address.
    public private(set) var freeChunks: [UInt64: UInt64] = [:]
    private var freeEnds: [UInt64: UInt64] = [:]
    /// Chunks with their own mapping: chunk (= mapping) address → mapping size.
    public private(set) var mmapped: [UInt64: UInt64] = [:]

    public init() {}

    // MARK: - Public entry points (user pointers)

    /// Allocates `bytes`: the user pointer, or nil (ENOMEM). glibc: __libc_malloc(), malloc/malloc.c
    public mutating func malloc<B: MallocBackend>(_ bytes: UInt64, _ be: inout B) -> UInt64? {
        guard let nb = checkedRequest2size(bytes), let p = intMalloc(nb, &be) else { return nil }
        return p + MALLOC_CHUNK_HDR_SZ
    }

    /// Frees a user pointer (0 is a no-op): nil, or the error glibc would abort with.
    /// glibc: __libc_free() / _int_free_chunk(), malloc/malloc.c
    public mutating func free<B: MallocBackend>(_ mem: UInt64, _ be: inout B) -> MallocError? {
        if mem == 0 { return nil }
        guard mem >= MALLOC_CHUNK_HDR_SZ, mem & (MALLOC_ALIGNMENT - 1) == 0 else {
            return MallocError("free(): invalid pointer", pointer: VirtAddr(mem))
        }
        let p = mem - MALLOC_CHUNK_HDR_SZ
        if let size = mmapped[p] {
            // Dynamic threshold: a freed mapping larger than the threshold raises it.
            // glibc compares the raw size field, which carries the IS_MMAPPED bit (2).
            let sizeField = size | 2
            if !params.noDynThreshold && sizeField > params.mmapThreshold && sizeField <= DEFAULT_MMAP_THRESHOLD_MAX {
                params.mmapThreshold = size
                params.trimThreshold = 2 * size
            }
            munmapChunk(p, &be)
            return nil
        }
        if let size = inUse[p] {
            inUse[p] = nil
            intFreeMergeChunk(p, size, &be)
            return nil
        }
        if p == top && topSize > 0 { return MallocError("double free or corruption (top)", pointer: VirtAddr(mem)) }
        if freeChunks[p] != nil { return MallocError("double free or corruption (!prev)", pointer: VirtAddr(mem)) }
        return MallocError("free(): invalid pointer", pointer: VirtAddr(mem))
    }

    /// Allocates `n * size` zeroed bytes: the user pointer, or nil when the product overflows or
    /// memory ran out. Only memory that may hold old data is cleared, through `store`.
    /// glibc: __libc_calloc() / __libc_calloc2(), malloc/malloc.c
    public mutating func calloc<B: MallocBackend>(_ n: UInt64, _ size: UInt64, _ be: inout B) -> UInt64? {
        let (bytes, o) = n.multipliedReportingOverflow(by: size)
        guard !o, let nb = checkedRequest2size(bytes) else { return nil }
        let oldtop = top
        var oldtopsize = topSize
        // MORECORE_CLEARS == 1: only memory beyond what the heap ever held is known to be zero.
        // The sum wraps exactly as glibc's pointer arithmetic does.
        let everHeld = (params.sbrkBase ?? 0) &+ maxSystemMem &- oldtop
        if oldtopsize < everHeld { oldtopsize = everHeld }
        guard let p = intMalloc(nb, &be) else { return nil }
        if mmapped[p] != nil { return p + MALLOC_CHUNK_HDR_SZ }
        var csz = inUse[p] ?? nb
        if p == oldtop && csz > oldtopsize { csz = oldtopsize }
        let mem = p + MALLOC_CHUNK_HDR_SZ
        guard csz > MALLOC_SIZE_SZ else { return mem }
        guard Self.zero(mem, csz - MALLOC_SIZE_SZ, &be) else { return nil }
        return mem
    }

    /// Resizes an allocation: the (possibly moved) user pointer, nil with the old block intact when
    /// memory ran out, nil after freeing when `bytes` is 0, or the error glibc would abort with.
    /// glibc: __libc_realloc() / _int_realloc(), malloc/malloc.c
    public mutating func realloc<B: MallocBackend>(_ old: UInt64?, _ bytes: UInt64, _ be: inout B) -> Result<UInt64?, MallocError> {
        guard let oldmem = old, oldmem != 0 else { return .success(malloc(bytes, &be)) }
        if bytes == 0 {  // REALLOC_ZERO_BYTES_FREES: realloc(p, 0) is free(p)
            if let e = free(oldmem, &be) { return .failure(e) }
            return .success(nil)
        }
        let p = oldmem &- MALLOC_CHUNK_HDR_SZ
        let isMmapped = mmapped[p] != nil
        guard oldmem & (MALLOC_ALIGNMENT - 1) == 0, isMmapped || inUse[p] != nil else {
            return .failure(MallocError("realloc(): invalid pointer", pointer: VirtAddr(oldmem)))
        }
        let usable = usableSize(oldmem)
        if bytes <= usable {
            let diff = usable - bytes
            if diff < 2 * MALLOC_SIZE_SZ || (isMmapped && diff <= PAGE_SIZE) { return .success(oldmem) }
        }
        guard let nb = checkedRequest2size(bytes) else { return .success(nil) }
        if isMmapped {
            let oldsize = mmapped[p]!
            if let np = mremapChunk(p, nb, &be) { return .success(np + MALLOC_CHUNK_HDR_SZ) }
            if oldsize - MALLOC_SIZE_SZ >= nb { return .success(oldmem) }
            guard let newmem = malloc(bytes, &be) else { return .success(nil) }
            guard Self.copy(from: oldmem, to: newmem, oldsize - MALLOC_CHUNK_HDR_SZ, &be) else { return .success(nil) }
            munmapChunk(p, &be)
            return .success(newmem)
        }
        return .success(intRealloc(p, nb, &be).map { $0 + MALLOC_CHUNK_HDR_SZ })
    }

    /// Usable bytes of an allocation, 0 for a pointer malloc did not return.
    /// glibc: malloc_usable_size() / musable(), malloc/malloc.c
    public func usableSize(_ mem: UInt64) -> UInt64 {
        let p = mem &- MALLOC_CHUNK_HDR_SZ
        if let s = mmapped[p] { return s - MALLOC_CHUNK_HDR_SZ }
        if let s = inUse[p] { return s - MALLOC_CHUNK_HDR_SZ + MALLOC_SIZE_SZ }
        return 0
    }

    /// Sets a tunable: true when accepted. Changing a threshold stops the dynamic adjustment.
    /// glibc: __libc_mallopt(), malloc/malloc.c
    public mutating func mallopt(_ param: MalloptParam, _ value: Int32) -> Bool {
        switch param {
        case .trimThreshold: params.trimThreshold = UInt64(bitPattern: Int64(value))
        case .topPad: params.topPad = UInt64(bitPattern: Int64(value))
        case .mmapThreshold: params.mmapThreshold = UInt64(bitPattern: Int64(value))
        case .mmapMax: params.nMmapsMax = Int(value)
        }
        params.noDynThreshold = true
        return true
    }

    /// Summary counters. glibc: int_mallinfo(), malloc/malloc.c
    public func stats() -> MallocStats {
        let freeBytes = freeChunks.values.reduce(topSize, +)
        return MallocStats(arenaBytes: systemMem, inUseBytes: systemMem >= freeBytes ? systemMem - freeBytes : 0, freeBytes: freeBytes,
                           freeChunks: freeChunks.count + 1, topBytes: topSize,
                           mmappedRegions: params.nMmaps, mmappedBytes: params.mmappedMem,
                           maxMmappedRegions: params.maxNMmaps, maxMmappedBytes: params.maxMmappedMem,
                           mmapThreshold: params.mmapThreshold, trimThreshold: params.trimThreshold,
                           topPad: params.topPad, heapStart: params.sbrkBase)
    }

    // MARK: - Internals (chunk addresses)

    /// Serves a chunk of `nb` bytes from the free chunks, then top, then the system: the chunk
    /// address, or nil. glibc: _int_malloc(), malloc/malloc.c
    mutating func intMalloc<B: MallocBackend>(_ nb: UInt64, _ be: inout B) -> UInt64? {
        if let p = takeFree(nb) { return p }
        if topSize >= nb + MALLOC_MINSIZE { return carveTop(nb) }
        return sysmalloc(nb, &be)
    }

    /// Best fit among the free chunks, split when the rest is at least MINSIZE.
    private mutating func takeFree(_ nb: UInt64) -> UInt64? {
        var best: (addr: UInt64, size: UInt64)?
        for (a, s) in freeChunks where s >= nb {
            if let b = best, (s, a) >= (b.size, b.addr) { continue }
            best = (a, s)
        }
        guard let (addr, size) = best else { return nil }
        removeFree(addr)
        if size - nb >= MALLOC_MINSIZE {
            insertFree(addr + nb, size - nb)
            inUse[addr] = nb
        } else {
            inUse[addr] = size
        }
        return addr
    }

    private mutating func carveTop(_ nb: UInt64) -> UInt64 {
        let p = top
        top += nb
        topSize -= nb
        inUse[p] = nb
        return p
    }

    private mutating func insertFree(_ p: UInt64, _ size: UInt64) {
        freeChunks[p] = size
        freeEnds[p + size] = p
    }

    private mutating func removeFree(_ p: UInt64) {
        if let s = freeChunks.removeValue(forKey: p) { freeEnds[p + s] = nil }
    }

    /// glibc's sbrk(): the old break, or nil when the kernel refused. glibc: __sbrk(), misc/sbrk.c
    private mutating func sbrk<B: MallocBackend>(_ increment: Int64, _ be: inout B) -> UInt64? {
        if curbrk == nil { curbrk = be.brk(0) }
        let old = curbrk!
        if increment == 0 { return old }
        let target: UInt64
        if increment > 0 {
            guard let t = checkedAdd(old, UInt64(increment)) else { return nil }
            target = t
        } else {
            let dec = increment.magnitude
            guard old >= dec else { return nil }
            target = old - dec
        }
        let r = be.brk(target)
        curbrk = r
        return r < target ? nil : old
    }

    /// Gets memory from the system for a chunk of `nb` bytes: its own mmap at or above the
    /// threshold, else a grown (or replaced) top: the chunk address, or nil (ENOMEM).
    /// glibc: sysmalloc(), malloc/malloc.c
    mutating func sysmalloc<B: MallocBackend>(_ nb: UInt64, _ be: inout B) -> UInt64? {
        let pagesize = PAGE_SIZE
        if nb >= params.mmapThreshold && params.nMmaps < params.nMmapsMax {
            if let p = sysmallocMmap(nb, &be) { return p }
        }
        let oldTop = top, oldSize = topSize
        let oldEnd = oldTop + oldSize

        var brk: UInt64?
        var sndBrk: UInt64?
        var size: UInt64 = 0
        if let want = checkedAdd(nb, params.topPad).flatMap({ checkedAdd($0, MALLOC_MINSIZE) }),
           let rounded = alignUp(contiguous ? want - min(want, oldSize) : want, pagesize) {
            size = rounded
            if size > 0 && size <= UInt64(Int64.max) { brk = sbrk(Int64(size), &be) }
        }
        if brk == nil {
            // mmap stands in for brk: a separate, non-contiguous heap region of at least 1 MiB.
            // glibc: sysmalloc_mmap_fallback()
            var fsize: UInt64? = size
            if contiguous { fsize = checkedAdd(size, oldSize).flatMap { alignUp($0, pagesize) } }
            if var fs = fsize {
                if fs < MMAP_AS_MORECORE_SIZE { fs = MMAP_AS_MORECORE_SIZE }
                if fs > nb, let m = be.mmap(length: fs) {
                    contiguous = false
                    size = fs
                    brk = m
                    sndBrk = m + fs
                }
            }
        }
        guard let base = brk else { return nil }
        if params.sbrkBase == nil { params.sbrkBase = base }
        systemMem += size

        if base == oldEnd && oldSize > 0 && sndBrk == nil {
            topSize = size + oldSize          // the break simply moved: top grows
        } else if contiguous && oldSize > 0 && base < oldEnd {
            return nil                        // "break adjusted to free malloc space"
        } else {
            var correction: UInt64 = 0
            var alignedBrk = base
            if contiguous {
                if oldSize > 0 { systemMem += base - oldEnd }   // foreign sbrk counted as ours
                let frontMisalign = (base + MALLOC_CHUNK_HDR_SZ) & (MALLOC_ALIGNMENT - 1)
                if frontMisalign > 0 {
                    correction = MALLOC_ALIGNMENT - frontMisalign
                    alignedBrk += correction
                }
                correction += oldSize
                let endMisalign = base + size + correction
                correction += (alignUp(endMisalign, pagesize) ?? endMisalign) - endMisalign
                if let s = sbrk(Int64(correction), &be) {
                    sndBrk = s
                } else {
                    correction = 0
                    sndBrk = sbrk(0, &be)
                }
            } else if sndBrk == nil {
                sndBrk = sbrk(0, &be)
            }
            if let snd = sndBrk {
                top = alignedBrk
                topSize = snd - alignedBrk + correction
                systemMem += correction
                if oldSize > 0 {
                    // Two fenceposts end the old region; the rest of the old top is freed.
                    let kept = (oldSize - 2 * MALLOC_CHUNK_HDR_SZ) & ~(MALLOC_ALIGNMENT - 1)
                    if kept >= MALLOC_MINSIZE { intFreeMergeChunk(oldTop, kept, &be) }
                }
            }
        }
        maxSystemMem = max(maxSystemMem, systemMem)
        if topSize >= nb + MALLOC_MINSIZE { return carveTop(nb) }
        return nil
    }

    /// Maps a chunk of its own: PAGE_ALIGN(nb + SIZE_SZ) bytes; the chunk address, or nil.
    /// glibc: sysmalloc_mmap(), malloc/malloc.c (2.36–2.42)
    private mutating func sysmallocMmap<B: MallocBackend>(_ nb: UInt64, _ be: inout B) -> UInt64? {
        guard let size = checkedAdd(nb, MALLOC_SIZE_SZ).flatMap({ alignUp($0, PAGE_SIZE) }), size > nb,
              let mm = be.mmap(length: size) else { return nil }
        mmapped[mm] = size
        params.nMmaps += 1
        params.maxNMmaps = max(params.maxNMmaps, params.nMmaps)
        params.mmappedMem += size
        params.maxMmappedMem = max(params.maxMmappedMem, params.mmappedMem)
        return mm
    }

    /// Unmaps a chunk that has its own mapping. glibc: munmap_chunk(), malloc/malloc.c
    private mutating func munmapChunk<B: MallocBackend>(_ p: UInt64, _ be: inout B) {
        guard let size = mmapped.removeValue(forKey: p) else { return }
        params.nMmaps -= 1
        params.mmappedMem -= size
        _ = be.munmap(addr: p, length: size)
    }

    /// Resizes a mapped chunk with mremap(MREMAP_MAYMOVE): the (possibly moved) chunk address, or
    /// nil when mremap failed. glibc: mremap_chunk(), malloc/malloc.c
    private mutating func mremapChunk<B: MallocBackend>(_ p: UInt64, _ nb: UInt64, _ be: inout B) -> UInt64? {
        guard let size = mmapped[p],
              let newSize = checkedAdd(nb, MALLOC_SIZE_SZ).flatMap({ alignUp($0, PAGE_SIZE) }) else { return nil }
        if newSize == size { return p }
        guard let cp = be.mremap(addr: p, oldSize: size, newSize: newSize) else { return nil }
        mmapped[p] = nil
        mmapped[cp] = newSize
        params.mmappedMem = params.mmappedMem - size + newSize
        params.maxMmappedMem = max(params.maxMmappedMem, params.mmappedMem)
        return cp
    }

    /// Frees a heap chunk: merges it with free neighbours or top, then trims if warranted.
    /// glibc: _int_free_merge_chunk() / _int_free_create_chunk() / _int_free_maybe_consolidate()
    private mutating func intFreeMergeChunk<B: MallocBackend>(_ chunk: UInt64, _ chunkSize: UInt64, _ be: inout B) {
        var p = chunk, size = chunkSize
        let next = chunk + chunkSize
        if let prev = freeEnds[p], let ps = freeChunks[prev] {
            removeFree(prev)
            p = prev
            size += ps
        }
        if next == top && topSize > 0 {
            top = p
            topSize += size
            size = topSize
        } else {
            if let ns = freeChunks[next] {
                removeFree(next)
                size += ns
            }
            insertFree(p, size)
        }
        if size >= FASTBIN_CONSOLIDATION_THRESHOLD && topSize >= params.trimThreshold {
            _ = systrim(params.topPad, &be)
        }
    }

    /// Gives the top of the heap back with a negative sbrk, keeping `pad` bytes plus MINSIZE:
    /// true if memory was released. glibc: systrim(), malloc/malloc.c
    mutating func systrim<B: MallocBackend>(_ pad: UInt64, _ be: inout B) -> Bool {
        guard topSize > MALLOC_MINSIZE + 1 else { return false }
        let topArea = topSize - MALLOC_MINSIZE - 1
        guard topArea > pad else { return false }
        let extra = (topArea - pad) & PAGE_MASK
        guard extra > 0, extra <= UInt64(Int64.max) else { return false }
        guard let current = sbrk(0, &be), current == top + topSize else { return false }
        _ = sbrk(-Int64(extra), &be)
        guard let newBrk = sbrk(0, &be), newBrk <= current else { return false }
        let released = current - newBrk
        guard released != 0 else { return false }
        systemMem -= released
        topSize -= released
        return true
    }

    /// Resizes a heap chunk in place when it can (shrink, or grow into top or a free neighbour),
    /// else allocates, copies and frees: the chunk address, or nil with the old chunk kept.
    /// glibc: _int_realloc(), malloc/malloc.c
    private mutating func intRealloc<B: MallocBackend>(_ oldp: UInt64, _ nb: UInt64, _ be: inout B) -> UInt64? {
        let oldsize = inUse[oldp]!
        let next = oldp + oldsize
        var newsize: UInt64
        if oldsize >= nb {
            newsize = oldsize
        } else if next == top && topSize > 0 && oldsize + topSize >= nb + MALLOC_MINSIZE {
            let total = oldsize + topSize
            inUse[oldp] = nb
            top = oldp + nb
            topSize = total - nb
            return oldp
        } else if let ns = freeChunks[next], oldsize + ns >= nb {
            removeFree(next)
            newsize = oldsize + ns
        } else {
            guard let newp = intMalloc(nb, &be) else { return nil }
            if newp == next, let grown = inUse[newp] {
                inUse[newp] = nil
                newsize = grown + oldsize
            } else {
                let oldmem = oldp + MALLOC_CHUNK_HDR_SZ, newmem = newp + MALLOC_CHUNK_HDR_SZ
                guard Self.copy(from: oldmem, to: newmem, oldsize - MALLOC_CHUNK_HDR_SZ + MALLOC_SIZE_SZ, &be) else { return nil }
                inUse[oldp] = nil
                intFreeMergeChunk(oldp, oldsize, &be)
                return newp
            }
        }
        let remainder = newsize - nb
        if remainder < MALLOC_MINSIZE {
            inUse[oldp] = newsize
        } else {
            inUse[oldp] = nb
            intFreeMergeChunk(oldp + nb, remainder, &be)
        }
        return oldp
    }

    // MARK: - Touching user memory, a page at a time

    private static let zeroPage = [UInt8](repeating: 0, count: Int(PAGE_SIZE))

    /// Writes zeros over [addr, addr+length) in page-sized pieces; false if a store failed.
    static func zero<B: MallocBackend>(_ addr: UInt64, _ length: UInt64, _ be: inout B) -> Bool {
        var a = addr, left = length
        while left > 0 {
            let n = min(left, PAGE_SIZE - (a & (PAGE_SIZE - 1)))
            let piece = n == PAGE_SIZE ? zeroPage : [UInt8](repeating: 0, count: Int(n))
            guard be.store(a, piece) else { return false }
            a += n
            left -= n
        }
        return true
    }

    /// Copies `length` bytes from `src` to `dst` in pieces that stay within one page of each; false
    /// if an access failed.
    static func copy<B: MallocBackend>(from src: UInt64, to dst: UInt64, _ length: UInt64, _ be: inout B) -> Bool {
        var s = src, d = dst, left = length
        while left > 0 {
            let n = min(left, PAGE_SIZE - (s & (PAGE_SIZE - 1)), PAGE_SIZE - (d & (PAGE_SIZE - 1)))
            guard let bytes = be.load(s, count: Int(n)), be.store(d, bytes) else { return false }
            s += n; d += n; left -= n
        }
        return true
    }
}

/// Per-process state of the simplified glibc malloc.
public struct MallocState: Sendable {
    /// The main arena and its tunables.
    public var arena = MallocArena()
    /// The last heap error malloc detected (glibc would have aborted the process with it).
    public var lastError: MallocError?
    public init() {}
}

/// The production backend: the process's own system calls and user-memory accesses.
struct KernelMallocBackend: MallocBackend {
    let kernel: Kernel
    let task: Task

    mutating func brk(_ addr: UInt64) -> UInt64 { kernel.brk(task, addr) }

    mutating func mmap(length: UInt64) -> UInt64? {
        if case .success(let va) = kernel.mmap(task, addr: 0, length: length, prot: [.read, .write],
                                                flags: [.private, .anonymous]) { return va.raw }
        return nil
    }

    mutating func munmap(addr: UInt64, length: UInt64) -> Bool {
        if case .success = kernel.munmap(task, addr: addr, length: length) { return true }
        return false
    }

    mutating func mremap(addr: UInt64, oldSize: UInt64, newSize: UInt64) -> UInt64? {
        if case .success(let va) = kernel.mremap(task, oldAddr: addr, oldSize: oldSize, newSize: newSize,
                                                  flags: .maymove) { return va.raw }
        return nil
    }

    mutating func store(_ addr: UInt64, _ bytes: [UInt8]) -> Bool {
        if case .success = kernel.store(task, VirtAddr(addr), bytes) { return true }
        return false
    }

    mutating func load(_ addr: UInt64, count: Int) -> [UInt8]? {
        if case .success(let b) = kernel.load(task, VirtAddr(addr), count: count) { return b }
        return nil
    }
}

extension Kernel {
    /// Runs `body` on the task's arena and writes the state back while the task still lives.
    private func withArena<R>(_ task: Task, _ body: (inout MallocArena, inout KernelMallocBackend) -> R) -> R? {
        guard task.state.isAlive, task.mm != nil else { return nil }
        var arena = task.malloc.arena
        var be = KernelMallocBackend(kernel: self, task: task)
        let r = body(&arena, &be)
        if task.state.isAlive { task.malloc.arena = arena }
        return r
    }

    /// malloc(3) inside the simulated process: the user pointer, or nil (errno ENOMEM).
    /// glibc: __libc_malloc(), malloc/malloc.c
    public func malloc(_ task: Task, _ size: UInt64) -> VirtAddr? {
        withArena(task) { $0.malloc(size, &$1) }.flatMap { $0 }.map(VirtAddr.init)
    }

    /// free(3); a bad pointer is recorded in `task.malloc.lastError` (see `freeChecked`).
    /// glibc: __libc_free(), malloc/malloc.c
    public func free(_ task: Task, _ ptr: VirtAddr) {
        _ = freeChecked(task, ptr)
    }

    /// free(3) that reports misuse: nil, or the error glibc would abort the process with
    /// (e.g. "free(): invalid pointer"). glibc: __libc_free(), malloc/malloc.c
    @discardableResult
    public func freeChecked(_ task: Task, _ ptr: VirtAddr) -> MallocError? {
        let e = withArena(task) { $0.free(ptr.raw, &$1) }.flatMap { $0 }
        if let e { task.malloc.lastError = e }
        return e
    }

    /// calloc(3): zeroed memory, or nil when count*size overflows or memory ran out.
    /// glibc: __libc_calloc(), malloc/malloc.c
    public func calloc(_ task: Task, _ count: UInt64, _ size: UInt64) -> VirtAddr? {
        withArena(task) { $0.calloc(count, size, &$1) }.flatMap { $0 }.map(VirtAddr.init)
    }

    /// realloc(3): the new pointer, or nil (memory ran out, or size 0 freed the block); a bad
    /// pointer is recorded in `task.malloc.lastError`. glibc: __libc_realloc(), malloc/malloc.c
    public func realloc(_ task: Task, _ ptr: VirtAddr?, _ size: UInt64) -> VirtAddr? {
        switch reallocChecked(task, ptr, size) {
        case .success(let p): return p
        case .failure: return nil
        }
    }

    /// realloc(3) that reports misuse: the new pointer or nil as realloc returns it, or the error
    /// glibc would abort with ("realloc(): invalid pointer"). glibc: __libc_realloc(), malloc/malloc.c
    public func reallocChecked(_ task: Task, _ ptr: VirtAddr?, _ size: UInt64) -> Result<VirtAddr?, MallocError> {
        guard let r = withArena(task, { $0.realloc(ptr?.raw, size, &$1) }) else { return .success(nil) }
        switch r {
        case .success(let p): return .success(p.map(VirtAddr.init))
        case .failure(let e): task.malloc.lastError = e; return .failure(e)
        }
    }

    /// malloc_usable_size(3): usable bytes of an allocation, 0 for a foreign pointer.
    /// glibc: __malloc_usable_size(), malloc/malloc.c
    public func mallocUsableSize(_ task: Task, _ ptr: VirtAddr) -> UInt64 {
        task.malloc.arena.usableSize(ptr.raw)
    }

    /// mallopt(3): true when the value was accepted. glibc: __libc_mallopt(), malloc/malloc.c
    @discardableResult
    public func mallopt(_ task: Task, _ param: MalloptParam, _ value: Int32) -> Bool {
        task.malloc.arena.mallopt(param, value)
    }

    /// The process's malloc counters (mallinfo2 and malloc_stats). glibc: __libc_mallinfo2(), malloc/malloc.c
    public func mallocStats(_ task: Task) -> MallocStats {
        task.malloc.arena.stats()
    }
}
