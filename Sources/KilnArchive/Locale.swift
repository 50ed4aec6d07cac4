import Foundation

/// libarchive converts names between UTF-8 and the current locale's charset; in the C locale a
/// non-ASCII name fails to convert (3.6 even crashes on the NULL). Run libarchive calls with a
/// UTF-8 LC_CTYPE for this thread only (uselocale), never touching the process locale.
enum UTF8Locale {
    // Safe: an immutable `let`, initialised once (Swift's lazy static initialisation is thread-safe),
    // and a locale_t is only ever passed to uselocale(), which never modifies it and may be used by
    // several threads at once (POSIX).
    nonisolated(unsafe) private static let utf8: locale_t? = {
        for name in ["C.UTF-8", "C.utf8", "en_US.UTF-8"] {
            if let l = newlocale(LC_CTYPE_MASK, name, nil) { return l }
        }
        return nil
    }()

    static func with<T>(_ body: () throws -> T) rethrows -> T {
        guard let l = utf8 else { return try body() }
        let old = uselocale(l)
        defer { uselocale(old) }
        return try body()
    }
}
