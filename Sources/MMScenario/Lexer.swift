/// Splitting one scenario line into words and quoted strings.

/// One token of a scenario line.
struct Token: Equatable {
    enum Kind: Equatable { case word, string }
    var kind: Kind
    /// The word as written, or the string's contents with escapes resolved.
    var text: String
    /// 1-based column of the first character of the token.
    var column: Int
    /// For strings: the source column of each character of `text` (for errors inside `${…}`).
    var columns: [Int] = []
}

/// Splits scenario lines into tokens.
enum Lexer {
    /// Returns the tokens of `line` (comments removed), or throws a `LineError` for an
    /// unterminated string, an unknown escape or a quote inside a word.
    static func tokenize(_ line: String) throws -> [Token] {
        let chars = Array(line)
        var tokens: [Token] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\r" { i += 1; continue }
            if c == "#" { break }
            if c == "\"" {
                let start = i
                var text = "", cols: [Int] = []
                i += 1
                var closed = false
                while i < chars.count {
                    let d = chars[i]
                    if d == "\"" { closed = true; i += 1; break }
                    if d == "\\" {
                        guard i + 1 < chars.count else { break }
                        let e = chars[i + 1]
                        let mapped: Character
                        switch e {
                        case "n": mapped = "\n"
                        case "t": mapped = "\t"
                        case "\\": mapped = "\\"
                        case "\"": mapped = "\""
                        case "$": mapped = "\u{1}"   // a literal dollar, protected from interpolation
                        default:
                            throw LineError(column: i + 1, message: "unknown escape sequence '\\\(e)' (use \\n, \\t, \\\\, \\\" or \\$)")
                        }
                        text.append(mapped); cols.append(i + 1)
                        i += 2
                        continue
                    }
                    text.append(d); cols.append(i + 1)
                    i += 1
                }
                guard closed else { throw LineError(column: start + 1, message: "unterminated string") }
                if i < chars.count, chars[i] != " ", chars[i] != "\t", chars[i] != "\r" {
                    throw LineError(column: i + 1, message: "expected a space after the closing quote")
                }
                tokens.append(Token(kind: .string, text: text, column: start + 1, columns: cols))
                continue
            }
            let start = i
            var word = ""
            while i < chars.count, chars[i] != " ", chars[i] != "\t", chars[i] != "\r" {
                if chars[i] == "\"" { throw LineError(column: i + 1, message: "unexpected '\"' inside a word") }
                word.append(chars[i]); i += 1
            }
            tokens.append(Token(kind: .word, text: word, column: start + 1))
        }
        return tokens
    }
}
