import Foundation
import KilnAPK
import KilnCore
import KilnFIPS

/// An error in an image config; names file:line:col. KilnCore's `InputError`, the type every YAML
/// input of kiln reports (`ConfigError(location, message)` is an `.invalidValue`).
public typealias ConfigError = InputError

/// An image config in apko's dialect (field names as apko spells them), plus kiln's additions:
/// `name`, `version` (the tag `<name>:<version>`), `variants` (extra packages per variant) and
/// `os-release`. See README "Image configs".
public struct ImageConfig {
    public struct Package: Sendable { public var dependency: APKDependency; public var location: SourceLocation }
    public struct Entrypoint: Sendable { public var type: String?; public var command: String?; public var shellFragment: String? }
    public struct Group: Sendable { public var name: String; public var gid: Int; public var members: [String] }
    public struct User: Sendable {
        public var name: String; public var uid: Int; public var gid: Int?
        public var shell: String?; public var homedir: String?
    }
    public struct PathEntry: Sendable {
        public enum Kind: String, Sendable { case directory, emptyFile = "empty-file", symlink, hardlink, permissions }
        public var path: String; public var kind: Kind
        public var uid: Int?; public var gid: Int?; public var permissions: UInt32?
        public var source: String?; public var recursive: Bool
        public var location: SourceLocation
    }
    public struct Layering: Sendable { public var strategy: String; public var budget: Int }
    public struct Repo: Sendable {
        public var text: String         // as written (goes into etc/apk/repositories)
        public var path: String?        // resolved local directory
        public var location: SourceLocation
    }

    public var file: String
    public var name: String?
    public var version: String?
    public var repositories: [Repo] = []
    public var keyring: [String] = []           // resolved paths
    public var packages: [Package] = []
    public var entrypoint: Entrypoint?
    public var cmd: String?
    public var workDir: String?
    public var stopSignal: String?
    public var groups: [Group] = []
    public var users: [User] = []
    public var runAs: String?
    public var environment: [String: String] = [:]
    public var annotations: [String: String] = [:]
    public var paths: [PathEntry] = []
    public var archs: [String] = []
    public var layering: Layering?
    public var variantPackages: [String: [Package]] = [:]
    public var vcsURL: String?
    public var osRelease: [String: String] = [:]
    public var volumes: [String] = []
    /// `certificates.additional`: installed as usr/local/share/ca-certificates/NAME-SHA256.crt and
    /// appended to etc/ssl/certs/ca-certificates.crt when the image has that bundle (as apko does).
    public var certificates: [Certificate] = []
    /// `contents.runtime_keyring`: public keys installed into etc/apk/keys for `apk add` at run time
    /// (not trusted for the image's own packages), as apko does.
    public var runtimeKeyring: [RuntimeKey] = []
    /// kiln's own `fips: {allow: [{path, finding, reason}]}`: boundary-audit findings this image
    /// accepts, each with its reason (carried in the manifest annotation `dev.kiln.fips.allow`;
    /// `kiln audit` prints them as allowed, never hides them).
    public var fipsAllow: [FIPSAllowance] = []
    public var warnings: [String] = []
    /// Every file `load` read: this config first, then its `include`s (depth first). The nightly
    /// hashes them all into the image node's key.
    public var sourceFiles: [String] = []

    public init(file: String) { self.file = file }

    /// The image name: `name:` or the config file name without extension.
    public var imageName: String {
        name ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    }

    /// Loads `path`, following `include`s (the included file is the base; this file's values win,
    /// lists are appended). Unknown keys become warnings; errors name file:line:col.
    /// `includePaths`: where `include:` is looked for after the working directory and the config's
    /// own directory (apko's include paths).
    public static func load(path: String, includePaths: [String] = []) throws -> ImageConfig {
        let cfg = try load(path: path, seen: [], includePaths: includePaths)
        if cfg.name == nil { try checkImageName(cfg.imageName, at: SourceLocation(file: path)) }
        return cfg
    }

    /// The image name becomes a directory (`out/images/<name>`) and the tag's repository, so it must
    /// be one safe path component: ASCII letters, digits and `. _ -`, starting with a letter or digit.
    public static func checkImageName(_ name: String, at location: SourceLocation) throws {
        guard isSafeComponent(name, first: { $0.isLetter || $0.isNumber }) else {
            throw ConfigError(location, "name: `\(name)` is not a valid image name (letters, digits and . _ - only, "
                                  + "starting with a letter or digit, at most 128 characters — no `/` or `..`)")
        }
    }

    /// The version is the image tag (OCI: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
    public static func checkTag(_ version: String, at location: SourceLocation) throws {
        guard isSafeComponent(version, first: { $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw ConfigError(location, "version: `\(version)` is not a valid image tag (letters, digits and . _ - only, "
                                  + "not starting with `.` or `-`, at most 128 characters)")
        }
    }

    static func isSafeComponent(_ s: String, first: (Character) -> Bool) -> Bool {
        guard let c = s.first, c.isASCII, first(c), s.count <= 128 else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    static func load(path: String, seen: [String], includePaths: [String] = []) throws -> ImageConfig {
        let abs = URL(fileURLWithPath: path).standardizedFileURL.path
        if seen.contains(abs) {
            throw ConfigError(SourceLocation(file: path), "include cycle: \((seen + [abs]).joined(separator: " → "))")
        }
        guard let data = try YAMLLimits.readFile(path) else {
            throw ConfigError(SourceLocation(file: path), "cannot read image config (does the file exist?)")
        }
        let text = String(decoding: data, as: UTF8.self)
        var cfg = try parse(text, file: path, seen: seen + [abs], includePaths: includePaths)
        cfg.sourceFiles.insert(path, at: 0)
        return cfg
    }

    /// `over` wins for scalars and map keys; lists are base then over.
    static func merge(base: ImageConfig, over: ImageConfig) -> ImageConfig {
        var m = over
        m.name = over.name ?? base.name
        m.version = over.version ?? base.version
        m.repositories = base.repositories + over.repositories.filter { o in !base.repositories.contains { $0.text == o.text } }
        m.keyring = base.keyring + over.keyring.filter { !base.keyring.contains($0) }
        m.packages = base.packages + over.packages
        m.entrypoint = over.entrypoint ?? base.entrypoint
        m.cmd = over.cmd ?? base.cmd
        m.workDir = over.workDir ?? base.workDir
        m.stopSignal = over.stopSignal ?? base.stopSignal
        m.groups = base.groups + over.groups
        m.users = base.users + over.users
        m.runAs = over.runAs ?? base.runAs
        m.environment = base.environment.merging(over.environment) { _, o in o }
        m.annotations = base.annotations.merging(over.annotations) { _, o in o }
        m.osRelease = base.osRelease.merging(over.osRelease) { _, o in o }
        m.paths = base.paths + over.paths
        m.archs = over.archs.isEmpty ? base.archs : over.archs
        m.layering = over.layering ?? base.layering
        m.variantPackages = base.variantPackages.merging(over.variantPackages) { b, o in b + o }
        m.vcsURL = over.vcsURL ?? base.vcsURL
        m.volumes = base.volumes + over.volumes
        m.certificates = over.certificates.isEmpty ? base.certificates : over.certificates   // apko: the including file's wins
        m.runtimeKeyring = base.runtimeKeyring + over.runtimeKeyring.filter { !base.runtimeKeyring.contains($0) }   // apko: concatenated, duplicates dropped
        m.fipsAllow = base.fipsAllow + over.fipsAllow
        m.warnings = base.warnings + over.warnings
        m.sourceFiles = over.sourceFiles + base.sourceFiles
        return m
    }
}
