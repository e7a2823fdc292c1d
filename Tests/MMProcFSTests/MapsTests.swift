import XCTest
import MMCore
@testable import MMProcFS

final class MapsTests: XCTestCase {
    func testPaddingShortLongAndUnnamed() {
        let lines = [
            MapsLine(start: 0x555555554000, end: 0x555555555000, read: true, write: false, exec: false, mayShare: false,
                     offset: 0, devMajor: 8, devMinor: 1, inode: 1835017, name: "/usr/bin/demo"),
            MapsLine(start: 0x555555555000, end: 0x555555556000, read: true, write: false, exec: true, mayShare: false,
                     offset: 0x1000, devMajor: 8, devMinor: 1, inode: 1835017, name: "/usr/bin/demo"),
            MapsLine(start: 0x555555559000, end: 0x55555557a000, read: true, write: true, exec: false, mayShare: false,
                     name: "[heap]"),
            MapsLine(start: 0x7ffff7fb0000, end: 0x7ffff7fb4000, read: true, write: true, exec: false, mayShare: true,
                     offset: 0x23000, devMajor: 0x103, devMinor: 2, inode: 42, name: "/dev/shm/buf"),
            MapsLine(start: 0x7ffff7fc0000, end: 0x7ffff7fc2000, read: true, write: true, exec: false, mayShare: false),
            MapsLine(start: 0x7ffffffde000, end: 0x7ffffffff000, read: true, write: true, exec: false, mayShare: false,
                     name: "[stack]"),
            MapsLine(start: 0xffffffffff600000, end: 0xffffffffff601000, read: false, write: false, exec: true,
                     mayShare: false, name: "[vsyscall]"),
            // Fixed fields longer than 72 columns: no padding, only seq_pad's space after the fields' own.
            MapsLine(start: 0xffffffffff600000, end: 0xffffffffff601000, read: true, write: false, exec: false,
                     mayShare: false, devMajor: 0xfd, devMinor: 0x10, inode: 12345678901234567890, name: "/x"),
            MapsLine(start: 0x1000, end: 0x2000, read: false, write: false, exec: false, mayShare: false),
        ]
        XCTAssertEqual(Maps.format(lines), text([
            "555555554000-555555555000 r--p 00000000 08:01 1835017                    /usr/bin/demo",
            "555555555000-555555556000 r-xp 00001000 08:01 1835017                    /usr/bin/demo",
            "555555559000-55555557a000 rw-p 00000000 00:00 0                          [heap]",
            "7ffff7fb0000-7ffff7fb4000 rw-s 00023000 103:02 42                        /dev/shm/buf",
            "7ffff7fc0000-7ffff7fc2000 rw-p 00000000 00:00 0 ",
            "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]",
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
            "ffffffffff600000-ffffffffff601000 r--p 00000000 fd:10 12345678901234567890  /x",
            "00001000-00002000 ---p 00000000 00:00 0 ",
        ]))
    }

    func testNewlineInPathIsEscaped() {
        let l = MapsLine(start: 0x400000, end: 0x401000, read: true, write: false, exec: false, mayShare: false,
                         inode: 7, name: Maps.escapePath("/tmp/a\nb"))
        XCTAssertEqual(Maps.formatLine(l), "00400000-00401000 r--p 00000000 00:00 7                                  /tmp/a\\012b\n")
    }

    func testNamesFromTheMM() throws {
        let k = try bootedKernel()
        let mm = newMM(k)
        mm.startBrk = 0x555555559000; mm.brk = 0x55555557a000
        mm.startStack = 0x7ffffffdea10
        let exe = MappedFile(path: "/usr/bin/demo", devMajor: 8, devMinor: 1, inode: 1835017)
        let codeFlags: VMFlags = [.read, .exec, .mayread, .maywrite, .mayexec]
        mm.vmas.insert(VMA(start: VirtAddr(0x555555555000), end: VirtAddr(0x555555556000), flags: codeFlags, pgoff: 1, file: exe))
        // bss directly below the heap: touches start_brk but does not overlap [start_brk, brk).
        mm.vmas.insert(VMA(start: VirtAddr(0x555555558000), end: VirtAddr(0x555555559000), flags: anonRW))
        mm.vmas.insert(VMA(start: VirtAddr(0x555555559000), end: VirtAddr(0x55555557a000), flags: anonRW))
        mm.vmas.insert(VMA(start: VirtAddr(0x7ffff7fc0000), end: VirtAddr(0x7ffff7fc4000), flags: [.read, .mayread], special: .vvar))
        mm.vmas.insert(VMA(start: VirtAddr(0x7ffff7fc4000), end: VirtAddr(0x7ffff7fc6000),
                           flags: [.read, .exec, .mayread, .maywrite, .mayexec], special: .vdso))
        mm.vmas.insert(VMA(start: VirtAddr(0x7ffffffde000), end: VirtAddr(0x7ffffffff000),
                           flags: anonRW.union(.growsdown)))
        // The [vsyscall] gate page comes from MMStruct.gateVMA, outside the tree.
        let t = k.addTask(comm: "demo", mm: mm)
        XCTAssertEqual(ProcFS.maps(k, t), text([
            "555555555000-555555556000 r-xp 00001000 08:01 1835017                    /usr/bin/demo",
            "555555558000-555555559000 rw-p 00000000 00:00 0 ",
            "555555559000-55555557a000 rw-p 00000000 00:00 0                          [heap]",
            "7ffff7fc0000-7ffff7fc4000 r--p 00000000 00:00 0                          [vvar]",
            "7ffff7fc4000-7ffff7fc6000 r-xp 00000000 00:00 0                          [vdso]",
            "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]",
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
        ]))
        // An empty heap (brk == start_brk) names nothing.
        mm.brk = mm.startBrk
        XCTAssertNil(Maps.name(of: mm.vmas.vmas[2], in: mm))
        XCTAssertEqual(ProcFS.maps(k, Task(pid: 5, comm: "kworker", mm: nil)), "")
    }
}
