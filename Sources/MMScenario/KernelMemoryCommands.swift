/// Scenario commands that drive the kernel's own allocators: slab caches, kmalloc, vmalloc, the
/// page allocator with GFP flags, and the kernel's virtual layout.
import MMCore
import MMProcFS

/// A kernel-memory command.
enum KmemCommand {
    /// `kmem_cache_create NAME SIZE [align N] [hwcache_align] [reclaim_account] [typesafe_by_rcu] [ctor]`
    case cacheCreate(name: String, size: Expr, align: Expr?, flags: SlabFlags, ctor: Bool)
    /// `kmem_cache_alloc NAME [gfp FLAGS] [as VAR]`
    case cacheAlloc(name: String, gfp: GFP, gfpText: String, bind: String?)
    /// `kmem_cache_free NAME PTR`
    case cacheFree(name: String, ptr: Expr)
    /// `kmem_cache_shrink NAME`, `kmem_cache_destroy NAME`
    case cacheShrink(String)
    case cacheDestroy(String)
    /// `kmalloc SIZE [gfp FLAGS] [as VAR]`, `kfree PTR`
    case kmalloc(size: Expr, gfp: GFP, gfpText: String, bind: String?)
    case kfree(Expr)
    /// `vmalloc SIZE [as VAR]`, `vfree PTR`
    case vmalloc(size: Expr, bind: String?)
    case vfree(Expr)
    /// `alloc_pages order N [gfp FLAGS] [as VAR]` (binds page_address), `get_zeroed_page [gfp FLAGS] [as VAR]`,
    /// `free_pages ADDR order N`
    case allocPages(order: Int, gfp: GFP, gfpText: String, zeroedPage: Bool, bind: String?)
    /// `__get_free_pages order N [gfp FLAGS] [as VAR]`: the same, returning the address.
    case getFreePages(order: Int, gfp: GFP, gfpText: String, bind: String?)
    case freePages(Expr, order: Int)
    /// `layout [x86_64|x86_32|arm32] [ram=SIZE]`
    case layout(LayoutArch, ram: UInt64?)

    /// `highmem32 ram=SIZE [pae|nopae] [arch=x86_32|arm32]`: the 32-bit kernel's view of RAM
    /// for the kmap commands.
    case highmem32(ram: UInt64, pae: Bool, arch: Highmem32Arch)
    /// `kmap PFN [as VAR]`, `kunmap PFN`, `kmap_atomic PFN [as VAR]`, `kunmap_atomic ADDR`,
    /// `__pa ADDR`, `__va PHYS`, `show_highmem`.
    case kmap(Expr, atomic: Bool, bind: String?)
    case kunmap(Expr, atomic: Bool)
    case pa(Expr)
    case va(Expr)

    /// `compact_memory`: what `echo 1 > /proc/sys/vm/compact_memory` does.
    case compactMemory

    /// `alloc_percpu SIZE [align N] [as VAR]`, `free_percpu PTR`
    case allocPercpu(size: Expr, align: Expr?, bind: String?)
    case freePercpu(Expr)

    /// The command words.
    static let words: Set<String> = ["kmem_cache_create", "kmem_cache_alloc", "kmem_cache_free", "kmem_cache_shrink",
                                     "kmem_cache_destroy", "kmalloc", "kfree", "vmalloc", "vfree", "alloc_pages",
                                     "get_zeroed_page", "free_pages", "layout", "__get_free_pages",
                                     "highmem32", "kmap", "kunmap", "kmap_atomic", "kunmap_atomic", "__pa", "__va", "compact_memory", "alloc_percpu", "free_percpu"]
}

extension ParserState {
    /// Parses the arguments of a kernel-memory command; throws a `LineError` at the offending word.
    mutating func parseKmem(_ cmd: String, first: Token, _ args: inout ArraySlice<Token>, endColumn: Int, line: Int) throws -> KmemCommand {
        func need(_ what: String) throws -> Token {
            guard let t = args.popFirst() else { throw LineError(column: endColumn, message: "missing \(what) for '\(cmd)'") }
            guard t.kind == .word else { throw LineError(column: t.column, message: "expected \(what), found a string") }
            return t
        }
        func expr(_ what: String) throws -> Expr {
            let t = try need(what)
            let e = try Values.expression(t.text, column: t.column)
            try checkVariables(e)
            return e
        }
        func binding() throws -> String? {
            guard let a = args.first, a.text == "as" else { return nil }
            args.removeFirst()
            let n = try need("variable name after 'as'")
            return try newVariable(n, line: line)
        }
        func gfpOption(default d: String) throws -> (GFP, String) {
            guard let g = args.first, g.text == "gfp" else { return (.kernel, d) }
            args.removeFirst()
            let t = try need("GFP flags after 'gfp'")
            let r = GFP.parse(t.text)
            guard let v = r.mask else {
                throw LineError(column: t.column, message: "unknown GFP flag '\(r.unknown ?? "")' (known: \(GFP.names.map(\.0).joined(separator: ", ")))")
            }
            return (v, t.text)
        }
        func order(max: Int = MAX_PAGE_ORDER) throws -> Int {
            let w = try need("'order'")
            guard w.text == "order" else { throw LineError(column: w.column, message: "expected 'order N', found '\(w.text)'") }
            let n = try need("order number")
            return Int(try Values.signed(n.text, column: n.column, what: "order", range: 0...Int64(max)))
        }
        func cacheName() throws -> String { try need("cache name").text }
        switch cmd {
        case "kmem_cache_create":
            let name = try cacheName()
            let size = try expr("object size")
            var align: Expr? = nil
            var flags: SlabFlags = []
            var ctor = false
            while let t = args.first, t.text != "as" {
                args.removeFirst()
                switch t.text {
                case "align": align = try expr("alignment")
                case "hwcache_align", "SLAB_HWCACHE_ALIGN": flags.insert(.hwcacheAlign)
                case "reclaim_account", "SLAB_RECLAIM_ACCOUNT": flags.insert(.reclaimAccount)
                case "typesafe_by_rcu", "SLAB_TYPESAFE_BY_RCU": flags.insert(.typesafeByRCU)
                case "account", "SLAB_ACCOUNT": flags.insert(.account)
                case "ctor": ctor = true
                default:
                    throw LineError(column: t.column, message: "unknown kmem_cache_create option '\(t.text)' (known: align N, hwcache_align, reclaim_account, typesafe_by_rcu, account, ctor)")
                }
            }
            return .cacheCreate(name: name, size: size, align: align, flags: flags, ctor: ctor)
        case "kmem_cache_alloc":
            let name = try cacheName()
            let (g, text) = try gfpOption(default: "GFP_KERNEL")
            return .cacheAlloc(name: name, gfp: g, gfpText: text, bind: try binding())
        case "kmem_cache_free":
            let name = try cacheName()
            return .cacheFree(name: name, ptr: try expr("object pointer"))
        case "kmem_cache_shrink": return .cacheShrink(try cacheName())
        case "kmem_cache_destroy": return .cacheDestroy(try cacheName())
        case "kmalloc":
            let size = try expr("size")
            let (g, text) = try gfpOption(default: "GFP_KERNEL")
            return .kmalloc(size: size, gfp: g, gfpText: text, bind: try binding())
        case "kfree": return .kfree(try expr("pointer"))
        case "vmalloc":
            let size = try expr("size")
            return .vmalloc(size: size, bind: try binding())
        case "vfree": return .vfree(try expr("pointer"))
        case "alloc_pages":
            let o = try order(max: 20)   // above MAX_PAGE_ORDER the allocator itself refuses
            let (g, text) = try gfpOption(default: "GFP_KERNEL")
            return .allocPages(order: o, gfp: g, gfpText: text, zeroedPage: false, bind: try binding())
        case "__get_free_pages":
            let o = try order(max: 20)
            let (g, text) = try gfpOption(default: "GFP_KERNEL")
            return .getFreePages(order: o, gfp: g, gfpText: text, bind: try binding())
        case "get_zeroed_page":
            let (g, text) = try gfpOption(default: "GFP_KERNEL")
            return .allocPages(order: 0, gfp: g.union(.zero), gfpText: text, zeroedPage: true, bind: try binding())
        case "free_pages":
            let a = try expr("page address")
            return .freePages(a, order: try order())
        case "compact_memory": return .compactMemory
        case "alloc_percpu":
            let size = try expr("size")
            var align: Expr? = nil
            if let t = args.first, t.text == "align" { args.removeFirst(); align = try expr("alignment") }
            return .allocPercpu(size: size, align: align, bind: try binding())
        case "free_percpu": return .freePercpu(try expr("per-CPU pointer"))
        case "highmem32":
            if machine.physicalLayout != .x86_64 {
                throw LineError(column: first.column, message: "'highmem32' sets up a 32-bit kernel beside a 64-bit machine; this machine is \(machine.arch) already (use kmap and __pa directly)")
            }
            let t = try need("ram=SIZE")
            guard t.text.hasPrefix("ram=") else { throw LineError(column: t.column, message: "expected ram=SIZE, found '\(t.text)'") }
            let v = try Values.number(String(t.text.dropFirst(4)), column: t.column + 4)
            guard v >= 64 << 20, v <= 4 << 30 else { throw LineError(column: t.column + 4, message: "ram=\(t.text.dropFirst(4)) is out of range (64M...4G)") }
            var pae = true
            var arch = Highmem32Arch.x86_32
            var paeToken: Token? = nil
            while let p = args.first, p.text == "pae" || p.text == "nopae" || p.text.hasPrefix("arch=") {
                args.removeFirst()
                if p.text.hasPrefix("arch=") {
                    guard let a = Highmem32Arch(rawValue: String(p.text.dropFirst(5))) else {
                        throw LineError(column: p.column + 5, message: "unknown 32-bit architecture '\(p.text.dropFirst(5))' (known: x86_32, arm32)")
                    }
                    arch = a
                } else {
                    pae = p.text == "pae"
                    paeToken = p
                }
            }
            if arch == .arm32, let p = paeToken {
                throw LineError(column: p.column, message: "'\(p.text)' applies to x86_32 only (ARM's LPAE is not modelled)")
            }
            highmemSeen = true
            return .highmem32(ram: v, pae: pae, arch: arch)
        case "kmap", "kmap_atomic", "kunmap", "kunmap_atomic", "__pa", "__va":
            guard highmemSeen || machine.physicalLayout != .x86_64 else {
                throw LineError(column: first.column, message: "'\(cmd)' needs a 32-bit kernel: 'machine arch=x86-32' or 'arch=arm32', or 'highmem32 ram=SIZE' first")
            }
            switch cmd {
            case "kmap", "kmap_atomic":
                let e = try expr("page frame number")
                return .kmap(e, atomic: cmd == "kmap_atomic", bind: try binding())
            case "kunmap": return .kunmap(try expr("page frame number"), atomic: false)
            case "kunmap_atomic": return .kunmap(try expr("kmap_atomic address"), atomic: true)
            case "__pa": return .pa(try expr("virtual address"))
            default: return .va(try expr("physical address"))
            }
        default:   // layout
            var arch = LayoutArch.x86_64
            if let t = args.first {
                guard let a = LayoutArch(rawValue: t.text) else {
                    throw LineError(column: t.column, message: "unknown architecture '\(t.text)' (known: x86_64, x86_32, arm32)")
                }
                arch = a
                args.removeFirst()
            }
            var ram: UInt64? = nil
            if let t = args.first, t.text.hasPrefix("ram=") {
                args.removeFirst()
                let v = try Values.number(String(t.text.dropFirst(4)), column: t.column + 4)
                guard v >= 16 << 20, v <= 4 << 30 || arch == .x86_64 else {
                    throw LineError(column: t.column + 4, message: "ram=\(t.text.dropFirst(4)) is out of range for a 32-bit layout (16M...4G)")
                }
                guard arch != .x86_64 else { throw LineError(column: t.column, message: "'ram=' is for the 32-bit layouts; x86_64 shows this machine") }
                ram = v
            }
            return .layout(arch, ram: ram)
        }
    }
}

extension Runner {
    /// Returns the cache called `name`; throws a `LineError` at the step when there is none.
    func kmemCache(_ name: String, _ st: Statement, _ k: Kernel) throws -> KmemCache {
        guard let c = k.kmem.cache(named: name) else {
            throw LineError(column: st.column, message: "no slab cache named '\(name)' (see 'show slabinfo')")
        }
        return c
    }

    /// Runs a kernel-memory command, printing what the kernel function returned.
    func executeKmem(_ c: KmemCommand, _ st: Statement, _ k: Kernel) throws {
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        func bindValue(_ b: String?, _ v: UInt64) { if let b = b { vars[b] = v } }
        func checkedInt(_ e: Expr, _ what: String) throws -> Int {
            let v = try value(e)
            guard v <= UInt64(Int.max) else { throw LineError(column: e.column, message: "\(what) \(v) is out of range") }
            return Int(v)
        }
        switch c {
        case .cacheCreate(let name, let sizeE, let alignE, let flags, let ctor):
            let size = try checkedInt(sizeE, "size")
            let align = try alignE.map { try checkedInt($0, "alignment") } ?? 0
            switch k.kmemCacheCreate(name, size: size, align: align, flags: flags, ctor: ctor) {
            case .success(let cache):
                let g = cache.geometry
                if k.kmem.kind == .slob {
                    stepLines.append("kmem_cache_create(\"\(name)\", \(size), \(align)) = \(name): objsize \(g.size), align \(g.align) (SLOB: each object is carved from a SLOB page of the \(g.size < SLOB_BREAK1 ? "small" : g.size < SLOB_BREAK2 ? "medium" : "large") list)")
                    return
                }
                stepLines.append("kmem_cache_create(\"\(name)\", \(size), \(align)) = \(name): objsize \(g.size), align \(g.align), \(g.objects) objects per slab, order \(g.order) (\(g.pagesPerSlab) page\(g.pagesPerSlab == 1 ? "" : "s")), \((Int(PAGE_SIZE) << g.order) - g.objects * g.size) bytes left over")
            case .failure(let e):
                stepResult = .error
                stepLines.append("kmem_cache_create(\"\(name)\", \(size), \(align)) = NULL (\(e))")
            }
        case .cacheAlloc(let name, let gfp, let text, let bind):
            let cache = try kmemCache(name, st, k)
            let r = k.kmemCacheAlloc(cache, gfp: gfp)
            if r == nil { stepResult = .error }
            stepLines.append("kmem_cache_alloc(\(name), \(text)) = " + (r.map(hex) ?? "NULL"))
            bindValue(bind, r ?? 0)
        case .cacheFree(let name, let pe):
            let cache = try kmemCache(name, st, k)
            let p = try value(pe)
            if case .failure(let e) = k.kmemCacheFree(cache, p) {
                stepResult = .error
                stepLines.append("kmem_cache_free(\(name), \(hex(p))): refused: \(e)")
            } else {
                stepLines.append("kmem_cache_free(\(name), \(hex(p)))")
            }
        case .cacheShrink(let name):
            let cache = try kmemCache(name, st, k)
            let n = k.kmemCacheShrink(cache)
            stepLines.append("kmem_cache_shrink(\(name)): \(n) page\(n == 1 ? "" : "s") freed")
        case .cacheDestroy(let name):
            let cache = try kmemCache(name, st, k)
            if case .failure(let e) = k.kmemCacheDestroy(cache) {
                stepResult = .error
                stepLines.append(e.description)
            } else {
                stepLines.append("kmem_cache_destroy(\(name))")
            }
        case .kmalloc(let sizeE, let gfp, let text, let bind):
            let size = try value(sizeE)
            let r = size <= UInt64(KMALLOC_MAX_SIZE) ? k.kmalloc(Int(size), gfp: gfp) : nil
            if r == nil { stepResult = .error }
            var line = "kmalloc(\(size), \(text)) = " + (r.map(hex) ?? "NULL")
            if r != nil, let p = kmallocPlacement(Int(size), kind: k.kmem.kind) {
                line += p.requested == 0 ? " (ZERO_SIZE_PTR)" : " (\(p.where_), \(p.allocated) bytes, \(p.waste) wasted)"
            } else if size > UInt64(KMALLOC_MAX_SIZE) {
                line += " (larger than KMALLOC_MAX_SIZE \(KMALLOC_MAX_SIZE))"
            }
            stepLines.append(line)
            bindValue(bind, r ?? 0)
        case .kfree(let pe):
            let p = try value(pe)
            if case .failure(let e) = k.kfree(p) {
                stepResult = .error
                stepLines.append("kfree(\(hex(p))): refused: \(e)")
            } else {
                stepLines.append("kfree(\(hex(p)))")
            }
        case .vmalloc(let sizeE, let bind):
            let size = try value(sizeE)
            switch k.vmalloc(size) {
            case .success(let a):
                let n = a.pages.count
                stepLines.append("vmalloc(\(size)) = \(hex(a.addr)) (\(n) page\(n == 1 ? "" : "s") in \(a.physicalRuns) physically contiguous run\(a.physicalRuns == 1 ? "" : "s"); \(n) PTE\(n == 1 ? "" : "s") and up to \(n) TLB entr\(n == 1 ? "y" : "ies") to cover it; guard page at \(hex(a.addr + a.usableSize)))")
                bindValue(bind, a.addr)
            case .failure(let e):
                stepResult = .error
                stepLines.append("vmalloc(\(size)) = NULL (\(e))")
                bindValue(bind, 0)
            }
        case .vfree(let pe):
            let p = try value(pe)
            if case .failure(let e) = k.vfree(p) {
                stepResult = .error
                stepLines.append("vfree(\(hex(p))): refused: \(e)")
            } else {
                stepLines.append("vfree(\(hex(p)))")
            }
        case .allocPages(let order, let gfp, let text, let zeroed, let bind):
            let call = zeroed ? "get_zeroed_page(\(text))" : "alloc_pages(\(text), order \(order))"
            if let pfn = k.allocKernelPages(order: order, gfp: gfp, narrateSuccess: true) {
                let addr = k.pageAddress(pfn)
                let zone = k.phys.zone(of: pfn)?.name ?? "?"
                stepLines.append("\(call) = PFN \(pfn) in zone \(zone), page_address \(hex(addr))")
                bindValue(bind, addr)
            } else {
                stepResult = .error
                stepLines.append("\(call) = NULL")
                bindValue(bind, 0)
            }
        case .getFreePages(let order, let gfp, let text, let bind):
            if let a = k.getFreePages(order: order, gfp: gfp) {
                stepLines.append("__get_free_pages(\(text), \(order)) = \(hex(a))")
                bindValue(bind, a)
            } else {
                stepResult = .error
                stepLines.append("__get_free_pages(\(text), \(order)) = 0")
                bindValue(bind, 0)
            }
        case .freePages(let ae, let order):
            let a = try value(ae)
            guard let pfn = k.virtToPFN(a), a & (PAGE_SIZE - 1) == 0 else {
                throw LineError(column: ae.column, message: "\(hex(a)) is not a page address in the direct map")
            }
            k.freeKernelPages(pfn, order: order)
            stepLines.append("free_pages(\(hex(a)), \(order))")
        case .allocPercpu(let sizeE, let alignE, let bind):
            let size = try checkedInt(sizeE, "size"), align = try alignE.map { try checkedInt($0, "alignment") } ?? 8
            if let p = k.allocPercpu(size, align: align) {
                let copies = (0..<k.kmem.nrCPUs).map { "CPU \($0): \(hex(k.perCPUPtr(p, cpu: $0)))" }.joined(separator: ", ")
                stepLines.append("alloc_percpu(\(size), \(align)) = \(hex(p)) (\(copies))")
                bindValue(bind, p)
            } else {
                stepResult = .error
                stepLines.append("alloc_percpu(\(size), \(align)) = NULL")
                bindValue(bind, 0)
            }
        case .freePercpu(let pe):
            let p = try value(pe)
            if k.freePercpu(p) { stepLines.append("free_percpu(\(hex(p)))") } else {
                stepResult = .error
                stepLines.append("free_percpu(\(hex(p))): refused: not a per-CPU allocation")
            }
        case .compactMemory:
            for (zone, r) in k.compactMemory() {
                stepLines.append("compact_memory: zone \(zone): \(r.migrated) page\(r.migrated == 1 ? "" : "s") migrated")
            }
        case .highmem32(let ram, let pae, let arch):
            let h = Highmem32(ramBytes: ram, pae: pae, arch: arch)
            highmem = h
            for z in h.zonePages {
                stepLines.append("  \(Fmt32.left(z.name, 8)) PFN 0x\(String(z.start, radix: 16))-0x\(String(z.start + z.pages, radix: 16)) (\((z.pages << 2) >> 10) MB)")
            }
            if arch == .arm32 {
                stepLines.append("lowmem mapped at 0xc0000000-0x\(String(h.pageOffset + h.lowmemBytes, radix: 16)); pkmap: \(h.lastPkmap) entries at 0x\(String(h.pkmapBase, radix: 16)) (PAGE_OFFSET - PMD_SIZE); kmap_atomic slots from 0x\(String(h.fixaddrTop - (h.fixKmapBegin << 12), radix: 16)) down (fixmap)")
            } else {
                stepLines.append("lowmem mapped at 0xc0000000-0x\(String(h.pageOffset + h.lowmemBytes, radix: 16)); pkmap: \(h.lastPkmap) entries at 0xff800000\(pae ? " (PAE)" : "")")
            }
        case .kmap(let e, let atomic, let bind):
            let pfn = try value(e)
            guard let h = highmem ?? k.highmem32 else { return }
            let r = atomic ? h.kmapAtomic(pfn) : h.kmap(pfn)
            let call = "\(atomic ? "kmap_atomic" : "kmap")(PFN \(hex(pfn)))"
            switch r {
            case .success(let v):
                var how: String
                if !h.isHighmem(pfn) { how = "lowmem: page_address(), no mapping needed" }
                else if atomic { how = "HighMem: fixmap slot \(h.atomicStack.count - 1) of CPU 0" }
                else { how = "HighMem: pkmap entry \((v - h.pkmapBase) >> 12), use count \(h.pkmapCount[Int((v - h.pkmapBase) >> 12)] - 1)" }
                if !atomic && h.pkmapFlushes > 0 && h.isHighmem(pfn) { how += "; pkmap TLB flushes so far \(h.pkmapFlushes)" }
                stepLines.append("\(call) = \(hex(v)) (\(how))")
                bindValue(bind, v)
            case .failure(let err):
                stepResult = .error
                stepLines.append("\(call) failed: \(err)")
                bindValue(bind, 0)
            }
        case .kunmap(let e, let atomic):
            let x = try value(e)
            guard let h = highmem ?? k.highmem32 else { return }
            let r = atomic ? h.kunmapAtomic(x) : h.kunmap(x)
            let call = atomic ? "kunmap_atomic(\(hex(x)))" : "kunmap(PFN \(hex(x)))"
            if case .failure(let err) = r { stepResult = .error; stepLines.append("\(call) refused: \(err)") } else { stepLines.append(call) }
        case .pa(let e):
            let v = try value(e)
            guard let h = highmem ?? k.highmem32 else { return }
            if let p = h.pa(v) { stepLines.append("__pa(\(hex(v))) = \(hex(p))") } else if let p = h.kmapToPhys(v) {
                stepResult = .error
                stepLines.append("__pa(\(hex(v))): a pkmap address is not linear; kmap_to_page() gives PFN \(hex(p >> 12)) (physical \(hex(p)))")
            } else {
                stepResult = .error
                stepLines.append("__pa(\(hex(v))): not a lowmem or kmap address (virt_addr_valid() is false)")
            }
        case .va(let e):
            let p = try value(e)
            guard let h = highmem ?? k.highmem32 else { return }
            if let v = h.va(p) { stepLines.append("__va(\(hex(p))) = \(hex(v))") } else {
                stepResult = .error
                stepLines.append("__va(\(hex(p))): the frame is in HighMem (or beyond RAM): it has no permanent kernel address; use kmap()")
            }
        case .layout(let arch, let ram):
            let r = min(ram ?? k.config.ramBytes, 4 << 30)
            switch arch {
            case .x86_64: emitSystem(Layout.x86_64(k))
            case .x86_32: emitSystem(Layout.x86_32(ramBytes: r))
            case .arm32: emitSystem(Layout.arm32(ramBytes: r))
            }
        }
    }
}

/// Padding for the highmem zone lines.
enum Fmt32 {
    /// `%-*s`: `s` left-aligned in `w` columns.
    static func left(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
}
