import ArgumentParser
import Foundation
import KilnAPK
import KilnCore
import KilnRepro

/// `kiln repro`: prove a package rebuilds bit-for-bit, or explain the difference.
/// Exit status: 0 reproducible, 1 not reproducible, 2 could not run.
struct ReproCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repro",
        abstract: "Rebuild a recipe in a varied environment and compare with the published packages (exit 0 reproducible, 1 not, 2 could not run).",
        discussion: "kiln repro RECIPE rebuilds the recipe's packages from the same inputs in a fresh workspace, with the "
            + "environment varied (--vary: build-path, time, umask, timezone, locale, hostname, domain, user, cpus, dir-order; "
            + "default all), and compares each with the published one (default: the local repository <out>/packages, or "
            + "--against REPO): first by digest, then entry by entry (only-on-one-side, mode, owner, mtime, size, link target, "
            + "content digest), with a unified diff of the first lines of differing text files, the ELF sections that differ, "
            + "and the first byte where the files diverge. The verdict is signed as an in-toto attestation (predicate "
            + "\(ReproOutcome.predicateType)) in <out>/repro/<package>/.\n\n"
            + "kiln repro CONFIG assembles an image config again (build-path, umask, timezone and locale varied, in a child "
            + "process) from <out>/packages and compares every image with the published layout (<out>/images/<name>, or "
            + "--against LAYOUT); the verdict is also attached to each image.\n\n"
            + "kiln repro --compare A B compares two .apk files, tar/tar.gz layers or OCI image layouts.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var signing: PackageSigningOptions

    @OptionGroup var location: BuildLocationOptions
    @OptionGroup var toolchain: ToolchainOption
    @OptionGroup var variant: VariantOption
    @OptionGroup var fipsRegistry: FIPSRegistryOption

    @Argument(help: "Recipe to rebuild, or image config to assemble again.")
    var target: String?

    @Option(name: .long, help: "The published packages (a repository; default: <out>/packages) or image layout (default: <out>/images/<name>).")
    var against: String?

    @Option(name: .long, help: "Variations: all (default), a comma list, or all,-NAME to leave some out.")
    var vary: String = "all"

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
            try reproduce()
        } catch let e as ExitCode {
            throw e
        } catch let e as ValidationError {
            throw ExitStatus(code: 2, message: e.message)
        } catch {
            throw ExitStatus(code: 2, message: "\(error)")
        }
    }

    func reproduce() throws {
        let outAbs = absolutePath(location.out)
        let key = ReproAttestationKey(path: attestKey, defaultPath: "keys/cosign-dev.key")
        if !compare.isEmpty {
            guard compare.count == 2, target == nil else {
                throw ReproError.invalid("give two artifacts to compare: kiln repro --compare A.apk B.apk")
            }
            var report = try Differ.compare(try ArtifactLoader.load(compare[0]), try ArtifactLoader.load(compare[1]))
            if diffoscope && !report.reproducible {
                report.diffoscopeReport = runDiffoscope(compare[0], compare[1], html: outAbs + "/repro/diffoscope-\(getpid()).html")
            }
            return try emit(json ? ReproJSON.encode(report) : Data(report.render().utf8), reproducible: report.reproducible)
        }
        guard let target else {
            throw ReproError.invalid("name a recipe to rebuild (kiln repro recipes/NAME.yaml) or use --compare A B")
        }
        let variations = try ReproVariations(vary)
        let outcome: ReproOutcome, attestation: String?, note: String
        if try ReproTarget.classify(target) == .image {
            var request = ImageReproRequest(configPath: target, outputRoot: outAbs, variations: variations, kiln: kilnCommand)
            request.published = against.map(absolutePath)
            request.packageKey = absolutePath(signing.signingKey) + ".pub"
            let result = try ImageRepro.reproduce(request)
            (outcome, attestation, note) = (result.outcome, try ReproAttestation.write(result, key: key), " (also attached to each image)")
        } else {
            var request = RecipeReproRequest(recipePath: target, variant: variant.variant, outputRoot: outAbs,
                                             publishedRepository: against.map(absolutePath), variations: variations,
                                             toolchain: try ReproToolchain.root(toolchain.toolchain, recipePath: target, variant: variant.variant, out: location.out,
                                                                                lockPath: toolchain.lockPath),
                                             signer: try signing.signer(), distro: signing.distro, supplier: signing.supplier)
            request.diffoscope = diffoscope
            request.fipsRegistry = fipsRegistry.path
            request.sourceCache = location.sourceCache.map(absolutePath)
            let result = try withRepositoryAdvice { try RecipeRepro.reproduce(request) }
            (outcome, attestation, note) = (result.outcome, try ReproAttestation.write(result.outcome, directory: result.directory, key: key), "")
        }
        try emit(json ? ReproJSON.encode(outcome, attestation: attestation)
                      : Data(outcome.render(notes: attestation.map { ["attestation: \($0)\(note)"] } ?? []).utf8),
                 reproducible: outcome.reproducible)
    }

    /// kiln repro trusts exactly the public key beside its --signing-key (it has no --key/--keyring):
    /// an untrusted repository's advice names the option repro has.
    func withRepositoryAdvice<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as APKError {
            guard case .untrusted = e else { throw e }
            throw KilnMessage("\(String(describing: e).replacingOccurrences(of: " (pass the matching key with --key or --keyring DIR)", with: ""))\n"
                              + "kiln repro trusts the public key beside --signing-key (\(signing.signingKey).pub): pass the key that signed the repository with --signing-key")
        }
    }

    /// `kiln` itself (this executable) with the global options, for the image re-assembly's child process.
    var kilnCommand: [String] {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return [exe] + global.childArguments
    }

    /// Prints `d`; a verdict of "not reproducible" is exit status 1.
    func emit(_ d: Data, reproducible: Bool) throws {
        FileHandle.standardOutput.write(d)
        if !reproducible { throw ExitCode(1) }
    }
}
