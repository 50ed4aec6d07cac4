import ArgumentParser
import Foundation
import KilnOCI
import KilnPipeline
import KilnAPK
import KilnAttest
import KilnBuild
import KilnCore
import KilnCrypto
import KilnImage
import KilnRecipe
import KilnRepro

/// `kiln repro`: prove a package rebuilds bit-for-bit, or explain the difference.
/// Exit status: 0 reproducible, 1 not reproducible, 2 could not run.
struct ReproCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repro",
        abstract: "Rebuild a recipe in a varied environment and compare with the published packages (exit 0 reproducible, 1 not, 2 could not run).",
        discussion: """
        kiln repro RECIPE rebuilds the recipe's packages from the same inputs in a fresh workspace,
        with the environment varied (--vary: build-path, time, umask, timezone, locale, hostname,
        domain, user, cpus, dir-order; default all), and compares each with the published one (default: the local
        repository <out>/packages, or --against REPO): first by digest, then entry by entry
        (only-on-one-side, mode, owner, mtime, size, link target, content digest), with a unified
        diff of the first lines of differing text files, the ELF sections that differ, and the first
        byte where the files diverge. The verdict is signed as an in-toto attestation (predicate
        \(ReproOutcome.predicateType)) in <out>/repro/<package>/.

        kiln repro --compare A B compares two .apk files, tar/tar.gz layers or OCI image layouts.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var packaging: PackagingOptions

    @Argument(help: "Recipe to rebuild.")
    var target: String?

    @Option(name: .long, help: "Build variant (a build option of the recipe), default standard.")
    var variant: String?

    @Option(name: .long, help: "Repository holding the published packages, standard and variant (default: <out>/packages).")
    var against: String?

    @Option(name: .long, help: "Variations: all (default), a comma list, or all,-NAME to leave some out.")
    var vary: String = "all"

    @Option(name: .long, help: "Output directory.")
    var out: String = "out"

    @Option(name: .long, help: "Content-addressed source cache the rebuild fetches from (default: <out>/sources), as for kiln build.")
    var sourceCache: String?

    @Option(name: .long, help: "Toolchain root: `host`, `debian` (the pinned bookworm root) or a root directory.")
    var toolchain: String = "host"

    @Option(name: .long, help: "ECDSA key that signs the attestation (default keys/cosign-dev.key; skipped with a note when that is missing).")
    var attestKey: String?

    @Flag(name: .long, help: "Run diffoscope on differing pairs when it is installed.")
    var diffoscope = false

    @Option(name: .long, parsing: .upToNextOption, help: "Just compare these two artifacts (A B): .apk, tar(.gz) or OCI layout.")
    var compare: [String] = []

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() throws {
        do {
            if !compare.isEmpty {
                guard compare.count == 2, target == nil else {
                    throw ReproError.invalid("give two artifacts to compare: kiln repro --compare A.apk B.apk")
                }
                var report = try Differ.compare(try ArtifactLoader.load(compare[0]), try ArtifactLoader.load(compare[1]))
                if diffoscope && !report.reproducible {
                    report.diffoscopeReport = runDiffoscope(compare[0], compare[1], html: absolutePath(out) + "/repro/diffoscope-\(getpid()).html")
                }
                try emit(json ? try encodeJSON(ReproJSON(report: report)) : Data(report.render().utf8))
                if !report.reproducible { throw ExitCode(1) }
                return
            }
            guard let target else {
                throw ReproError.invalid("name a recipe to rebuild (kiln repro recipes/NAME.yaml) or use --compare A B")
            }
            let variations = try ReproVariations(vary)
            guard let text = FileManager.default.contents(atPath: target) else {
                throw ReproError.unreadable(path: target, reason: "no such recipe or image config")
            }
            if !String(decoding: text, as: UTF8.self).split(separator: "\n").contains(where: { $0.hasPrefix("package:") }) {
                try reproImage(configPath: target, variations: variations)
                return
            }
            var request = RecipeReproRequest(recipePath: target, variant: variant, outputRoot: absolutePath(out),
                                             publishedRepository: against.map(absolutePath), variations: variations,
                                             toolchain: try reproToolchain(toolchain, recipePath: target, variant: variant, out: out),
                                             signer: try packaging.signer(), distro: packaging.distro, supplier: packaging.supplier)
            request.diffoscope = diffoscope
            request.sourceCache = sourceCache.map(absolutePath)
            let outcome: (outcome: ReproOutcome, directory: String)
            do { outcome = try RecipeRepro.reproduce(request) } catch let e as APKError {
                guard case .untrusted = e else { throw e }
                // kiln repro trusts exactly the public key of its --signing-key (it has no --key/--keyring).
                throw KilnMessage("\(String(describing: e).replacingOccurrences(of: " (pass the matching key with --key or --keyring DIR)", with: ""))\n"
                                 + "kiln repro trusts the public key beside --signing-key (\(packaging.signingKey).pub): pass the key that signed the repository with --signing-key")
            }
            let attestation = try attest(outcome.outcome, directory: outcome.directory)
            if json {
                try emit(try encodeJSON(ReproOutcomeJSON(outcome: outcome.outcome, attestation: attestation)))
            } else {
                try emit(Data(outcome.outcome.render(notes: attestation.map { ["attestation: \($0)"] } ?? []).utf8))
            }
            if !outcome.outcome.reproducible { throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
        } catch let e as ValidationError {
            throw ExitStatus(code: 2, message: e.message)
        } catch {
            throw ExitStatus(code: 2, message: "\(error)")
        }
    }

    func emit(_ d: Data) throws { FileHandle.standardOutput.write(d) }

    /// An image config: assemble it again (fresh directory, kiln's umask/TZ/locale varied) from the
    /// same repository and compare every image manifest — manifest, config and each layer entry by
    /// entry — with the published layout (<out>/images/<name>, or --against LAYOUT); signatures and
    /// attestations in the layout are not part of the image and are left out. The signed verdict is
    /// attached to each image in the published layout as an attestation.
    func reproImage(configPath: String, variations: ReproVariations) throws {
        let outAbs = absolutePath(out)
        let cfg = try ImageConfig.load(path: configPath)
        let published = against.map(absolutePath) ?? "\(outAbs)/images/\(cfg.imageName)"
        guard FileManager.default.fileExists(atPath: published + "/oci-layout") else {
            throw KilnMessage("no published image layout \(published) to compare with: run `kiln image` / `kiln nightly` first or pass --against LAYOUT")
        }
        let applied = variations.names.filter { ["build-path", "umask", "timezone", "locale"].contains($0) }
        let dir = "\(outAbs)/repro/image-\(cfg.imageName)"
        let dest = applied.contains("build-path") ? "\(dir)/layout-varied-\(getpid())" : "\(dir)/layout"
        try? FileManager.default.removeItem(atPath: dest)
        defer { try? FileManager.default.removeItem(atPath: dest) }
        var opts = ImageBuildOptions()
        opts.repositories = ["\(outAbs)/packages"]
        let pub = absolutePath(packaging.signingKey) + ".pub"
        if FileManager.default.fileExists(atPath: pub) { opts.extraKeys = [pub] }
        let env = ProcessInfo.processInfo.environment
        let oldMask = applied.contains("umask") ? umask(0o002) : nil
        if applied.contains("timezone") { setenv("TZ", variations.environment.timeZone ?? "KLN-14", 1) }
        if applied.contains("locale") { setenv("LANG", "fr_CH.UTF-8", 1); setenv("LC_ALL", "fr_CH.UTF-8", 1) }
        defer {
            if let oldMask { umask(oldMask) }
            for k in ["TZ", "LANG", "LC_ALL"] { if let v = env[k] { setenv(k, v, 1) } else { unsetenv(k) } }
        }
        _ = try ImageBuilder(config: cfg, options: opts).build(out: dest)
        let a = try ArtifactLoader.load(published), b = try ArtifactLoader.load(dest)
        func images(_ x: Artifact) -> [String: [ArtifactEntry]] {
            var out: [String: [ArtifactEntry]] = [:]
            for e in x.entries where e.path.hasPrefix("manifests/") {
                let label = String(e.path.dropFirst("manifests/".count).prefix { $0 != "/" })
                if CosignTag.isArtifactTag(label) { continue }
                out["manifests/\(label)", default: []].append(e)
            }
            return out
        }
        let ia = images(a), ib = images(b)
        var pairs: [ReproPair] = []
        for label in Set(ia.keys).union(ib.keys).sorted() {
            let ea = ia[label] ?? [], eb = ib[label] ?? []
            let ma = ea.first { $0.path == label + "/manifest.json" }?.data ?? Data()
            let mb = eb.first { $0.path == label + "/manifest.json" }?.data ?? Data()
            let name = String(label.dropFirst("manifests/".count))
            let arta = Artifact(format: "oci-image", path: "\(published):\(name)", digest: "sha256:" + (try Digest.sha256Hex(ma)), raw: ma, entries: ea)
            let artb = Artifact(format: "oci-image", path: "\(dest):\(name)", digest: "sha256:" + (try Digest.sha256Hex(mb)), raw: mb, entries: eb)
            pairs.append(ReproPair(name: name, comparison: try Differ.compare(arta, artb)))
        }
        let shown = try ReproVariations(applied.isEmpty ? "none" : applied.joined(separator: ","))
        let outcome = ReproOutcome(target: "image:\(cfg.imageName)", variant: "all", variations: shown, pairs: pairs)
        var attestation: String?
        let keyPath = attestKey ?? "keys/cosign-dev.key"
        if FileManager.default.fileExists(atPath: keyPath) {
            let key = try SigningKeys.loadPrivate(path: keyPath)
            try outcome.writeAttestation(to: dir + "/repro.intoto.json", key: key)
            attestation = dir + "/repro.intoto.json"
            let layout = try OCILayout(path: published)
            for p in pairs where ia["manifests/" + p.name] != nil {
                let single = ReproOutcome(target: outcome.target, variant: outcome.variant, variations: shown, pairs: [p])
                try Attestor.attest(layout: layout, manifestDigest: p.comparison.digestA,
                                    statements: [(ReproOutcome.predicateType, try JSON.parse(try single.statement()))], key: key)
            }
        } else if attestKey != nil {
            throw KilnMessage("--attest-key \(keyPath): no such key (make one with `kiln keygen --type ecdsa`)")
        } else {
            Progress.shared.log("kiln: no attestation written: \(keyPath) is missing (run `make keys`, or pass --attest-key)")
        }
        if json {
            try emit(try encodeJSON(ReproOutcomeJSON(outcome: outcome, attestation: attestation)))
        } else {
            try emit(Data(outcome.render(notes: attestation.map { ["attestation: \($0) (also attached to each image)"] } ?? []).utf8))
        }
        if !outcome.reproducible { throw ExitCode(1) }
    }

    func encodeJSON<T: Encodable>(_ v: T) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try enc.encode(v) + Data("\n".utf8)
    }

    /// Signs the verdict; returns the attestation's path (nil when the default key is missing).
    func attest(_ o: ReproOutcome, directory: String) throws -> String? {
        let keyPath = attestKey ?? "keys/cosign-dev.key"
        guard FileManager.default.fileExists(atPath: keyPath) else {
            if attestKey != nil { throw KilnMessage("--attest-key \(keyPath): no such key (make one with `kiln keygen --type ecdsa`)") }
            Progress.shared.log("kiln: no attestation written: \(keyPath) is missing (run `make keys`, or pass --attest-key)")
            return nil
        }
        let key = try SigningKeys.loadPrivate(path: keyPath)
        let path = directory + "/repro.intoto.json"
        try o.writeAttestation(to: path, key: key)
        return path
    }
}

/// The JSON shape of `kiln repro --compare --json`: the comparison plus the verdict line.
struct ReproJSON: Encodable {
    var report: ComparisonReport
    func encode(to encoder: Encoder) throws {
        try report.encode(to: encoder)
        var c = encoder.container(keyedBy: K.self)
        try c.encode(report.verdict, forKey: .verdict)
    }
    enum K: String, CodingKey { case verdict }
}

struct ReproOutcomeJSON: Encodable {
    var outcome: ReproOutcome
    var attestation: String?
    enum K: String, CodingKey { case target, variant, variations, artifacts, reproducible, differingEntries, verdict, attestation, predicateType }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: K.self)
        try c.encode(outcome.target, forKey: .target)
        try c.encode(outcome.variant, forKey: .variant)
        try c.encode(outcome.variations.names, forKey: .variations)
        try c.encode(outcome.pairs.map(\.comparison), forKey: .artifacts)
        try c.encode(outcome.reproducible, forKey: .reproducible)
        try c.encode(outcome.differingEntries, forKey: .differingEntries)
        try c.encode(outcome.verdict, forKey: .verdict)
        try c.encodeIfPresent(attestation, forKey: .attestation)
        try c.encode(ReproOutcome.predicateType, forKey: .predicateType)
    }
}
