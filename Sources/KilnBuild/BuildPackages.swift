import Foundation
import KilnCore

/// Where each `environment.contents.packages` name of a recipe comes from, decided before any step
/// runs: a package kiln built (its tree is installed into the build root), a Debian package installed
/// in the toolchain root (its `/var/lib/dpkg/status`: the pinned bookworm root or the Debian host), or
/// — for a root without dpkg — the commands the name stands for on the root's PATH. A name nothing
/// provides fails the build up front with the list and the fix, instead of `command not found` at step 3.
///
/// Wolfi names map to Debian ones through `debianNames` (documented in README "Build-time packages").
public enum BuildPackages {
    /// How one name is provided.
    public enum Source: Sendable, Equatable {
        case kiln
        case debian(String)
        case commands([String])
    }

    public struct Resolution: Sendable, Equatable {
        public var provided: [(name: String, source: Source)]
        public var missing: [String]
        public static func == (a: Resolution, b: Resolution) -> Bool {
            a.missing == b.missing && a.provided.map(\.name) == b.provided.map(\.name) && a.provided.map(\.source) == b.provided.map(\.source)
        }
    }

    /// Wolfi (melange) package names → the Debian packages that provide the same thing (any one).
    /// Wolfi's meta-packages: `build-base` is Debian's build-essential (gcc, g++, make, libc6-dev);
    /// `busybox` and `wolfi-base` are the base utilities every Debian root has (coreutils, sed, grep,
    /// findutils, tar, dash); `ca-certificates-bundle` is ca-certificates (/etc/ssl/certs/ca-certificates.crt).
    public static let debianNames: [String: [String]] = [
        "build-base": ["build-essential"], "busybox": ["coreutils"], "wolfi-base": ["coreutils"],
        "ca-certificates-bundle": ["ca-certificates"], "ca-certificates": ["ca-certificates"],
        "pkgconf": ["pkgconf", "pkg-config"], "pkgconf-dev": ["pkgconf", "pkg-config"], "samurai": ["ninja-build"],
        "ninja": ["ninja-build"], "go": ["golang-go"], "rust": ["rustc"], "cargo-auditable": ["cargo"],
        "zlib": ["zlib1g"], "zlib-dev": ["zlib1g-dev"], "openssl-dev": ["libssl-dev"], "libssl3": ["libssl3"],
        "libcrypto3": ["libssl3"], "glibc-dev": ["libc6-dev"], "linux-headers": ["linux-libc-dev"],
        "gettext-dev": ["gettext"], "ncurses-dev": ["libncurses-dev"], "readline-dev": ["libreadline-dev"],
        "expat-dev": ["libexpat1-dev"], "bzip2-dev": ["libbz2-dev"], "xz-dev": ["liblzma-dev"], "zstd-dev": ["libzstd-dev"],
        "curl-dev": ["libcurl4-openssl-dev"], "python3-dev": ["python3-dev"], "R": ["r-base-core"], "R-dev": ["r-base-dev"],
        "nodejs": ["nodejs"], "ruby-3.2": ["ruby"], "php": ["php-cli"],
    ]

    /// Wolfi names that one of kiln's own recipes provides under its own name: Wolfi's
    /// `ca-certificates-bundle` is the bundle file /etc/ssl/certs/ca-certificates.crt, which kiln's
    /// `ca-certificates` recipe (recipes/ca-certificates.yaml) makes.
    public static let kilnNames: [String: [String]] = ["ca-certificates-bundle": ["ca-certificates"]]

    /// `names` and the kiln package names they stand for (`kilnNames`): what to look for in kiln's builds.
    public static func withKilnNames(_ names: [String]) -> [String] {
        var out = names
        for n in names { for k in kilnNames[DependencyAtom.name(of: n) ?? ""] ?? [] where !out.contains(k) { out.append(k) } }
        return out.sorted()
    }

    /// For a root without a dpkg database: commands standing for a name (all must be on PATH).
    public static let commandsFor: [String: [String]] = [
        "build-base": ["cc", "make", "ld", "ar"], "busybox": ["sh", "sed", "grep", "find", "tar"],
        "wolfi-base": ["sh", "ls"], "pkgconf": ["pkg-config"], "samurai": ["ninja"], "rust": ["rustc", "cargo"],
    ]

    /// The Debian packages installed in `root` (from its dpkg status file); nil when it has none.
    public static func installedDebianPackages(root: String) -> Set<String>? {
        let path = (root == "/" ? "" : root) + "/var/lib/dpkg/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var out = Set<String>()
        for stanza in text.components(separatedBy: "\n\n") {
            var name: String?, installed = false
            for line in stanza.split(separator: "\n") {
                if line.hasPrefix("Package: ") { name = String(line.dropFirst(9)).trimmingCharacters(in: .whitespaces) }
                if line.hasPrefix("Status: "), line.hasSuffix(" installed"), line.contains("install ok") { installed = true }
            }
            if let name, installed { out.insert(name) }
        }
        return out
    }

    /// Resolves `names` (constraints such as `>=1` dropped): `fromKiln` are those kiln's own builds
    /// provide; the rest are looked up in the root's Debian packages, then as commands on its PATH.
    public static func resolve(_ names: [String], fromKiln: [String], root: String, layers: [String] = []) -> Resolution {
        let debs = installedDebianPackages(root: root)
        let roots = [root == "/" ? "" : root] + layers
        var r = Resolution(provided: [], missing: [])
        for raw in names {
            guard let name = DependencyAtom.name(of: raw) else { continue }      // `!conflict`: nothing to provide
            if fromKiln.contains(raw) || fromKiln.contains(name) || (kilnNames[name] ?? []).contains(where: fromKiln.contains) {
                r.provided.append((name, .kiln)); continue
            }
            var candidates = debianNames[name] ?? []
            candidates += [name]
            if name.hasSuffix("-dev") && !name.hasPrefix("lib") { candidates.append("lib" + name) }
            if let debs, let d = candidates.first(where: { debs.contains($0) }) { r.provided.append((name, .debian(d))); continue }
            let cmds = commandsFor[name] ?? [name]
            if cmds.allSatisfy({ BuildRootCheck.has($0, in: roots) }) { r.provided.append((name, .commands(cmds))); continue }
            r.missing.append(name)
        }
        return r
    }

    /// The error for `missing` names: what each would be in Debian and how to provide it.
    public static func missingError(_ missing: [String], what: String, toolchain: Toolchain, location: SourceLocation) -> KilnMessage {
        var lines = ["\(location): \(what): build-time packages that nothing provides (no step was run):"]
        for m in missing {
            let deb = (debianNames[m] ?? []).first ?? (m.hasSuffix("-dev") && !m.hasPrefix("lib") ? "lib\(m)" : m)
            lines.append("  \(m) — not built by kiln (no tree in <out>/trees), and Debian package \(deb) is not in the \(toolchain.name) root")
        }
        let debs = missing.map { (debianNames[$0] ?? []).first ?? $0 }
        lines.append("fix: build a kiln recipe providing it first (kiln build that-recipe.yaml), or "
                     + (toolchain.isHost ? "install \(debs.joined(separator: " ")) on the host (apt-get install), or build with `--toolchain debian` with "
                        : "add ") + "\(debs.joined(separator: " ")) in `include` of recipes/toolchain/bookworm.lock (make toolchain-lock)")
        return KilnMessage(lines.joined(separator: "\n"))
    }
}
