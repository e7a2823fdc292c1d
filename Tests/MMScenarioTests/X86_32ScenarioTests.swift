import XCTest
import MMCore
@testable import MMScenario

/// `machine arch=x86-32` from the scenario language: errors, /proc/meminfo's High/Low lines,
/// free -l, maps of a 32-bit process, kmap and walk on the machine, exec of ELF files.
final class X86_32ScenarioTests: XCTestCase {
    func testErrors() {
        assertError("machine arch=x86-32 ram=8G", 1, 9, "arch=x86-32 addresses at most 4G of RAM (ram=8192M)")
        assertError("machine arch=x86-32\nhighmem32 ram=1G", 2, 1,
                    "'highmem32' sets up a 32-bit kernel beside a 64-bit machine; this machine is x86-32 already (use kmap and __pa directly)")
        assertError("free -m -h", 1, 9, "free takes one unit option, found a second: '-h'")
        assertError("free -x", 1, 6, "unknown free option '-x' (use -b, -k, -m, -g or -h, and -l)")
    }

    // 2 GiB: MemTotal 516864 pages = LowTotal (768 DMA + 219134 Normal managed pages) + HighTotal
    // (296962 HighMem pages); at boot lowmem holds the zero page and 12 kB of slab.
    func testMeminfoAndFreeOf2GiB() throws {
        let (out, status) = try runScenario("""
            machine arch=x86-32 ram=2G
            cat /proc/meminfo | grep MemTotal
            cat /proc/meminfo | grep High
            cat /proc/meminfo | grep Low
            cat /proc/meminfo | grep Vmalloc
            cat /proc/meminfo | grep DirectMap
            cat /proc/meminfo | grep Hugepagesize
            free -l
            """)
        XCTAssertEqual(status, 0, out)
        XCTAssertEqual(out, """
            MemTotal:        2067456 kB
            HighTotal:       1187848 kB
            HighFree:        1187848 kB
            LowTotal:         879608 kB
            LowFree:          879592 kB
            VmallocTotal:     122880 kB
            VmallocUsed:           0 kB
            VmallocChunk:          0 kB
            DirectMap4k:        8184 kB
            DirectMap4M:      901120 kB
            Hugepagesize:       4096 kB
                           total        used        free      shared  buff/cache   available
            Mem:         2067456       48844     2067440           0           0     2018612
            Low:          879608          16      879592
            High:        1187848           0     1187848
            Swap:              0           0           0

            """)
    }

    // 512 MiB: no HighMem (HighTotal 0), VMALLOC_START = 0xe0800000 (high_memory 0xe0000000 + 8 MiB),
    // VMALLOC_END = 0xff7fe000; the linear map is 4 MiB of 4K pages and 508 MiB of 4M pages.
    func testMeminfoOf512MiB() throws {
        let (out, status) = try runScenario("""
            machine arch=x86-32 ram=512M
            cat /proc/meminfo | grep MemTotal
            cat /proc/meminfo | grep High
            cat /proc/meminfo | grep LowTotal
            cat /proc/meminfo | grep VmallocTotal
            cat /proc/meminfo | grep DirectMap
            show buddyinfo
            """)
        XCTAssertEqual(status, 0, out)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(7)), [
            "MemTotal:         506880 kB",
            "HighTotal:             0 kB",
            "HighFree:              0 kB",
            "LowTotal:         506880 kB",
            "VmallocTotal:     507896 kB",
            "DirectMap4k:        4096 kB",
            "DirectMap4M:      520192 kB"])
        XCTAssertEqual(lines.count, 9)
        XCTAssertTrue(lines[7].hasPrefix("Node 0, zone      DMA"))
        XCTAssertTrue(lines[8].hasPrefix("Node 0, zone   Normal"))
    }

    // The maps of a 32-bit process: 8-digit addresses, text at 0x08048000, libraries below
    // mmap_base 0xb8000000, the stack below 0xc0000000, and no [vsyscall] line.
    func testMapsOfA32BitProcess() throws {
        let (out, status) = try runScenario("""
            machine arch=x86-32 ram=1G
            spawn /bin/p
            cat /proc/self/maps
            """)
        XCTAssertEqual(status, 0, out)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "[pid 1000] execve(\"/bin/p\", [\"/bin/p\"], 0xbfffff08 /* 3 vars */) = 0")
        XCTAssertEqual(lines[1], "08048000-08049000 r--p 00000000 08:01 1049600                            /bin/p")
        XCTAssertEqual(lines[2], "08049000-0804a000 r-xp 00001000 08:01 1049600                            /bin/p")
        XCTAssertEqual(lines.last, "bffdf000-c0000000 rw-p 00000000 00:00 0                                  [stack]")
        XCTAssertEqual(lines[lines.count - 2], "b7ffe000-b8000000 rw-p 00033000 08:01 1835011                            /usr/lib/i386-linux-gnu/ld-linux.so.2")
        XCTAssertFalse(out.contains("vsyscall"))
    }

    // mmap MAP_FIXED at TASK_SIZE fails with ENOMEM; an ELF64 program cannot be exec'd.
    func testTaskSizeAndExec() throws {
        let (out, status) = try runScenario("""
            machine arch=x86-32 ram=1G
            spawn /bin/p
            mmap 0xc0000000 4K rw- private,anonymous,fixed
            import /usr/bin/ls
            exec /usr/bin/ls
            """)
        XCTAssertTrue(out.contains("mmap(0xc0000000, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM"), out)
        XCTAssertTrue(out.contains("ENOEXEC: '/usr/bin/ls': an x86-64 ELF64 file cannot run on a 32-bit x86 kernel (it has no 64-bit mode)"), out)
        XCTAssertNotEqual(status, 0)
    }
}
