import XCTest
import Foundation
@testable import MMTrace
import MMCore

final class ReplayTests: XCTestCase {
    /// Replays `events` on a default machine.
    func replay(_ events: [TraceEvent], perVMA: Bool = false, config: MachineConfig = MachineConfig()) throws -> ReplayReport {
        let p = tempDir() + "/t.mmt"
        try writeTrace(p, events)
        let r = try Replayer(config: config)
        r.perVMA = perVMA
        return try r.run(TraceReader(path: p))
    }

    func value(_ c: ReplayCounters, _ name: String) -> UInt64 { c.fields.first { $0.0 == name }!.1 }

    /// Every counter of a hand-built trace, worked out by hand (see the comments).
    func testCountersOfHandBuiltTrace() throws {
        let b: UInt64 = 0x1000_0000
        let r = try replay([
            .region(TraceRegion(start: b, end: b + 16 * 4096, prot: 3, kind: .anon)),
            .thread(pid: 7, tid: 1),
            // (Walk caches on, default sizes: a fault drops the cache entries for its address, an
            // INVLPG all of them.)
            // 1. write fault on an empty table: walk stops at the PGD (1 ref), fault, walk again (4 refs).
            .access(.store, b, 8),
            // 2. L1 dTLB hit.
            .access(.load, b + 8, 8),
            // 3. read fault in a PTE table that exists (PDE-cache hit: 1 ref), the zero page is mapped,
            //    walk again (4).
            .access(.load, b + 4096, 8),
            // 4. the read-only zero-page entry hits the L1 but cannot serve a write: walk (PDE-cache
            //    hit: 1), COW fault, walk again (4) after the flush.
            .access(.store, b + 4096, 8),
            // 5. outside every mapping: walk reaches an empty PMD entry (PDPTE-cache hit: 1 ref), SEGV_MAPERR.
            .access(.load, 0x2000_0000, 8),
            .syscall(TraceSyscall(nr: SyscallNr.mprotect, args: [b, 4096, 1], result: 0)),
            // 6. a write to the now read-only page: walk (4), SEGV_ACCERR (not a COW fault).
            .access(.store, b + 16, 8),
            // 7. 8 bytes across pages 0 and 1: walk (4) for page 0, L1 hit for page 1.
            .access(.load, b + 4092, 8),
            .syscall(TraceSyscall(nr: SyscallNr.getrusage, args: [0, 0x1000], result: 0)),
            .syscall(TraceSyscall(nr: SyscallNr.munmap, args: [b + 4096, 4096], result: 0)),
            .syscall(TraceSyscall(nr: SyscallNr.exitGroup, args: [0], result: 0)),
        ], perVMA: true)
        XCTAssertEqual(r.processes.count, 1)
        let c = r.processes[0].counters
        let expected: [(String, UInt64)] = [
            ("accesses", 7), ("instr_fetches", 0), ("loads", 4), ("stores", 3), ("modifies", 0),
            ("dtlb_hits", 3), ("dtlb_misses", 8), ("itlb_hits", 0), ("itlb_misses", 0),
            ("stlb_hits", 0), ("stlb_misses", 8), ("dtlb_2m_hits", 0), ("dtlb_1g_hits", 0), ("itlb_2m_hits", 0),
            ("stlb_2m_hits", 0), ("stlb_1g_hits", 0), ("page_walks", 9), ("walk_mem_refs", 24),
            ("pwc_pml4e_hits", 0), ("pwc_pdpte_hits", 1), ("pwc_pde_hits", 2),
            ("pgfault", 3), ("pgmajfault", 0), ("minor_faults", 3), ("cow_faults", 1),
            ("thp_fault_alloc", 0), ("thp_fault_fallback", 0), ("thp_split_pmd", 0),
            ("segv_maperr", 1), ("segv_accerr", 1), ("sigbus", 0),
            ("VmRSS", 4), ("RssAnon", 4), ("RssFile", 0), ("RssShmem", 0), ("VmPTE", 12),
        ]
        XCTAssertEqual(c.fields.map { $0.0 }, expected.map { $0.0 })
        for (e, a) in zip(expected, c.fields) { XCTAssertEqual(a.1, e.1, e.0) }
        XCTAssertEqual(r.total, c)
        XCTAssertEqual(r.processes[0].getrusage.map { $0.0 }, [3])
        XCTAssertEqual(r.badAccesses, [ReplayBadAccess(pid: 7, kind: .load, addr: 0x2000_0000, reason: "SEGV_MAPERR"),
                                       ReplayBadAccess(pid: 7, kind: .store, addr: b + 16, reason: "SEGV_ACCERR")])
        XCTAssertEqual(r.vmas, [
            ReplayVMA(pid: 7, start: b, end: b + 4096, perms: "r--", name: "", faults: 3, residentPages: 1),
            ReplayVMA(pid: 7, start: b + 2 * 4096, end: b + 16 * 4096, perms: "rw-", name: "", faults: 0, residentPages: 0),
        ])
        XCTAssertEqual(r.syscallProblemCount, 0)
        XCTAssertEqual(r.records, 13)
    }

    /// execve inside a trace: the process continues in a new address space built from the
    /// REGION records after it; the old mappings (and their pages) are gone.
    func testExecveReplacesTheAddressSpace() throws {
        let b: UInt64 = 0x1000_0000, c: UInt64 = 0x2000_0000
        let p = tempDir() + "/exec.mmt"
        try writeTrace(p, [
            .region(TraceRegion(start: b, end: b + 4 * 4096, prot: 3, kind: .anon)),
            .thread(pid: 5, tid: 1),
            .access(.store, b, 8), .access(.store, b + 4096, 8),
            .syscall(TraceSyscall(nr: SyscallNr.getrusage, args: [0, 0x1000], result: 0)),
            // A failed execve changes nothing.
            .syscall(TraceSyscall(nr: SyscallNr.execve, args: [0x1000, 0, 0], result: -2, path: "/no/such")),
            .access(.load, b, 8),
            .syscall(TraceSyscall(nr: SyscallNr.execve, args: [0x1000, 0, 0], result: 0, path: "/bin/new")),
            .region(TraceRegion(start: c, end: c + 8 * 4096, prot: 3, kind: .anon)),
            .access(.store, c, 8), .access(.store, c + 4096, 8), .access(.store, c + 2 * 4096, 8),
            // The old image's address is no longer mapped.
            .access(.load, b, 8),
            .syscall(TraceSyscall(nr: SyscallNr.getrusage, args: [0, 0x1000], result: 0)),
        ])
        let r = try Replayer(config: MachineConfig())
        r.perVMA = true
        let k = r.kernel
        let rep = try r.run(TraceReader(path: p))
        XCTAssertEqual(rep.processes.count, 1)
        XCTAssertEqual(rep.processes[0].comm, "new")
        let pc = rep.processes[0].counters
        XCTAssertEqual(value(pc, "pgfault"), 5)
        XCTAssertEqual(rep.processes[0].getrusage.map { $0.0 }, [2, 5])   // min_flt survives exec
        XCTAssertEqual(value(pc, "RssAnon"), 12)                          // 3 pages of the new image
        XCTAssertEqual(rep.badAccesses, [ReplayBadAccess(pid: 5, kind: .load, addr: b, reason: "SEGV_MAPERR")])
        XCTAssertEqual(rep.syscallProblemCount, 0)
        XCTAssertEqual(rep.vmas, [
            ReplayVMA(pid: 5, start: b, end: b + 4 * 4096, perms: "rw-", name: "", faults: 2, residentPages: 2),
            ReplayVMA(pid: 5, start: c, end: c + 8 * 4096, perms: "rw-", name: "", faults: 3, residentPages: 3),
        ])
        // The old mm is gone: one mm_struct, one VMA, one anon_vma.
        let t = try XCTUnwrap(k.allTasks.first { $0.state.isAlive && $0.mm != nil })
        XCTAssertEqual(t.mm!.vmas.count, 1)
        XCTAssertEqual(k.kmem.cache(named: "mm_struct")?.activeObjects, 1)
        XCTAssertEqual(k.kmem.cache(named: "vm_area_struct")?.activeObjects, 1)
        XCTAssertEqual(k.kmem.cache(named: "anon_vma")?.activeObjects, 1)
        XCTAssertEqual(k.checkInvariants(), [])
    }

    func testForkAttributesFaultsPerProcess() throws {
        let b: UInt64 = 0x1000_0000
        let r = try replay([
            .region(TraceRegion(start: b, end: b + 4 * 4096, prot: 3, kind: .anon)),
            .thread(pid: 10, tid: 1),
            .access(.store, b, 8), .access(.store, b + 4096, 8),
            .syscall(TraceSyscall(nr: SyscallNr.clone, args: [0x1200011, 0, 0, 0, 0], result: 11)),
            .thread(pid: 11, tid: 1),
            .access(.store, b, 8),          // COW copy in the child
            .access(.load, b + 4096, 8),    // shared page, read: no fault
            .syscall(TraceSyscall(nr: SyscallNr.exitGroup, args: [0], result: 0)),
            .thread(pid: 10, tid: 1),
            .access(.store, b + 4096, 8),   // the child is gone: the parent reuses its page (still a write-protect fault)
        ])
        XCTAssertEqual(r.processes.map { $0.pid }, [10, 11])
        let p = r.processes[0].counters, ch = r.processes[1].counters
        XCTAssertEqual([value(p, "pgfault"), value(p, "cow_faults"), value(p, "accesses")], [3, 1, 3])
        XCTAssertEqual([value(ch, "pgfault"), value(ch, "cow_faults"), value(ch, "accesses")], [1, 1, 2])
        XCTAssertEqual(value(ch, "RssAnon"), 8)    // its copy of page 0 and the shared page 1, at exit
        XCTAssertEqual(value(p, "RssAnon"), 8)
        XCTAssertEqual(value(r.total, "pgfault"), 4)
    }

    func testFileMappingGoesThroughThePageCache() throws {
        // A file-backed initial region: a read fault maps fault-around pages from the page cache.
        let r = try replay([
            .file(path: "/usr/bin/prog", size: 64 * 4096, head: [0x7f, 0x45, 0x4c, 0x46]),
            .region(TraceRegion(start: 0x40_0000, end: 0x40_0000 + 64 * 4096, prot: 5, kind: .exe, offset: 0, path: "/usr/bin/prog")),
            .thread(pid: 3, tid: 3),
            .access(.instr, 0x40_0000, 4),
            .access(.instr, 0x40_0000 + 5 * 4096, 4),
            .access(.instr, 0x40_0000 + 20 * 4096, 4),
        ])
        let c = r.processes[0].counters
        // Page 0: a major fault (the page is read, with readahead; nothing was cached for
        // fault-around to map first). Page 5: a minor fault whose fault-around maps the cached
        // pages 0-15. Page 20: the same for pages 16-31. Each access walks twice (fault, retry).
        XCTAssertEqual(value(c, "pgfault"), 3)
        XCTAssertEqual(value(c, "pgmajfault"), 1)
        XCTAssertEqual(value(c, "RssFile"), 32 * 4)
        XCTAssertEqual([value(c, "itlb_hits"), value(c, "itlb_misses"), value(c, "page_walks")], [0, 6, 6])
    }

    func testWrittenFileIsCachedForItsMapping() throws {
        // write(2) of 16 pages puts them in the page cache: reading them through a mapping takes
        // one fault, which maps all 16 (fault-around), and no major fault.
        let b: UInt64 = 0x1000_0000
        var ev: [TraceEvent] = [
            .thread(pid: 4, tid: 4),
            .syscall(TraceSyscall(nr: SyscallNr.write, args: [3, 0x5000, 65536, 0], result: 65536, path: "/tmp/f")),
            .syscall(TraceSyscall(nr: SyscallNr.mmap, args: [0, 65536, 1, 1, 3, 0], result: Int64(b), path: "/tmp/f", fileSize: 65536)),
        ]
        for i in 0..<16 { ev.append(.access(.load, b + UInt64(i) * 4096, 1)) }
        let r = try replay(ev)
        let c = r.processes[0].counters
        XCTAssertEqual([value(c, "pgfault"), value(c, "pgmajfault"), value(c, "RssFile")], [1, 0, 64])
        XCTAssertEqual(r.syscallProblemCount, 0)
        // Without the write, the first fault reads from disk (major) and fault-around has
        // nothing cached to map: a second fault maps the rest.
        let r2 = try replay(Array(ev.prefix(1)) + Array(ev.dropFirst(2)))
        XCTAssertEqual([value(r2.total, "pgfault"), value(r2.total, "pgmajfault")], [2, 1])
    }

    func testHugetlbMmapReplaysFromTheBootPool() throws {
        // mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB) of 4 MiB: with --hugepages 2M:2 each 2 MiB
        // page takes one fault; without a pool the mmap fails (ENOMEM) and the accesses SIGSEGV.
        let b: UInt64 = 0x4000_0000
        let ev: [TraceEvent] = [
            .thread(pid: 4, tid: 4),
            .syscall(TraceSyscall(nr: SyscallNr.mmap, args: [0, 4 << 20, 3, 0x40022, 0xffff_ffff, 0], result: Int64(b))),
            .access(.store, b, 8), .access(.store, b + 0x1000, 8), .access(.load, b + (3 << 20), 8),
        ]
        var config = MachineConfig()
        try applyMachineOption(&config, "hugepages", "2M:2")
        XCTAssertEqual(config.hugepages2M, 2)
        XCTAssertThrowsError(try applyMachineOption(&config, "hugepages", "4M:1"))
        XCTAssertEqual(config.hugepagesText, "2M:2")
        try applyMachineOption(&config, "hugepages", "1G:1+2M:3")
        XCTAssertEqual(config.hugepagesText, "2M:3+1G:1")
        try applyMachineOption(&config, "hugepages", "2M:2")
        let r = try replay(ev, config: config)
        XCTAssertEqual(r.syscallProblemCount, 0)
        XCTAssertEqual([value(r.total, "pgfault"), value(r.total, "segv_maperr")], [2, 0])
        let r2 = try replay(ev)
        XCTAssertEqual(r2.syscallProblemCount, 1)
        XCTAssertEqual(value(r2.total, "segv_maperr"), 3)
    }

    func testUnknownProcessAndNoRegionsReportsEveryAccess() throws {
        let r = try replay([.access(.load, 0x5000, 4), .access(.store, 0x6000, 4)])
        XCTAssertEqual(r.processes.map { $0.pid }, [1])
        XCTAssertEqual(value(r.total, "segv_maperr"), 2)
        XCTAssertEqual(value(r.total, "pgfault"), 0)
        XCTAssertEqual(r.badAccesses.count, 2)
    }

    func testReportFormatsAreConsistent() throws {
        let r = try replay([
            .region(TraceRegion(start: 0x1000_0000, end: 0x1000_2000, prot: 3, kind: .anon)),
            .thread(pid: 5, tid: 5),
            .access(.store, 0x1000_0000, 8),
        ])
        let csv = r.csv().split(separator: "\n")
        XCTAssertEqual(csv.count, 3)
        XCTAssertTrue(csv[1].hasPrefix("5,1,0,0,1,0,"))
        XCTAssertTrue(csv[2].hasPrefix("total,1,0,0,1,0,"))
        let j = try JSONSerialization.jsonObject(with: Data(r.json().utf8)) as! [String: Any]
        XCTAssertEqual((j["total"] as! [String: Any])["pgfault"] as? Int, 1)
        XCTAssertEqual((j["machine"] as! [String: Any])["stlb"] as? String, "1536:12")
        XCTAssertTrue(r.text().split(separator: "\n").contains { $0.hasPrefix("pgfault ") && $0.hasSuffix(" 1") }, r.text())
    }

    func testCorruptTraceStopsTheReplay() throws {
        let p = tempDir() + "/t.mmt"
        try writeTrace(p, [.thread(pid: 1, tid: 1), .access(.load, 0x1000, 8)])
        var d = try Data(contentsOf: URL(fileURLWithPath: p))
        d[d.count - 1] ^= 0xff
        try d.write(to: URL(fileURLWithPath: p))
        XCTAssertThrowsError(try Replayer(config: MachineConfig()).run(TraceReader(path: p))) { e in
            XCTAssertTrue("\(e)".contains("corrupt trace: checksum mismatch in block 0 at byte 16"), "\(e)")
        }
    }

    func testMachineOptions() throws {
        var c = MachineConfig()
        try applyMachineOption(&c, "ram", "512M")
        try applyMachineOption(&c, "stlb", "2048:16")
        try applyMachineOption(&c, "pcid", "on")
        try applyMachineOption(&c, "fault-around", "1")
        try applyMachineOption(&c, "l1d2m", "16:4")
        try applyMachineOption(&c, "stlb1g", "8:8")
        try applyMachineOption(&c, "pwc-pde", "0")
        XCTAssertEqual(c.tlb.l1d2M, TLBGeometry(entries: 16, ways: 4))
        XCTAssertEqual(c.tlb.stlb1G, TLBGeometry(entries: 8, ways: 8))
        XCTAssertEqual(c.tlb.pwcPDE, 0)
        XCTAssertEqual(machineFields(c).map { $0.0 }, machineOptionKeys)   // sweep CSV columns line up
        XCTAssertEqual(c.ramBytes, 512 << 20)
        XCTAssertEqual(c.tlb.stlb, TLBGeometry(entries: 2048, ways: 16))
        XCTAssertTrue(c.tlb.pcid)
        XCTAssertEqual(c.faultAroundPages, 1)
        for (k, v, msg) in [("ram", "1K", "--ram: expected a size from 16M to 1T"), ("stlb", "100:3", "invalid STLB geometry"),
                            ("l1d", "64", "--l1d: expected ENTRIES:WAYS"), ("thp", "sometimes", "--thp: expected always"),
                            ("fault-around", "3", "power of two"),
                            ("l1d1g", "3:2", "--l1d1g: invalid L1 dTLB 1G geometry (3 entries, 2 ways)"),
                            ("pwc-pml4e", "-1", "--pwc-pml4e: expected 0 (off) to 1024 entries, got '-1'"), ("colour", "red", "unknown machine option 'colour'"),
                            ("ram", "99999999999999999999G", "--ram")] {
            XCTAssertThrowsError(try applyMachineOption(&c, k, v)) { e in XCTAssertTrue("\(e)".contains(msg), "\(e)") }
        }
        XCTAssertEqual(parseSize("0x1000"), 4096)
        XCTAssertEqual(parseSize("2G"), 2 << 30)
        XCTAssertEqual(parseSize("64KiB"), 65536)
        XCTAssertNil(parseSize("20000000000T"))
        XCTAssertEqual(formatSize(3 << 30), "3G")
        XCTAssertEqual(formatSize(4097), "4097")
        let d = tempDir()
        try #"{"ram": "1G", "pcid": true, "fault-around": 4}"#.write(toFile: d + "/m.json", atomically: true, encoding: .utf8)
        var c2 = MachineConfig()
        try applyMachineConfigFile(&c2, path: d + "/m.json")
        XCTAssertEqual(c2.ramBytes, 1 << 30); XCTAssertTrue(c2.tlb.pcid); XCTAssertEqual(c2.faultAroundPages, 4)
        try #"{"ram": [1]}"#.write(toFile: d + "/n.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try applyMachineConfigFile(&c2, path: d + "/n.json")) { e in
            XCTAssertEqual("\(e)", "\(d)/n.json: 'ram' must be a string, a number or a boolean")
        }
    }
}

final class ReplayLookaheadTests: XCTestCase {
    /// Replaying with lookahead (accesses decoded ahead, page-table prefetches), which `run`
    /// uses after blocks where walks are frequent, gives the very report of replaying record by
    /// record (and leaves the same TLB entries): a random trace of several blocks with stores,
    /// modifies, page-crossing and odd-sized accesses (decoded by the checked decoder), an
    /// mprotect and a second process.
    func testLookaheadReplayMatchesRecordByRecord() throws {
        let b: UInt64 = 0x1000_0000, span: UInt64 = 64 << 20
        var events: [TraceEvent] = [
            .region(TraceRegion(start: b, end: b + span, prot: 3, kind: .anon)),
            .thread(pid: 7, tid: 1),
        ]
        var rng = SplitMix64(seed: 3)
        for i in 0..<60_000 {
            let va = b + (rng.next() % span) & ~7
            switch i % 7 {
            case 0: events.append(.access(.store, va, 8))
            case 1: events.append(.access(.modify, va, 4))
            case 2: events.append(.access(.load, (va | 0xfff) - 3, 8))   // crosses a page boundary
            case 3: events.append(.access(.load, va, 24))                 // size code 15: a varint size
            default: events.append(.access(.load, va, 8))
            }
            if i == 30_000 { events.append(.syscall(TraceSyscall(nr: SyscallNr.mprotect, args: [b, 1 << 20, 1], result: 0))) }
            if i == 45_000 { events.append(.thread(pid: 8, tid: 2)) }
            if i == 47_000 { events.append(.thread(pid: 7, tid: 1)) }
        }
        let p = tempDir() + "/lookahead.mmt"
        try writeTrace(p, events)
        let plain = try Replayer(config: MachineConfig())
        plain.lookaheadAllowed = false
        let expected = try plain.run(TraceReader(path: p)).json()
        let ahead = try Replayer(config: MachineConfig())
        let got = try ahead.run(TraceReader(path: p)).json()
        XCTAssertEqual(plain.blocksAhead, 0)
        XCTAssertGreaterThan(ahead.blocksAhead, 2)
        XCTAssertEqual(got, expected)
        XCTAssertEqual(ahead.mmu.stlb.entries(), plain.mmu.stlb.entries())
        XCTAssertEqual(ahead.mmu.l1d.entries(), plain.mmu.l1d.entries())
        XCTAssertGreaterThan(plain.mmu.stlb.validCount, 1000)
    }
}
