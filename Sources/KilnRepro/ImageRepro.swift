import Foundation
import KilnAttest
import KilnCore
import KilnCrypto
import KilnImage
import KilnOCI

/// What `kiln repro CONFIG` re-assembles and compares: an explicit context instead of the
/// working directory and this process's umask and environment.
public struct ImageReproRequest: Sendable {
    /// The image config (apko dialect).
    public var configPath: String
    /// The output root (absolute): the rebuild goes to `<out>/repro/image-<name>/`.
    public var outputRoot: String
    /// The published layout (default `<out>/images/<name>`).
    public var published: String?
    /// The repository the image installs from (default `<out>/packages`).
    public var repository: String?
    /// A public key trusted for the repository's packages (used when the file exists).
    public var packageKey: String?
    /// What to vary: of the variations, image assembly has `build-path`, `umask`, `timezone`, `locale`.
    public var variations: ReproVariations
    /// The kiln command line (executable and global options such as `--fips`) that assembles the
    /// image again, as `kiln image`, in a child process: the varied umask, TZ and locale are that
    /// child's, so this process's are never changed.
    public var kiln: [String]
    /// The child's environment before the variations are applied (default: this process's).
    public var environment: [String: String]?

    /// A request with the required parts.
    public init(configPath: String, outputRoot: String, variations: ReproVariations, kiln: [String]) {
        self.configPath = configPath; self.outputRoot = outputRoot; self.variations = variations; self.kiln = kiln
    }
}

/// An image repro: the outcome (one pair per image manifest), where it was written, and which
/// of the compared images exist in the published layout (those get the signed verdict attached).
public struct ImageReproResult: Sendable {
    /// The verdict and the comparisons.
    public var outcome: ReproOutcome
    /// `<out>/repro/image-<name>`.
    public var directory: String
    /// The published layout compared with.
    public var published: String
    /// Pair names (tags) present in the published layout.
    public var publishedImages: [String]
}

/// The image re-assembly check.
public enum ImageRepro {
    /// The variations image assembly has (it runs no build steps).
    public static let applicable = ["build-path", "umask", "timezone", "locale"]

    /// Assembles the config again (fresh directory, varied child environment) from the same
    /// repository and compares every image manifest — manifest, config and each layer entry by
    /// entry — with the published layout; signatures and attestations in the layout are not part
    /// of the image and are left out.
    public static func reproduce(_ r: ImageReproRequest) throws -> ImageReproResult {
        let cfg = try ImageConfig.load(path: r.configPath)
        let published = r.published ?? "\(r.outputRoot)/images/\(cfg.imageName)"
        guard FileManager.default.fileExists(atPath: published + "/oci-layout") else {
            throw KilnMessage("no published image layout \(published) to compare with: run `kiln image` / `kiln nightly` first or pass --against LAYOUT")
        }
        let applied = r.variations.names.filter { applicable.contains($0) }
        let dir = "\(r.outputRoot)/repro/image-\(cfg.imageName)"
        let dest = applied.contains("build-path") ? "\(dir)/layout-varied-\(getpid())" : "\(dir)/layout"
        try? FileManager.default.removeItem(atPath: dest)
        defer { try? FileManager.default.removeItem(atPath: dest) }
        try assemble(r, applied: applied, dest: dest)
        let a = try ArtifactLoader.load(published), b = try ArtifactLoader.load(dest)
        let ia = images(a), ib = images(b)
        var pairs: [ReproPair] = []
        for label in Set(ia.keys).union(ib.keys).sorted() {
            let ea = ia[label] ?? [], eb = ib[label] ?? []
            let ma = ea.first { $0.path == label + "/manifest.json" }?.inlineData ?? Data()
            let mb = eb.first { $0.path == label + "/manifest.json" }?.inlineData ?? Data()
            let name = String(label.dropFirst("manifests/".count))
            let arta = Artifact(format: "oci-image", path: "\(published):\(name)", digest: "sha256:" + (try Digest.sha256Hex(ma)), raw: ma, entries: ea)
            let artb = Artifact(format: "oci-image", path: "\(dest):\(name)", digest: "sha256:" + (try Digest.sha256Hex(mb)), raw: mb, entries: eb)
            pairs.append(ReproPair(name: name, comparison: try Differ.compare(arta, artb)))
        }
        let shown = try ReproVariations(applied.isEmpty ? "none" : applied.joined(separator: ","))
        return ImageReproResult(outcome: ReproOutcome(target: "image:\(cfg.imageName)", variant: "all", variations: shown, pairs: pairs),
                                directory: dir, published: published,
                                publishedImages: pairs.map(\.name).filter { ia["manifests/" + $0] != nil })
    }

    /// Runs `kiln image CONFIG` into `dest` in a child process: umask 0002 (through `sh -c umask`),
    /// TZ and LANG/LC_ALL set in its environment when those variations apply.
    static func assemble(_ r: ImageReproRequest, applied: [String], dest: String) throws {
        guard let kiln = r.kiln.first else { throw KilnMessage("image repro: no kiln executable to assemble the image with") }
        var env = r.environment ?? ProcessInfo.processInfo.environment
        if applied.contains("timezone") { env["TZ"] = r.variations.environment.timeZone ?? "KLN-14" }
        if applied.contains("locale") { env["LANG"] = "fr_CH.UTF-8"; env["LC_ALL"] = "fr_CH.UTF-8" }
        var args = Array(r.kiln.dropFirst()) + ["image", r.configPath, "--repo", r.repository ?? "\(r.outputRoot)/packages", "--out", dest]
        if let key = r.packageKey, FileManager.default.fileExists(atPath: key) { args += ["--keyring", key] }
        let child = applied.contains("umask")
            ? Subprocess("/bin/sh", ["-c", "umask 0002 && exec \"$0\" \"$@\"", kiln] + args, environment: env)
            : Subprocess(kiln, args, environment: env)
        let run = try child.run()
        guard run.succeeded else {
            throw KilnMessage("image repro: re-assembling \(r.configPath) failed (exit \(run.status)):\n\(run.stderrString.suffix(4000))")
        }
    }

    /// The image manifests of a layout's entries, by `manifests/<label>` (signature and attestation tags left out).
    static func images(_ x: Artifact) -> [String: [ArtifactEntry]] {
        var out: [String: [ArtifactEntry]] = [:]
        for e in x.entries where e.path.hasPrefix("manifests/") {
            let label = String(e.path.dropFirst("manifests/".count).prefix { $0 != "/" })
            if CosignTag.isArtifactTag(label) { continue }
            out["manifests/\(label)", default: []].append(e)
        }
        return out
    }
}
