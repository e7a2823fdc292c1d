/// The machine a trace is replayed on: parsed from command-line flags or a JSON configuration
/// file with the same keys (`{"ram": "4G", "stlb": "2048:16", "pcid": true}`), and used by
/// sweeps as the axes of their grids.
import Foundation
import MMCore

/// A bad machine option, with the option's name.
public struct MachineOptionError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The keys a machine configuration accepts, in the order reports list them.
public let machineOptionKeys = ["ram", "swap", "cpus", "l1d", "l1d2m", "l1d1g", "l1i", "l1i2m", "stlb", "stlb1g",
                                 "pwc-pml4e", "pwc-pdpte", "pwc-pde", "pcid", "thp", "fault-around", "seed", "arch", "hugepages"]

/// Returns the byte count of a size such as `4096`, `64K`, `2M`, `4G` or `0x1000` (suffixes are
/// powers of 1024), or nil when it is malformed or overflows.
public func parseSize(_ text: String) -> UInt64? {
    var t = text.trimmingCharacters(in: .whitespaces)
    var shift: UInt64 = 0
    if t.hasSuffix("B") || t.hasSuffix("b") { t.removeLast() }
    if t.hasSuffix("i") { t.removeLast() }
    if let last = t.last, "KMGTkmgt".contains(last) {
        shift = ["K": 10, "M": 20, "G": 30, "T": 40][String(last).uppercased()]!
        t.removeLast()
    }
    let v: UInt64?
    if t.hasPrefix("0x") || t.hasPrefix("0X") { v = UInt64(t.dropFirst(2), radix: 16) } else { v = UInt64(t) }
    guard let n = v else { return nil }
    let (r, o) = n.multipliedReportingOverflow(by: UInt64(1) << shift)
    return o ? nil : r
}

/// Returns a size as the shortest exact "N", "NK", "NM" or "NG".
public func formatSize(_ b: UInt64) -> String {
    for (s, u) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] where b != 0 && b & ((UInt64(1) << UInt64(s)) - 1) == 0 {
        return "\(b >> UInt64(s))\(u)"
    }
    return "\(b)"
}

/// Applies one option (`key` = `value`, both as text) to `config`. Throws `MachineOptionError`
/// naming the key for an unknown key or a bad value.
public func applyMachineOption(_ config: inout MachineConfig, _ key: String, _ value: String) throws {
    func geometry() throws -> TLBGeometry {
        let p = value.split(separator: ":")
        guard p.count == 2, let e = Int(p[0]), let w = Int(p[1]), e > 0, w > 0 else {
            throw MachineOptionError("--\(key): expected ENTRIES:WAYS (e.g. 64:4), got '\(value)'")
        }
        return TLBGeometry(entries: e, ways: w)
    }
    func bool() throws -> Bool {
        switch value.lowercased() {
        case "true", "on", "1", "yes": return true
        case "false", "off", "0", "no": return false
        default: throw MachineOptionError("--\(key): expected on or off, got '\(value)'")
        }
    }
    switch key {
    case "ram":
        guard let b = parseSize(value), b >= 16 << 20, b <= 1 << 40 else {
            throw MachineOptionError("--ram: expected a size from 16M to 1T, got '\(value)'")
        }
        config.ramBytes = b
    case "swap":
        guard let b = parseSize(value), b <= 1 << 40 else { throw MachineOptionError("--swap: expected a size up to 1T, got '\(value)'") }
        config.swapBytes = b
    case "cpus":
        guard let n = Int(value), n >= 1, n <= MachineConfig.maxCPUs else {
            throw MachineOptionError("--cpus: expected 1 to \(MachineConfig.maxCPUs), got '\(value)'")
        }
        config.cpus = n
    case "l1d": config.tlb.l1d = try geometry()
    case "l1d2m": config.tlb.l1d2M = try geometry()
    case "l1d1g": config.tlb.l1d1G = try geometry()
    case "l1i": config.tlb.l1i = try geometry()
    case "l1i2m": config.tlb.l1i2M = try geometry()
    case "stlb": config.tlb.stlb = try geometry()
    case "stlb1g": config.tlb.stlb1G = try geometry()
    case "pwc-pml4e", "pwc-pdpte", "pwc-pde":
        guard let n = Int(value), n >= 0, n <= TLBConfig.maxWalkCacheEntries else {
            throw MachineOptionError("--\(key): expected 0 (off) to \(TLBConfig.maxWalkCacheEntries) entries, got '\(value)'")
        }
        if key == "pwc-pml4e" { config.tlb.pwcPML4E = n } else if key == "pwc-pdpte" { config.tlb.pwcPDPTE = n } else { config.tlb.pwcPDE = n }
    case "pcid": config.tlb.pcid = try bool()
    case "thp":
        guard let m = THPMode(rawValue: value) else { throw MachineOptionError("--thp: expected always, madvise or never, got '\(value)'") }
        config.thp = m
    case "fault-around":
        guard let n = Int(value), n >= 1, n <= 512, n & (n - 1) == 0 else {
            throw MachineOptionError("--fault-around: expected a power of two from 1 to 512 pages, got '\(value)'")
        }
        config.faultAroundPages = n
    case "hugepages":
        guard let (m2, g1) = MachineConfig.parseHugepages(value) else {
            throw MachineOptionError("--hugepages: expected 2M:N,1G:M (either part optional; + also separates; 0 = none), got '\(value)'")
        }
        config.hugepages2M = m2; config.hugepages1G = g1
    case "seed":
        guard let n = UInt64(value) else { throw MachineOptionError("--seed: expected an unsigned integer, got '\(value)'") }
        config.seed = n
    case "arch":
        guard let a = Architecture(name: value) else {
            throw MachineOptionError("--arch: expected one of \(PageTableFormat.machineNames.joined(separator: ", ")), got '\(value)'")
        }
        if let why = PageTableFormat.rejection(a) { throw MachineOptionError("--arch: \(why)") }
        config.arch = a
    default:
        throw MachineOptionError("unknown machine option '\(key)' (known: \(machineOptionKeys.joined(separator: ", ")))")
    }
    do { try config.tlb.validate() } catch { throw MachineOptionError("--\(key): \(error)") }
}

/// Returns the text form of a JSON value for `applyMachineOption` (strings as they are, numbers
/// in decimal, booleans as on/off), or nil for arrays, objects and null.
public func jsonOptionText(_ v: Any) -> String? {
    if let s = v as? String { return s }
    if let b = v as? Bool, String(describing: type(of: v)).contains("Bool") { return b ? "on" : "off" }
    if let n = v as? NSNumber { return n.stringValue }
    if let i = v as? Int { return String(i) }
    return nil
}

/// Reads a JSON configuration file (an object of machine options) into `config`. Throws
/// `MachineOptionError` naming the file for unreadable JSON, a non-object, or a bad option.
public func applyMachineConfigFile(_ config: inout MachineConfig, path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else { throw MachineOptionError("\(path): cannot read the configuration file") }
    let obj: Any
    do { obj = try JSONSerialization.jsonObject(with: data) } catch {
        throw MachineOptionError("\(path): not valid JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "parse error"))")
    }
    guard let dict = obj as? [String: Any] else { throw MachineOptionError("\(path): expected a JSON object of machine options") }
    for key in dict.keys.sorted() {
        guard let text = jsonOptionText(dict[key]!) else { throw MachineOptionError("\(path): '\(key)' must be a string, a number or a boolean") }
        do { try applyMachineOption(&config, key, text) } catch let e as MachineOptionError {
            throw MachineOptionError("\(path): \(e.message)")
        }
    }
}

/// A one-line description of a machine, as replay reports print it.
public func describeMachine(_ c: MachineConfig) -> String {
    "RAM \(formatSize(c.ramBytes)), swap \(formatSize(c.swapBytes)), \(c.cpus) CPU\(c.cpus == 1 ? "" : "s"), "
        + c.tlb.arrays.map { "\($0.0) \($0.1.entries)x\($0.1.ways)" }.joined(separator: ", ")
        + ", walk caches PML4E \(c.tlb.pwcPML4E) PDPTE \(c.tlb.pwcPDPTE) PDE \(c.tlb.pwcPDE), PCID \(c.tlb.pcid ? "on" : "off"), THP \(c.thp.rawValue), "
        + "fault-around \(c.faultAroundPages) page\(c.faultAroundPages == 1 ? "" : "s")"
        + (c.arch == .x86_64(la57: false) ? "" : ", arch \(c.arch)")
        + (c.hugepages2M + c.hugepages1G > 0 ? ", hugetlb pools \(c.hugepagesText)" : "")
}
