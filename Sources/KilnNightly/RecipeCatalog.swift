import Foundation
import KilnCrypto
import KilnCore
import KilnRecipe
import KilnBuild

/// What the package executor needs to build a recipe node (it parses the recipe itself).
public struct RecipeNodePayload: Sendable, Codable, Equatable {
    public var recipePath: String
    /// nil → standard; else the build option applied.
    public var variant: String?
}

/// Nodes of one recipe file as last loaded, keyed by the file's stat signature (device, inode,
/// size, mtime, ctime — what git's index trusts too) and everything else that shapes them.
struct CatalogCacheEntry: Codable {
    struct Node: Codable {
        var id: String, name: String, variant: String?, version: String?
        var provides: [String], dependencies: [NodeDependency], inputs: [InputComponent]
        /// The recipe's own package name (a fips node's `name` is renamed `-fips`); nil in caches
        /// written before it was recorded, which are then re-parsed.
        var baseName: String?
    }
    var signature: String
    var context: String
    var nodes: [Node]
}

/// Loads `recipes/*.yaml` (each recipe once per variant: standard and each of its build options)
/// into catalog nodes with their input components:
/// `recipe` (the file's bytes), `expanded` (the steps after substitution and pipeline expansion),
/// `pipeline:<name>` (each pipeline file it uses, nested ones included), `source:<uri>` (the
/// recorded digest — sources are never re-read), `git:<repository>`, `files:<dir>` (patches and
/// other files next to the recipe), `toolchain` (the toolchain root's lock digest) and `arch`.
public struct RecipeCatalogLoader: CatalogLoader {
    public var directory: String
    public var arch: String
    public var toolchain: Toolchain
    public var pipelineDirectories: [String]
    public var lenient: Bool
    /// When set, parsed recipes are cached here (by stat signature) so an unchanged catalog loads
    /// without parsing; `<out>/nightly/catalog-cache.json` for `kiln nightly`.
    public var cacheFile: String?

    public init(directory: String, arch: String = Architecture.host, toolchain: Toolchain = .host,
                pipelineDirectories: [String] = [], lenient: Bool = false, cacheFile: String? = nil) {
        self.directory = directory; self.arch = arch; self.toolchain = toolchain
        self.pipelineDirectories = pipelineDirectories; self.lenient = lenient; self.cacheFile = cacheFile
    }

    static func statSignature(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
    }

    /// `name>=1.2`, `so:libz.so.1=1.2.13` → the name part.
    /// A conflict (`!name`) yields "" (it is not a dependency); `name@tag` drops the tag.
    public static func stripConstraint(_ s: String) -> String { DependencyAtom.name(of: s) ?? "" }

    public static func recipeFiles(in dir: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw NightlyError.invalid("recipe directory \(dir) does not exist (give one with --recipes)")
        }
        return try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { dir + "/" + $0 }
            .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue }
    }

    public func load() throws -> [CatalogNode] {
        let library = try DirectoryPipelineLibrary.standard(extra: pipelineDirectories, lenient: lenient)
        let expander = PipelineExpander(library: library, arch: arch)
        var pipelineDigests: [String: String] = [:]     // file → digest, shared by all recipes
        let toolchainDigest = toolchain.lockDigest ?? "\(toolchain.name):unpinned"
        // Everything besides the file itself that shapes its nodes: every pipeline file's digest.
        var contextText = "arch \(arch)\ntoolchain \(toolchainDigest)\nkiln \(KilnVersion.current)\nlenient \(lenient)\n"
        for name in library.names {
            guard let file = library.file(named: name), let d = FileManager.default.contents(atPath: file) else { continue }
            let digest = try Digest.sha256Hex(d)
            pipelineDigests[file] = digest
            contextText += "pipeline \(name) \(digest)\n"
        }
        let context = try Digest.sha256Hex(Data(contextText.utf8))
        var cache: [String: CatalogCacheEntry] = [:]
        if let cacheFile, let d = FileManager.default.contents(atPath: cacheFile) {
            cache = (try? JSONDecoder().decode([String: CatalogCacheEntry].self, from: d)) ?? [:]
        }
        var newCache: [String: CatalogCacheEntry] = [:]
        var nodes: [CatalogNode] = []
        for file in try RecipeCatalogLoader.recipeFiles(in: directory) {
            let sig = RecipeCatalogLoader.statSignature(file)
            if let sig, let c = cache[file], c.signature == sig, c.context == context, c.nodes.allSatisfy({ $0.baseName != nil }) {
                newCache[file] = c
                for n in c.nodes {
                    var inputs = n.inputs
                    if let files = try filesComponent(directory: (file as NSString).deletingLastPathComponent,
                                                      folders: Self.fileFolders(name: n.name, base: n.baseName!)) {
                        inputs.append(files)
                    }
                    nodes.append(CatalogNode(id: n.id, kind: .package, name: n.name, variant: n.variant, file: file,
                                             version: n.version, provides: n.provides, dependencies: n.dependencies,
                                             inputs: inputs.sorted(), payload: RecipeNodePayload(recipePath: file, variant: n.variant)))
                }
                continue
            }
            var entry = CatalogCacheEntry(signature: sig ?? "", context: context, nodes: [])
            defer { if sig != nil { newCache[file] = entry } }
            guard let bytes = FileManager.default.contents(atPath: file) else {
                throw NightlyError.invalid("\(file): cannot read recipe")
            }
            let (base, _) = try RecipeParser(lenient: lenient).parse(text: String(decoding: bytes, as: UTF8.self), file: file)
            let ta = base.package.targetArchitecture
            if !ta.isEmpty && !ta.contains("all") && !ta.contains(arch) { continue }
            let recipeDigest = try Digest.sha256Hex(bytes)
            for variant in [nil] + base.options.map(\.name).sorted() {
                let recipe = try variant.map { try base.applying(buildOption: $0) } ?? base
                let plan = try expander.plan(recipe)
                var inputs = [InputComponent("recipe", recipeDigest), InputComponent("arch", arch),
                              InputComponent("toolchain", toolchainDigest)]
                inputs.append(InputComponent("expanded", try Digest.sha256Hex(Data(RecipeCatalogLoader.describe(plan).utf8))))
                for id in pipelinesUsed(recipe, library: library) {
                    guard let def = try library.definition(named: id) else { continue }
                    if pipelineDigests[def.file] == nil {
                        guard let d = FileManager.default.contents(atPath: def.file) else {
                            throw NightlyError.invalid("cannot read pipeline \(def.file)")
                        }
                        pipelineDigests[def.file] = try Digest.sha256Hex(d)
                    }
                    inputs.append(InputComponent("pipeline:\(id)", pipelineDigests[def.file]!))
                }
                for f in plan.fetches {
                    inputs.append(InputComponent("source:\(f.uri)", f.sha256.map { "sha256:\($0)" } ?? f.sha512.map { "sha512:\($0)" } ?? "unpinned"))
                }
                for g in plan.gitCheckouts {
                    inputs.append(InputComponent("git:\(g.repository)", g.expectedCommit ?? g.tag.map { "tag:\($0)" } ?? g.branch.map { "branch:\($0)" } ?? "unpinned"))
                }
                let cachedInputs = inputs
                if let files = try filesComponent(directory: base.directory, folders: Self.fileFolders(name: recipe.package.name, base: base.package.name)) {
                    inputs.append(files)
                }
                var provides = [recipe.package.name] + plan.subpackages.map(\.name)
                provides += recipe.package.dependencies.provides.map(RecipeCatalogLoader.stripConstraint)
                for sp in plan.subpackages { provides += sp.dependencies.provides.map(RecipeCatalogLoader.stripConstraint) }
                var deps = plan.buildPackages.map { NodeDependency(RecipeCatalogLoader.stripConstraint($0), .build) }
                var runtime = recipe.package.dependencies.runtime
                for sp in plan.subpackages { runtime += sp.dependencies.runtime }
                deps += runtime.map { NodeDependency(RecipeCatalogLoader.stripConstraint($0), .runtime) }
                deps = Array(Set(deps.filter { !$0.name.isEmpty })).sorted { ($0.name, $0.kind) < ($1.name, $1.kind) }
                let id = CatalogNode.makeID(kind: .package, name: base.package.name, variant: variant)   // fips variant renames packages (-fips); the node keeps the recipe's name
                let prov = Array(Set(provides.filter { !$0.isEmpty })).sorted()
                nodes.append(CatalogNode(
                    id: id, kind: .package, name: recipe.package.name, variant: variant, file: file,
                    version: recipe.package.fullVersion, provides: prov, dependencies: deps, inputs: inputs.sorted(),
                    payload: RecipeNodePayload(recipePath: file, variant: variant)))
                entry.nodes.append(.init(id: id, name: recipe.package.name, variant: variant, version: recipe.package.fullVersion,
                                         provides: prov, dependencies: deps, inputs: cachedInputs.sorted(), baseName: base.package.name))
            }
        }
        var hits = 0
        for (f, e) in newCache where cache[f]?.signature == e.signature && cache[f]?.context == e.context { hits += 1 }
        if let cacheFile, hits != newCache.count || cache.count != newCache.count {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            try AtomicFile.write(try enc.encode(newCache), to: cacheFile)
        }
        return nodes
    }

    /// The resolved steps as text: what the sandbox will run, after substitution.
    static func describe(_ plan: BuildPlan) -> String {
        var s = ""
        for st in plan.steps {
            s += "step \(st.package) \(st.name)\nwd \(st.workingDirectory)\n"
            for (k, v) in st.environment.sorted(by: { $0.key < $1.key }) { s += "env \(k)=\(v)\n" }
            if let p = st.preparation { s += "prep \(p)\n" }
            if let sc = st.script { s += "script \(sc.utf8.count)\n\(sc)\n" }
        }
        s += "packages \(plan.buildPackages.joined(separator: " "))\nsubpackages \(plan.subpackages.map(\.name).joined(separator: " "))\n"
        return s
    }

    func pipelinesUsed(_ r: Recipe, library: DirectoryPipelineLibrary) -> [String] {
        // Definitions that do not parse were already reported by planning the recipe.
        var seen = Set<String>()
        func walk(_ steps: [PipelineStep], depth: Int) {
            guard depth < 16 else { return }
            for s in steps {
                if let u = s.uses, seen.insert(u).inserted, let def = try? library.definition(named: u) {
                    walk(def.pipeline, depth: depth + 1)
                }
                walk(s.pipeline, depth: depth + 1)
            }
        }
        walk(r.pipeline, depth: 0)
        for sp in r.subpackages { walk(sp.pipeline, depth: 0) }
        return seen.sorted()
    }

    /// Digest of `<recipe dir>/<package name>/` (patches...), or nil when there is none.
    /// The folders next to the recipe a build seeds its workspace from, in kiln build's order
    /// (`Builder.sourceDirectory`): a fips node's own `NAME-fips/`, then the recipe's `NAME/`.
    static func fileFolders(name: String, base: String) -> [String] { name == base ? [base] : [name, base] }

    /// `files:<folder>/` for the first of `folders` that exists next to the recipe, or nil.
    func filesComponent(directory: String, folders: [String]) throws -> InputComponent? {
        for f in folders {
            if let d = try localFilesDigest(directory: directory, package: f) { return InputComponent("files:\(f)/", d) }
        }
        return nil
    }

    func localFilesDigest(directory: String, package: String) throws -> String? {
        let dir = (directory.isEmpty ? "." : directory) + "/" + package
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue,
              let e = FileManager.default.enumerator(atPath: dir) else { return nil }
        var list: [String] = []
        while let f = e.nextObject() as? String { list.append(f) }
        var text = ""
        for f in list.sorted() {
            let p = dir + "/" + f
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: p) { text += "link \(f) \(target)\n"; continue }
            var d: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &d), !d.boolValue,
                  let data = FileManager.default.contents(atPath: p) else { continue }
            text += "file \(f) \(try Digest.sha256Hex(data))\n"
        }
        return try Digest.sha256Hex(Data(text.utf8))
    }
}
