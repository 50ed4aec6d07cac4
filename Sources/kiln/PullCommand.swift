import ArgumentParser
import Foundation
import KilnRegistry

struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Pull an image (all variants of an index), its signatures and attestations into a new OCI layout.",
        discussion: """
        Every manifest and blob is checked against its digest while it streams in; the layout is written \
        under a temporary name and renamed into place only when complete. Verify it with `kiln verify`.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryCLIOptions

    @Argument(help: "REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:DIGEST.")
    var source: String

    @Argument(help: "The new layout directory (must not exist).")
    var layout: String

    func run() throws {
        let r = try RegistryPull.pull(try RegistryReference.parse(source), into: layout, options: registry.registryOptions())
        print("pulled \(source) \(r.digest) into \(layout): \(r.manifests) manifest(s), \(r.blobs) blob(s), \(r.bytes) bytes; tags: \(r.tags.joined(separator: ", "))")
    }
}
