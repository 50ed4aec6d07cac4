import Foundation
import KilnCore
import KilnRecipe

/// One recipe's line in `kiln update`'s table.
public struct RecipeUpdate: Codable, Sendable, Equatable {
    /// What `--write` does (or would do) with the recipe.
    public enum Action: String, Codable, Sendable {
        /// The archive carries the pinned file (or only newer Debian revisions of the same orig).
        case upToDate = "up to date"
        /// A newer version: bump the recipe's version, reset its epoch, pin the new file.
        case bump
        /// A newer version exists, but the recipe is a FIPS module: bumped by hand after review only.
        case hold
        /// Not fed from Debian's archive (an upstream URI Debian does not carry, or no sources).
        case noFeed = "no feed"
    }
    /// The recipe's package name.
    public var recipe: String
    /// The recipe file.
    public var file: String
    /// The recipe's version now.
    public var pinned: String
    /// The Debian version the pinned file came from (nil: no feed).
    public var debianPinned: String?
    /// What the archive carries now (Debian version; nil: no feed or nothing there).
    public var available: String?
    /// The recipe version a bump writes.
    public var newVersion: String?
    public var action: Action
    /// One line on why.
    public var note: String
    /// The list row and the file the bump pins (for `--write`).
    public var newFile: String?
    public var newSHA256: String?
    var row: Int?
}

/// `kiln update`: compares the recipes fed from Debian's archive (a row of `recipes/debian-sources.txt`
/// pins a file the recipe fetches) with what the archive carries now, and bumps them: version, epoch
/// reset to 0, the new file fetched into the source cache and its digest written into the recipe and
/// the list, keeping the YAML's comments and layout (lines are edited in place).
public struct RecipeUpdater {
    /// The list of Debian files.
    public var list: DebianSourceList
    /// Where `--write` puts the new files.
    public var cache: SourceCache
    /// The archive (a fake in tests).
    public var archive: any DebianArchive
    /// Progress lines.
    public var progress: KilnCore.Progress

    /// Recipes that are FIPS modules: never bumped automatically (the module is chosen, not updated).
    public static let heldRecipes: Set<String> = ["openssl-fips-provider"]

    /// An updater over `list`.
    public init(list: DebianSourceList, cache: SourceCache, archive: any DebianArchive = AptArchive(),
                progress: KilnCore.Progress = .shared) {
        self.list = list; self.cache = cache; self.archive = archive; self.progress = progress
    }

    /// Recipe files under `directory` (not image configs, not the toolchain), sorted.
    public static func recipeFiles(in directory: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: directory) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            if rel.hasSuffix(".yaml"), !rel.hasPrefix("images/"), !rel.hasPrefix("toolchain/"),
               (rel as NSString).lastPathComponent != "modules.yaml" { out.append("\(directory)/\(rel)") }
        }
        return out.sorted()
    }

    /// The table for `recipes` (asks the archive; sources need a deb-src entry, added for the call).
    public func plan(_ recipes: [String]) throws -> [RecipeUpdate] {
        let body = { try recipes.map { try self.plan(recipe: $0) } }
        return list.rows.contains(where: { $0.kind == .source }) ? try archive.withSourceIndex(body) : try body()
    }

    func plan(recipe path: String) throws -> RecipeUpdate {
        let (r, _) = try RecipeParser(lenient: true).parse(path: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var u = RecipeUpdate(recipe: r.package.name, file: path, pinned: r.package.version, action: .noFeed,
                             note: "no file of \(list.path) is pinned by this recipe")
        guard let (i, row) = list.rows.enumerated().first(where: { text.contains($0.element.sha256) }) else { return u }
        u.debianPinned = row.version; u.row = i
        switch row.kind {
        case .source:
            let versions = try archive.sourceVersions(of: row.package)
            guard let newest = try DebianVersion.newest(versions.map(\.version)), let src = versions.first(where: { $0.version == newest }) else {
                u.note = "the archive carries no source package \(row.package)"; return u
            }
            u.available = newest
            if src.upstreamVersion == DebianVersion.upstream(row.version) {
                u.action = .upToDate
                u.note = newest == row.version ? "pinned version is current" : "\(newest) carries the same upstream \(src.upstreamVersion)"
                return u
            }
            guard let orig = src.files.keys.sorted().first(where: { $0.contains(".orig.tar") }) else {
                u.action = .upToDate; u.note = "\(newest) has no orig tarball (a native package)"; return u
            }
            u.newVersion = DebianVersion.recipeVersion(upstream: src.upstreamVersion)
            u.newFile = orig; u.newSHA256 = src.files[orig]
            try Self.checkArchiveFile(orig, sha256: src.files[orig], package: row.package)
        case .binary:
            let arch = row.binaryArch
            let versions = try archive.binaryVersions(of: row.package).filter { $0.arch == arch }
            guard let newest = try DebianVersion.newest(versions.map(\.version)), let bin = versions.first(where: { $0.version == newest }) else {
                u.note = "the archive carries no binary package \(row.package) for \(arch)"; return u
            }
            u.available = newest
            if bin.sha256 == row.sha256 { u.action = .upToDate; u.note = "pinned .deb is current"; return u }
            u.newVersion = DebianVersion.recipeVersion(importing: newest)
            u.newFile = (bin.filename as NSString).lastPathComponent; u.newSHA256 = bin.sha256
            try Self.checkArchiveFile(u.newFile!, sha256: bin.sha256, package: row.package)
        }
        if Self.heldRecipes.contains(r.package.name) {
            u.action = .hold; u.note = "a FIPS module: review and bump by hand (the module is chosen, not updated)"
        } else {
            u.action = .bump; u.note = "\(row.version) -> \(u.available!)"
        }
        return u
    }

    /// What the archive's index says goes into the list and the recipe: a plain file name and a sha256.
    static func checkArchiveFile(_ name: String, sha256: String?, package: String) throws {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", name.allSatisfy({ $0.isASCII && !$0.isWhitespace }),
              let sha = sha256, DebianToolchain.isSHA256(sha) else {
            throw KilnMessage("the archive's index lists '\(name.prefix(120))' (sha256 \(sha256?.prefix(80) ?? "none")) for \(package): not a plain file name with a sha256; refused")
        }
    }

    /// Applies every `.bump` of `plan`: fetches the new file into the cache (digest checked), rewrites
    /// the recipe and the list atomically. Returns the recipes written.
    @discardableResult
    public func write(_ plan: [RecipeUpdate]) throws -> [RecipeUpdate] {
        let bumps = plan.filter { $0.action == .bump }
        guard !bumps.isEmpty else { return [] }
        let body = { () throws -> [RecipeUpdate] in
            var listText = self.list.lines.joined(separator: "\n")
            var current = self.list
            for u in bumps {
                let old = self.list.rows[u.row!]
                let new = DebianSourceList.Row(kind: old.kind, package: old.package, version: u.available!, file: u.newFile!,
                                               sha256: u.newSHA256!, location: old.location)
                try self.fetch(new)
                try self.rewriteRecipe(u, old: old, new: new)
                // Another recipe that stays (held, or not in this run) may still pin the old file.
                let stillPinned = Self.pinnedElsewhere(old.sha256, except: bumps.map(\.file),
                                                       in: (self.list.path as NSString).deletingLastPathComponent)
                let row = current.rows.first { $0.sha256 == old.sha256 } ?? old
                listText = current.replacing(row, with: new, keepOld: stillPinned)
                current = try DebianSourceList.parse(listText, path: self.list.path)
                self.progress.log("update: \(u.recipe) \(u.pinned) -> \(u.newVersion!) (\(new.file), sha256 \(new.sha256.prefix(16)))")
            }
            try AtomicFile.write(listText, to: self.list.path)
            return bumps
        }
        return bumps.contains(where: { self.list.rows[$0.row!].kind == .source }) ? try archive.withSourceIndex(body) : try body()
    }

    /// Downloads the new file and adds it to the cache; its bytes must have the digest the index lists.
    func fetch(_ row: DebianSourceList.Row) throws {
        let dir = "\(cache.root)/tmp/update-\(getpid())-\(row.sha256.prefix(12))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path: String
        switch row.kind {
        case .source:
            _ = try archive.downloadSource(package: row.package, version: row.version, into: dir)
            path = "\(dir)/\(row.file)"
        case .binary:
            guard let p = try archive.download(package: row.package, version: row.version,
                                               arch: row.binaryArch, into: dir) else {
                throw KilnMessage("update: the archive listed \(row.package) \(row.version) but did not deliver it; try again after `apt-get update`")
            }
            path = p
        }
        let got = try SourceCache.sha256(of: path)
        guard got == row.sha256 else {
            throw KilnMessage("update: \(row.file) from the archive has sha256 \(got), its index says \(row.sha256); refused")
        }
        try cache.add(file: path)
    }

    /// Rewrites only the version, epoch, digest and file-name/version mentions of one recipe.
    func rewriteRecipe(_ u: RecipeUpdate, old: DebianSourceList.Row, new: DebianSourceList.Row) throws {
        var lines = try String(contentsOfFile: u.file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var inPackage = false, versionDone = false, epochDone = false
        let oldUpstream = DebianVersion.upstream(old.version), newUpstream = DebianVersion.upstream(new.version)
        for i in lines.indices {
            let line = lines[i]
            if !line.hasPrefix(" ") && !line.hasPrefix("#") && !line.isEmpty { inPackage = line.hasPrefix("package:") }
            let t = line.trimmingCharacters(in: .whitespaces)
            if inPackage, !versionDone, t.hasPrefix("version:") {
                lines[i] = line.replacingOccurrences(of: u.pinned, with: u.newVersion!); versionDone = true; continue
            }
            if inPackage, !epochDone, t.hasPrefix("epoch:") {
                let indent = line.prefix { $0 == " " }
                lines[i] = "\(indent)epoch: 0"; epochDone = true; continue
            }
            var l = line.replacingOccurrences(of: old.sha256, with: new.sha256)
            if old.kind == .binary {
                l = l.replacingOccurrences(of: old.file, with: new.file).replacingOccurrences(of: old.version, with: new.version)
            } else if t.hasPrefix("uri:") || t.hasPrefix("- uri:") {
                l = l.replacingOccurrences(of: old.file, with: new.file).replacingOccurrences(of: oldUpstream, with: newUpstream)
                    .replacingOccurrences(of: u.pinned, with: u.newVersion!)
            }
            lines[i] = l
        }
        guard versionDone else { throw KilnMessage("\(u.file): no `version:` line under `package:` to bump") }
        try AtomicFile.write(lines.joined(separator: "\n"), to: u.file)
    }

    /// Recipe files under `directory` (as `recipeFiles`) whose text contains `sha256`.
    public static func recipes(pinning sha256: String, in directory: String) -> [String] {
        recipeFiles(in: directory).filter { ((try? String(contentsOfFile: $0, encoding: .utf8))?.contains(sha256)) ?? false }
    }

    /// Whether a recipe other than `except` under `directory` pins `sha256`.
    static func pinnedElsewhere(_ sha256: String, except: [String], in directory: String) -> Bool {
        let skip = Set(except.map { ($0 as NSString).standardizingPath })
        return recipes(pinning: sha256, in: directory).contains { !skip.contains(($0 as NSString).standardizingPath) }
    }

    /// The table as text: recipe, pinned, available, action.
    public static func table(_ rows: [RecipeUpdate]) -> String {
        let cols = rows.map { [$0.recipe, $0.pinned + ($0.debianPinned.map { " (\($0))" } ?? ""), $0.available ?? "-",
                              $0.action == .bump ? "bump to \($0.newVersion!)" : $0.action.rawValue, $0.note] }
        let head = ["recipe", "pinned", "available", "action", "note"]
        let w = (0..<4).map { c in max(head[c].count, cols.map { $0[c].count }.max() ?? 0) }
        func line(_ r: [String]) -> String {
            (0..<4).map { r[$0] + String(repeating: " ", count: w[$0] - r[$0].count) }.joined(separator: "  ") + "  " + r[4]
        }
        return ([line(head)] + cols.map(line)).joined(separator: "\n") + "\n"
    }
}

extension DebianVersion {
    /// The newest of `versions` in dpkg's order (`dpkg --compare-versions`); nil when empty.
    public static func newest(_ versions: [String]) throws -> String? {
        var best: String?
        for v in versions {
            guard let b = best else { best = v; continue }
            if try Subprocess("dpkg", ["--compare-versions", v, "gt", b]).run().succeeded { best = v }
        }
        return best
    }

    /// A recipe version for a Debian upstream version: a DFSG/`+ds` repack suffix dropped (`1.2.13.dfsg` → `1.2.13`).
    public static func recipeVersion(upstream: String) -> String {
        for marker in [".dfsg", "+dfsg", "~dfsg", "+ds", ".ds", "~ds"] {
            if let r = upstream.range(of: marker) { return String(upstream[..<r.lowerBound]) }
        }
        return upstream
    }

    /// A recipe version for an imported binary: upstream, Debian revision and stable update number
    /// joined by dots (`2.36-9+deb12u14` → `2.36.9.14`, `20250419~deb12u2` → `20250419.2`).
    public static func recipeVersion(importing debian: String) -> String {
        var v = debian
        if let colon = v.firstIndex(of: ":") { v = String(v[v.index(after: colon)...]) }
        var update: String?
        if let r = v.range(of: #"[+~]deb\d+u(\d+)$"#, options: .regularExpression) {
            update = String(v[r]).split(separator: "u").last.map(String.init)
            v = String(v[..<r.lowerBound])
        }
        v = v.replacingOccurrences(of: "-", with: ".")
        return update.map { "\(v).\($0)" } ?? v
    }
}
