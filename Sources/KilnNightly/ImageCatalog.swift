import Foundation
import KilnCore
import KilnImage

/// What the image executor needs: the config file.
public struct ImageNodePayload: Sendable, Equatable {
    public var configPath: String
    public var imageName: String
}

/// Loads `recipes/images/*.yaml` (apko dialect) into image nodes. One node per config builds
/// both variants into one layout (`out/images/<name>/`), as `kiln image` does: the FIPS variant
/// only adds packages (`ImageVariant.fipsPackages`), so it depends on those too. Inputs: `config`
/// (the file's bytes), `keyring:<file>` (each trusted key), plus — through the graph — the keys
/// of every package it installs and their runtime closure.
public struct ImageCatalogLoader: CatalogLoader {
    public var directory: String
    public init(directory: String) { self.directory = directory }

    public func load() throws -> [CatalogNode] {
        var nodes: [CatalogNode] = []
        for file in try RecipeCatalogLoader.recipeFiles(in: directory) {
            guard let bytes = FileManager.default.contents(atPath: file) else { throw NightlyError.invalid("\(file): cannot read image config") }
            let cfg = try ImageConfig.load(path: file)
            var inputs = [InputComponent("config", try NightlyHash.sha256Hex(bytes))]
            for k in cfg.keyring {
                guard let d = FileManager.default.contents(atPath: k) else { throw NightlyError.invalid("\(file): cannot read keyring file \(k)") }
                inputs.append(InputComponent("keyring:\((k as NSString).lastPathComponent)", try NightlyHash.sha256Hex(d)))
            }
            var deps = cfg.packages.filter { !$0.dependency.conflict }.map { NodeDependency($0.dependency.name, .install) }
            deps += ImageVariant.fipsPackages.map { NodeDependency($0, .install) }
            nodes.append(CatalogNode(id: CatalogNode.makeID(kind: .image, name: cfg.imageName, variant: nil), kind: .image,
                                     name: cfg.imageName, variant: nil, file: file, version: cfg.version,
                                     provides: [], dependencies: Array(Set(deps)).sorted { $0.name < $1.name },
                                     inputs: inputs.sorted(), payload: ImageNodePayload(configPath: file, imageName: cfg.imageName)))
        }
        return nodes
    }
}

/// Several loaders as one catalog (recipes + images).
public struct CombinedCatalog: CatalogLoader {
    public var loaders: [CatalogLoader]
    public init(_ loaders: [CatalogLoader]) { self.loaders = loaders }
    public func load() throws -> [CatalogNode] { try loaders.flatMap { try $0.load() } }
}
