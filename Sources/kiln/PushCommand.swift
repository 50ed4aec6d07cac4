import ArgumentParser
import Foundation
import KilnOCI
import KilnRegistry

struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push an image from an OCI layout to a registry, with its signatures and attestations.",
        discussion: """
        Blobs first (skipped when the registry has them), then manifests by digest, then the tag and the \
        image's sha256-<hex>.sig / .att tags. Every Docker-Content-Digest is checked. TLS runs in kiln's \
        OpenSSL context (--fips covers it). Credentials: KILN_REGISTRY_USER / KILN_REGISTRY_PASSWORD, else \
        $DOCKER_CONFIG/config.json (~/.docker/config.json) auths; never printed.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryCLIOptions

    @Argument(help: "LAYOUT[:TAG] to push.")
    var source: String

    @Argument(help: "REGISTRY/REPO[:TAG] (the tag defaults to the layout's).")
    var destination: String

    @Option(name: .long, help: "Repository on the same registry to cross-mount existing blobs from.")
    var mountFrom: String?

    @Option(name: .long, help: "Upload blobs larger than BYTES in PATCH chunks of BYTES (default: one request up to 512 MiB, 64 MiB chunks above).")
    var chunkSize: Int64?

    @Flag(name: .long, help: "Push every image of LAYOUT: tag NAME:TAG goes to REGISTRY/PREFIX/NAME:TAG (the destination is REGISTRY/PREFIX).")
    var all = false

    func run() throws {
        let src = try LayoutReference.parse(source)
        var o = registry.registryOptions()
        o.mountFrom = mountFrom
        if let chunkSize {
            guard chunkSize >= 1024 else { throw ValidationError("--chunk-size must be at least 1024 bytes") }
            o.http.chunkThreshold = chunkSize; o.http.chunkSize = chunkSize
        }
        if all {
            for (dest, r) in try RegistryPush.publish(layout: src.layout, prefix: destination, options: o) {
                print("pushed \(dest) \(r.digest): \(r.uploaded) blob(s) uploaded (\(r.bytesUploaded) bytes), \(r.existing) already there")
            }
            return
        }
        let r = try RegistryPush.push(layout: src.layout, tag: src.tag, to: try RegistryReference.parse(destination), options: o)
        print("pushed \(destination) \(r.digest): \(r.uploaded) blob(s) uploaded (\(r.bytesUploaded) bytes), \(r.existing) already there, "
            + "\(r.mounted) mounted; \(r.manifestsPushed) manifest(s) pushed, \(r.manifestsExisting) already there; tags written: \(r.tags.count)")
    }
}
