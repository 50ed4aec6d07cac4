import Foundation
import KilnCrypto
import KilnCore
import KilnImage

/// What the image executor needs: the config file.
public struct ImageNodePayload: Sendable, Equatable {
    public var configPath: String
    public var imageName: String
}

/// Loads `recipes/images/*.yaml` (apko dialect) into image nodes. One node per config builds
/// both variants into one layout (`out/images/<name>/`), as `kiln image` does: the FIPS variant
/// only adds packages (`ImageVariant.fipsPackages`), so it depends on those too, and on every
/// variant's `variants.*.packages`. Inputs: `config` (the file's bytes), `include:<path>` (each
/// file it includes, path relative to the config's directory), `keyring:<file>` (each trusted key),
/// plus — through the graph — the keys of every package it installs and their runtime closure.
public struct ImageCatalogLoader: CatalogLoader {
    public var directory: String
    public init(directory: String) { self.directory = directory }

    public func load() throws -> [CatalogNode] {
        var nodes: [CatalogNode] = []
        for file in try RecipeCatalogLoader.recipeFiles(in: directory) {
            guard let bytes = FileManager.default.contents(atPath: file) else { throw NightlyError.invalid("\(file): cannot read image config") }
            let cfg = try ImageConfig.load(path: file)
            var inputs = [InputComponent("config", try Digest.sha256Hex(bytes))]
            let dir = URL(fileURLWithPath: file).deletingLastPathComponent().standardizedFileURL.path
            for inc in cfg.sourceFiles.dropFirst() {
                guard let d = FileManager.default.contents(atPath: inc) else { throw NightlyError.invalid("\(file): cannot read included config \(inc)") }
                inputs.append(InputComponent("include:\(Self.relative(inc, to: dir))", try Digest.sha256Hex(d)))
            }
            for k in cfg.keyring {
                guard let d = FileManager.default.contents(atPath: k) else { throw NightlyError.invalid("\(file): cannot read keyring file \(k)") }
                inputs.append(InputComponent("keyring:\((k as NSString).lastPathComponent)", try Digest.sha256Hex(d)))
            }
            for k in cfg.runtimeKeyring { inputs.append(InputComponent("runtime_keyring:\(k.name)", try Digest.sha256Hex(k.pem))) }
            let packages = cfg.packages + cfg.variantPackages.keys.sorted().flatMap { cfg.variantPackages[$0]! }
            var deps = packages.filter { !$0.dependency.conflict }.map { NodeDependency($0.dependency.name, .install) }
            deps += ImageVariant.fipsPackages.map { NodeDependency($0, .install) }
            nodes.append(CatalogNode(id: CatalogNode.makeID(kind: .image, name: cfg.imageName, variant: nil), kind: .image,
                                     name: cfg.imageName, variant: nil, file: file, version: cfg.version,
                                     provides: [], dependencies: Array(Set(deps)).sorted { $0.name < $1.name },
                                     inputs: inputs.sorted(), payload: ImageNodePayload(configPath: file, imageName: cfg.imageName)))
        }
        return nodes
    }

    /// `path` relative to `dir` (with `..` where needed), so a key does not depend on where the
    /// checkout is.
    static func relative(_ path: String, to dir: String) -> String {
        let p = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let d = URL(fileURLWithPath: dir).standardizedFileURL.pathComponents
        var common = 0
        while common < min(p.count, d.count) && p[common] == d[common] { common += 1 }
        return (Array(repeating: "..", count: d.count - common) + p[common...]).joined(separator: "/")
    }
}

/// Several loaders as one catalog (recipes + images).
public struct CombinedCatalog: CatalogLoader {
    public var loaders: [CatalogLoader]
    public init(_ loaders: [CatalogLoader]) { self.loaders = loaders }
    public func load() throws -> [CatalogNode] { try loaders.flatMap { try $0.load() } }
}
