/// The auxiliary vector as `LD_SHOW_AUXV=1` prints it (glibc 2.36, the reference machine's).
import MMCore

/// LD_SHOW_AUXV output.
public enum Auxv {
    /// How glibc prints one entry type: its label (padded) and the value format.
    enum Format { case dec, hex, hexPrefixed, str }
    static let known: [UInt64: (String, Format)] = [
        AT_SYSINFO_EHDR: ("SYSINFO_EHDR", .hexPrefixed), AT_MINSIGSTKSZ: ("MINSIGSTKSZ", .dec),
        AT_HWCAP: ("HWCAP", .hex), AT_PAGESZ: ("PAGESZ", .dec), AT_CLKTCK: ("CLKTCK", .dec),
        AT_PHDR: ("PHDR", .hexPrefixed), AT_PHENT: ("PHENT", .dec), AT_PHNUM: ("PHNUM", .dec),
        AT_BASE: ("BASE", .hexPrefixed), AT_FLAGS: ("FLAGS", .hexPrefixed), AT_ENTRY: ("ENTRY", .hexPrefixed),
        AT_UID: ("UID", .dec), AT_EUID: ("EUID", .dec), AT_GID: ("GID", .dec), AT_EGID: ("EGID", .dec),
        AT_SECURE: ("SECURE", .dec), AT_RANDOM: ("RANDOM", .hexPrefixed), AT_HWCAP2: ("HWCAP2", .hexPrefixed),
        AT_EXECFN: ("EXECFN", .str), AT_PLATFORM: ("PLATFORM", .str),
    ]

    /// The text ld.so prints for `auxv` (one line per entry, AT_NULL not printed): the label
    /// padded to 22 columns, then the value in glibc's format for that type; types this glibc
    /// does not know (AT_RSEQ_*) print as `AT_??? (0xN): 0xV`. Linux/glibc: _dl_show_auxv(),
    /// elf/dl-sysdep.c
    public static func ldShowAuxv(_ auxv: [AuxvEntry]) -> String {
        var out = ""
        for a in auxv where a.type != AT_NULL {
            guard let (label, fmt) = known[a.type] else {
                out += "AT_??? (0x\(String(a.type, radix: 16))): 0x\(String(a.value, radix: 16))\n"
                continue
            }
            let name = Fmt.left("AT_\(label):", 22)
            switch fmt {
            case .dec: out += name + String(a.value) + "\n"
            case .hex: out += name + String(a.value, radix: 16) + "\n"
            case .hexPrefixed: out += name + "0x" + String(a.value, radix: 16) + "\n"
            case .str: out += name + (a.string ?? "0x" + String(a.value, radix: 16)) + "\n"
            }
        }
        return out
    }
}
