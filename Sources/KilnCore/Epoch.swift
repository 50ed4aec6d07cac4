import Foundation

/// SOURCE_DATE_EPOCH handling shared by every writer (packages, indexes, layers, SBOMs).
public enum SourceDateEpoch {
    /// The value of $SOURCE_DATE_EPOCH when it is a valid non-negative integer.
    public static func fromEnvironment() -> Int64? {
        guard let s = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"],
              let v = Int64(s.trimmingCharacters(in: .whitespaces)), v >= 0 else { return nil }
        return v
    }

    /// RFC 3339 UTC (`2023-11-14T22:13:20Z`) for SBOMs and OCI `created`.
    public static func rfc3339(_ epoch: Int64) -> String {
        var t = time_t(epoch)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1,
                      Int(tmv.tm_mday), Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec))
    }
}

/// kiln's own version, embedded in provenance, input keys and `kiln version`.
public enum KilnVersion {
    public static let current = "0.1.0"
}
