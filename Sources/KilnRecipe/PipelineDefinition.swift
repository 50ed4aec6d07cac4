import Foundation
import KilnCore
import Yams

/// A reusable pipeline (`uses: NAME`): melange's pipeline YAML files (`name`, `needs`, `inputs`, `pipeline`).
public struct PipelineDefinition: Sendable {
    public struct Input: Sendable, Equatable {
        public var name: String
        public var description: String
        public var defaultValue: String?
        public var required: Bool
    }
    /// The name `uses:` refers to (path below the pipeline directory without `.yaml`, e.g. `autoconf/make`).
    public var id: String
    public var title: String
    public var needsPackages: [String]
    /// Commands the pipeline runs that the build root must have on its PATH (`needs.commands`, kiln's
    /// own key: melange passes unknown keys of pipeline files over). Checked before the first step.
    public var needsCommands: [String] = []
    public var inputs: [Input]
    public var pipeline: [PipelineStep]
    public var file: String

    public func input(_ name: String) -> Input? { inputs.first { $0.name == name } }

    static let keys: Set<String> = ["name", "needs", "inputs", "pipeline"]
    static let inputKeys: Set<String> = ["description", "default", "required"]
    /// What `needs:` of a pipeline definition may hold besides `packages`: kiln's own list of host
    /// commands the pipeline runs (checked against the build root before the first step).
    static let needsKeys: Set<String> = ["packages", "commands"]

    /// Parses a pipeline file; `id` is its name for `uses:`. Like melange, keys it does not know
    /// (`description:` and the like, at any level) are passed over — only recipes are strict — but
    /// every known key must have the right type. `lenient` is accepted for callers' symmetry.
    public static func parse(path: String, id: String, lenient: Bool = false) throws -> PipelineDefinition {
        guard let data = try YAMLLimits.readFile(path), let text = String(data: data, encoding: .utf8) else {
            throw RecipeError(.io, SourceLocation(file: path), "cannot read pipeline file")
        }
        return try parse(text: text, file: path, id: id, lenient: lenient)
    }

    public static func parse(text: String, file: String, id: String, lenient: Bool = false) throws -> PipelineDefinition {
        let r = YAMLReader(file: file, lenient: lenient, ignoresUnknownKeys: true)
        let root = try r.root(text, expected: "a pipeline definition (`name:`, `inputs:`, `pipeline:`)")
        var def = PipelineDefinition(id: id, title: id, needsPackages: [], inputs: [], pipeline: [], file: file)
        _ = try r.fields(root, "pipeline definition", known: keys) { key, v in
            switch key {
            case "name": def.title = try r.string(v, "name")
            case "needs":
                _ = try r.fields(v, "needs", known: needsKeys) { k, pv in
                    if k == "packages" { def.needsPackages = try r.strings(pv, "needs.packages") }
                    else { def.needsCommands = try r.strings(pv, "needs.commands") }
                }
            case "inputs":
                if r.isNull(v) { return }
                for (name, _, iv) in try r.entries(v, "inputs") {
                    var input = Input(name: name, description: "", defaultValue: nil, required: false)
                    _ = try r.fields(iv, "inputs.\(name)", known: inputKeys) { ik, ivv in
                        switch ik {
                        case "description": input.description = try r.string(ivv, "inputs.\(name).description")
                        case "default": input.defaultValue = try r.string(ivv, "inputs.\(name).default")
                        default: input.required = try r.bool(ivv, "inputs.\(name).required")
                        }
                    }
                    def.inputs.append(input)
                }
            default: def.pipeline = try RecipeParser(lenient: lenient).parseSteps(r, v, "pipeline")
            }
        }
        return def
    }
}

/// Where `uses:` names are looked up. `definition(named:)` returns nil for a name it does not know
/// and throws when the file for that name is bad (the error names the file).
public protocol PipelineLibrary {
    func definition(named: String) throws -> PipelineDefinition?
    var names: [String] { get }
}
