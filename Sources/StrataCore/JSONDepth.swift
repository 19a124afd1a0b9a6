/// A pre-check for JSON from upstream: Foundation's parsers recurse once per nesting
/// level, so `[[[[...` a few hundred thousand deep would overflow the stack before any
/// size limit helps. Manifests and token answers nest a handful of levels.
public enum JSONDepth {
    /// Whether `bytes` nest objects and arrays at most `limit` deep (strings skipped).
    public static func isWithin(_ bytes: [UInt8], limit: Int = 64) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == 0x5c { escaped = true } else if byte == 0x22 { inString = false }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x5b, 0x7b:
                depth += 1
                if depth > limit { return false }
            case 0x5d, 0x7d: depth -= 1
            default: break
            }
        }
        return true
    }
}
