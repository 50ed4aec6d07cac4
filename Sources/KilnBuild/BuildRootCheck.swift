import Foundation
import KilnCore
import KilnRecipe

/// Checks, before the first step, that the build (or test) root has what the plan's pipelines
/// declare in `needs.commands`: a pipeline whose toolchain is missing fails up front, naming the tool
/// and how to get it, instead of dying mid-build with `go: command not found`.
public enum BuildRootCheck {
    /// The PATH a sandbox step runs with, relative to the root.
    public static let searchPath = ["usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"]

    /// Debian packages that provide the commands kiln's pipelines declare (for the advice).
    public static let debianPackages: [String: String] = [
        "go": "golang-go", "cargo": "cargo", "rustc": "rustc", "perl": "perl", "python": "python-is-python3",
        "python3": "python3", "ruby": "ruby", "gem": "ruby", "phpize": "php-dev", "Rscript": "r-base-core",
        "objcopy": "binutils", "readelf": "binutils", "strip": "binutils", "ldd": "libc-bin", "make": "make",
        "pkgconf": "pkgconf", "meson": "meson", "ninja": "ninja-build", "cmake": "cmake", "autoreconf": "autoconf",
        "patch": "patch", "git": "git", "gcc": "gcc", "cc": "gcc",
    ]

    /// True when `command` is an entry (file or link — a link may point into the root's own
    /// `/etc/alternatives`) in a PATH directory of one of `roots`.
    public static func has(_ command: String, in roots: [String]) -> Bool {
        guard !command.isEmpty, !command.contains("/") else { return false }
        for root in roots {
            for dir in searchPath {
                var st = stat()
                if lstat("\(root)/\(dir)/\(command)", &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR { return true }
            }
        }
        return false
    }

    /// Those of `required` that none of `roots` (the toolchain root, then package layers) has.
    public static func missing(_ required: [RequiredCommand], roots: [String]) -> [RequiredCommand] {
        required.filter { !has($0.command, in: roots) }
    }

    /// Throws, listing every missing command with the pipeline that needs it and the fix.
    public static func check(_ required: [RequiredCommand], toolchain: Toolchain, layers: [String], what: String) throws {
        let roots = [toolchain.rootPath == "/" ? "" : toolchain.rootPath] + layers
        let gone = missing(required, roots: roots)
        guard !gone.isEmpty else { return }
        var lines = ["\(what): the \(toolchain.name) toolchain root lacks commands its pipelines need (no step was run):"]
        for m in gone {
            let deb = debianPackages[m.command].map { " (Debian package \($0))" } ?? ""
            lines.append("  \(m.command)\(deb) — needed by `\(m.pipeline)` at \(m.location)")
        }
        let debs = Array(Set(gone.compactMap { debianPackages[$0.command] })).sorted()
        let fix = toolchain.isHost
            ? "install \(debs.isEmpty ? "them" : debs.joined(separator: " ")) on the host (apt-get install), or build with "
              + "`--toolchain debian` after adding \(debs.isEmpty ? "them" : "them") to `include` in recipes/toolchain/bookworm.lock"
            : "add \(debs.isEmpty ? "the packages providing them" : debs.joined(separator: " ")) to `include` in the toolchain lock "
              + "(recipes/toolchain/bookworm.lock) and re-pin it (make toolchain-lock)"
        lines.append("fix: \(fix), or build a kiln recipe that provides them first (it is installed into the build root).")
        throw KilnMessage(lines.joined(separator: "\n"))
    }
}
