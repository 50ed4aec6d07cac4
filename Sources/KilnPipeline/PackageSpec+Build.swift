import Foundation
import KilnAPK
import KilnBuild
import KilnCore

extension PackageSpec {
    /// The writer's input for one package of a build result: licences `AND`-joined, scriptlets
    /// mapped, `provider-priority` checked to be an integer (the only place it is validated).
    public init(_ m: PackageMetadata, result: BuildResult, distro: String, supplier: String?) throws {
        self.init(name: m.name, version: m.version, epoch: m.epoch, arch: result.arch)
        description = m.description
        url = m.url ?? ""
        commit = m.commit
        origin = m.origin
        license = m.licenses.count > 1 ? m.licenses.map { $0.contains(" ") ? "(\($0))" : $0 }.joined(separator: " AND ") : (m.licenses.first ?? "")
        dependencies.runtime = m.runtime
        dependencies.provides = m.provides
        dependencies.replaces = m.replaces
        if let p = m.providerPriority {
            guard let v = Int(p) else {
                throw KilnMessage("\(result.recipe): package \(m.name): provider-priority must be an integer, got \"\(p)\"")
            }
            dependencies.providerPriority = v
        }
        options = .init(noProvides: m.noProvides, noDepends: m.noDepends, noCommands: m.noCommands)
        var s = PackageSpec.Scriptlets()
        s.preInstall = m.scriptlets["pre-install"]
        s.postInstall = m.scriptlets["post-install"]
        s.preDeinstall = m.scriptlets["pre-deinstall"]
        s.postDeinstall = m.scriptlets["post-deinstall"]
        s.preUpgrade = m.scriptlets["pre-upgrade"]
        s.postUpgrade = m.scriptlets["post-upgrade"]
        scriptlets = s
        sources = result.sources.map { .init(uri: $0.uri, sha256: $0.sha256) }
        self.distro = distro
        self.supplier = supplier
        buildDate = result.sourceDateEpoch
    }
}
