import XCTest
@testable import MMCore

/// The page-replacement lab against hand-worked textbook traces.
final class PageReplacementTests: XCTestCase {
    /// Silberschatz's reference string (Operating System Concepts, figures 9.12–9.15).
    let silberschatz: [UInt64] = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]
    let belady: [UInt64] = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5]

    func frames(_ r: ReplacementResult) -> [[UInt64?]] { r.steps.map(\.frames) }
    func victims(_ r: ReplacementResult) -> [UInt64?] { r.steps.map(\.victim) }

    func testBeladysAnomalyWithFIFO() throws {
        let three = try PageReplacement.run(.fifo, refs: belady, frames: 3)
        let four = try PageReplacement.run(.fifo, refs: belady, frames: 4)
        XCTAssertEqual(three.misses, 9)
        XCTAssertEqual(four.misses, 10)
        XCTAssertEqual(victims(three), [nil, nil, nil, 1, 2, 3, 4, nil, nil, 1, 2, nil])
        XCTAssertEqual(frames(four).last!, [4, 5, 2, 3])
        // LRU is a stack algorithm: more frames never hurt.
        XCTAssertEqual(try PageReplacement.run(.lru, refs: belady, frames: 3).misses, 10)
        XCTAssertEqual(try PageReplacement.run(.lru, refs: belady, frames: 4).misses, 8)
    }

    func testTextbookFaultCounts() throws {
        XCTAssertEqual(try PageReplacement.run(.fifo, refs: silberschatz, frames: 3).misses, 15)
        XCTAssertEqual(try PageReplacement.run(.lru, refs: silberschatz, frames: 3).misses, 12)
        let opt = try PageReplacement.run(.opt, refs: silberschatz, frames: 3)
        XCTAssertEqual(opt.misses, 9)
        XCTAssertEqual(victims(opt).compactMap { $0 }, [7, 1, 0, 4, 3, 2])
        XCTAssertEqual(opt.hitRatePermille, 550)
    }

    func testOPTEvictsTheMostRecentlyLoadedOfPagesNeverUsedAgain() throws {
        // At reference 4 only page 1 is used again; of 2 and 3, 3 was loaded last and goes.
        // At reference 5 the candidates are 2 and 4; 4 was loaded last and goes.
        let r = try PageReplacement.run(.opt, refs: [1, 2, 3, 4, 5, 1], frames: 3)
        XCTAssertEqual(victims(r), [nil, nil, nil, 3, 4, nil])
        XCTAssertEqual(frames(r)[4], [1, 2, 5])
    }

    func testMRU() throws {
        // At 4 the most recently used page is 1 (just hit).
        let r = try PageReplacement.run(.mru, refs: [1, 2, 3, 1, 4, 3], frames: 3)
        XCTAssertEqual(victims(r), [nil, nil, nil, nil, 1, nil])
        XCTAssertEqual(r.steps.map(\.hit), [false, false, false, true, false, true])
    }

    func testClockGivesReferencedPagesASecondChance() throws {
        let r = try PageReplacement.run(.clock, refs: belady, frames: 3)
        XCTAssertEqual(r.misses, 9)
        // Reference 10 (page 3): frames 5 1 2 all have their bit set and the hand is at frame 1;
        // it clears frames 1, 2 and 0 and comes back to frame 1, whose page (1) goes.
        XCTAssertEqual(r.steps[9].victim, 1)
        XCTAssertEqual(r.steps[9].state, "ref 0 1 0, hand → frame 2")
        let hits = try PageReplacement.run(.clock, refs: [1, 2, 1, 3, 4], frames: 3)
        // At 4: bits 1 1 1, hand at 0 → all cleared, page in frame 0 (1) goes.
        XCTAssertEqual(hits.steps[4].victim, 1)
        XCTAssertEqual(hits.steps[4].state, "ref 1 0 0, hand → frame 1")
    }

    func testLFUBreaksTiesByLoadOrder() throws {
        // Counts at reference 5: 1→2, 2→1, 3→1; 2 was loaded before 3, so 2 goes.
        let r = try PageReplacement.run(.lfu, refs: [1, 2, 3, 1, 4, 3], frames: 3)
        XCTAssertEqual(victims(r), [nil, nil, nil, nil, 2, nil])
        XCTAssertEqual(r.steps[4].state, "uses 2 1 1")
    }

    func testLinuxTwoLists() throws {
        let r = try PageReplacement.run(.linux, refs: belady, frames: 3)
        XCTAssertEqual(r.misses, 10)
        XCTAssertEqual(r.steps[8].state, "active [2 1] inactive [5*]")
        // Reference 10: the active list (2 pages) is longer than the inactive one (1): its tail (1)
        // is deactivated, then the inactive tail (5) is evicted.
        XCTAssertEqual(r.steps[9].victim, 5)
        XCTAssertEqual(r.steps[9].state, "active [2] inactive [3* 1]")
        XCTAssertEqual(r.steps[10].victim, 1)
    }

    func testRandIsSeededAndDeterministic() throws {
        let a = try PageReplacement.run(.rand, refs: silberschatz, frames: 3, seed: 42)
        let b = try PageReplacement.run(.rand, refs: silberschatz, frames: 3, seed: 42)
        XCTAssertEqual(a, b)
        var differs = false
        for s: UInt64 in 1...8 where try PageReplacement.run(.rand, refs: silberschatz, frames: 3, seed: s) != a { differs = true }
        XCTAssertTrue(differs)
        for st in a.steps { XCTAssertTrue(st.frames.contains(st.page)) }
    }

    func testEdgeCases() throws {
        XCTAssertThrowsError(try PageReplacement.run(.fifo, refs: [1], frames: 0)) { XCTAssertEqual($0 as? ReplacementError, .noFrames) }
        XCTAssertThrowsError(try PageReplacement.run(.fifo, refs: [1], frames: 5000))
        XCTAssertEqual(try PageReplacement.run(.lru, refs: [], frames: 2).steps, [])
        let one = try PageReplacement.run(.opt, refs: [UInt64.max, 0, UInt64.max], frames: 1)
        XCTAssertEqual(one.misses, 3)
        for p in ReplacementPolicy.allCases {
            let r = try PageReplacement.run(p, refs: silberschatz, frames: 20)
            XCTAssertEqual(r.misses, 6, "\(p): only cold misses with more frames than pages")
        }
    }
}
