import ArgumentParser
import Foundation
import KilnAttest
import KilnCore
import KilnCrypto

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify an OCI layout offline: blob digests, signatures, attestations, SBOM vs installed packages.",
        discussion: """
        Prints one line per check and stops with a non-zero exit at the first failed one, naming the reason.
        Checks: every blob's sha256 and size against its descriptor; the simple-signing signature under
        sha256-<hex>.sig verifies with --key and names the manifest digest; each DSSE attestation under
        sha256-<hex>.att verifies and its subject is the manifest; the SPDX SBOM lists exactly the packages of
        lib/apk/db/installed; with --require-fips, the image is the fips variant with provider and config present.
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "OCI layout directory, optionally with :TAG.")
    var reference: String

    @Option(name: .long, help: "Public key (PEM SubjectPublicKeyInfo, e.g. NAME.pub from `kiln keygen --type ecdsa`).")
    var key: String

    @Flag(name: .long, help: "Also require the FIPS variant: provider package, fips.so, fipsmodule.cnf and an enforcing openssl.cnf.")
    var requireFips = false

    @Flag(name: .long, help: "Print a JSON report on stdout instead of lines.")
    var json = false

    func run() throws {
        let ref = try LayoutReference.parse(reference)
        let layout = try OCILayout(path: ref.layout)
        let pub = try SigningKeys.loadPublic(path: key)
        let json = self.json
        var checks: [VerifyCheck] = []
        let verifier = Verifier(layout: layout, tag: ref.tag, key: pub, requireFIPS: requireFips) { c in
            checks.append(c)
            if !json { print(c.line); fflush(stdout) }
        }
        var failure: VerificationFailure?
        do { try verifier.run() } catch let f as VerificationFailure { failure = f }
        if json {
            var o: [(String, JSON)] = [("layout", .string(ref.layout))]
            if let t = ref.tag { o.append(("tag", .string(t))) }
            o.append(("keyid", .string(try SigningKeys.keyID(pub))))
            o.append(("verified", .bool(failure == nil)))
            if let f = failure { o.append(("error", .string(f.description))) }
            o.append(("checks", .array(checks.map(\.json))))
            FileHandle.standardOutput.write(JSON.object(o).pretty())
        }
        if let failure { throw ExitStatus(code: 1, message: failure.description) }
        if !json { print("verified \(ref.layout)\(ref.tag.map { ":" + $0 } ?? ""): \(checks.count) checks passed") }
    }
}
