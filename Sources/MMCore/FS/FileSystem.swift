/// The simulated file system: a flat table of inodes, named by absolute path. Files are either
/// synthetic (a size and, optionally, bytes a scenario wrote) or imported from real host files
/// (their bytes, and the device and inode numbers the host reports, so that /proc/PID/maps of a
/// loaded binary matches the real kernel's).

/// Which kind of file system an inode lives on; it decides how its cached pages are counted.
public enum FileSystemKind: Sendable, Equatable {
    /// A disk file system (ext4): cached pages are `Cached:` and written back to disk.
    case disk
    /// tmpfs/shmem: pages are `Shmem:`, swap-backed, never written back.
    case tmpfs
}

/// One file: its identity, size and contents. The page cache of the file lives with it.
/// Linux: struct inode + struct address_space, include/linux/fs.h
public final class Inode {
    /// Inode number (`st_ino`).
    public let ino: UInt64
    /// The path it was created under.
    public let path: String
    public let devMajor: UInt32
    public let devMinor: UInt32
    public let kind: FileSystemKind
    /// File size in bytes (`i_size`).
    public var size: UInt64
    /// The bytes on "disk"; reads past `data.count` but below `size` read as `fill`.
    public var data: [UInt8]
    /// True for the stand-in file of a synthetic program image (`spawn` of a path that was never
    /// created or imported): it has a size and a page cache but no ELF contents to load.
    public internal(set) var isProgramImage = false
    /// The byte a synthetic file holds past `data` (0 for a sparse file).
    public internal(set) var fill: UInt8 = 0
    /// Byte ranges past `data` punched out of a filled file (they read as zeros).
    var holes: [Range<UInt64>] = []
    /// The page cache: page index → frame holding that page of the file (`i_pages`).
    /// Every frame here carries the page cache's reference and PG_uptodate.
    public internal(set) var pages: [UInt64: PFN] = [:]
    /// Pages written back to `data` since the file was created (this file's share of `nr_written`).
    public internal(set) var writtenBack = 0
    /// For a shmem object behind a MAP_SHARED|MAP_ANONYMOUS mapping: its identity (`VMA.shmemObject`).
    public internal(set) var shmemObject: UInt64 = 0

    init(ino: UInt64, path: String, devMajor: UInt32, devMinor: UInt32, kind: FileSystemKind, size: UInt64, data: [UInt8]) {
        self.ino = ino; self.path = path; self.devMajor = devMajor; self.devMinor = devMinor
        self.kind = kind; self.size = size; self.data = data
    }

    /// What a VMA mapping this file records (path, device and inode for /proc/PID/maps).
    public var mappedFile: MappedFile {
        MappedFile(path: path, devMajor: devMajor, devMinor: devMinor, inode: ino)
    }

    /// Whether its cached pages are shmem (tmpfs, or the object of a shared anonymous mapping).
    public var isShmem: Bool { kind == .tmpfs }

    /// Cached page indices in ascending order (deterministic listings and walks).
    public var cachedIndices: [UInt64] { pages.keys.sorted() }

    /// The byte at `offset` as stored on "disk" (zero past `data`).
    func storedByte(_ offset: UInt64) -> UInt8 {
        if offset < UInt64(data.count) { return data[Int(offset)] }
        guard offset < size, fill != 0 else { return 0 }
        return holes.contains(where: { $0.contains(offset) }) ? 0 : fill
    }

    /// Whether [start, end) overlaps a punched hole.
    func overlapsHole(_ start: UInt64, _ end: UInt64) -> Bool { holes.contains { $0.lowerBound < end && start < $0.upperBound } }

    /// Makes [start, end) of the stored bytes read as zeros (fallocate PUNCH_HOLE on "disk").
    func punchStored(_ start: UInt64, _ end: UInt64) {
        let end = min(end, size)
        guard start < end else { return }
        let dataEnd = UInt64(data.count)
        var off = start
        while off < min(end, dataEnd) { data[Int(off)] = 0; off += 1 }
        if fill != 0 && end > dataEnd { holes.append(max(start, dataEnd)..<end) }
    }

    /// Extends `data` to `count` bytes with what the file holds there (its fill byte).
    func materialize(upTo count: UInt64) {
        guard UInt64(data.count) < count else { return }
        let start = UInt64(data.count)
        data.reserveCapacity(Int(count))
        for off in start..<count { data.append(storedByte(off)) }
    }

    /// Pages the file spans: ceil(size / PAGE_SIZE).
    public var sizeInPages: UInt64 { (size >> PAGE_SHIFT) + (size & PAGE_MASK_LOW == 0 ? 0 : 1) }
}

/// Low bits of a byte address within its page.
let PAGE_MASK_LOW: UInt64 = PAGE_SIZE - 1

/// Why a file-system operation failed.
public enum FileSystemError: Error, Equatable, Sendable, CustomStringConvertible {
    case notAbsolute(String)
    case exists(String)
    case notFound(String)
    case tooLarge(String, UInt64)
    public var description: String {
        switch self {
        case .notAbsolute(let p): return "'\(p)' is not an absolute path"
        case .exists(let p): return "'\(p)' already exists"
        case .notFound(let p): return "'\(p)': no such file"
        case .tooLarge(let p, let s): return "'\(p)': size \(s) is larger than the model allows (\(FileSystem.maxFileSize) bytes)"
        }
    }
}

/// The table of files. Linux: the dentry cache and the superblocks, reduced to a path map.
public final class FileSystem {
    /// Largest file the model accepts (1 TiB): keeps page indices and offsets far from overflow.
    public static let maxFileSize: UInt64 = 1 << 40
    /// Device numbers shown for synthetic disk files (ext4 on /dev/sda1 = 8:1) and tmpfs (0:25).
    public static let diskDevice: (UInt32, UInt32) = (8, 1)
    public static let tmpfsDevice: (UInt32, UInt32) = (0, 25)

    public private(set) var byPath: [String: Inode] = [:]
    public private(set) var byIno: [UInt64: Inode] = [:]
    /// Paths in creation order (deterministic listing).
    public private(set) var order: [String] = []
    /// Next synthetic inode number.
    var nextIno: UInt64 = 2_000_001
    /// The shmem objects of shared anonymous mappings, by `VMA.shmemObject` (not in the path table:
    /// Linux names each one "/dev/zero (deleted)").
    public internal(set) var shmemObjects: [UInt64: Inode] = [:]
    /// Next shmem object identity (machine-wide, so that objects of different processes differ).
    var nextShmemObject: UInt64 = 1

    public init() {}

    /// Creates a file. `ino`/`dev` override the synthetic numbers (used for host imports).
    /// Throws when the path is not absolute, already exists, or the size is out of range.
    @discardableResult
    public func create(path: String, size: UInt64, data: [UInt8] = [], kind: FileSystemKind = .disk,
                       ino: UInt64? = nil, dev: (UInt32, UInt32)? = nil, fill: UInt8 = 0) throws -> Inode {
        guard path.hasPrefix("/") else { throw FileSystemError.notAbsolute(path) }
        return try register(path: path, size: size, data: data, kind: kind, ino: ino, dev: dev, fill: fill)
    }

    /// Creates a file under any path, even a relative one: a synthetic program image run as
    /// "./prog" records that name in its VMAs. Throws when the path exists or the size is out of range.
    @discardableResult
    func register(path: String, size: UInt64, data: [UInt8] = [], kind: FileSystemKind = .disk,
                  ino: UInt64? = nil, dev: (UInt32, UInt32)? = nil, fill: UInt8 = 0) throws -> Inode {
        guard byPath[path] == nil else { throw FileSystemError.exists(path) }
        guard size <= FileSystem.maxFileSize else { throw FileSystemError.tooLarge(path, size) }
        var number = ino ?? nextIno
        while byIno[number] != nil { number &+= 1 }
        if ino == nil { nextIno = number &+ 1 }
        let d = dev ?? (kind == .tmpfs ? FileSystem.tmpfsDevice : FileSystem.diskDevice)
        let inode = Inode(ino: number, path: path, devMajor: d.0, devMinor: d.1, kind: kind,
                          size: size, data: Array(data.prefix(Int(size))))
        inode.fill = fill
        byPath[path] = inode
        byIno[number] = inode
        order.append(path)
        return inode
    }

    /// Symbolic links: link path → target path (e.g. /lib64/ld-linux-x86-64.so.2 → the real file).
    public private(set) var links: [String: String] = [:]

    /// The file at `path` (following symbolic links, at most 40 as in Linux), or nil.
    public func lookup(_ path: String) -> Inode? {
        var p = path
        for _ in 0..<40 {
            if let i = byPath[p] { return i }
            guard let t = links[p] else { return nil }
            p = t
        }
        return nil
    }

    /// Creates a symbolic link `path` → `target`. Throws when `path` is not absolute or already names
    /// a file or a link. Linux: do_symlinkat(), fs/namei.c
    public func symlink(_ path: String, to target: String) throws {
        guard path.hasPrefix("/") else { throw FileSystemError.notAbsolute(path) }
        guard byPath[path] == nil, links[path] == nil else { throw FileSystemError.exists(path) }
        links[path] = target
    }

    /// Every inode with a page cache: files in creation order, then shmem objects by identity.
    public var allInodes: [Inode] {
        order.compactMap { byPath[$0] } + shmemObjects.keys.sorted().compactMap { shmemObjects[$0] }
    }

    /// Returns a new identity for the shmem object of a shared anonymous mapping; the object
    /// itself is created on its first fault. Linux: shmem_zero_setup(), mm/shmem.c
    func newShmemObjectID() -> UInt64 {
        let id = nextShmemObject
        nextShmemObject &+= 1
        return id
    }

    /// The shmem object `id`, created (size `size`, on the internal tmpfs mount) if it does not
    /// exist yet. Linux: shmem_kernel_file_setup("dev/zero"), mm/shmem.c
    func shmemObject(_ id: UInt64, size: UInt64) -> Inode {
        if let i = shmemObjects[id] { return i }
        let i = Inode(ino: 0, path: "/dev/zero (deleted)", devMajor: 0, devMinor: 1, kind: .tmpfs, size: size, data: [])
        i.shmemObject = id
        shmemObjects[id] = i
        return i
    }

    /// Forgets the shmem object `id` (its pages must have been freed).
    func removeShmemObject(_ id: UInt64) { shmemObjects[id] = nil }


    /// The file a VMA maps, or nil (the model's synthetic images map files it never created).
    public func inode(for file: MappedFile) -> Inode? {
        guard let i = byIno[file.inode], i.path == file.path else { return nil }
        return i
    }
}
