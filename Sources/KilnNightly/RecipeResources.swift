import Foundation
import KilnCore
import KilnRecipe

/// A recipe's `package.resources` (`cpu: 4`, `memory: 8Gi`), checked: what a Slurm job
/// (`--cpus-per-task`, `--mem`) or a Kubernetes pod (`resources.requests`) asks for.
public struct RecipeResources: Equatable, Sendable {
    /// Whole CPUs (nil: not given).
    public var cpu: Int?
    /// Memory as amount and binary unit (`Gi`, `Mi`, `Ki`, `Ti`; decimal `G` etc. are read as binary).
    public var memory: (amount: Int, unit: String)?

    public static func == (a: RecipeResources, b: RecipeResources) -> Bool {
        a.cpu == b.cpu && a.memory?.amount == b.memory?.amount && a.memory?.unit == b.memory?.unit
    }

    /// The Kubernetes quantity of `memory` (`8Gi`).
    public var kubernetesMemory: String? { memory.map { "\($0.amount)\($0.unit)" } }

    /// Reads the recipe leniently (an unreadable recipe has no resources); a bad value names the file.
    public static func load(recipePath: String) throws -> RecipeResources {
        guard let recipe = try? RecipeParser(lenient: true).parse(path: recipePath).recipe,
              case .mapping(let kv)? = recipe.package.kept.first(where: { $0.key == "resources" })?.value else { return RecipeResources() }
        var r = RecipeResources()
        for e in kv {
            guard case .scalar(let v) = e.value else { continue }
            switch e.key {
            case "cpu":
                guard let n = Int(v), n > 0 else { throw KilnMessage("\(recipePath): resources.cpu \(v) is not a positive whole number") }
                r.cpu = n
            case "memory":
                let units: [(String, String)] = [("Ti", "Ti"), ("Gi", "Gi"), ("Mi", "Mi"), ("Ki", "Ki"), ("T", "Ti"), ("G", "Gi"), ("M", "Mi"), ("K", "Ki")]
                guard let (suffix, unit) = units.first(where: { v.hasSuffix($0.0) }), let n = Int(v.dropLast(suffix.count)), n > 0 else {
                    throw KilnMessage("\(recipePath): resources.memory \(v) is not a size like 4Gi or 512Mi")
                }
                r.memory = (n, unit)
            default: break
            }
        }
        return r
    }
}
