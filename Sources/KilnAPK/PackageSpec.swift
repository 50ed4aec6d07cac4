import Foundation
import KilnCore
import KilnRecipe

/// Everything the APK writer needs to know about one package (the main package or a subpackage),
/// besides its file tree. Filled by `kiln build` from a recipe, or by hand in tests.
public struct PackageSpec: Sendable, Equatable, Codable {
    public struct Dependencies: Sendable, Equatable, Codable {
        /// `depend` lines as written (`foo`, `foo>=1.2`, `so:libfoo.so.1`, `cmd:sh`, `!conflict`).
        public var runtime: [String] = []
        /// `provides` lines (`virtual`, `cmd:x=1.0-r0`, `so:libfoo.so.1=1`).
        public var provides: [String] = []
        /// `replaces` lines (package names whose files this package may overwrite).
        public var replaces: [String] = []
        public var providerPriority: Int?
        public var replacesPriority: Int?
        public init(runtime: [String] = [], provides: [String] = [], replaces: [String] = [],
                    providerPriority: Int? = nil, replacesPriority: Int? = nil) {
            self.runtime = runtime; self.provides = provides; self.replaces = replaces
            self.providerPriority = providerPriority; self.replacesPriority = replacesPriority
        }
    }

    /// melange's package `options`: turn the automatic dependency scan off, fully or in part.
    public struct Options: Sendable, Equatable, Codable {
        public var noProvides = false
        public var noDepends = false
        public var noCommands = false
        public init(noProvides: Bool = false, noDepends: Bool = false, noCommands: Bool = false) {
            self.noProvides = noProvides; self.noDepends = noDepends; self.noCommands = noCommands
        }
    }

    /// Install scripts; they become `.pre-install` etc. in the control member (mode 0755).
    public struct Scriptlets: Sendable, Equatable, Codable {
        public var preInstall: String?
        public var postInstall: String?
        public var preDeinstall: String?
        public var postDeinstall: String?
        public var preUpgrade: String?
        public var postUpgrade: String?
        /// `.trigger` script; `triggerPaths` are the directory globs written as `triggers = ...`.
        public var trigger: String?
        public var triggerPaths: [String] = []
        public init() {}

        /// (control member name, script) for the scripts that are set, in a fixed order.
        public var members: [(name: String, script: String)] {
            var m: [(String, String)] = []
            if let s = preInstall { m.append((".pre-install", s)) }
            if let s = postInstall { m.append((".post-install", s)) }
            if let s = preDeinstall { m.append((".pre-deinstall", s)) }
            if let s = postDeinstall { m.append((".post-deinstall", s)) }
            if let s = preUpgrade { m.append((".pre-upgrade", s)) }
            if let s = postUpgrade { m.append((".post-upgrade", s)) }
            if let s = trigger { m.append((".trigger", s)) }
            return m.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        }
    }

    /// A source the package was built from (goes into the SBOM as `GENERATED_FROM`).
    public struct Source: Sendable, Equatable, Codable {
        public var uri: String
        public var sha256: String?
        public init(uri: String, sha256: String?) { self.uri = uri; self.sha256 = sha256 }
    }

    /// Owner override for one path in the data member (default root:root, 0:0).
    public struct Owner: Sendable, Equatable, Codable {
        public var uid: Int, gid: Int, uname: String, gname: String
        public init(uid: Int, gid: Int, uname: String, gname: String) {
            self.uid = uid; self.gid = gid; self.uname = uname; self.gname = gname
        }
    }

    public var name: String
    public var version: String
    /// The `-rN` release number (melange's `epoch`).
    public var epoch: Int
    public var description: String = ""
    public var url: String = ""
    public var license: String = ""
    /// Source package name (`origin`); defaults to `name`.
    public var origin: String?
    public var commit: String?
    public var maintainer: String?
    /// `x86_64`, `aarch64`, `noarch`, ...
    public var arch: String
    public var dependencies = Dependencies()
    public var options = Options()
    public var scriptlets = Scriptlets()
    /// `install_if` (space-separated in .PKGINFO).
    public var installIf: [String] = []
    public var sources: [Source] = []
    /// SBOM supplier, e.g. `Organization: Example Corp` (a bare name is written as `Organization: NAME`).
    public var supplier: String?
    /// purl namespace / distro qualifier (`pkg:apk/<distro>/...`).
    public var distro: String = "kiln"
    /// `builddate` and every mtime: SOURCE_DATE_EPOCH.
    public var buildDate: Int64 = 0
    /// Per-path owner overrides (paths relative to the package root, like `usr/bin/x`).
    public var owners: [String: Owner] = [:]

    public init(name: String, version: String, epoch: Int, arch: String) {
        self.name = name; self.version = version; self.epoch = epoch; self.arch = arch
    }

    /// `<version>-r<epoch>`, the APK `pkgver`.
    public var fullVersion: String { "\(version)-r\(epoch)" }
    /// `<name>-<version>-r<epoch>.apk`
    public var fileName: String { "\(name)-\(fullVersion).apk" }
    /// Path of the per-package SBOM inside the package.
    public var sbomPath: String { "var/lib/db/sbom/\(name)-\(fullVersion).spdx.json" }

    /// Checks the fields apk is strict about; the error names the package and the field.
    public func validate() throws {
        guard APKName.isValid(name) else {
            throw APKError.invalidSpec("package name \"\(name)\" is not a valid apk package name (letters, digits, and + - . _ only; must start with a letter or digit)")
        }
        guard APKVersion.isValid(version), !version.contains("-") else {
            throw APKError.invalidSpec("package \(name): version \"\(version)\" is not a valid apk version (e.g. 1.2.3, 1.2.3a, 1.2.3_rc1, 1.2.3_p2)")
        }
        guard epoch >= 0 else { throw APKError.invalidSpec("package \(name): epoch must be >= 0, got \(epoch)") }
        guard APKName.isValidArch(arch) else {
            throw APKError.invalidSpec("package \(name): arch \"\(arch)\" is not valid (e.g. x86_64, aarch64, noarch)")
        }
        for (field, value) in [("url", url), ("license", license), ("origin", origin ?? ""), ("commit", commit ?? ""),
                               ("maintainer", maintainer ?? "")] where value.contains(where: { $0.isNewline }) {
            throw APKError.invalidSpec("package \(name): \(field) must be one line")
        }
        for d in dependencies.runtime + dependencies.provides + dependencies.replaces + installIf
        where d.isEmpty || d.contains(where: { $0.isWhitespace }) {
            throw APKError.invalidSpec("package \(name): dependency \"\(d)\" must be one word without spaces")
        }
        if !scriptlets.triggerPaths.isEmpty && scriptlets.trigger == nil {
            throw APKError.invalidSpec("package \(name): trigger paths given but no trigger script")
        }
        if buildDate < 0 { throw APKError.invalidSpec("package \(name): build date (SOURCE_DATE_EPOCH) must be >= 0") }
    }
}

/// Names and architectures the way apk accepts them.
public enum APKName {
    /// True when apk accepts `name` (the rule lives in KilnRecipe, which checks recipes with it).
    public static func isValid(_ name: String) -> Bool { PackageSyntax.isValidName(name) }

    public static func isValidArch(_ arch: String) -> Bool {
        !arch.isEmpty && arch.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }
    }

    /// The apk architecture of this machine (`x86_64`, `aarch64`, ...).
    public static var hostArch: String {
        var u = utsname()
        uname(&u)
        let m = withUnsafeBytes(of: &u.machine) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        switch m {
        case "arm64": return "aarch64"
        case "i686", "i586", "i486", "i386": return "x86"
        case "armv7l": return "armv7"
        default: return m
        }
    }
}
