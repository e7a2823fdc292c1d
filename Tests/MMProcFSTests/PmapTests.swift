import XCTest
@testable import MMCore
@testable import MMProcFS

/// pmap(1) output: the column layout of procps-ng 4.0.2 and its naming rules.
final class PmapTests: XCTestCase {
    func line(_ start: UInt64, _ end: UInt64, _ perms: String, name: String?) -> MapsLine {
        let p = Array(perms)
        return MapsLine(start: start, end: end, read: p[0] == "r", write: p[1] == "w", exec: p[2] == "x",
                        mayShare: p[3] == "s", name: name)
    }

    func testMappingNamesAndModes() {
        let stack: UInt64 = 0x7fff_ffff_e000
        XCTAssertEqual(Pmap.mappingName(line(0x1000, 0x2000, "r-xp", name: "/usr/lib/x86_64-linux-gnu/libc.so.6"), startStack: stack), "libc.so.6")
        XCTAssertEqual(Pmap.mappingName(line(0x1000, 0x2000, "rw-p", name: "[heap]"), startStack: stack), "  [ anon ]")
        XCTAssertEqual(Pmap.mappingName(line(0x1000, 0x2000, "r--p", name: "[vvar]"), startStack: stack), "  [ anon ]")
        XCTAssertEqual(Pmap.mappingName(line(0x7fff_fffd_e000, 0x7fff_ffff_f000, "rw-p", name: "[stack]"), startStack: stack), "  [ stack ]")
        XCTAssertEqual(Pmap.mappingName(line(0x1000, 0x2000, "rw-s", name: "/dev/zero (deleted)"), startStack: stack), "zero (deleted)")
        XCTAssertEqual(Pmap.mode(line(0, 0x1000, "rw-s", name: nil)), "rw-s-")
        XCTAssertEqual(Pmap.mode(line(0, 0x1000, "--xp", name: nil)), "--x--")
    }

    /// A process with 16 KiB written into a 64 KiB mapping: both formats, exactly.
    func testBothFormats() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let t = try k.spawn(ProgramImage(path: "/home/user/app")).get()
        let buf = try k.mmap(t, addr: 0, length: 64 << 10, prot: [.read, .write], flags: [.private, .anonymous]).get()
        XCTAssertNoThrow(try k.touch(t, buf, length: 16 << 10, .write).get())
        let rows: [(String, UInt64, UInt64, UInt64, String, String)] = [
            ("0000555555554000", 4, 4, 0, "r----", "app"),
            ("0000555555555000", 4, 4, 0, "r-x--", "app"),
            ("0000555555556000", 4, 0, 0, "r----", "app"),
            ("0000555555557000", 4, 4, 4, "rw---", "app"),
            ("0000555555558000", 4, 0, 0, "rw---", "  [ anon ]"),
            ("00007ffff7dcd000", 76, 16, 16, "rw---", "  [ anon ]"),
            ("00007ffff7de0000", 152, 0, 0, "r----", "libc.so.6"),
            ("00007ffff7e06000", 1364, 0, 0, "r-x--", "libc.so.6"),
            ("00007ffff7f5b000", 352, 0, 0, "r----", "libc.so.6"),
            ("00007ffff7fb3000", 8, 0, 0, "rw---", "libc.so.6"),
            ("00007ffff7fb5000", 60, 0, 0, "rw---", "  [ anon ]"),
            ("00007ffff7fc4000", 16, 0, 0, "r----", "  [ anon ]"),
            ("00007ffff7fc8000", 8, 0, 0, "r-x--", "  [ anon ]"),
            ("00007ffff7fca000", 4, 0, 0, "r----", "ld-linux-x86-64.so.2"),
            ("00007ffff7fcb000", 152, 0, 0, "r-x--", "ld-linux-x86-64.so.2"),
            ("00007ffff7ff1000", 48, 0, 0, "r----", "ld-linux-x86-64.so.2"),
            ("00007ffff7ffd000", 8, 0, 0, "rw---", "ld-linux-x86-64.so.2"),
            ("00007ffffffde000", 132, 4, 4, "rw---", "  [ stack ]"),
            ("ffffffffff600000", 4, 0, 0, "--x--", "  [ anon ]"),
        ]
        func pad(_ v: UInt64, _ w: Int) -> String { String(repeating: " ", count: max(0, w - String(v).count)) + String(v) }
        var plain = "\(t.pid):   /home/user/app\n"
        var ext = plain + "Address           Kbytes     RSS   Dirty Mode  Mapping\n"
        for r in rows {
            plain += "\(r.0) \(pad(r.1, 6))K \(r.4) \(r.5)\n"
            ext += "\(r.0) \(pad(r.1, 7)) \(pad(r.2, 7)) \(pad(r.3, 7)) \(r.4) \(r.5)\n"
        }
        plain += " total             2404K\n"
        ext += "---------------- ------- ------- ------- \ntotal kB            2404      32      24\n"
        XCTAssertEqual(Pmap.format(k, t, extended: false), plain)
        XCTAssertEqual(Pmap.format(k, t, extended: true), ext)
    }

    /// A kernel thread has no map: the header names it in brackets and the total is zero.
    func testKernelThread() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let kt = k.spawnKernelThread("kworker/0:1")
        XCTAssertEqual(Pmap.format(k, kt, extended: false), "\(kt.pid):   [kworker/0:1]\n total                0K\n")
    }

    /// MAP_SHARED|MAP_ANONYMOUS is an unlinked shmem file: maps names it "/dev/zero (deleted)" on
    /// device 00:01 (offset following vm_pgoff after a partial munmap); pmap shows its base name.
    func testSharedAnonymousIsDevZeroDeleted() throws {
        let k = try Kernel(config: MachineConfig(ramBytes: 256 << 20))
        let t = try k.spawn(ProgramImage(path: "/bin/a")).get()
        let s = try k.mmap(t, addr: 0, length: 8192, prot: [.read, .write], flags: [.shared, .anonymous]).get()
        XCTAssertNoThrow(try k.touch(t, s, length: 8192, .write).get())
        let id = try XCTUnwrap(t.mm?.vmas.vmaLookup(s)?.shmemObject)
        func line() -> String? { Maps.format(Maps.gather(t)).split(separator: "\n").map(String.init).first { $0.hasSuffix("(deleted)") } }
        XCTAssertEqual(line(), "7ffff7ddb000-7ffff7ddd000 rw-s 00000000 00:01 \(id)" + String(repeating: " ", count: 27 - String(id).count) + "/dev/zero (deleted)")
        XCTAssertTrue(Pmap.format(k, t, extended: true).contains("00007ffff7ddb000       8       8       8 rw-s- zero (deleted)\n"))
        XCTAssertNoThrow(try k.munmap(t, addr: s.raw, length: 4096).get())
        XCTAssertEqual(line(), "7ffff7ddc000-7ffff7ddd000 rw-s 00001000 00:01 \(id)" + String(repeating: " ", count: 27 - String(id).count) + "/dev/zero (deleted)")
    }
}
