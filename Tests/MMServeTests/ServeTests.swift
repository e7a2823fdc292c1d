import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MMCore
import MMScenario
@testable import MMServe

/// An in-process `mmsim serve` on a free port of 127.0.0.1, and a small HTTP client for it.
final class TestServer: @unchecked Sendable {
    let task: _Concurrency.Task<Void, Error>
    let base: String

    /// A reply: status and body.
    struct Reply {
        var status: Int
        var body: String
        /// The body as a JSON object (an empty one if it is not).
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        /// The body decoded as `T`.
        func decode<T: Decodable>(_ t: T.Type) throws -> T { try JSONDecoder().decode(t, from: Data(body.utf8)) }
    }

    init(limits: RunLimits, traces: [Recording] = []) async throws {
        let (stream, cont) = AsyncStream<Int>.makeStream()
        task = _Concurrency.Task { try await runServer(port: 0, limits: limits, traces: traces, logLevel: .critical) { cont.yield($0) } }
        var it = stream.makeAsyncIterator()
        let port = await it.next() ?? 0
        base = "http://127.0.0.1:\(port)"
    }

    /// Sends `method path` with `body` and returns the reply.
    func send(_ path: String, method: String = "GET", body: String? = nil) async throws -> Reply {
        var req = URLRequest(url: URL(string: base + path)!)
        req.httpMethod = method
        if let b = body { req.httpBody = Data(b.utf8) }
        req.timeoutInterval = 120
        return try await withCheckedThrowingContinuation { c in
            URLSession.shared.dataTask(with: req) { data, resp, err in
                if let e = err { c.resume(throwing: e); return }
                c.resume(returning: Reply(status: (resp as? HTTPURLResponse)?.statusCode ?? 0,
                                          body: String(decoding: data ?? Data(), as: UTF8.self)))
            }.resume()
        }
    }

    func stop() { task.cancel() }
}

/// The HTTP API of `mmsim serve`, against an in-process server.
final class ServeAPITests: XCTestCase {
    /// A small scenario whose numbers are known: 16 pages written in a 64 KiB mapping.
    static let small = """
    machine ram=256M
    spawn /bin/small as small
    mmap NULL 64K rw- private,anonymous as buf
    touch buf 64K write
    free
    """

    /// Runs `body` against an in-process server with `limits`.
    func withServer(_ limits: RunLimits = RunLimits(), _ body: (TestServer) async throws -> Void) async throws {
        let server = try await TestServer(limits: limits)
        defer { server.stop() }
        try await body(server)
    }

    func testExamplesListsEveryBuiltInExample() async throws {
        try await withServer { srv in
            let r = try await srv.send("/api/examples")
            XCTAssertEqual(r.status, 200)
            let list = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [[String: String]])
            XCTAssertEqual(list.map { $0["name"]! }, Examples.all().map(\.name))
            XCTAssertEqual(list.first { $0["name"] == "fork-cow" }?["summary"],
                           "fork(): parent and child share every page copy-on-write until one of them writes.")
        }
    }

    func testRunExampleThenPageThroughItsEvents() async throws {
        let example = try XCTUnwrap(Examples.named("fork-cow"))
        let steps = try Parser.parse(example.source, file: "fork-cow.mmsim").stepCount
        try await withServer { srv in
            let run = try await srv.send("/api/run?example=fork-cow", method: "POST")
            XCTAssertEqual(run.status, 200)
            XCTAssertEqual(run.json["events"] as? Int, steps)
            XCTAssertEqual(run.json["exitStatus"] as? Int, 0)
            XCTAssertEqual(run.json["file"] as? String, "fork-cow.mmsim")
            XCTAssertEqual(run.json["id"] as? String, "r1")
            let page = try await srv.send("/api/runs/r1/events?from=1&count=2")
            XCTAssertEqual(page.json["total"] as? Int, steps)
            let evs = try XCTUnwrap(page.json["events"] as? [[String: Any]])
            XCTAssertEqual(evs.map { $0["text"] as? String }, ["mmap NULL 64K rw- private,anonymous as buf", "touch buf 64K write"])
            XCTAssertEqual(evs.map { $0["index"] as? Int }, [1, 2])
            // The --explain narration is recorded for every event.
            XCTAssertFalse((evs[1]["narration"] as? [String] ?? []).isEmpty)
            let missing = try await srv.send("/api/runs/r9/events")
            XCTAssertEqual(missing.status, 404)
            let outOfRange = try await srv.send("/api/runs/r1/snapshot?event=\(steps)")
            XCTAssertEqual(outOfRange.status, 400)
            let unknown = try await srv.send("/api/run?example=nope", method: "POST")
            XCTAssertEqual(unknown.status, 404)
        }
    }

    func testParseErrorOfAPastedScenarioHasLineAndColumn() async throws {
        try await withServer { srv in
            let r = try await srv.send("/api/run", method: "POST", body: "spawn /bin/x\nmmap NULL 64K rw- bogus\n")
            XCTAssertEqual(r.status, 400)
            XCTAssertEqual(r.json["line"] as? Int, 2)
            XCTAssertEqual(r.json["column"] as? Int, 19)
            XCTAssertEqual((r.json["rendered"] as? String)?.hasPrefix("pasted.mmsim:2:19: error: "), true, r.body)
        }
    }

    func testLimits() async throws {
        let limits = RunLimits(maxSteps: 3, maxSeconds: 0, maxRAMBytes: 1 << 30, maxBodyBytes: 200)
        try await withServer(limits) { srv in
            // Body size.
            let big = try await srv.send("/api/run", method: "POST", body: String(repeating: "# x\n", count: 100))
            XCTAssertEqual(big.status, 413)
            // Step count.
            let long = try await srv.send("/api/run", method: "POST", body: "spawn /bin/x\ngetpagesize\ngetpagesize\ngetpagesize\n")
            XCTAssertEqual(long.status, 400)
            XCTAssertEqual(long.json["error"] as? String, "the scenario has 4 steps; the server runs at most 3")
            // RAM, reported at the machine line.
            let ram = try await srv.send("/api/run", method: "POST", body: "# big\nmachine ram=2G\nspawn /bin/x\n")
            XCTAssertEqual(ram.status, 400)
            XCTAssertEqual(ram.json["line"] as? Int, 2)
            XCTAssertEqual(ram.json["error"] as? String, "ram=2048M is above the server's limit of 1024M")
            // Time: with a limit of 0 s the run stops after its first step.
            let timed = try await srv.send("/api/run", method: "POST", body: "machine ram=256M\nspawn /bin/x\ngetpagesize\n")
            XCTAssertEqual(timed.status, 200)
            XCTAssertEqual(timed.json["events"] as? Int, 1)
            XCTAssertEqual(timed.json["stoppedEarly"] as? String, "stopped at the time limit of 0 s")
        }
    }

    func testPastedScenarioCannotReadHostFiles() async throws {
        try await withServer { srv in
            let r = try await srv.send("/api/run", method: "POST", body: "import /etc/passwd as /tmp/p\n")
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.json["exitStatus"] as? Int, 1)
            XCTAssertEqual(r.json["diagnostics"] as? String, """
                pasted.mmsim:1:1: error: importing host files is disabled here (mmsim run allows it unless --no-host-files is given)
                import /etc/passwd as /tmp/p
                ^

                """)
            // Only the page's own files are served.
            for path in ["/static/..%2FPackage.swift", "/static/Package.swift", "/static/%2Fetc%2Fpasswd", "/Package.swift"] {
                let x = try await srv.send(path)
                XCTAssertEqual(x.status, 404, path)
            }
            let page = try await srv.send("/")
            XCTAssertEqual(page.status, 200)
            XCTAssertTrue(page.body.contains("<script src=\"/static/app.js\""))
            for name in PageAssets.names {
                let a = try await srv.send(name == "index.html" ? "/" : "/static/\(name)")
                XCTAssertEqual(a.status, 200, name)
                // Nothing is fetched from elsewhere.
                XCTAssertFalse(a.body.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http"), name)
            }
        }
    }

    func testSnapshotOfAKnownState() async throws {
        try await withServer { srv in
            let run = try await srv.send("/api/run", method: "POST", body: Self.small)
            XCTAssertEqual(run.status, 200)
            // After the touch (event 2): the mapping has 16 resident pages.
            let s2 = try await srv.send("/api/runs/r1/snapshot?event=2").decode(Snapshot.self)
            XCTAssertEqual(s2.event, 2)
            let p = try XCTUnwrap(s2.processes.first)
            XCTAssertEqual(p.name, "small")
            // The address mmap returned, from what the step printed: "... = 0x7ffff7dcd000".
            let mmapEvent = try await srv.send("/api/runs/r1/events?from=1&count=1").decode(EventPage.self)
            let printed = try XCTUnwrap(mmapEvent.events[0].output.first?.split(separator: " ").last)
            let start = try XCTUnwrap(UInt64(printed.dropFirst(2), radix: 16))
            // It merged with the anonymous VMA above it: 16 of its pages are resident now.
            let vma = try XCTUnwrap(p.vmas.first { $0.start <= start && start < $0.end })
            XCTAssertEqual(vma.perms, "rw-p")
            XCTAssertEqual(vma.name, "")
            XCTAssertEqual(vma.rssPages, 16)
            XCTAssertNil(s2.walk)
            XCTAssertEqual(s2.notModelled, [])
            XCTAssertEqual(s2.swap, [])
            let w2 = try await srv.send("/api/runs/r1/snapshot?event=2&pid=\(p.pid)&va=0x\(String(start, radix: 16))").decode(Snapshot.self)
            let w = try XCTUnwrap(w2.walk)
            XCTAssertEqual(w.levels.map(\.level), ["PGD", "PUD", "PMD", "PTE"])
            XCTAssertEqual(w.levels.map(\.outcome), ["next", "next", "next", "leaf"])
            XCTAssertEqual(w.levels.map(\.index), [PageTableLevel.pgd, .pud, .pmd, .pte].map { $0.index(of: VirtAddr(start)) })
            XCTAssertNotNil(w.physAddr)
            XCTAssertTrue(w.levels[3].bits.hasPrefix("P RW US A D"), w.levels[3].bits)
            // The touch filled the data TLB with the mapping's pages.
            let filled = w2.cpus[0].entries.filter { $0.mark == "filled" && $0.page >= start && $0.page < start + (64 << 10) }
            XCTAssertEqual(Set(filled.map(\.page)).count, 16)
            // Before the touch (event 1) the walk stops at a missing level.
            let w1 = try await srv.send("/api/runs/r1/snapshot?event=1&pid=\(p.pid)&va=\(start)").decode(Snapshot.self)
            XCTAssertEqual(w1.walk?.levels.last?.outcome, "not present")
            XCTAssertNil(w1.walk?.physAddr)
            let bad = try await srv.send("/api/runs/r1/snapshot?event=1&va=zz")
            XCTAssertEqual(bad.status, 400)
            // The free panel after event 3 is what the `free` step printed.
            let page = try await srv.send("/api/runs/r1/events?from=3&count=1").decode(EventPage.self)
            let s3 = try await srv.send("/api/runs/r1/snapshot?event=3").decode(Snapshot.self)
            XCTAssertEqual(s3.free.text, page.events[0].output.joined(separator: "\n") + "\n")
            // The timeline: 16 faults in the touch.
            let t = try await srv.send("/api/runs/r1/timeline").decode(Timeline.self)
            XCTAssertEqual(t.faults[2] - t.faults[1], 16)
        }
    }
}

/// The recordings, timelines and reports, without HTTP.
final class RecordingReportTests: XCTestCase {
    func testTimelineNumbers() throws {
        let r = try Recording(source: ServeAPITests.small, file: "small.mmsim")
        XCTAssertEqual(r.events.count, 4)
        let t = r.timeline()
        XCTAssertEqual(t.event, [0, 1, 2, 3])
        let pid = try XCTUnwrap(t.rss.keys.first)
        XCTAssertEqual(t.processes[pid], "small")
        // 64 KiB more resident after the touch, and 16 more page faults.
        XCTAssertEqual(t.rss[pid]![2] - t.rss[pid]![1], 64)
        XCTAssertEqual(t.faults[2] - t.faults[1], 16)
        XCTAssertEqual(t.freeKB[3], r.snapshot(event: 3, pid: nil, va: nil)?.free.freeKB)
        XCTAssertLessThanOrEqual(t.freeKB[2], t.freeKB[1] - 64)
        // Bucketed: two points of two events each.
        XCTAssertEqual(r.timeline(maxPoints: 2).event, [1, 3])
    }

    func testReportIsSelfContainedWellFormedAndShowsTheNumbers() throws {
        let r = try Recording(source: ServeAPITests.small, file: "small.mmsim")
        let html = Report.html(r)
        XCTAssertTrue(html.hasPrefix("<!doctype html>\n"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://") || html.contains("<script") || html.contains("src="),
                       "the report must not load anything")
        // Well-formed: it parses as XML once the doctype is dropped.
        let body = String(html.dropFirst("<!doctype html>\n".count))
        let parser = XMLParser(data: Data(body.utf8))
        XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        // The numbers: the event count, free as the last step printed it, the final RSS.
        XCTAssertTrue(html.contains("<p id=\"summary\">4 events, exit status 0.</p>"))
        let printed = r.events[3].output.joined(separator: "\n") + "\n"
        XCTAssertTrue(html.contains("<pre id=\"free\">\(printed)</pre>"), html)
        let rss = r.events[3].metrics.rssKB.values.first!
        XCTAssertTrue(html.contains("data-last=\"\(rss)\">small ("), "RSS legend")
        let m = r.events[3].metrics
        XCTAssertTrue(html.contains("data-last=\"\(m.freeKB)\">free \(m.freeKB) kB<"), "free legend")
        XCTAssertTrue(html.contains("data-last=\"\(m.availableKB)\">available \(m.availableKB) kB<"), "available legend")
        XCTAssertTrue(html.contains("data-last=\"\(m.faults)\">pgfault \(m.faults)<"), "fault legend")
        XCTAssertGreaterThan(m.faults, 16)
        for id in ["chart-rss", "chart-free", "chart-faults", "chart-swap", "chart-tlb", "physmap", "buddy"] {
            XCTAssertTrue(html.contains("<svg id=\"\(id)\""), id)
        }
    }

    func testRecordedAndReplayedSnapshotsAgree() throws {
        // fork-cow: two processes, copy-on-write faults, TLB fills and flushes.
        let source = try XCTUnwrap(Examples.named("fork-cow")).source
        let kept = try Recording(source: source, file: "f.mmsim")
        let replayed = try Recording(source: source, file: "f.mmsim", limits: RunLimits(recordAllSteps: 0))
        XCTAssertEqual(kept.events, replayed.events)
        // Processes carry the scenario's names (the child's comm is still "parent").
        XCTAssertEqual(kept.snapshot(event: kept.events.count - 1, pid: nil, va: nil)?.processes.map(\.name), ["parent", "child"])
        XCTAssertEqual(Set(kept.processNames.values), ["parent", "child"])
        let first = try XCTUnwrap(kept.snapshot(event: 0, pid: nil, va: nil))
        let heap = try XCTUnwrap(first.processes[0].vmas.first { $0.name == "[stack]" })
        for e in [0, 1, 2, 5, kept.events.count - 1] {
            XCTAssertEqual(kept.snapshot(event: e, pid: nil, va: nil), replayed.snapshot(event: e, pid: nil, va: nil), "event \(e)")
            let a = kept.snapshot(event: e, pid: first.processes[0].pid, va: heap.end - 8)
            XCTAssertEqual(a, replayed.snapshot(event: e, pid: first.processes[0].pid, va: heap.end - 8), "walk at event \(e)")
            XCTAssertEqual(a?.walk?.levels.count, 4)
        }
    }

    /// Swaps two pages out to a 8 MiB swap file and reads one back.
    static let swapping = """
    machine ram=64M
    file create /swap2 size 8M
    swapon /swap2 priority 5
    spawn /bin/sw as sw
    mmap NULL 16K rw- private,anonymous as p
    write p 42 u8
    write p+4K 43 u8
    madvise p 16K pageout
    cat /proc/swaps
    cat /proc/slabinfo
    cat /proc/meminfo
    read p u8 expect 42
    """

    func testSlabLRUAndSwapPanels() throws {
        let r = try Recording(source: Self.swapping, file: "swapping.mmsim")
        XCTAssertEqual(r.exitStatus, 0)
        XCTAssertEqual(r.events.count, 11)
        let before = try XCTUnwrap(r.snapshot(event: 5, pid: nil, va: nil))
        let after = try XCTUnwrap(r.snapshot(event: 6, pid: nil, va: nil))
        XCTAssertEqual(after.notModelled, [])
        // Swap: 8 MiB less the header page = 2047 slots; the two written pages went out to slots 1 and 2.
        XCTAssertEqual(before.swap?.map(\.used), [0])
        let a = try XCTUnwrap(after.swap?.first)
        XCTAssertEqual(after.swap?.count, 1)
        XCTAssertEqual([a.path, a.kind], ["/swap2", "file"])
        XCTAssertEqual(a.priority, 5)
        XCTAssertEqual(a.total, 2047)
        XCTAssertEqual(a.used, 2)
        XCTAssertEqual(a.slotsPerCell, 8)
        XCTAssertEqual(a.cells.count, 256)
        XCTAssertEqual(a.cells[0], 2)
        XCTAssertEqual(a.cells.reduce(0, +), 2)
        XCTAssertEqual(r.events[7].output, ["Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority",
                                            "/swap2                                  file\t8188\t\t8\t\t5"])
        // Swap traffic: two pages out, then one in (readahead reads the next slot as well).
        XCTAssertEqual(r.events[5].metrics.swapPages, 0)
        XCTAssertEqual(r.events[6].metrics.swapPages, 2)
        XCTAssertEqual(r.timeline().swapPages[6], 2)
        XCTAssertGreaterThan(r.events[10].metrics.swapPages, 2)
        // LRU: the two anonymous pages left the inactive anon list; the sizes are what meminfo printed.
        let lb = try XCTUnwrap(before.lru), la = try XCTUnwrap(after.lru)
        XCTAssertEqual(lb.sizes[0] - la.sizes[0], 2)
        XCTAssertEqual(la.cells.count, after.phys.cells.count)
        XCTAssertEqual(Set(la.cells).subtracting("iafFu-"), [])
        XCTAssertEqual(lb.sizes, [4, 0, 4, 0, 0])
        XCTAssertEqual(la.sizes, [2, 0, 4, 0, 0])
        XCTAssertEqual(Set(lb.cells), ["i", "f", "-"])
        let meminfo = try XCTUnwrap(r.snapshot(event: 9, pid: nil, va: nil))
        func kB(_ key: String) -> Int? {
            r.events[9].output.first { $0.hasPrefix(key + ":") }.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
        }
        XCTAssertEqual(meminfo.lru?.sizes.map { $0 * 4 },
                       [kB("Inactive(anon)"), kB("Active(anon)"), kB("Inactive(file)"), kB("Active(file)"), kB("Unevictable")].map { $0 ?? -1 })
        // Slab: every cache as /proc/slabinfo printed it at the same event.
        let slabs = try XCTUnwrap(r.snapshot(event: 8, pid: nil, va: nil)?.slab)
        let lines = r.events[8].output.dropFirst(2)
        XCTAssertEqual(slabs.count, lines.count)
        XCTAssertGreaterThan(slabs.count, 10)
        for (c, line) in zip(slabs, lines) {
            let f = line.split(separator: " ").map(String.init)
            XCTAssertEqual([c.name, String(c.activeObjs), String(c.numObjs), String(c.objSize), String(c.objPerSlab), String(c.pagesPerSlab)],
                           Array(f[0..<6]), line)
            XCTAssertEqual([String(c.activeSlabs), String(c.numSlabs)], Array(f[f.count - 3 ..< f.count - 1]), line)
        }
        let mm = try XCTUnwrap(slabs.first { $0.name == "mm_struct" })
        XCTAssertEqual(mm.objSize, 1600)
        // The report lists the three panels; the page read back stays in the swap cache, holding its slot.
        let html = Report.html(r)
        XCTAssertTrue(html.contains("<tr><td>/swap2</td><td>file</td><td>5</td><td>2</td><td>2047</td></tr>"), html)
        XCTAssertTrue(html.contains("<table id=\"slab\">"))
        XCTAssertTrue(html.contains("<table id=\"lru\">"))
    }

    func testBandLayoutBreaksBigHoles() {
        let v = [VMASnapshot(start: 0x400000, end: 0x401000, perms: "r-xp", name: "a", rssPages: 1),
                 VMASnapshot(start: 0x402000, end: 0x404000, perms: "rw-p", name: "b", rssPages: 2),
                 VMASnapshot(start: 0x7fff0000_0000, end: 0x7fff0000_1000, perms: "rw-p", name: "[stack]", rssPages: 1)]
        let pieces = SVGCharts.bandLayout(v, width: 100)
        // a, small hole to scale, b, broken big hole, stack.
        XCTAssertEqual(pieces.map(\.vma), [0, nil, 1, nil, 2])
        XCTAssertEqual(pieces.map(\.broken), [false, false, false, true, false])
        XCTAssertEqual(pieces.last!.x + pieces.last!.w, 100, accuracy: 1e-9)
        // To scale: b (8 KiB) is twice as wide as a (4 KiB) beyond the minimum width.
        XCTAssertEqual(pieces[2].w - 3, 2 * (pieces[0].w - 3), accuracy: 1e-9)
    }
}
