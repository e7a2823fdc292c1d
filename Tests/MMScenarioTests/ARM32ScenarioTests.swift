import XCTest
import MMCore
@testable import MMScenario

/// `machine arch=arm32` from the scenario language: errors, /proc/meminfo's High/Low lines without
/// the huge-page and DirectMap lines, free -l, maps of an ARM process, TASK_SIZE and exec.
final class ARM32ScenarioTests: XCTestCase {
    func testErrors() {
        assertError("machine arch=arm32 ram=8G", 1, 9, "arch=arm32 addresses at most 4G of RAM (ram=8192M)")
        assertError("machine arch=arm32\nhighmem32 ram=1G", 2, 1,
                    "'highmem32' sets up a 32-bit kernel beside a 64-bit machine; this machine is arm32 already (use kmap and __pa directly)")
        assertError("machine arch=arm32 hugepages=2M:8", 1, 9, "hugetlb pools are not modelled on a 32-bit machine (ARM without LPAE has no CONFIG_HUGETLB_PAGE)")
        assertError("kmap 0x1000", 1, 1, "'kmap' needs a 32-bit kernel: 'machine arch=x86-32' or 'arch=arm32', or 'highmem32 ram=SIZE' first")
    }

    // 2 GiB: MemTotal 517182 pages = LowTotal (189502 Normal managed pages: 0x30000 less
    // swapper_pg_dir, the image and mem_map) + HighTotal (327680); VmallocTotal 240 MiB; no
    // DirectMap or huge page lines; at boot lowmem holds the zero page and 12 kB of slab.
    func testMeminfoAndFreeOf2GiB() throws {
        let (out, status) = try runScenario("""
            machine arch=arm32 ram=2G
            cat /proc/meminfo | grep MemTotal
            cat /proc/meminfo | grep High
            cat /proc/meminfo | grep Low
            cat /proc/meminfo | grep Vmalloc
            cat /proc/meminfo | grep DirectMap
            cat /proc/meminfo | grep Huge
            free -l
            """)
        XCTAssertEqual(status, 0, out)
        XCTAssertEqual(out, """
            MemTotal:        2068728 kB
            HighTotal:       1310720 kB
            HighFree:        1310720 kB
            LowTotal:         758008 kB
            LowFree:          757992 kB
            VmallocTotal:     245760 kB
            VmallocUsed:           0 kB
            VmallocChunk:          0 kB
                           total        used        free      shared  buff/cache   available
            Mem:         2068728       49712     2068712           0           0     2019016
            Low:          758008          16      757992
            High:        1310720           0     1310720
            Swap:              0           0           0

            """)
    }

    // 512 MiB: no HighMem; VMALLOC_START = 0xe0800000, so VmallocTotal is 496 MiB; one zone.
    func testMeminfoOf512MiB() throws {
        let (out, status) = try runScenario("""
            machine arch=arm32 ram=512M
            cat /proc/meminfo | grep MemTotal
            cat /proc/meminfo | grep High
            cat /proc/meminfo | grep LowTotal
            cat /proc/meminfo | grep VmallocTotal
            show buddyinfo
            """)
        XCTAssertEqual(status, 0, out)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(5)), [
            "MemTotal:         508152 kB",
            "HighTotal:             0 kB",
            "HighFree:              0 kB",
            "LowTotal:         508152 kB",
            "VmallocTotal:     507904 kB"])
        XCTAssertEqual(lines.count, 6)
        XCTAssertTrue(lines[5].hasPrefix("Node 0, zone   Normal"))
    }

    // The maps of an ARM process: text at 0x00010000, armhf libraries below mmap_base 0xb7000000
    // with [sigpage], [vvar] and [vdso] below ld.so, the stack below TASK_SIZE 0xbf000000, then
    // the [vectors] gate page.
    func testMapsOfAnARMProcess() throws {
        let (out, status) = try runScenario("""
            machine arch=arm32 ram=1G
            spawn /bin/p
            cat /proc/self/maps
            """)
        XCTAssertEqual(status, 0, out)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "[pid 1000] execve(\"/bin/p\", [\"/bin/p\"], 0xbeffff08 /* 3 vars */) = 0")
        XCTAssertEqual(lines[1], "00010000-00011000 r--p 00000000 08:01 1049600                            /bin/p")
        XCTAssertEqual(lines[2], "00011000-00012000 r-xp 00001000 08:01 1049600                            /bin/p")
        XCTAssertEqual(lines[lines.count - 3], "b6ffe000-b7000000 rw-p 00033000 08:01 1835011                            /usr/lib/arm-linux-gnueabihf/ld-linux-armhf.so.3")
        XCTAssertEqual(Array(lines[(lines.count - 9)...(lines.count - 7)]), [
            "b6fc8000-b6fc9000 r-xp 00000000 00:00 0                                  [sigpage]",
            "b6fc9000-b6fca000 r--p 00000000 00:00 0                                  [vvar]",
            "b6fca000-b6fcb000 r-xp 00000000 00:00 0                                  [vdso]"])
        XCTAssertEqual(lines[lines.count - 2], "befdf000-bf000000 rw-p 00000000 00:00 0                                  [stack]")
        XCTAssertEqual(lines.last, "ffff0000-ffff1000 r-xp 00000000 00:00 0                                  [vectors]")
        XCTAssertFalse(out.contains("vsyscall"))
    }

    // mmap MAP_FIXED at TASK_SIZE fails with ENOMEM; an ELF64 program cannot be exec'd.
    func testTaskSizeAndExec() throws {
        let (out, status) = try runScenario("""
            machine arch=arm32 ram=1G
            spawn /bin/p
            mmap 0xbf000000 4K rw- private,anonymous,fixed
            import /usr/bin/ls
            exec /usr/bin/ls
            """)
        XCTAssertTrue(out.contains("mmap(0xbf000000, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM"), out)
        XCTAssertTrue(out.contains("ENOEXEC: '/usr/bin/ls': an x86-64 ELF64 file cannot run on a 32-bit ARM kernel (ARMv7 has no 64-bit execution state)"), out)
        XCTAssertNotEqual(status, 0)
    }
}
