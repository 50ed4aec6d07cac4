import Foundation
import KilnCore
import Yams

/// Parses melange-dialect recipes. Strict by default like melange (unknown keys are errors);
/// `lenient` turns unknown keys into warnings and keeps them in the model.
public struct RecipeParser {
    public var lenient: Bool
    public init(lenient: Bool = false) { self.lenient = lenient }

    static let topKeys: Set<String> = ["package", "environment", "pipeline", "subpackages", "vars",
                                       "var-transforms", "options", "data", "update", "test", "capabilities"]
    static let packageKeys: Set<String> = ["name", "version", "epoch", "description", "annotations", "url",
                                           "commit", "target-architecture", "copyright", "dependencies",
                                           "options", "scriptlets", "checks", "cpe", "setcap", "timeout",
                                           "resources", "test-resources"]
    static let stepKeys: Set<String> = ["name", "uses", "with", "runs", "pipeline", "inputs", "needs", "label",
                                        "if", "assertions", "working-directory", "environment"]
    static let subpackageKeys: Set<String> = ["range", "name", "pipeline", "dependencies", "options", "scriptlets",
                                              "description", "url", "commit", "checks", "test", "if", "setcap",
                                              "annotations"]
    static let dependencyKeys: Set<String> = ["runtime", "provides", "replaces", "provider-priority", "replaces-priority"]
    static let optionKeys: Set<String> = ["no-provides", "no-depends", "no-commands", "no-versioned-shlib-deps"]
    static let scriptletKeys: Set<String> = ["trigger", "pre-install", "post-install", "pre-deinstall",
                                             "post-deinstall", "pre-upgrade", "post-upgrade"]
    static let copyrightKeys: Set<String> = ["paths", "attestation", "license", "license-path", "detection-override"]
    /// apko image-configuration keys accepted under `environment:`.
    static let environmentKeys: Set<String> = ["contents", "environment", "accounts", "archs", "paths", "entrypoint",
                                               "cmd", "work-dir", "stop-signal", "annotations", "include", "volumes",
                                               "options", "vcs-url", "layering", "certificates", "format"]
    static let contentsKeys: Set<String> = ["repositories", "build_repositories", "runtime_repositories", "keyring",
                                            "packages", "baseimage", "runtime_keyring"]
    static let varTransformKeys: Set<String> = ["from", "match", "replace", "to"]
    static let buildOptionKeys: Set<String> = ["vars", "environment"]
    static let testKeys: Set<String> = ["environment", "pipeline"]

    /// Parses the recipe at `path`. Warnings (lenient mode) are returned alongside.
    public func parse(path: String) throws -> (recipe: Recipe, warnings: [RecipeWarning]) {
        guard let data = try YAMLLimits.readFile(path) else {
            throw RecipeError(.io, SourceLocation(file: path), "cannot read recipe: no such file or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RecipeError(.syntax, SourceLocation(file: path), "recipe is not UTF-8 text")
        }
        return try parse(text: text, file: path)
    }

    public func parse(text: String, file: String) throws -> (recipe: Recipe, warnings: [RecipeWarning]) {
        let r = YAMLReader(file: file, lenient: lenient)
        let root = try r.root(text)
        let m = try r.mapping(root, "recipe")

        var package: Package?
        var environment = BuildEnvironment()
        var pipeline: [PipelineStep] = []
        var subpackages: [Subpackage] = []
        var vars: [Variable] = []
        var transforms: [VarTransform] = []
        var options: [BuildOption] = []
        var test: TestBlock?
        var update: YAMLValue?, dataValue: YAMLValue?, capabilities: YAMLValue?

        let extra = try r.fields(root, "recipe", known: Self.topKeys) { key, v in
            switch key {
            case "package": package = try parsePackage(r, v)
            case "environment": environment = try parseEnvironment(r, v, "environment")
            case "pipeline": pipeline = try parseSteps(r, v, "pipeline")
            case "subpackages":
                subpackages = try r.sequence(v, "subpackages").enumerated().map {
                    try parseSubpackage(r, $0.element, "subpackages[\($0.offset)]")
                }
            case "vars": vars = try r.stringMap(v, "vars").map { Variable(name: $0.key, value: $0.value, location: $0.location) }
            case "var-transforms":
                transforms = try r.sequence(v, "var-transforms").enumerated().map {
                    try parseVarTransform(r, $0.element, "var-transforms[\($0.offset)]")
                }
            case "options":
                if r.isNull(v) { break }
                options = try r.entries(v, "options").map { e in
                    try parseBuildOption(r, name: e.key, e.value, keyNode: e.keyNode)
                }
            case "test": test = try parseTest(r, v, "test")
            case "update": try r.check(v, .update, "update"); update = YAMLValue(v)
            case "data": try r.check(v, .data, "data"); dataValue = YAMLValue(v)
            case "capabilities": try r.check(v, .capabilities, "capabilities"); capabilities = YAMLValue(v)
            default: break
            }
        }
        guard let package else {
            throw RecipeError(.missingKey, r.location(root), "recipe: missing required key `package` (with `name` and `version`)")
        }
        _ = m
        var seen = Set([package.name])
        for s in subpackages where !s.name.contains("${{") {
            guard seen.insert(s.name).inserted else {
                throw RecipeError(.invalidValue, s.location, "subpackage `\(s.name)` is defined twice (or shares the package's name)")
            }
        }
        let recipe = Recipe(file: file, package: package, environment: environment, pipeline: pipeline,
                            subpackages: subpackages, vars: vars, varTransforms: transforms, options: options,
                            test: test, update: update, data: dataValue, capabilities: capabilities, extra: extra)
        return (recipe, r.warnings)
    }

    // MARK: sections

    func parsePackage(_ r: YAMLReader, _ node: Node) throws -> Package {
        let m = try r.mapping(node, "package")
        let nameNode = try r.required(m, "name", in: "package", at: node)
        let versionNode = try r.required(m, "version", in: "package", at: node)
        var p = Package(name: try r.string(nameNode, "package.name"), version: try r.string(versionNode, "package.version"),
                        epoch: 0, description: "", url: nil, commit: nil, copyright: [], dependencies: Dependencies(),
                        options: PackageOptions(), targetArchitecture: [], scriptlets: [:], annotations: [:], kept: [],
                        location: r.location(node), versionLocation: r.location(versionNode))
        guard !p.name.isEmpty else { throw RecipeError(.invalidValue, r.location(nameNode), "package.name: must not be empty") }
        guard !p.version.isEmpty else { throw RecipeError(.invalidValue, r.location(versionNode), "package.version: must not be empty") }
        try Self.checkName(p.name, "package.name", at: r.location(nameNode))
        guard PackageSyntax.isValidVersion(p.version), !p.version.contains("-") else {
            throw RecipeError(.invalidValue, r.location(versionNode),
                              "package.version: `\(p.version)` is not a valid apk version (\(PackageSyntax.versionRule))")
        }
        let extra = try r.fields(node, "package", known: Self.packageKeys) { key, v in
            switch key {
            case "name", "version": break
            case "epoch":
                try r.check(v, .int, "package.epoch")       // melange: a uint64, so `epoch: "1"` is an error
                p.epoch = try r.int(v, "package.epoch")
                if p.epoch < 0 { throw RecipeError(.invalidValue, r.location(v), "package.epoch: must be 0 or more") }
            case "description": p.description = try r.string(v, "package.description")
            case "url": p.url = try r.string(v, "package.url")
            case "commit": p.commit = try r.string(v, "package.commit")
            case "target-architecture": p.targetArchitecture = try r.strings(v, "package.target-architecture")
            case "copyright":
                p.copyright = try r.sequence(v, "package.copyright").enumerated().map {
                    try parseCopyright(r, $0.element, "package.copyright[\($0.offset)]")
                }
            case "dependencies": p.dependencies = try parseDependencies(r, v, "package.dependencies")
            case "options": p.options = try parseOptions(r, v, "package.options")
            case "scriptlets": p.scriptlets = try parseScriptlets(r, v, "package.scriptlets")
            case "annotations":
                p.annotations = Dictionary(try r.stringMap(v, "package.annotations").map { ($0.key, $0.value) },
                                           uniquingKeysWith: { a, _ in a })
            case "cpe": try r.check(v, .cpe, "package.cpe"); p.kept.append(.init(key: key, value: YAMLValue(v)))
            case "resources", "test-resources": try r.check(v, .resources, "package.\(key)"); p.kept.append(.init(key: key, value: YAMLValue(v)))
            case "checks": try r.check(v, .checks, "package.checks"); p.kept.append(.init(key: key, value: YAMLValue(v)))
            case "setcap": try r.check(v, .setcap, "package.setcap"); p.kept.append(.init(key: key, value: YAMLValue(v)))
            default: p.kept.append(.init(key: key, value: YAMLValue(v)))
            }
        }
        p.kept += extra
        return p
    }

    /// A package or subpackage name must be one apk name (never `/`, `..` or spaces): it becomes a
    /// directory under `<out>/trees/<arch>/`, a log name and a file name, so it is checked before any of them.
    public static func checkName(_ name: String, _ what: String, at location: SourceLocation) throws {
        guard PackageSyntax.isValidName(name) else {
            throw RecipeError(.invalidValue, location,
                              "\(what): `\(name)` is not a valid package name (\(PackageSyntax.nameRule))")
        }
    }

    func parseCopyright(_ r: YAMLReader, _ node: Node, _ what: String) throws -> Copyright {
        var c = Copyright(license: "", paths: [], attestation: nil, licensePath: nil)
        _ = try r.fields(node, what, known: Self.copyrightKeys) { key, v in
            switch key {
            case "license": c.license = try r.string(v, "\(what).license")
            case "paths": c.paths = try r.strings(v, "\(what).paths")
            case "attestation": c.attestation = try r.string(v, "\(what).attestation")
            case "license-path": c.licensePath = try r.string(v, "\(what).license-path")
            default: break
            }
        }
        return c
    }

    func parseDependencies(_ r: YAMLReader, _ node: Node, _ what: String) throws -> Dependencies {
        var d = Dependencies()
        _ = try r.fields(node, what, known: Self.dependencyKeys) { key, v in
            switch key {
            case "runtime": d.runtime = try r.strings(v, "\(what).runtime")
            case "provides": d.provides = try r.strings(v, "\(what).provides")
            case "replaces": d.replaces = try r.strings(v, "\(what).replaces")
            case "provider-priority": d.providerPriority = try r.string(v, "\(what).provider-priority")
            default: break
            }
        }
        return d
    }

    func parseOptions(_ r: YAMLReader, _ node: Node, _ what: String) throws -> PackageOptions {
        var o = PackageOptions()
        _ = try r.fields(node, what, known: Self.optionKeys) { key, v in
            let b = try r.bool(v, "\(what).\(key)")
            switch key {
            case "no-provides": o.noProvides = b
            case "no-depends": o.noDepends = b
            case "no-commands": o.noCommands = b
            default: o.noVersionedShlibDeps = b
            }
        }
        return o
    }

    func parseScriptlets(_ r: YAMLReader, _ node: Node, _ what: String) throws -> [String: String] {
        var s: [String: String] = [:]
        _ = try r.fields(node, what, known: Self.scriptletKeys) { key, v in
            if key == "trigger" { _ = try r.mapping(v, "\(what).trigger"); return }
            s[key] = try r.string(v, "\(what).\(key)")
        }
        return s
    }

    func parseEnvironment(_ r: YAMLReader, _ node: Node, _ what: String) throws -> BuildEnvironment {
        var e = BuildEnvironment()
        let extra = try r.fields(node, what, known: Self.environmentKeys) { key, v in
            switch key {
            case "contents":
                _ = try r.fields(v, "\(what).contents", known: Self.contentsKeys) { ck, cv in
                    switch ck {
                    case "repositories": e.repositories = try r.strings(cv, "\(what).contents.repositories")
                    case "keyring": e.keyring = try r.strings(cv, "\(what).contents.keyring")
                    case "packages": e.packages = try r.strings(cv, "\(what).contents.packages")
                    case "runtime_keyring":
                        try r.check(cv, .runtimeKeyring, "\(what).contents.runtime_keyring")
                        r.warn(cv, "\(what).contents.runtime_keyring: ignored — it only "
                                   + "installs keys for `apk add` at run time, and kiln's build and test roots are offline")
                        e.kept.append(.init(key: "contents.\(ck)", value: YAMLValue(cv)))
                    default: e.kept.append(.init(key: "contents.\(ck)", value: YAMLValue(cv)))
                    }
                }
            case "environment":
                e.variables = try r.stringMap(v, "\(what).environment").map {
                    Variable(name: $0.key, value: $0.value, location: $0.location)
                }
            case "format":
                // apko: the layer payload format (tar or erofs); a build root has no layers.
                let f = try r.string(v, "\(what).format")
                guard ["", "tar", "erofs"].contains(f) else {
                    throw RecipeError(.invalidValue, r.location(v), "\(what).format: `\(f)` is not a layer format (apko knows tar and erofs)")
                }
                e.kept.append(.init(key: key, value: YAMLValue(v)))
            default: e.kept.append(.init(key: key, value: YAMLValue(v)))
            }
        }
        e.kept += extra
        return e
    }

    public func parseSteps(_ r: YAMLReader, _ node: Node, _ what: String) throws -> [PipelineStep] {
        try r.sequence(node, what).enumerated().map { try parseStep(r, $0.element, "\(what)[\($0.offset)]") }
    }

    func parseStep(_ r: YAMLReader, _ node: Node, _ what: String) throws -> PipelineStep {
        var s = PipelineStep(location: r.location(node))
        _ = try r.mapping(node, what)
        _ = try r.fields(node, what, known: Self.stepKeys) { key, v in
            switch key {
            case "name": s.name = try r.string(v, "\(what).name")
            case "uses":
                s.uses = try r.string(v, "\(what).uses"); s.usesLocation = r.location(v)
                if s.uses!.isEmpty { throw RecipeError(.invalidValue, r.location(v), "\(what).uses: must name a pipeline") }
            case "with":
                // A block scalar's location is its first content line (cherry-picks errors name lines of it).
                s.with = try r.entries(v, "\(what).with").map { e in
                    Variable(name: e.key, value: try r.string(e.value, "\(what).with.\(e.key)"), location: contentLocation(r, e.value))
                }
            case "runs":
                s.runs = try r.string(v, "\(what).runs")
                s.runsLocation = contentLocation(r, v)
            case "pipeline": s.pipeline = try parseSteps(r, v, "\(what).pipeline")
            case "if": s.condition = try r.string(v, "\(what).if"); s.conditionLocation = r.location(v)
            case "working-directory": s.workingDirectory = try r.string(v, "\(what).working-directory")
            case "environment":
                s.environment = try r.stringMap(v, "\(what).environment").map { Variable(name: $0.key, value: $0.value, location: $0.location) }
            case "needs":
                _ = try r.fields(v, "\(what).needs", known: ["packages"]) { _, pv in
                    s.needsPackages = try r.strings(pv, "\(what).needs.packages")
                }
            case "label": s.label = try r.string(v, "\(what).label")
            case "assertions": s.assertions = YAMLValue(v)
            case "inputs": _ = try r.mapping(v, "\(what).inputs")
            default: break
            }
        }
        if s.uses != nil && s.runs != nil {
            throw RecipeError(.invalidValue, s.location, "\(what): a step has either `uses` or `runs`, not both")
        }
        return s
    }

    /// Where a scalar's text starts: block scalars (`|`, `>`) begin on the line after the indicator.
    func contentLocation(_ r: YAMLReader, _ node: Node) -> SourceLocation {
        var loc = r.location(node)
        if case .scalar(let sc) = node, sc.style == .literal || sc.style == .folded, loc.line > 0 {
            loc.line += 1; loc.column = 0
        }
        return loc
    }

    func parseSubpackage(_ r: YAMLReader, _ node: Node, _ what: String) throws -> Subpackage {
        let m = try r.mapping(node, what)
        let nameNode = try r.required(m, "name", in: what, at: node)
        var s = Subpackage(name: try r.string(nameNode, "\(what).name"), description: "", pipeline: [],
                           dependencies: Dependencies(), options: PackageOptions(), scriptlets: [:], url: nil,
                           commit: nil, condition: nil, test: nil, range: nil, kept: [], location: r.location(node))
        guard !s.name.isEmpty else { throw RecipeError(.invalidValue, r.location(nameNode), "\(what).name: must not be empty") }
        if !s.name.contains("${{") { try Self.checkName(s.name, "\(what).name", at: r.location(nameNode)) }
        _ = try r.fields(node, what, known: Self.subpackageKeys) { key, v in
            switch key {
            case "name": break
            case "description": s.description = try r.string(v, "\(what).description")
            case "pipeline": s.pipeline = try parseSteps(r, v, "\(what).pipeline")
            case "dependencies": s.dependencies = try parseDependencies(r, v, "\(what).dependencies")
            case "options": s.options = try parseOptions(r, v, "\(what).options")
            case "scriptlets": s.scriptlets = try parseScriptlets(r, v, "\(what).scriptlets")
            case "url": s.url = try r.string(v, "\(what).url")
            case "commit": s.commit = try r.string(v, "\(what).commit")
            case "if": s.condition = try r.string(v, "\(what).if")
            case "test": s.test = try parseTest(r, v, "\(what).test")
            case "annotations": _ = try r.stringMap(v, "\(what).annotations"); s.kept.append(.init(key: key, value: YAMLValue(v)))
            case "checks": try r.check(v, .checks, "\(what).checks"); s.kept.append(.init(key: key, value: YAMLValue(v)))
            case "setcap": try r.check(v, .setcap, "\(what).setcap"); s.kept.append(.init(key: key, value: YAMLValue(v)))
            case "range":
                // melange: an empty range is no range.
                let range = try r.string(v, "\(what).range")
                s.range = range.isEmpty ? nil : range
            default: s.kept.append(.init(key: key, value: YAMLValue(v)))
            }
        }
        return s
    }

    func parseVarTransform(_ r: YAMLReader, _ node: Node, _ what: String) throws -> VarTransform {
        let m = try r.mapping(node, what)
        var t = VarTransform(from: "", match: "", replace: "", to: "", location: r.location(node))
        for key in ["from", "match", "to"] { _ = try r.required(m, key, in: what, at: node) }
        _ = try r.fields(node, what, known: Self.varTransformKeys) { key, v in
            let s = try r.string(v, "\(what).\(key)")
            switch key {
            case "from": t.from = s
            case "match": t.match = s
            case "replace": t.replace = s
            default: t.to = s
            }
        }
        if t.to.isEmpty { throw RecipeError(.invalidValue, t.location, "\(what).to: must name the new variable") }
        do { _ = try NSRegularExpression(pattern: t.match) } catch {
            throw RecipeError(.invalidValue, r.location(m["match"]), "\(what).match: `\(t.match)` is not a valid regular expression")
        }
        return t
    }

    func parseBuildOption(_ r: YAMLReader, name: String, _ node: Node, keyNode: Node) throws -> BuildOption {
        var o = BuildOption(name: name, vars: [], addPackages: [], removePackages: [], location: r.location(keyNode))
        // The option name becomes part of the log name (`--variant NAME`).
        try Self.checkName(name, "options key", at: r.location(keyNode))
        let what = "options.\(name)"
        _ = try r.fields(node, what, known: Self.buildOptionKeys) { key, v in
            if key == "vars" {
                o.vars = try r.stringMap(v, "\(what).vars").map { Variable(name: $0.key, value: $0.value, location: $0.location) }
                return
            }
            _ = try r.fields(v, "\(what).environment", known: ["contents"]) { _, cv in
                _ = try r.fields(cv, "\(what).environment.contents", known: ["packages"]) { _, pv in
                    _ = try r.fields(pv, "\(what).environment.contents.packages", known: ["add", "remove"]) { k, lv in
                        if k == "add" { o.addPackages = try r.strings(lv, "\(what).environment.contents.packages.add") }
                        else { o.removePackages = try r.strings(lv, "\(what).environment.contents.packages.remove") }
                    }
                }
            }
        }
        return o
    }

    func parseTest(_ r: YAMLReader, _ node: Node, _ what: String) throws -> TestBlock {
        var t = TestBlock(environment: BuildEnvironment(), pipeline: [], location: r.location(node))
        _ = try r.fields(node, what, known: Self.testKeys) { key, v in
            if key == "environment" { t.environment = try parseEnvironment(r, v, "\(what).environment") }
            else { t.pipeline = try parseSteps(r, v, "\(what).pipeline") }
        }
        return t
    }
}
