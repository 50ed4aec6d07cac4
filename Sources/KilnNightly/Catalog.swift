import Foundation
import KilnCore

/// What a node is: a package recipe (one variant) or an image config (one variant).
public enum NodeKind: String, Codable, Sendable { case package, image }

/// A dependency a node declares, by the name it is satisfied by: a package name, or a
/// `so:`/`cmd:`/`pc:` provide. Version constraints are stripped by the loader.
public struct NodeDependency: Hashable, Codable, Sendable {
    public enum Kind: String, Codable, Sendable, Comparable {
        /// Installed into the build environment (`environment.contents.packages`).
        case build
        /// Needed when the package is installed (`package.dependencies.runtime`).
        case runtime
        /// Installed into an image (`contents.packages`).
        case install
        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }
    public var name: String
    public var kind: Kind
    public init(_ name: String, _ kind: Kind) { self.name = name; self.kind = kind }
}

/// One thing that can change a node's output, already reduced to a digest (or a short literal):
/// `recipe` (its bytes after substitution), `pipeline:<name>`, `source:<uri>` (the recorded
/// digest, never re-read), `toolchain` (the lock file's digest), `config`, ... The engine adds
/// `variant` and `kiln-version` itself.
public struct InputComponent: Hashable, Codable, Sendable, Comparable {
    public var name: String
    public var digest: String
    public init(_ name: String, _ digest: String) { self.name = name; self.digest = digest }
    public static func < (a: InputComponent, b: InputComponent) -> Bool { (a.name, a.digest) < (b.name, b.digest) }
}

/// A node of the nightly catalog: what the loader found in one recipe or image file for one variant.
public struct CatalogNode: Sendable {
    /// Unique and stable: `zlib`, `zlib@fips`, `image:base`, `image:base@fips`.
    public var id: String
    public var kind: NodeKind
    public var name: String
    /// nil for the standard variant.
    public var variant: String?
    /// The file the node comes from (for messages and the report).
    public var file: String
    /// `<version>-r<epoch>` for packages.
    public var version: String?
    /// Names this node satisfies: its package and subpackage names, `so:`/`cmd:` provides.
    public var provides: [String]
    public var dependencies: [NodeDependency]
    public var inputs: [InputComponent]
    /// Loader-specific data for the executor (e.g. the parsed recipe).
    public var payload: (any Sendable)?

    public init(id: String, kind: NodeKind, name: String, variant: String? = nil, file: String,
                version: String? = nil, provides: [String] = [], dependencies: [NodeDependency] = [],
                inputs: [InputComponent] = [], payload: (any Sendable)? = nil) {
        self.id = id; self.kind = kind; self.name = name; self.variant = variant; self.file = file
        self.version = version; self.provides = provides; self.dependencies = dependencies
        self.inputs = inputs; self.payload = payload
    }

    /// The conventional id for a name and variant.
    public static func makeID(kind: NodeKind, name: String, variant: String?) -> String {
        (kind == .image ? "image:" : "") + name + (variant.map { "@\($0)" } ?? "")
    }
}

/// Turns catalog files into nodes (with declared deps/provides and input digests).
public protocol CatalogLoader {
    func load() throws -> [CatalogNode]
}

/// A loader over nodes already in memory (generated catalogs, tests).
public struct StaticCatalog: CatalogLoader {
    public var nodes: [CatalogNode]
    public init(_ nodes: [CatalogNode]) { self.nodes = nodes }
    public func load() throws -> [CatalogNode] { nodes }
}

public enum NightlyError: KilnError, Equatable {
    case cycle(String)
    case duplicateNode(id: String, files: [String])
    case unknownOnly([String])
    case invalid(String)

    public var description: String {
        switch self {
        case .cycle(let text): return text
        case .duplicateNode(let id, let files):
            return "\(files.joined(separator: " and ")) both define \(id); rename one of them"
        case .unknownOnly(let names):
            return "--only names no node of the catalog: \(names.joined(separator: ", ")) (see `kiln nightly --dry-run` for the node names)"
        case .invalid(let m): return m
        }
    }
}
