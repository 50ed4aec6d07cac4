/// Text made safe for HTML element content and quoted attribute values: the one escaping rule of
/// kiln's HTML pages (the nightly report, the audit page), which never embed scripts or external
/// resources, so escaping these five characters is all a value needs.
public enum HTMLText {
    /// `s` with `&`, `<`, `>`, `"` and `'` replaced by their character references.
    public static func escape(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.unicodeScalars.append(c)
            }
        }
        return o
    }
}
