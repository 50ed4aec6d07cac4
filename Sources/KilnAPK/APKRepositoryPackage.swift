import Foundation

/// An APKINDEX record found in a repository: the record itself (read through dynamic member
/// lookup, so `p.name`, `p.version`, `p.depends` work), where its `.apk` lives and the position of
/// its repository in the configured order (earlier repositories win ties in the `Solver`).
@dynamicMemberLookup
public struct APKRepositoryPackage: Equatable, Sendable {
    /// The index record.
    public var record: APKIndexRecord
    /// The `.apk` path (empty for synthetic records in tests).
    public var location: String
    /// Index of the repository in the configured order.
    public var repositoryIndex: Int

    /// A package of a repository.
    public init(record: APKIndexRecord, location: String = "", repositoryIndex: Int = 0) {
        self.record = record; self.location = location; self.repositoryIndex = repositoryIndex
    }

    /// A synthetic package (solver tests, build roots): `origin` defaults to `name`, arch `x86_64`.
    public init(name: String, version: String, depends: [String] = [], provides: [String] = [],
                origin: String? = nil, providerPriority: Int? = nil) {
        var r = APKIndexRecord()
        r.name = name; r.version = version; r.depends = depends; r.provides = provides
        r.origin = origin ?? name; r.providerPriority = providerPriority; r.arch = "x86_64"
        self.init(record: r)
    }

    /// Reads a field of the record.
    public subscript<T>(dynamicMember keyPath: KeyPath<APKIndexRecord, T>) -> T { record[keyPath: keyPath] }
}

extension APKIndexRecord {
    /// `<name>-<version>`.
    public var nameVersion: String { "\(name)-\(version)" }

    /// The origin, or the name when the record has none (what images group layers by).
    public var originOrName: String { (origin ?? "").isEmpty ? name : origin! }

    /// The record as `lib/apk/db/installed` header lines (without the file list): empty values are
    /// left out, except `S:`, `I:` and `t:` which are always written (`t:0` when unknown).
    public func installedHeader() -> String {
        var s = ""
        func add(_ k: String, _ v: String) { if !v.isEmpty { s += "\(k):\(v)\n" } }
        add("C", checksum); add("P", name); add("V", version); add("A", arch)
        add("S", String(size)); add("I", String(installedSize)); add("T", description); add("U", url)
        add("L", license); add("o", origin ?? ""); add("m", maintainer ?? ""); add("t", String(buildTime ?? 0))
        add("c", commit ?? "")
        if let k = providerPriority { add("k", String(k)) }
        add("D", depends.joined(separator: " ")); add("p", provides.joined(separator: " "))
        add("i", installIf.joined(separator: " "))
        return s
    }
}
