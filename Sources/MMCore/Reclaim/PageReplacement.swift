/// The page-replacement lab: textbook replacement policies run over a reference string with a
/// fixed number of frames, step by step. This is the classroom model of what reclaim decides
/// (which resident page to give up on a miss); the kernel's own reclaim works on the LRU lists.

/// A replacement policy of the lab.
public enum ReplacementPolicy: String, CaseIterable, Sendable, Codable {
    /// First in, first out: the page loaded earliest goes.
    case fifo
    /// Least recently used: the page whose last use is oldest goes.
    case lru
    /// Belady's optimal policy: the page used farthest in the future goes; among pages never
    /// used again, the most recently loaded goes.
    case opt
    /// Most recently used: the page used last goes.
    case mru
    /// Second chance with a rotating hand over the frames (the clock algorithm).
    case clock
    /// A victim drawn uniformly from the frames by a seeded generator.
    case rand
    /// Least frequently used (uses since the page was loaded); ties go to the earliest loaded.
    case lfu
    /// Linux's two lists: an inactive list that new pages enter and an active list that pages
    /// accessed twice are promoted to; victims come from the inactive tail.
    case linux

    /// The name the CLI and the output use, in capitals (FIFO, LRU, …; "LINUX-2Q" for the two lists).
    public var displayName: String { self == .linux ? "LINUX-2Q" : rawValue.uppercased() }
}

/// One access of a replacement run.
public struct ReplacementStep: Sendable, Equatable {
    /// The page referenced.
    public var page: UInt64
    public var hit: Bool
    /// The page evicted to make room, if any.
    public var victim: UInt64?
    /// The frames after the access, in frame order (nil = empty frame).
    public var frames: [UInt64?]
    /// Policy state after the access: CLOCK's reference bits and hand, LFU's counts, the two
    /// Linux lists; nil for policies with nothing more to show.
    public var state: String?
}

/// The outcome of a replacement run.
public struct ReplacementResult: Sendable, Equatable {
    public var policy: ReplacementPolicy
    public var frameCount: Int
    public var steps: [ReplacementStep]
    public var hits: Int { steps.reduce(0) { $0 + ($1.hit ? 1 : 0) } }
    public var misses: Int { steps.count - hits }
    /// Hits per thousand accesses, rounded down (0 for an empty string).
    public var hitRatePermille: Int { steps.isEmpty ? 0 : hits * 1000 / steps.count }
}

/// Why a replacement run cannot start.
public enum ReplacementError: Error, Equatable, Sendable, CustomStringConvertible {
    case noFrames
    case tooManyFrames(Int)
    public var description: String {
        switch self {
        case .noFrames: return "the number of frames must be at least 1"
        case .tooManyFrames(let n): return "\(n) frames is more than the lab allows (\(PageReplacement.maxFrames))"
        }
    }
}

/// The replacement simulator.
public enum PageReplacement {
    /// Largest frame count accepted (keeps the O(frames) per-access scans cheap).
    public static let maxFrames = 4096

    /// Runs `policy` over `refs` with `frameCount` frames (all empty at the start) and returns every
    /// step. `seed` drives RAND only. Throws when `frameCount` is out of 1...maxFrames.
    ///
    /// Frames fill in order 0, 1, 2, …; a victim's frame receives the new page. Tie rules: OPT
    /// evicts, among pages never referenced again, the most recently loaded (else the page whose
    /// next use is farthest); LFU breaks equal counts by evicting the earliest loaded; CLOCK sets a
    /// page's reference bit when it is loaded or hit and advances the hand one frame past each
    /// frame it loads; RAND evicts frame `next() % frameCount` of a SplitMix64 generator seeded
    /// with `seed`. LINUX-2Q follows mark_page_accessed(): a loaded page enters the inactive list
    /// head already referenced, a hit on a referenced inactive page moves it to the active list
    /// head (unreferenced), a hit on any other page sets its referenced flag; on a miss with no
    /// free frame, the active list is first shrunk from its tail into the inactive head until it is
    /// no longer than the inactive list (the deactivated page loses its referenced flag), then the
    /// inactive list's tail is evicted.
    public static func run(_ policy: ReplacementPolicy, refs: [UInt64], frames frameCount: Int,
                           seed: UInt64 = 0) throws -> ReplacementResult {
        guard frameCount >= 1 else { throw ReplacementError.noFrames }
        guard frameCount <= maxFrames else { throw ReplacementError.tooManyFrames(frameCount) }
        var frames = [UInt64?](repeating: nil, count: frameCount)
        var loadedAt = [Int](repeating: 0, count: frameCount)     // time of load, per frame
        var usedAt = [Int](repeating: 0, count: frameCount)       // time of last use, per frame
        var uses = [Int](repeating: 0, count: frameCount)         // uses since load, per frame
        var refBit = [Bool](repeating: false, count: frameCount)  // CLOCK / LINUX referenced
        var where_: [UInt64: Int] = [:]                            // page → frame
        var hand = 0
        var rng = SplitMix64(seed: seed)
        // LINUX-2Q lists of frame indices, head first.
        var active: [Int] = [], inactive: [Int] = []
        // OPT: for each position, the next position referencing the same page (Int.max if none).
        var nextUse = [Int](repeating: Int.max, count: refs.count)
        if policy == .opt {
            var last: [UInt64: Int] = [:]
            for i in stride(from: refs.count - 1, through: 0, by: -1) {
                nextUse[i] = last[refs[i]] ?? Int.max
                last[refs[i]] = i
            }
        }
        var nextUseOfFrame = [Int](repeating: Int.max, count: frameCount)
        var steps: [ReplacementStep] = []
        steps.reserveCapacity(refs.count)

        for (t, page) in refs.enumerated() {
            var victim: UInt64? = nil
            if let f = where_[page] {
                usedAt[f] = t; uses[f] += 1
                nextUseOfFrame[f] = nextUse[t]
                switch policy {
                case .clock: refBit[f] = true
                case .linux:
                    if let i = inactive.firstIndex(of: f) {
                        if refBit[f] { inactive.remove(at: i); active.insert(f, at: 0); refBit[f] = false } else { refBit[f] = true }
                    } else { refBit[f] = true }
                default: break
                }
                steps.append(ReplacementStep(page: page, hit: true, victim: nil, frames: frames,
                                             state: stateText(policy, frames, refBit, hand, uses, active, inactive)))
                continue
            }
            // Miss: a free frame, else a victim.
            var slot: Int
            if let free = frames.firstIndex(where: { $0 == nil }) {
                slot = free
                if policy == .clock { hand = (free + 1) % frameCount }
            } else {
                switch policy {
                case .fifo: slot = argmin(loadedAt)
                case .lru: slot = argmin(usedAt)
                case .mru: slot = argmax(usedAt)
                case .lfu:
                    slot = 0
                    for f in 1..<frameCount where uses[f] < uses[slot] || (uses[f] == uses[slot] && loadedAt[f] < loadedAt[slot]) { slot = f }
                case .opt:
                    slot = 0
                    for f in 1..<frameCount {
                        let a = nextUseOfFrame[f], b = nextUseOfFrame[slot]
                        if a > b || (a == b && a == Int.max && loadedAt[f] > loadedAt[slot]) { slot = f }
                    }
                case .rand: slot = Int(rng.next() % UInt64(frameCount))
                case .clock:
                    while refBit[hand] { refBit[hand] = false; hand = (hand + 1) % frameCount }
                    slot = hand
                    hand = (hand + 1) % frameCount
                case .linux:
                    while active.count > inactive.count, let tail = active.popLast() {
                        refBit[tail] = false
                        inactive.insert(tail, at: 0)
                    }
                    slot = inactive.removeLast()
                }
                victim = frames[slot]
                if let v = victim { where_[v] = nil }
            }
            frames[slot] = page
            where_[page] = slot
            loadedAt[slot] = t; usedAt[slot] = t; uses[slot] = 1
            nextUseOfFrame[slot] = policy == .opt ? nextUse[t] : Int.max
            switch policy {
            case .clock: refBit[slot] = true
            case .linux: refBit[slot] = true; inactive.insert(slot, at: 0)
            default: break
            }
            steps.append(ReplacementStep(page: page, hit: false, victim: victim, frames: frames,
                                         state: stateText(policy, frames, refBit, hand, uses, active, inactive)))
        }
        return ReplacementResult(policy: policy, frameCount: frameCount, steps: steps)
    }

    static func argmin(_ a: [Int]) -> Int {
        var m = 0
        for i in 1..<a.count where a[i] < a[m] { m = i }
        return m
    }

    static func argmax(_ a: [Int]) -> Int {
        var m = 0
        for i in 1..<a.count where a[i] > a[m] { m = i }
        return m
    }

    /// The policy's extra state after a step, or nil.
    static func stateText(_ p: ReplacementPolicy, _ frames: [UInt64?], _ ref: [Bool], _ hand: Int,
                          _ uses: [Int], _ active: [Int], _ inactive: [Int]) -> String? {
        func page(_ f: Int) -> String { frames[f].map(String.init) ?? "-" }
        switch p {
        case .clock:
            return "ref " + (0..<frames.count).map { frames[$0] == nil ? "-" : (ref[$0] ? "1" : "0") }.joined(separator: " ")
                + ", hand → frame \(hand)"
        case .lfu:
            return "uses " + (0..<frames.count).map { frames[$0] == nil ? "-" : String(uses[$0]) }.joined(separator: " ")
        case .linux:
            func list(_ l: [Int]) -> String { l.map { page($0) + (ref[$0] ? "*" : "") }.joined(separator: " ") }
            return "active [\(list(active))] inactive [\(list(inactive))]"
        default:
            return nil
        }
    }
}

/// SplitMix64: a small, fast, seeded generator; the same seed always gives the same sequence
/// (the page-replacement lab's RAND, the machine's random source for ASLR).
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
