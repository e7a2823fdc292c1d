import XCTest
@testable import MMCore

let PROT_RW: Prot = [.read, .write]
let PROT_RO: Prot = [.read]
/// MAP_PRIVATE | MAP_ANONYMOUS.
let PA: MapFlags = [.private, .anonymous]
/// MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED.
let PAF: MapFlags = [.private, .anonymous, .fixed]
/// An address far from everything the layout puts anywhere, for MAP_FIXED tests.
let F: UInt64 = 0x1000_0000

/// A fresh machine with one task whose mm has the default top-down layout.
class VMTestCase: XCTestCase {
    var k: Kernel!
    var mm: MMStruct!
    var t: Task!

    override func setUpWithError() throws {
        k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        mm = MMStruct(pgd: k.phys.allocPages(order: 0, gfp: [.zero])!)
        k.archPickMmapLayout(mm)
        t = k.addTask(comm: "t", mm: mm)
    }

    override func tearDown() {
        if let mm = mm { XCTAssertEqual(mm.invariantViolations(), []) }
        super.tearDown()
    }

    /// The VMAs as "start-end" strings.
    var layout: [String] { mm.vmas.vmas.map { "\($0.start)-\($0.end)" } }

    /// The VMAs as maps-style permission strings ("rw-p").
    var perms: [String] {
        mm.vmas.vmas.map { v in
            (v.flags.contains(.read) ? "r" : "-") + (v.flags.contains(.write) ? "w" : "-")
                + (v.flags.contains(.exec) ? "x" : "-") + (v.flags.contains(.mayshare) ? "s" : "p")
        }
    }

    func assertInvariants(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(mm.invariantViolations(), [], file: file, line: line)
    }

    /// mmap that must succeed; returns the address.
    @discardableResult
    func map(_ addr: UInt64, _ len: UInt64, _ prot: Prot = PROT_RW, _ flags: MapFlags = PAF,
             file: MappedFile? = nil, offset: UInt64 = 0, line: UInt = #line) -> UInt64 {
        let r = k.mmap(t, addr: addr, length: len, prot: prot, flags: flags, file: file, offset: offset)
        guard case .success(let a) = r else { XCTFail("mmap failed: \(r)", line: line); return 0 }
        assertInvariants(line: line)
        return a.raw
    }

    /// The errno of a failed call, nil on success.
    func errno<T>(_ r: Result<T, Errno>) -> Errno? {
        if case .failure(let e) = r { return e }
        return nil
    }

    func hex(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }
}
