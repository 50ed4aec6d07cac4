import Foundation
import KilnCore

/// Lays build-time packages that kiln built earlier (their trees in `<out>/trees/<arch>/`) over a
/// pinned toolchain root, for one build: the root is a hardlink copy of the cached toolchain
/// (`cp -al`, no data copied) and each package tree is copied on top with
/// `--remove-destination`, so a file replaced in the build root is unlinked first and the cached
/// toolchain is never modified. Runtime dependencies of the requested packages (from the recipes'
/// build results) come along. Bubblewrap 0.8 has no overlay mounts, hence the copy.
///
/// The host toolchain gets nothing (its `/usr` cannot be layered): every build package is then
/// expected from the host.
public struct DebianToolchainOverlay: BuildDependencyInstaller {
    /// `<out>/trees`.
    public var treesRoot: String

    public init(outputDirectory: String) {
        let abs = outputDirectory.hasPrefix("/") ? outputDirectory : FileManager.default.currentDirectoryPath + "/" + outputDirectory
        treesRoot = abs + "/trees"
    }

    /// name → runtime dependencies, for every package of every build result under `trees/<arch>/`.
    func packages(arch: String) -> [String: [String]] {
        let dir = "\(treesRoot)/\(arch)"
        var out: [String: [String]] = [:]
        for f in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() where f.hasSuffix(".build.json") {
            guard let r = try? BuildResult.read(from: "\(dir)/\(f)") else { continue }
            for p in r.packages where FileManager.default.fileExists(atPath: "\(dir)/\(p.name)") {
                out[p.name] = p.runtime.map { String($0.prefix { !"=<>~ ".contains($0) }) }
            }
        }
        return out
    }

    public func available(_ names: [String], arch: String) throws -> [String] {
        let known = packages(arch: arch)
        return names.filter { known[$0] != nil }
    }

    public func install(_ names: [String], arch: String, over base: Toolchain, scratch: String) throws -> Toolchain {
        guard !base.isHost else { return base }
        let known = packages(arch: arch)
        // Transitive closure over runtime dependencies that kiln has built.
        var todo = names, chosen = Set<String>()
        while let n = todo.popLast() {
            guard known[n] != nil, !chosen.contains(n) else { continue }
            chosen.insert(n)
            todo += known[n] ?? []
        }
        let root = scratch
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Subprocess("cp", ["-al", base.rootPath + "/.", root]).check()
        for n in chosen.sorted() {
            try Subprocess("cp", ["-a", "--remove-destination", "\(treesRoot)/\(arch)/\(n)/.", root]).check()
        }
        try FileManager.default.createDirectory(atPath: "\(root)/etc", withIntermediateDirectories: true)
        // Record what was laid over the root (shown in build logs by recipes that care).
        try AtomicFile.write(chosen.sorted().joined(separator: "\n") + "\n", to: "\(root)/etc/kiln-build-packages")
        return Toolchain(name: "\(base.name)+\(chosen.count)pkgs", rootPath: root, lockDigest: base.lockDigest)
    }
}
