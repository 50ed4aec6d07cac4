import Foundation
import KilnCore

/// One line of `git-checkout`'s `cherry-picks`: `[branch/]<commit>: <comment>`.
///
/// kiln reads the text like melange: one pick per line, anything from a `#` to the end of the line
/// is ignored, blank lines are skipped, and the comment after the colon is required (as in melange,
/// so a recipe kiln accepts is one melange accepts). The commit must be a full commit id (40 hex
/// digits, or 64 for SHA-256 repositories) so the pick cannot change meaning when the repository
/// grows. The branch only says where the commit lives upstream: kiln's mirror holds every branch,
/// so it is kept for messages and not used to look the commit up.
public struct CherryPick: Sendable, Hashable {
    public var branch: String?
    public var commit: String
    public var comment: String
    /// The recipe line of this pick.
    public var location: SourceLocation

    public init(branch: String?, commit: String, comment: String, location: SourceLocation) {
        self.branch = branch; self.commit = commit; self.comment = comment; self.location = location
    }

    /// Parses the `cherry-picks` text whose first line is at `start` (a block scalar's first content
    /// line); each error names the line it is about.
    public static func parse(_ text: String, at start: SourceLocation) throws -> [CherryPick] {
        var picks: [CherryPick] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var at = start
            if start.line > 0 { at.line = start.line + i; at.column = 0 }
            let line = String(raw.prefix { $0 != "#" }).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let form = "write each pick as `[branch/]<commit>: <comment>`"
            guard let colon = line.firstIndex(of: ":") else {
                throw RecipeError(.invalidValue, at, "git-checkout cherry-picks: `\(line)` has no `:`; \(form)")
            }
            let id = line[..<colon].trimmingCharacters(in: .whitespaces)
            let comment = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !comment.isEmpty else {
                throw RecipeError(.invalidValue, at, "git-checkout cherry-picks: `\(line)` has no comment after the `:` "
                                  + "(required, as in melange: say why the commit is picked); \(form)")
            }
            var branch: String?, commit = id
            if let slash = id.lastIndex(of: "/") {
                branch = String(id[..<slash]); commit = String(id[id.index(after: slash)...])
                if branch!.isEmpty { throw RecipeError(.invalidValue, at, "git-checkout cherry-picks: `\(id)` has an empty branch before `/`; \(form)") }
            }
            commit = commit.lowercased()
            guard commit.count == 40 || commit.count == 64, commit.allSatisfy(\.isHexDigit) else {
                throw RecipeError(.invalidValue, at, "git-checkout cherry-picks: `\(commit)` is not a full commit id "
                                  + "(40 hex digits; abbreviated ids and branch names are not accepted); \(form)")
            }
            picks.append(CherryPick(branch: branch, commit: commit, comment: comment, location: at))
        }
        return picks
    }
}
