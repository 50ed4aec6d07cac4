import Foundation
import KilnCore

/// The FIPS variant's package semantics (owner: fips). `kiln build --variant fips` applies the
/// recipe's build option `fips` (melange's `options:`, so plain melange still parses the recipe and
/// can build it with `--build-option fips`) and then this renaming:
/// - every package of the recipe gets the `-fips` suffix (`curl` → `curl-fips`, `libcurl4` →
///   `libcurl4-fips`); runtime dependencies on packages of the same recipe follow the rename;
/// - every package depends on `openssl-fips-provider` and `openssl-config-fips`;
/// - every package `replaces` its standard name (same files), and — because its files are the same —
///   the APK writer's scan gives it the standard package's `so:`/`cmd:` provides.
/// Note: inside a FIPS build `${{package.name}}` is the `-fips` name; recipes name their upstream
/// tarballs literally.
extension Recipe {
    public static let fipsVariant = "fips"
    public static let fipsSuffix = "-fips"
    public static let fipsRuntimePackages = FIPSPackageName.runtime

    public func applyingFIPSVariantNaming() -> Recipe {
        var r = self
        let standard = packageNames
        func renamed(_ n: String) -> String { n.hasSuffix(Self.fipsSuffix) ? n : n + Self.fipsSuffix }
        func fix(_ d: Dependencies, standardName: String) -> Dependencies {
            var d = d
            d.runtime = d.runtime.map { dep in
                guard let a = DependencyAtom.parse(dep), !a.conflict, a.tag == nil, dep.hasPrefix(a.name),
                      standard.contains(a.name) else { return dep }
                return renamed(a.name) + dep.dropFirst(a.name.count)
            }
            for p in Self.fipsRuntimePackages where !d.runtime.contains(p) && standardName != p { d.runtime.append(p) }
            if !d.replaces.contains(standardName) { d.replaces.append(standardName) }
            return d
        }
        let main = r.package.name
        r.package.dependencies = fix(r.package.dependencies, standardName: main)
        r.package.name = renamed(main)
        for i in r.subpackages.indices {
            let n = r.subpackages[i].name
            // `${{package.name}}-dev` follows the main package's new name by itself.
            let stdName = n.replacingOccurrences(of: "${{package.name}}", with: main)
            r.subpackages[i].dependencies = fix(r.subpackages[i].dependencies, standardName: stdName)
            if !n.contains("${{") { r.subpackages[i].name = renamed(n) }
        }
        return r
    }
}
