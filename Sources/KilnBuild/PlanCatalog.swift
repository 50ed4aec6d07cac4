import Foundation
import KilnCore
import KilnRecipe

/// `kiln plan`: parse and plan many recipes (files, or directories of `*.yaml`) without building,
/// each independently — one recipe's failure never stops the others.
public enum PlanCatalog {
    /// Totals over every recipe checked.
    public struct Summary: Sendable, Equatable {
        public var recipes = 0
        public var planned = 0
        public var testBlocks = 0
        public var testBlocksPlanned = 0
        public init() {}
        public var line: String {
            func pct(_ a: Int, _ b: Int) -> String { b == 0 ? "-" : String(format: "%.1f%%", Double(a) * 100 / Double(b)) }
            return "recipes planned: \(planned)/\(recipes) (\(pct(planned, recipes))); "
                + "test blocks planned: \(testBlocksPlanned)/\(testBlocks) (\(pct(testBlocksPlanned, testBlocks)))"
        }
    }

    /// The recipe files `arguments` name: files as given, directories' `*.yaml` / `*.yml` (not recursive,
    /// not hidden files such as a formatter's `.yam.yaml`), sorted.
    public static func recipeFiles(_ arguments: [String]) throws -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for a in arguments {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: a, isDirectory: &isDir) else { throw KilnMessage("\(a): no such recipe file or directory") }
            if !isDir.boolValue { out.append(a); continue }
            let names = try fm.contentsOfDirectory(atPath: a).filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }.sorted()
            for n in names {
                let p = (a as NSString).appendingPathComponent(n)
                var d: ObjCBool = false
                if fm.fileExists(atPath: p, isDirectory: &d), !d.boolValue { out.append(p) }
            }
        }
        return out
    }

    /// Checks every recipe with kiln's built-in pipelines plus `pipelineDirectories` (which take
    /// precedence), calling `report` with each result as it is made.
    public static func run(_ arguments: [String], pipelineDirectories: [String], arch: String, lenient: Bool,
                           report: (PlanCheck) -> Void) throws -> Summary {
        let library = try DirectoryPipelineLibrary.standard(extra: pipelineDirectories, lenient: lenient)
        var s = Summary()
        for file in try recipeFiles(arguments) {
            let c = PlanCheck.run(path: file, library: library, arch: arch, lenient: lenient)
            s.recipes += 1
            if c.planned { s.planned += 1 }
            s.testBlocks += c.tests.count
            s.testBlocksPlanned += c.tests.filter { $0.failure == nil }.count
            report(c)
        }
        return s
    }
}
