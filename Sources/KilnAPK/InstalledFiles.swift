import Foundation

extension APKIndex {
    /// The files apk's installed database (`lib/apk/db/installed`) records per package: `F:` names a
    /// directory, each following `R:` a file in it. Returns path (relative, no leading `/`) → package
    /// name; a path claimed twice keeps the first owner. The package records themselves come from
    /// `parseInstalledDatabase`; this reads the per-file lines that one skips.
    public static func installedFileOwners(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        var pkg = "", dir = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let raw = line.hasSuffix("\r") ? line.dropLast() : line
            if raw.isEmpty { pkg = ""; dir = ""; continue }
            guard raw.count >= 2, raw[raw.index(after: raw.startIndex)] == ":" else { continue }
            let v = String(raw.dropFirst(2))
            switch raw.first! {
            case "P": pkg = v
            case "F": dir = v
            case "R":
                let p = dir.isEmpty ? v : dir + "/" + v
                if out[p] == nil, !pkg.isEmpty { out[p] = pkg }
            default: break
            }
        }
        return out
    }
}
