import Foundation
import KilnCore
import KilnCrypto
import KilnRecipe

/// A wrong `expected-commit`: both commits printed.
public struct CommitMismatch: KilnError {
    public var repository: String
    public var ref: String
    public var expected: String
    public var actual: String
    public var location: SourceLocation
    public var description: String {
        "\(location): git-checkout of \(repository): \(ref) is commit \(actual) but expected-commit is \(expected)\n"
            + "  expected: \(expected)\n  actual:   \(actual)\nfix expected-commit (or the tag/branch) in the recipe"
    }
}

/// Bare mirrors of git repositories under `<source cache>/git/`, one per repository URL. A mirror is
/// updated only when a wanted commit or ref is missing, so builds run offline once it holds them.
public struct GitCache: Sendable {
    public var root: String
    /// What a clone or fetch may reach (as for `fetch`): local repositories only below these roots,
    /// http(s)/git/ssh only to addresses that are not this machine's own. Empty roots: no local repositories.
    public var policy: FetchPolicy
    public init(sourceCache: String, policy: FetchPolicy = FetchPolicy()) { root = "\(sourceCache)/git"; self.policy = policy }

    /// Refuses a repository URL the policy does not allow, before git is run on it.
    public func checkAllowed(_ url: String, at location: SourceLocation) throws {
        let lower = url.lowercased()
        if lower.hasPrefix("file://") || url.hasPrefix("/") || url.hasPrefix(".") {
            let path = lower.hasPrefix("file://") ? String(url.dropFirst(7)) : url
            let roots = policy.localRoots.compactMap(Downloader.realPath)
            guard let real = Downloader.realPath(path), roots.contains(where: { real == $0 || real.hasPrefix($0 + "/") }) else {
                throw FetchRefused(location: location, uri: url, reason: "local repositories must be inside the recipe's directory or --source-dir; "
                                       + "add a copy with `kiln source add-git URL PATH_OR_BUNDLE`")
            }
            return
        }
        var host: String?
        if let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(), ["http", "https", "git", "ssh"].contains(scheme) {
            host = c.host
        } else if !url.contains("://"), !url.contains("::"), let at = url.firstIndex(of: ":"), !url[..<at].contains("/") {
            // scp-like user@host:path (`transport::address` is a remote helper, never allowed)
            host = String(url[..<at].split(separator: "@").last ?? "")
        }
        guard var h = host, !h.isEmpty else {
            throw FetchRefused(location: location, uri: url, reason: "only http, https, git and ssh repositories (or a local one beside the recipe) are cloned")
        }
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if !policy.allowLoopback, let bad = Downloader.resolve(h).first(where: Downloader.isHostOnly) {
            throw FetchRefused(location: location, uri: url, reason: "\(h) is a loopback, link-local or unspecified address (\(bad)); "
                                   + "kiln never reaches this machine's own services (tests set KILN_FETCH_ALLOW_LOOPBACK=1)")
        }
    }

    /// `<root>/<last path component>-<sha256(url) prefix>.git`
    public func mirrorPath(for url: String) throws -> String {
        var base = (url.split(separator: "/").last.map(String.init) ?? "repo")
        if base.hasSuffix(".git") { base = String(base.dropLast(4)) }
        base = String(base.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        let h = try Digest.sha256Hex(Data(url.utf8))
        return "\(root)/\(base.isEmpty ? "repo" : base)-\(h.prefix(16)).git"
    }

    static func git(_ args: [String], in dir: String? = nil, environment extra: [String: String] = [:]) throws -> Subprocess.Result {
        guard Subprocess.which("git") != nil else { throw KilnMessage("git is not installed: run `make deps`") }
        // GIT_ALLOW_PROTOCOL: never ext:: (runs a command) or other transports, whatever a URL or .gitmodules says.
        var env = ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "GIT_TERMINAL_PROMPT": "0",
                   "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C", "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh"]
        if let p = ProcessInfo.processInfo.environment["PATH"] { env["PATH"] = p }
        env.merge(extra) { $1 }
        return try Subprocess("git", (dir.map { ["-C", $0] } ?? []) + args, environment: env).run()
    }

    @discardableResult
    static func checkGit(_ args: [String], in dir: String? = nil, what: String) throws -> String {
        let r = try git(args, in: dir)
        guard r.succeeded else {
            throw KilnMessage("\(what): git \(args.joined(separator: " ")) failed: \(r.stderrString.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return r.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Seeds (or updates) the mirror for `url` from a local repository or a `git bundle` file.
    @discardableResult
    public func add(url: String, from source: String) throws -> String {
        let mirror = try mirrorPath(for: url)
        let fm = FileManager.default
        guard fm.fileExists(atPath: source) else { throw KilnMessage("\(source): no such repository or bundle") }
        try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        if fm.fileExists(atPath: mirror) {
            try Self.checkGit(["fetch", "--quiet", "--prune", "--tags", source, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
                              in: mirror, what: "updating the mirror of \(url) from \(source)")
        } else {
            let tmp = AtomicFile.temporaryPath(for: mirror)
            defer { try? fm.removeItem(atPath: tmp) }
            try Self.checkGit(["clone", "--quiet", "--mirror", source, tmp], what: "seeding the mirror of \(url) from \(source)")
            try Self.checkGit(["remote", "set-url", "origin", url], in: tmp, what: "mirror of \(url)")
            try AtomicFile.rename(tmp, to: mirror)
        }
        return mirror
    }

    func hasCommit(_ mirror: String, _ commit: String) -> Bool {
        (try? Self.git(["cat-file", "-e", "\(commit)^{commit}"], in: mirror).succeeded) ?? false
    }

    func resolve(_ mirror: String, _ ref: String) -> String? {
        guard let r = try? Self.git(["rev-parse", "--verify", "--quiet", "\(ref)^{commit}"], in: mirror), r.succeeded else { return nil }
        return r.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Makes sure the mirror holds what `req` wants (cloning/fetching only when it is missing) and
    /// returns the mirror and the commit to check out (verified against expected-commit).
    public func ensure(_ req: GitCheckoutRequest, download: Bool, log: ((String) -> Void)? = nil) throws -> (mirror: String, commit: String) {
        let mirror = try mirrorPath(for: req.repository)
        let fm = FileManager.default
        let ref = req.tag.map { "refs/tags/\($0)" } ?? req.branch.map { "refs/heads/\($0)" }
        func satisfied() -> Bool {
            guard fm.fileExists(atPath: mirror) else { return false }
            if let c = req.expectedCommit, !hasCommit(mirror, c) { return false }
            if let ref, resolve(mirror, ref) == nil { return false }
            return req.cherryPicks.allSatisfy { hasCommit(mirror, $0.commit) }
        }
        if !satisfied() && !(download == false && ref != nil && fm.fileExists(atPath: mirror) && resolve(mirror, ref!) != nil) {
            guard download else {
                if fm.fileExists(atPath: mirror), req.expectedCommit.map({ hasCommit(mirror, $0) }) ?? true,
                   let p = req.cherryPicks.first(where: { !hasCommit(mirror, $0.commit) }) {
                    throw GitCheckoutError.cherryPickMissing(pick: p, repository: req.repository, mirror: mirror, fetched: false)
                }
                throw KilnMessage("\(req.location): \(req.repository) (\(req.expectedCommit ?? ref ?? "HEAD")) is not in the git cache \(root)\n"
                                  + "run `kiln source fetch` (needs network) or `kiln source add-git \(req.repository) PATH_OR_BUNDLE`")
            }
            try checkAllowed(req.repository, at: req.location)
            log?("fetching \(req.repository) into the git cache")
            try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
            if fm.fileExists(atPath: mirror) {
                try Self.checkGit(["fetch", "--quiet", "--prune", "--tags", "origin", "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
                                  in: mirror, what: "\(req.location): updating \(req.repository)")
            } else {
                let tmp = AtomicFile.temporaryPath(for: mirror)
                defer { try? fm.removeItem(atPath: tmp) }
                try Self.checkGit(["clone", "--quiet", "--mirror", req.repository, tmp], what: "\(req.location): cloning \(req.repository)")
                try AtomicFile.rename(tmp, to: mirror)
            }
        }
        var commit: String
        if let ref {
            guard let c = resolve(mirror, ref) else {
                throw KilnMessage("\(req.location): \(req.repository) has no \(req.tag != nil ? "tag" : "branch") `\(req.tag ?? req.branch ?? "")`")
            }
            commit = c
            if let e = req.expectedCommit, e != c {
                throw CommitMismatch(repository: req.repository, ref: req.tag.map { "tag \($0)" } ?? "branch \(req.branch ?? "")",
                                     expected: e, actual: c, location: req.location)
            }
        } else if let e = req.expectedCommit {
            guard let c = resolve(mirror, e), c.hasPrefix(e) || c == e else {
                throw KilnMessage("\(req.location): commit \(e) is not in \(req.repository)")
            }
            commit = c
        } else {
            guard let c = resolve(mirror, "HEAD") else { throw KilnMessage("\(req.location): \(req.repository) has no HEAD") }
            commit = c
        }
        if let e = req.expectedCommit, commit != e, !(e.count < 40 && commit.hasPrefix(e)) {
            throw CommitMismatch(repository: req.repository, ref: "the checkout", expected: e, actual: commit, location: req.location)
        }
        for p in req.cherryPicks where !hasCommit(mirror, p.commit) {
            throw GitCheckoutError.cherryPickMissing(pick: p, repository: req.repository, mirror: mirror, fetched: download)
        }
        return (mirror, commit)
    }

    /// Writes the tree of `commit` (no `.git`) into `destination`, with the request's cherry-picks
    /// applied on top (CherryPicker.swift; `sourceDateEpoch` dates their commits) and submodules
    /// when asked (each from its own mirror, which must be cached or downloadable).
    public func checkout(_ req: GitCheckoutRequest, mirror: String, commit: String, into destination: String,
                         download: Bool, sourceDateEpoch: Int64 = 0, depth: Int = 0) throws {
        guard depth < 8 else { throw KilnMessage("\(req.location): submodules nest too deep") }
        let fm = FileManager.default
        try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        var picked: CherryPicker?
        defer { picked?.remove() }
        var repo = mirror, commit = commit
        if !req.cherryPicks.isEmpty {
            picked = try CherryPicker(mirror: mirror, repository: req.repository, sourceDateEpoch: sourceDateEpoch)
            commit = try picked!.apply(req.cherryPicks, onto: commit)
            repo = picked!.directory
        }
        let mirror = repo
        let tar = "\(destination)/.kiln-git-\(getpid()).tar"
        defer { try? fm.removeItem(atPath: tar) }
        try Self.checkGit(["archive", "--format=tar", "-o", tar, commit], in: mirror, what: "\(req.location): exporting \(commit)")
        try Subprocess("tar", ["-x", "--no-same-owner", "-f", tar, "-C", destination]).check()
        guard req.recurseSubmodules else { return }
        // Submodules: gitlinks (mode 160000) in the tree, URLs from .gitmodules at that commit.
        let tree = try Self.checkGit(["ls-tree", "-r", "-z", commit], in: mirror, what: "listing \(commit)")
        let links = tree.split(separator: "\0").compactMap { line -> (path: String, commit: String)? in
            let parts = line.split(separator: "\t", maxSplits: 1)
            let meta = parts[0].split(separator: " ")
            guard parts.count == 2, meta.count == 3, meta[0] == "160000" else { return nil }
            return (String(parts[1]), String(meta[2]))
        }
        guard !links.isEmpty else { return }
        let cfg = (try? Self.git(["config", "--blob", "\(commit):.gitmodules", "--get-regexp", "^submodule\\..*\\.(path|url)$"], in: mirror))?.stdoutString ?? ""
        var paths: [String: String] = [:], urls: [String: String] = [:]
        for line in cfg.split(separator: "\n") {
            let kv = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            let key = kv[0]
            let name = String(key.dropFirst("submodule.".count).dropLast(key.hasSuffix(".path") ? 5 : 4))
            if key.hasSuffix(".path") { paths[kv[1]] = name } else { urls[name] = kv[1] }
        }
        for link in links {
            guard let name = paths[link.path], var url = urls[name] else {
                throw KilnMessage("\(req.location): submodule at \(link.path) has no URL in .gitmodules")
            }
            if url.hasPrefix("./") || url.hasPrefix("../") {
                url = ((req.repository as NSString).appendingPathComponent(url) as NSString).standardizingPath
            }
            var sub = req
            sub.repository = url; sub.tag = nil; sub.branch = nil; sub.expectedCommit = link.commit; sub.cherryPicks = []
            let (m, c) = try ensure(sub, download: download)
            try checkout(sub, mirror: m, commit: c, into: "\(destination)/\(link.path)", download: download,
                         sourceDateEpoch: sourceDateEpoch, depth: depth + 1)
        }
    }
}
