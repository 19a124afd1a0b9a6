/// Text from outside (an upstream's header or JSON, a bundle) made safe to print on an
/// operator's terminal or in a log line: control characters (C0, DEL, C1) and the
/// bidirectional overrides become `\u{…}`, so an escape sequence shows as text instead
/// of moving the cursor, setting a window title or clearing the screen.
public enum PrintableText {
    /// `text` with every control character escaped, cut to at most `limit` characters
    /// (an ellipsis marks the cut).
    public static func make(_ text: String, limit: Int = 1024) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "…"
                break
            }
            if isControl(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }

    /// Whether `text` would print as it is.
    public static func isPrintable(_ text: String) -> Bool {
        !text.unicodeScalars.contains(where: isControl)
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < 0x20 || (0x7f...0x9f).contains(v) || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v)
    }
}
