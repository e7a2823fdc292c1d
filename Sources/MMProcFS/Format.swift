/// Text helpers shared by the renderers: the seq_file/printf primitives procfs and procps use.

/// printf-style number and column formatting, written once so every renderer pads the same way.
enum Fmt {
    /// `%*s`: `s` right-aligned in a field of `width` characters (never truncated).
    static func right(_ s: String, _ width: Int) -> String {
        let n = s.count
        return n >= width ? s : String(repeating: " ", count: width - n) + s
    }

    /// `%-*s`: `s` left-aligned in a field of `width` characters (never truncated).
    static func left(_ s: String, _ width: Int) -> String {
        let n = s.count
        return n >= width ? s : s + String(repeating: " ", count: width - n)
    }

    /// `%*lu`: an unsigned decimal right-aligned in `width` columns.
    /// Linux: seq_put_decimal_ull_width(), fs/seq_file.c
    static func dec<T: BinaryInteger>(_ v: T, _ width: Int = 0) -> String {
        right(String(v), width)
    }

    /// Lower-case hexadecimal with at least `minDigits` digits, zero-padded.
    /// Linux: seq_put_hex_ll(), fs/seq_file.c
    static func hex(_ v: UInt64, minDigits: Int = 1) -> String {
        let s = String(v, radix: 16)
        return s.count >= minDigits ? s : String(repeating: "0", count: minDigits - s.count) + s
    }

    /// `%.1f` of a value, rounded exactly as glibc does (round half to even on the exact binary value).
    /// Exact for any `Float` input: a float times 10 fits a double's significand.
    static func oneDecimal(_ v: Double) -> String {
        let tenths = (v * 10).rounded(.toNearestOrEven)
        let n = UInt64(tenths)
        return "\(n / 10).\(n % 10)"
    }

    /// A `%*pb` bitmap of `nbits` bits: comma-separated 32-bit hex chunks, the first one only as wide
    /// as its bits need. Linux: bitmap_string(), lib/vsprintf.c
    static func bitmap(nbits: Int, set: [Int]) -> String {
        let chunks = max(1, (nbits + 31) / 32)
        var words = [UInt32](repeating: 0, count: chunks)
        for b in set where b >= 0 && b < nbits { words[b / 32] |= 1 << UInt32(b % 32) }
        var parts: [String] = []
        var chunkBits = nbits % 32 == 0 ? 32 : nbits % 32
        for i in stride(from: chunks - 1, through: 0, by: -1) {
            parts.append(hex(UInt64(words[i]), minDigits: (chunkBits + 3) / 4))
            chunkBits = 32
        }
        return parts.joined(separator: ",")
    }

    /// A `%*pbl` bitmap list: ranges such as "0-1,4". Linux: bitmap_list_string(), lib/vsprintf.c
    static func bitmapList(_ set: [Int]) -> String {
        let bits = Array(Set(set)).sorted()
        var out: [String] = []
        var i = 0
        while i < bits.count {
            var j = i
            while j + 1 < bits.count && bits[j + 1] == bits[j] + 1 { j += 1 }
            out.append(i == j ? String(bits[i]) : "\(bits[i])-\(bits[j])")
            i = j + 1
        }
        return out.joined(separator: ",")
    }
}
