import ArgumentParser
import Foundation
import KilnAudit
import KilnCore
import KilnFIPS
import KilnOCI

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Prove an image's FIPS crypto boundary statically: module MAC, OpenSSL config, linkage, foreign crypto.",
        discussion: """
        Each LAYOUT[:TAG] (every image of the layout without a TAG) is unpacked in memory — blob digests checked, \
        nothing written or executed — and checked: module (one fips.so, module-mac recomputed with OpenSSL's fixed \
        key, identity against recipes/fips/modules.yaml), configuration (effective openssl.cnf, environment), \
        linkage (DT_NEEDED closure with ld.so's rules; one libcrypto/libssl of the OpenSSL package; RUNPATHs) and \
        foreign crypto (library markers, algorithm constants, Go build info, Python built-in hashes, Node, Java). \
        The image config's `fips: {allow: […]}` (manifest annotation dev.kiln.fips.allow) and --policy FILE allow \
        findings with a reason; allowed findings are always printed. --exec adds behaviour probes run in kiln's \
        sandbox (bubblewrap, no network). Exit 0: every image passes; 1: findings; \
        2: the audit could not run.
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "OCI layout directories, each optionally with :TAG.")
    var references: [String]

    @Flag(name: .long, help: "Print the reports as JSON (the boundary attestation's predicate per image).")
    var json = false

    @Flag(name: .long, help: "Also probe the image in kiln's sandbox: openssl list -providers shows fips active, MD5 refused, SHA-256 works; Python hashlib.")
    var exec = false

    @Option(name: .long, help: "Audit policy YAML: `allow: [{path, finding, reason}]` (e.g. the Go module as a second validated module).")
    var policy: String?

    @Option(name: .long, help: "Also write one HTML page per image into this directory (findings table, the boundary as a picture).")
    var html: String?

    @OptionGroup var fipsRegistry: FIPSRegistryOption

    @Option(name: .customLong("registry"), help: .hidden)   // the name before --fips-registry was shared
    var legacyRegistry: String?

    func run() throws {
        let reports: [AuditReport]
        do {
            guard !references.isEmpty else { throw KilnMessage("kiln audit: name at least one LAYOUT[:TAG]") }
            reports = try BoundaryAudit.run(references: references, policyPath: policy, registryPath: legacyRegistry.map(absolutePath) ?? fipsRegistry.path, exec: exec)
        } catch { throw ExitStatus(code: 2, message: "audit could not run: \(error)") }
        if let html {
            do { for p in try AuditHTML.write(reports, to: html) { Progress.shared.log("wrote \(p)") } } catch {
                throw ExitStatus(code: 2, message: "audit could not write the HTML pages: \(error)")
            }
        }
        if json {
            FileHandle.standardOutput.write(BoundaryAudit.json(reports).pretty())
        } else {
            print(reports.map(\.text).joined(separator: "\n"))
        }
        let failed = reports.filter { !$0.passed }
        if !failed.isEmpty { throw ExitStatus(code: 1, message: "\(failed.count) of \(reports.count) image(s) have boundary findings: \(failed.map(\.image).joined(separator: ", "))") }
    }
}
