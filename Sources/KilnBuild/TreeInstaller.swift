import Foundation
import KilnCore

/// Build dependencies from packages kiln built before, straight from their trees in
/// `<out>/trees/<arch>/`: a name (or a `provides` of a recorded build) that has a tree is laid over
/// the toolchain root; anything else is left to the toolchain root. The default installer of `Builder`.
/// With several tree directories the first that has a name wins.
public struct TreeDependencyInstaller: BuildDependencyInstaller {
    public var treesDirectories: [String]
    public init(treesDirectory: String) { self.treesDirectories = [treesDirectory] }
    public init(treesDirectories: [String]) { self.treesDirectories = treesDirectories }

    /// `name`, `name=1.2`, `name>=1` → `name` (KilnCore's `DependencyAtom`; a conflict names nothing).
    static func baseName(_ spec: String) -> String { DependencyAtom.name(of: spec) ?? "" }

    /// Package name → tree, including what recorded builds `provides`.
    func index() -> [String: String] {
        var idx: [String: String] = [:]
        for dir in treesDirectories {
            for (name, tree) in Self.index(dir) where idx[name] == nil { idx[name] = tree }
        }
        return idx
    }

    static func index(_ treesDirectory: String) -> [String: String] {
        var idx: [String: String] = [:]
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: treesDirectory) else { return idx }
        for n in names.sorted() where n.hasSuffix(".build.json") {
            guard let r = try? BuildResult.read(from: "\(treesDirectory)/\(n)") else { continue }
            for p in r.packages where fm.fileExists(atPath: p.tree) {
                for prov in p.provides { idx[Self.baseName(prov)] = idx[Self.baseName(prov)] ?? p.tree }
            }
        }
        for n in names.sorted() where !n.hasSuffix(".json") && !n.hasPrefix(".") {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: "\(treesDirectory)/\(n)", isDirectory: &isDir), isDir.boolValue {
                idx[n] = "\(treesDirectory)/\(n)"
            }
        }
        return idx
    }

    public func available(_ names: [String], arch: String) throws -> [String] {
        let idx = index()
        return names.filter { idx[Self.baseName($0)] != nil }
    }

    public func layers(_ names: [String], arch: String, scratch: String) throws -> [String] {
        let idx = index()
        var out: [String] = []
        for n in names { if let t = idx[Self.baseName(n)], !out.contains(t) { out.append(t) } }
        return out
    }
}
