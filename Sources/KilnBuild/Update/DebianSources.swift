import Foundation
import KilnCore

/// A pinned file the archive no longer carries with its pinned digest.
public struct PinnedFileGone: KilnError {
    /// The list row.
    public var row: DebianSourceList.Row
    /// Recipes that pin the file (their paths).
    public var recipes: [String]
    /// Versions the archive carries now.
    public var available: [String]
    /// When the archive has the same file name with another digest: that digest.
    public var otherDigest: String?
    public var description: String {
        let who = recipes.isEmpty ? "" : " (pinned by \(recipes.joined(separator: ", ")))"
        var s = "\(row.location): Debian's archive no longer has \(row.file) with sha256 \(row.sha256)\(who)"
        if let d = otherDigest { s += "; it now has a file of that name with sha256 \(d), which is refused" }
        s += available.isEmpty ? "; it carries no version of \(row.package)" : "; \(row.package) versions there now: \(available.joined(separator: ", "))"
        let names = recipes.map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        return s + ".\nRun `kiln update \(names.joined(separator: " "))` (add --write to bump the recipe and this list)."
    }
}

/// Fills the source cache with the files of a `DebianSourceList`, looked up by content: a source file
/// by package and *upstream* version (any Debian revision whose file has the pinned sha256), a binary
/// package by the sha256 of its `.deb` (any version whose file has it). A rerun with everything cached
/// asks the archive nothing.
public struct DebianSourceFetcher {
    /// The list.
    public var list: DebianSourceList
    /// Where the files go.
    public var cache: SourceCache
    /// The archive (a fake in tests).
    public var archive: any DebianArchive
    /// Recipes (`*.yaml` here and below) searched for the pins, to name them in errors.
    public var recipesDirectory: String?
    /// Progress lines.
    public var progress: KilnCore.Progress

    /// A fetcher of `list` into `cache`.
    public init(list: DebianSourceList, cache: SourceCache, archive: any DebianArchive = AptArchive(),
                recipesDirectory: String? = nil, progress: KilnCore.Progress = .shared) {
        self.list = list; self.cache = cache; self.archive = archive
        self.recipesDirectory = recipesDirectory; self.progress = progress
    }

    /// The rows whose file is not cached yet.
    public var missing: [DebianSourceList.Row] {
        list.rows.filter { !FileManager.default.fileExists(atPath: cache.path(sha256: $0.sha256)) }
    }

    /// Fetches every missing row; returns how many files were added.
    @discardableResult
    public func fetchMissing() throws -> Int {
        let todo = missing
        guard !todo.isEmpty else {
            progress.log("sources: all \(list.rows.count) Debian files already in \(cache.root)")
            return 0
        }
        let work = "\(cache.root)/tmp/debian-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let needSources = todo.contains { $0.kind == .source }
        let body = {
            for row in todo {
                let dir = "\(work)/\(row.sha256.prefix(12))"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let path = row.kind == .source ? try self.fetchSource(row, into: dir) : try self.fetchBinary(row, into: dir)
                try self.cache.add(file: path)
            }
        }
        if needSources { try archive.withSourceIndex(body) } else { try body() }
        progress.log("sources: \(todo.count) file(s) added to \(cache.root)")
        return todo.count
    }

    func fetchSource(_ row: DebianSourceList.Row, into dir: String) throws -> String {
        let upstream = DebianVersion.upstream(row.version)
        let versions = try archive.sourceVersions(of: row.package)
        // Same upstream version first (the pinned revision before others), then any version listing the file.
        let ranked = versions.filter { $0.version == row.version } + versions.filter { $0.version != row.version && $0.upstreamVersion == upstream }
            + versions.filter { $0.upstreamVersion != upstream }
        guard let hit = ranked.first(where: { $0.files[row.file] == row.sha256 }) else {
            throw PinnedFileGone(row: row, recipes: recipesPinning(row.sha256), available: versions.map(\.version),
                                 otherDigest: versions.compactMap { $0.files[row.file] }.first)
        }
        if hit.version != row.version {
            progress.log("sources: \(row.package)=\(row.version) is gone from the archive; \(hit.version) carries the same \(row.file) (sha256 \(row.sha256.prefix(16)))")
        }
        progress.log("sources: apt-get source --download-only \(row.package)=\(hit.version)")
        _ = try archive.downloadSource(package: row.package, version: hit.version, into: dir)
        return try checked("\(dir)/\(row.file)", row)
    }

    func fetchBinary(_ row: DebianSourceList.Row, into dir: String) throws -> String {
        let versions = try archive.binaryVersions(of: row.package)
        guard let hit = versions.first(where: { $0.sha256 == row.sha256 }) else {
            throw PinnedFileGone(row: row, recipes: recipesPinning(row.sha256), available: versions.map(\.version),
                                 otherDigest: versions.first(where: { $0.version == row.version })?.sha256)
        }
        progress.log("sources: apt-get download \(row.package)=\(hit.version)")
        guard let got = try archive.download(package: row.package, version: hit.version, arch: hit.arch, into: dir) else {
            throw PinnedFileGone(row: row, recipes: recipesPinning(row.sha256), available: versions.map(\.version), otherDigest: nil)
        }
        return try checked(got, row)
    }

    /// The delivered file must have the pinned digest (the index said so; the bytes must agree).
    func checked(_ path: String, _ row: DebianSourceList.Row) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KilnMessage("\(row.location): apt did not deliver \(row.file) for \(row.package)")
        }
        let got = try SourceCache.sha256(of: path)
        guard got == row.sha256 else {
            throw KilnMessage("\(row.location): \(row.file) from the archive has sha256 \(got), the pin is \(row.sha256); refused. Run `kiln update` to review the new file.")
        }
        return path
    }

    /// Recipe files under `recipesDirectory` that pin `sha256`.
    func recipesPinning(_ sha256: String) -> [String] {
        recipesDirectory.map { RecipeUpdater.recipes(pinning: sha256, in: $0) } ?? []
    }
}
