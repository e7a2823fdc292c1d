/// PLACEHOLDERS for the report renderers; the ProcFS work replaces this file.
import MMCore

/// Renders procfs files and command outputs from a kernel's state.
public enum ProcFS {
    /// /proc/meminfo.
    public static func meminfo(_ k: Kernel) -> String { "" }
    /// /proc/PID/maps.
    public static func maps(_ k: Kernel, _ t: Task) -> String { "" }
    /// /proc/PID/smaps.
    public static func smaps(_ k: Kernel, _ t: Task) -> String { "" }
    /// /proc/PID/status.
    public static func status(_ k: Kernel, _ t: Task) -> String { "" }
    /// /proc/buddyinfo.
    public static func buddyinfo(_ k: Kernel) -> String { "" }
}

/// Units of free(1).
public enum FreeUnit: Sendable { case bytes, kibi, mebi, gibi, human }

/// free(1) from procps.
public enum Free {
    /// The output of `free` with the given unit flag.
    public static func render(_ k: Kernel, unit: FreeUnit) -> String { "" }
}
