import Foundation
import KilnAPK

/// `layering: {strategy: origin, budget: N}`: packages grouped by origin; the largest groups that
/// the variants share get their own layers (at most N-1), the rest and kiln's own files go into
/// the top layer. The plan is made over all variants at once, so a shared group is the same
/// layer (same digest) in both images, and a package update touches only its group's layer and
/// the top layer.
public struct LayerPlan {
    public struct Group: Sendable {
        public var origin: String
        public var packages: [APKRepositoryPackage]
        /// Identity of the group's content (origin + package checksums).
        public var key: String
        public var installedSize: Int64
        public var sharedBy: Int
    }
    public var selected: [Group] = []
    var membership: [ImageVariant: Set<String>] = [:]

    /// The group layers for `variant`, bottom first.
    public func groups(for variant: ImageVariant) -> [Group] {
        selected.filter { membership[variant]?.contains($0.key) ?? false }
    }
}

public enum Layering {
    public static func plan(_ layering: ImageConfig.Layering?, variants: [ImageVariant: [APKRepositoryPackage]]) -> LayerPlan {
        var plan = LayerPlan()
        guard let layering, layering.budget > 1 else { return plan }
        var groups: [String: LayerPlan.Group] = [:]
        for (v, pkgs) in variants {
            var byOrigin: [String: [APKRepositoryPackage]] = [:]
            for r in pkgs { byOrigin[r.originOrName, default: []].append(r) }
            var keys: Set<String> = []
            for (o, rs) in byOrigin {
                let sorted = rs.sorted { $0.name < $1.name }
                let key = o + "|" + sorted.map { "\($0.nameVersion)#\($0.checksum)" }.joined(separator: ",")
                keys.insert(key)
                if groups[key] == nil {
                    groups[key] = .init(origin: o, packages: sorted, key: key,
                                        installedSize: sorted.reduce(0) { $0 + max($1.installedSize, 1) }, sharedBy: 0)
                }
                groups[key]!.sharedBy += 1
            }
            plan.membership[v] = keys
        }
        let ranked = groups.values.sorted { a, b in
            if a.sharedBy != b.sharedBy { return a.sharedBy > b.sharedBy }
            if a.installedSize != b.installedSize { return a.installedSize > b.installedSize }
            return a.key < b.key
        }
        plan.selected = Array(ranked.prefix(layering.budget - 1))
        return plan
    }
}
