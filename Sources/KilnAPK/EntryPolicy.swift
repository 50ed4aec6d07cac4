import Foundation

/// What a package's data member may hold, checked by `APKReader` before kiln calls a package OK or
/// signs it into an index: entries that no installer should accept are refused, naming the entry
/// and the reason. The path checks see the final path, whether it came from the ustar header, a PAX
/// `path` record or a GNU long name.
enum APKEntryPolicy {
    /// Throws `APKError.unsafeEntry` for the first entry that is not allowed.
    static func check(_ entries: [APKTarEntry], file: String, allowAbsoluteSymlinks: Bool) throws {
        var symlinks = Set<String>()
        var files = Set<String>()
        for e in entries {
            func refuse(_ why: String) -> APKError { .unsafeEntry(file: file, entry: e.path, reason: why) }
            let comps = try components(e.path, refuse)
            for i in 1..<max(comps.count, 1) where symlinks.contains(comps[0..<i].joined(separator: "/")) {
                throw refuse("written through the symlink \(comps[0..<i].joined(separator: "/")) earlier in the package")
            }
            switch e.kind {
            case .characterDevice, .blockDevice: throw refuse("device node (packages may not create devices)")
            case .fifo: throw refuse("fifo (packages may not create fifos)")
            case .other(let t): throw refuse("unsupported tar typeflag \(t)")
            case .symlink:
                try checkSymlink(e.linkTarget ?? "", from: comps, allowAbsolute: allowAbsoluteSymlinks, refuse)
                symlinks.insert(e.path)
            case .hardlink:
                let t = e.linkTarget ?? ""
                guard !t.hasPrefix("/") else { throw refuse("hardlink to the absolute path \(t)") }
                guard !t.split(separator: "/").contains("..") else { throw refuse("hardlink target \(t) leaves the package root") }
                guard files.contains(t) else { throw refuse("dangling hardlink: \(t) is not a regular file earlier in the package") }
            case .file: files.insert(e.path)
            case .directory: break
            }
        }
    }

    /// The path's components; refuses empty, absolute, `.` and `..` paths.
    static func components(_ path: String, _ refuse: (String) -> APKError) throws -> [Substring] {
        guard !path.isEmpty else { throw refuse("empty path") }
        guard !path.hasPrefix("/") else { throw refuse("absolute path") }
        let comps = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !comps.contains(where: { $0 == ".." }) else { throw refuse("path contains `..`") }
        guard !comps.contains(where: { $0 == "." || $0.isEmpty }) else { throw refuse("path has an empty or `.` component") }
        return comps
    }

    /// Refuses an empty or absolute target (unless allowed) and one whose `..` climbs out of the
    /// root, resolved lexically from the link's directory.
    static func checkSymlink(_ target: String, from comps: [Substring], allowAbsolute: Bool, _ refuse: (String) -> APKError) throws {
        guard !target.isEmpty else { throw refuse("symlink with an empty target") }
        if target.hasPrefix("/") && !allowAbsolute { throw refuse("symlink to the absolute path \(target) (not allowed here)") }
        var depth = target.hasPrefix("/") ? 0 : comps.count - 1
        for c in target.split(separator: "/") {
            switch c {
            case ".": continue
            case "..":
                depth -= 1
                if depth < 0 { throw refuse("symlink target \(target) leaves the package root") }
            default: depth += 1
            }
        }
    }
}
