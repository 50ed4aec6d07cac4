import ArgumentParser
import Foundation
import KilnAttest
import KilnCore
import KilnOCI
import KilnCrypto
import KilnRegistry

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify an OCI layout offline: blob digests, signatures, attestations, SBOM vs installed packages.",
        discussion: """
        Prints one line per check and stops with a non-zero exit at the first failed one, naming the reason. \
        Checks: every blob's sha256 and size against its descriptor; the simple-signing signature under \
        sha256-<hex>.sig verifies with --key and names the manifest digest; each DSSE attestation under \
        sha256-<hex>.att verifies and its subject is the manifest; the SPDX SBOM lists exactly the packages of \
        lib/apk/db/installed; with --require-fips, the image is the fips variant with provider and config present and carries a passing FIPS boundary attestation (`kiln audit`, attached by `kiln sign`) for exactly its manifest digest. \
        A REGISTRY/REPO@DIGEST (or :TAG) reference is pulled into a temporary layout first (see `kiln pull`).
        """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var registry: RegistryCLIOptions

    @Argument(help: "OCI layout directories, each optionally with :TAG, or REGISTRY/REPO@DIGEST (pulled into a temporary layout first).")
    var references: [String]

    @Option(name: .long, help: "Public key (PEM SubjectPublicKeyInfo, e.g. NAME.pub from `kiln keygen --type ecdsa`).")
    var key: String

    @Flag(name: .long, help: "Also require the FIPS variant (provider package, fips.so, fipsmodule.cnf, an enforcing openssl.cnf) and a passing FIPS boundary attestation for the manifest.")
    var requireFips = false

    @Flag(name: .long, help: "Print a JSON report on stdout instead of lines.")
    var json = false

    func run() throws {
        guard !references.isEmpty else { throw KilnMessage("kiln verify: name at least one LAYOUT[:TAG]") }
        var pulled: [String] = []
        defer { for p in pulled { try? FileManager.default.removeItem(atPath: (p as NSString).deletingLastPathComponent) } }
        let refs = try references.map { r -> LayoutReference in
            guard !FileManager.default.fileExists(atPath: r), RegistryReference.looksLikeReference(r) else { return try LayoutReference.parse(r) }
            let remote = try RegistryReference.parse(r)
            let path = try RegistryPull.pullTemporary(remote, options: registry.registryOptions(quiet: true))
            pulled.append(path)
            return LayoutReference(layout: path, tag: remote.digest == nil ? remote.tag : nil)
        }
        let pub = try SigningKeys.loadPublic(path: key)
        let json = self.json
        var checks: [VerifyCheck] = []
        var images: [ImageSummary] = []
        var failure: VerificationFailure?
        for ref in refs where failure == nil {
            let layout = try OCILayout(path: ref.layout)
            var v = Verifier(layout: layout, tag: ref.tag, key: pub, requireFIPS: requireFips) { c in
                checks.append(c)
                if !json { print(c.line); fflush(nil) }   // fflush(nil): every output stream, without touching the `stdout` global
            }
            v.imageVerified = { images.append($0) }
            do { try v.run() } catch let f as VerificationFailure { failure = f }
        }
        let names = zip(references, refs).map { r, ref in
            pulled.contains(ref.layout) ? r : ref.layout + (ref.tag.map { ":" + $0 } ?? "")
        }
        if json {
            var o: [(String, JSON)] = [("layouts", .array(names.map(JSON.string)))]
            o.append(("keyid", .string(try SigningKeys.keyID(pub))))
            o.append(("verified", .bool(failure == nil)))
            if let f = failure { o.append(("error", .string(f.description))) }
            o.append(("images", .array(images.map(\.json))))
            o.append(("checks", .array(checks.map(\.json))))
            FileHandle.standardOutput.write(JSON.object(o).pretty())
        }
        if let failure { throw ExitStatus(code: 1, message: failure.description) }
        if !json {
            print("verified \(names.joined(separator: " ")): \(checks.count) checks passed")
            print(VerifyCommand.table(images))
        }
    }

    /// The closing summary: image, variant, manifest digest, size, packages, FIPS label, boundary audit verdict, verified.
    static func table(_ rows: [ImageSummary]) -> String {
        let head = ["IMAGE", "VARIANT", "MANIFEST DIGEST", "SIZE", "PACKAGES", "FIPS", "BOUNDARY", "VERIFIED"]
        let body = rows.map { r in
            [r.image, r.variant, String(r.digest.prefix(7 + 16)) + "…", humanSize(r.size), String(r.packages), r.fipsLabel, r.boundary,
             r.verified ? "yes" : "NO"]
        }
        var widths = head.map(\.count)
        for row in body { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return ([line(head)] + body.map(line)).joined(separator: "\n")
    }

    static func humanSize(_ n: Int64) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1024 * 1024 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return String(format: "%.1f MiB", Double(n) / 1048576)
    }
}
