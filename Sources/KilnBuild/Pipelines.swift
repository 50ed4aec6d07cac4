import Foundation
import KilnCore
import KilnRecipe

/// Pipelines loaded from directories of YAML files: `<dir>/autoconf/make.yaml` is `uses: autoconf/make`.
/// Directories given later are searched first (user `--pipeline-dir`s override kiln's built-ins).
public struct DirectoryPipelineLibrary: PipelineLibrary {
    private var definitions: [String: PipelineDefinition] = [:]

    public init(directories: [String], lenient: Bool = false) throws {
        for dir in directories {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw KilnMessage("pipeline directory \(dir) does not exist")
            }
            guard let e = FileManager.default.enumerator(atPath: dir) else { continue }
            var files: [String] = []
            while let f = e.nextObject() as? String { if f.hasSuffix(".yaml") || f.hasSuffix(".yml") { files.append(f) } }
            for f in files.sorted() {
                let id = (f as NSString).deletingPathExtension
                definitions[id] = try PipelineDefinition.parse(path: "\(dir)/\(f)", id: id, lenient: lenient)
            }
        }
    }

    public func definition(named name: String) -> PipelineDefinition? { definitions[name] }
    public var names: [String] { definitions.keys.sorted() }

    /// kiln's built-in pipelines plus `extra` directories (which take precedence).
    public static func standard(extra: [String] = [], lenient: Bool = false) throws -> DirectoryPipelineLibrary {
        try DirectoryPipelineLibrary(directories: [try BuiltinPipelines.directory()] + extra, lenient: lenient)
    }
}

/// Locates the `Pipelines` resource directory shipped with kiln.
public enum BuiltinPipelines {
    public static func directory() throws -> String {
        let fm = FileManager.default
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["KILN_PIPELINES_DIR"], !env.isEmpty { candidates.append(env) }
        // SwiftPM puts the resource bundle next to the executable (also for test bundles).
        let exe = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
        var dir = (exe as NSString).deletingLastPathComponent
        for _ in 0..<3 {
            candidates.append("\(dir)/kiln_KilnBuild.resources/Pipelines")
            candidates.append("\(dir)/kiln_KilnBuild.bundle/Pipelines")
            dir = (dir as NSString).deletingLastPathComponent
        }
        if let r = Bundle.main.resourcePath { candidates.append("\(r)/kiln_KilnBuild.resources/Pipelines") }
        // A development checkout: the sources themselves.
        candidates.append(((#filePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("Pipelines"))
        for c in candidates where fm.fileExists(atPath: "\(c)/fetch.yaml") { return c }
        throw KilnMessage("kiln's built-in pipelines were not found (looked in \(candidates.joined(separator: ", "))); set KILN_PIPELINES_DIR")
    }
}
