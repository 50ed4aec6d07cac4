import Foundation
import KilnCore
import KilnRegistry

/// One image `kiln nightly --push` published.
public struct PublishedImage: Sendable {
    /// The image node it came from (`image:<name>`).
    public var node: String
    /// Where it went: `REGISTRY/PREFIX/NAME:TAG`.
    public var destination: RegistryReference
    /// What the push did (digest, blobs uploaded / already there).
    public var push: PushReport

    /// The line the CLI prints for it.
    public var line: String {
        "pushed \(destination) \(push.digest): \(push.uploaded) blob(s) uploaded, \(push.existing) already there"
    }
}

extension NightlyLaunch {
    /// The layouts `--push` publishes, relative to the output directory, once each in report order:
    /// those of the image nodes built in this run. A built image node was assembled, signed, audited
    /// and verified by `ImageNodeExecutor` (a failed verification makes the node `failed`); unchanged
    /// nodes were not rebuilt, and failed, blocked or not-run ones are not trusted.
    public static func publishable(_ report: RunReport) -> [(node: String, layout: String)] {
        var seen = Set<String>(), out: [(node: String, layout: String)] = []
        for n in report.nodes where n.kind == .image && n.status == .built {
            for o in n.outputs where o.kind.hasPrefix("image:") && seen.insert(o.path).inserted {
                out.append((n.id, o.path))
            }
        }
        return out
    }

    /// `kiln nightly --push PREFIX`: publishes every image of each `publishable` layout to
    /// `REGISTRY/PREFIX/NAME:TAG` with its signatures and attestations (`RegistryPush.publish`),
    /// calling `pushed` after each image. A layout path that leaves `outputRoot` is refused.
    public static func publish(report: RunReport, outputRoot: String, prefix: String, options: RegistryOptions,
                               pushed: (PublishedImage) -> Void = { _ in }) throws -> [PublishedImage] {
        var out: [PublishedImage] = []
        for (node, layout) in publishable(report) {
            guard !layout.hasPrefix("/"), !layout.split(separator: "/").contains("..") else {
                throw KilnMessage("nightly report: node \(node) names layout \(layout) outside \(outputRoot): not pushed")
            }
            for (dest, r) in try RegistryPush.publish(layout: outputRoot + "/" + layout, prefix: prefix, options: options) {
                let p = PublishedImage(node: node, destination: dest, push: r)
                pushed(p)
                out.append(p)
            }
        }
        return out
    }
}
