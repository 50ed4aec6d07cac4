import Foundation
import KilnCore
import KilnRecipe

/// What can go wrong applying a `git-checkout`'s `cherry-picks`.
public enum GitCheckoutError: KilnError {
    /// The picked commit is not in the mirror (`fetched`: even after fetching the repository).
    case cherryPickMissing(pick: CherryPick, repository: String, mirror: String, fetched: Bool)
    /// The pick does not apply cleanly on top of `onto`; `paths` are the conflicting files.
    case cherryPickConflict(pick: CherryPick, repository: String, onto: String, paths: [String])
    /// git refused the pick for another reason (a merge commit, ...): its own words in `reason`.
    case cherryPickFailed(pick: CherryPick, repository: String, reason: String)

    public var description: String {
        switch self {
        case let .cherryPickMissing(p, repo, mirror, fetched):
            return "\(p.location): cherry-pick \(p.commit) (\(p.comment)) is not in the git cache's mirror of \(repo) (\(mirror))"
                + (fetched ? ", not even after fetching it" : "") + "\n"
                + "seed the mirror from a repository or bundle holding that commit"
                + (p.branch.map { " (upstream branch \($0))" } ?? "") + ": `kiln source add-git \(repo) PATH_OR_BUNDLE`"
                + (fetched ? "" : ", or run `kiln source fetch` (needs network)")
        case let .cherryPickConflict(p, repo, onto, paths):
            return "\(p.location): cherry-pick \(p.commit) (\(p.comment)) conflicts with \(repo) at \(onto) in: "
                + paths.joined(separator: ", ") + "\n"
                + "pick the commits it depends on first (picks apply in order), or replace it with a patch that applies"
        case let .cherryPickFailed(p, repo, reason):
            return "\(p.location): cherry-pick \(p.commit) (\(p.comment)) of \(repo) failed: \(reason)"
        }
    }
}

/// Applies cherry-picks outside the sandbox in a scratch repository that borrows the mirror's
/// objects (git alternates): the shared mirror is never written to, and nothing is fetched. Each
/// pick is committed as `kiln <kiln@kiln.invalid>` with author and committer date
/// SOURCE_DATE_EPOCH, so the resulting commits (and any `export-subst` text) are the same on every
/// build. The caller exports the final tree with `git archive` (no `.git`) and removes the scratch
/// repository.
struct CherryPicker {
    let mirror: String
    let repository: String
    let sourceDateEpoch: Int64
    /// The scratch repository (with a work tree).
    let directory: String

    init(mirror: String, repository: String, sourceDateEpoch: Int64) throws {
        self.mirror = URL(fileURLWithPath: mirror).standardizedFileURL.path
        self.repository = repository
        self.sourceDateEpoch = sourceDateEpoch
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "kiln-cherry-pick-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try GitCache.checkGit(["init", "--quiet", directory], what: "cherry-picks for \(repository): making a scratch repository")
        try AtomicFile.write("\(self.mirror)/objects\n", to: "\(directory)/.git/objects/info/alternates")
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// The fixed identity and dates of the pick commits.
    var identity: [String: String] {
        let date = "@\(sourceDateEpoch) +0000"
        return ["GIT_AUTHOR_NAME": "kiln", "GIT_AUTHOR_EMAIL": "kiln@kiln.invalid", "GIT_AUTHOR_DATE": date,
                "GIT_COMMITTER_NAME": "kiln", "GIT_COMMITTER_EMAIL": "kiln@kiln.invalid", "GIT_COMMITTER_DATE": date]
    }

    func git(_ args: [String]) throws -> Subprocess.Result {
        try GitCache.git(["-c", "advice.detachedHead=false", "-c", "core.hooksPath=/dev/null"] + args,
                         in: directory, environment: identity)
    }

    /// Checks out `commit`, applies `picks` in order and returns the resulting commit.
    func apply(_ picks: [CherryPick], onto commit: String) throws -> String {
        var r = try git(["checkout", "--quiet", "--detach", commit])
        guard r.succeeded else {
            throw KilnMessage("cherry-picks for \(repository): checking out \(commit) failed: \(r.stderrString.trimmed)")
        }
        var head = commit
        for p in picks {
            r = try git(["cherry-pick", "--no-commit", p.commit])
            if !r.succeeded {
                let unmerged = try git(["diff", "--name-only", "--diff-filter=U", "-z"])
                let paths = unmerged.stdoutString.split(separator: "\0").map(String.init).sorted()
                if !paths.isEmpty {
                    throw GitCheckoutError.cherryPickConflict(pick: p, repository: repository, onto: head, paths: paths)
                }
                throw GitCheckoutError.cherryPickFailed(pick: p, repository: repository, reason: r.stderrString.trimmed)
            }
            let subject = try git(["log", "-1", "--format=%s", p.commit]).stdoutString.trimmed
            let message = "\(subject)\n\n(cherry picked from commit \(p.commit))\nkiln cherry-pick: \(p.comment)\n"
            r = try git(["commit", "--quiet", "--allow-empty", "--no-verify", "-m", message])
            guard r.succeeded else {
                throw GitCheckoutError.cherryPickFailed(pick: p, repository: repository, reason: r.stderrString.trimmed)
            }
            head = try git(["rev-parse", "HEAD"]).stdoutString.trimmed
        }
        return head
    }
}

fileprivate extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
