import Foundation
import KilnCore

/// A melange-dialect recipe. Field names follow melange (pkg/config/config.go). Every value that a
/// later error may need to point at keeps its `SourceLocation`.
public struct Recipe: Sendable {
    public var file: String
    public var package: Package
    public var environment: BuildEnvironment
    public var pipeline: [PipelineStep]
    public var subpackages: [Subpackage]
    /// `vars` in file order.
    public var vars: [Variable]
    public var varTransforms: [VarTransform]
    /// Build options (`options:`), switched on with `--variant NAME` / melange's `--build-option`.
    public var options: [BuildOption]
    public var test: TestBlock?
    /// Kept, not interpreted: `update`, `data`, `capabilities`.
    public var update: YAMLValue?
    public var data: YAMLValue?
    public var capabilities: YAMLValue?
    /// Unknown top-level keys (only with lenient parsing), kept verbatim.
    public var extra: [YAMLValue.KeyValue]
    /// Build options already applied (see `applying(buildOption:)`); the first one is the variant.
    public var appliedOptions: [String] = []

    /// The build variant exposed as `${{build.variant}}`: the applied build option or `standard`.
    public var variant: String { appliedOptions.first ?? "standard" }

    public var directory: String { (file as NSString).deletingLastPathComponent }

    /// Names of the package and its subpackages, in order.
    public var packageNames: [String] { [package.name] + subpackages.map(\.name) }
}

public struct Package: Sendable {
    public var name: String
    /// Exactly as written in the file (`1.10` stays `1.10`).
    public var version: String
    public var epoch: Int
    public var description: String
    public var url: String?
    public var commit: String?
    public var copyright: [Copyright]
    public var dependencies: Dependencies
    public var options: PackageOptions
    public var targetArchitecture: [String]
    public var scriptlets: [String: String]
    public var annotations: [String: String]
    /// Kept verbatim: `checks`, `cpe`, `setcap`, `timeout`, `resources`, `test-resources`.
    public var kept: [YAMLValue.KeyValue]
    public var location: SourceLocation
    public var versionLocation: SourceLocation

    /// `<version>-r<epoch>`.
    public var fullVersion: String { "\(version)-r\(epoch)" }
}

public struct Copyright: Sendable, Equatable {
    public var license: String
    public var paths: [String]
    public var attestation: String?
    public var licensePath: String?
}

public struct Dependencies: Sendable, Equatable {
    public var runtime: [String] = []
    public var provides: [String] = []
    public var replaces: [String] = []
    public var providerPriority: String?
    public init() {}
}

public struct PackageOptions: Sendable, Equatable {
    public var noProvides = false
    public var noDepends = false
    public var noCommands = false
    public var noVersionedShlibDeps = false
    public init() {}
}

/// `environment:` of a recipe (an apko image configuration; kiln uses contents and environment).
public struct BuildEnvironment: Sendable {
    public var repositories: [String] = []
    public var keyring: [String] = []
    public var packages: [String] = []
    public var variables: [Variable] = []
    /// Other apko keys (accounts, archs, paths, ...) kept verbatim.
    public var kept: [YAMLValue.KeyValue] = []
    public init() {}
}

public struct Variable: Sendable, Equatable {
    public var name: String
    public var value: String
    public var location: SourceLocation
    public init(name: String, value: String, location: SourceLocation) {
        self.name = name; self.value = value; self.location = location
    }
}

/// A `with:` argument or `environment:` entry of a step, with the place of its value.
public typealias StepArgument = Variable

public struct PipelineStep: Sendable {
    public var name: String?
    public var uses: String?
    public var with: [StepArgument] = []
    public var runs: String?
    /// Where the `runs` text starts (first line of its content) — substitution errors count from here.
    public var runsLocation: SourceLocation?
    public var condition: String?
    public var conditionLocation: SourceLocation?
    public var workingDirectory: String?
    public var environment: [Variable] = []
    public var pipeline: [PipelineStep] = []
    public var needsPackages: [String] = []
    public var label: String?
    public var assertions: YAMLValue?
    public var location: SourceLocation
    public var usesLocation: SourceLocation?

    public init(location: SourceLocation) { self.location = location }

    /// What progress lines call the step.
    public var displayName: String {
        if let name, !name.isEmpty { return name }
        if let uses { return uses }
        if let runs { return String(runs.split(separator: "\n").first ?? "runs").prefix(60).description }
        return "step"
    }

    public func argument(_ name: String) -> StepArgument? { with.first { $0.name == name } }
}

public struct Subpackage: Sendable {
    public var name: String
    public var description: String
    public var pipeline: [PipelineStep]
    public var dependencies: Dependencies
    public var options: PackageOptions
    public var scriptlets: [String: String]
    public var url: String?
    public var commit: String?
    public var condition: String?
    public var test: TestBlock?
    public var range: String?
    public var kept: [YAMLValue.KeyValue]
    public var location: SourceLocation
}

public struct VarTransform: Sendable, Equatable {
    public var from: String
    public var match: String
    public var replace: String
    public var to: String
    public var location: SourceLocation
}

/// A melange build option: extra vars and environment packages to add/remove.
public struct BuildOption: Sendable {
    public var name: String
    public var vars: [Variable]
    public var addPackages: [String]
    public var removePackages: [String]
    public var location: SourceLocation
}

/// A `test:` block (run by `kiln test`).
public struct TestBlock: Sendable {
    public var environment: BuildEnvironment
    public var pipeline: [PipelineStep]
    public var location: SourceLocation
}

extension Recipe {
    /// The recipe with build option `name` applied: its vars override the recipe's, its packages are
    /// added to / removed from `environment.contents.packages`, and `build.variant` becomes `name`.
    /// `standard` (kiln's default variant) is accepted when no option of that name exists.
    public func applying(buildOption name: String) throws -> Recipe {
        guard let option = options.first(where: { $0.name == name }) else {
            if name == "standard" { return self }
            let known = options.map(\.name).sorted()
            throw RecipeError(.invalidValue, SourceLocation(file: file),
                              "no build option `\(name)` in this recipe"
                              + (known.isEmpty ? " (it has no `options:`)" : " (it has: \(known.joined(separator: ", ")))"))
        }
        var r = self
        for v in option.vars {
            if let i = r.vars.firstIndex(where: { $0.name == v.name }) { r.vars[i] = v } else { r.vars.append(v) }
        }
        r.environment.packages.removeAll { option.removePackages.contains($0) }
        for p in option.addPackages where !r.environment.packages.contains(p) { r.environment.packages.append(p) }
        r.appliedOptions.append(name)
        if name == Recipe.fipsVariant && r.appliedOptions.count == 1 { r = r.applyingFIPSVariantNaming() }   // FIPSVariant.swift
        return r
    }
}
