import Foundation
import KilnCore
import KilnRecipe

/// Pipelines from directories of YAML files: `<dir>/autoconf/make.yaml` is `uses: autoconf/make`.
/// Directories given later are searched first (user `--pipeline-dir`s override kiln's built-ins).
/// Like melange, a file is read and parsed only when a recipe names it (then cached): one bad file in a
/// distribution's pipeline folder fails the recipes that use it — with an error naming the file — and
/// no other. Only names found when the directories were listed can be loaded (`uses: ../x` never can).
public final class DirectoryPipelineLibrary: PipelineLibrary, @unchecked Sendable {
    /// name → file, the winning directory's file for each name.
    private let files: [String: String]
    private let lenient: Bool
    private let lock = NSLock()
    private var cache: [String: Result<PipelineDefinition, RecipeError>] = [:]

    public init(directories: [String], lenient: Bool = false) throws {
        var files: [String: String] = [:]
        for dir in directories {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw KilnMessage("pipeline directory \(dir) does not exist")
            }
            guard let e = FileManager.default.enumerator(atPath: dir) else { continue }
            while let f = e.nextObject() as? String {
                guard f.hasSuffix(".yaml") || f.hasSuffix(".yml") else { continue }
                files[(f as NSString).deletingPathExtension] = "\(dir)/\(f)"
            }
        }
        self.files = files
        self.lenient = lenient
    }

    /// The definition `uses: name` means, parsed on first use; nil when no directory has that name.
    public func definition(named name: String) throws -> PipelineDefinition? {
        guard let file = files[name] else { return nil }
        lock.lock(); defer { lock.unlock() }
        if let r = cache[name] { return try r.get() }
        let r: Result<PipelineDefinition, RecipeError>
        do {
            r = .success(try PipelineDefinition.parse(path: file, id: name, lenient: lenient))
        } catch let e as RecipeError {
            r = .failure(RecipeError(e.kind, e.location, "pipeline `\(name)` (\(file)) is not valid: \(e.message)"))
        } catch {
            r = .failure(RecipeError(.io, SourceLocation(file: file), "pipeline `\(name)`: \(error)"))
        }
        cache[name] = r
        return try r.get()
    }

    /// The file `uses: name` reads (without parsing it), or nil.
    public func file(named name: String) -> String? { files[name] }
    public var names: [String] { files.keys.sorted() }

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
