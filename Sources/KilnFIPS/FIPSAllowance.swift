import Foundation
import Yams

/// One allow-list entry of a FIPS boundary audit: the finding `finding` (a finding id such as
/// `go-fips140`, or `*`) at image path `path` (exact, or an `fnmatch` glob) is accepted for `reason`.
/// Written in an image config as `fips: {allow: [{path, finding, reason}]}` (kiln's own key), carried
/// in the image manifest's `dev.kiln.fips.allow` annotation, and read by `kiln audit`, which prints
/// every allowed finding with its reason and records it in the boundary attestation.
public struct FIPSAllowance: Codable, Sendable, Equatable {
    /// Image path (no leading `/` needed) or glob.
    public var path: String
    /// Finding id, or `*` for any finding at `path`.
    public var finding: String
    /// Why it is acceptable (required, shown everywhere).
    public var reason: String
    /// Where the entry came from (`file:line`), for messages; not part of the annotation.
    public var source: String?

    /// An entry.
    public init(path: String, finding: String, reason: String, source: String? = nil) {
        self.path = path; self.finding = finding; self.reason = reason; self.source = source
    }

    enum CodingKeys: String, CodingKey { case path, finding, reason }

    /// The manifest annotation carrying an image config's allow-list.
    public static let annotation = "dev.kiln.fips.allow"

    /// Deterministic annotation value (JSON array, sorted keys, in list order).
    public static func annotationValue(_ list: [FIPSAllowance]) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(list), as: UTF8.self)
    }

    /// Parses a YAML allow list — `[{path, finding, reason}]`, each field a non-empty string, no other
    /// keys — the one syntax of an image config's `fips.allow` and an audit policy's `allow`.
    /// `what` names the list in messages (`fips.allow`); `at` renders a node's `file:line[:col]` (kept as
    /// each entry's `source`); `fail` makes the caller's error type from a node and a message.
    public static func parseList(_ v: Node, what: String, at: (Node) -> String, fail: (Node, String) -> Error) throws -> [FIPSAllowance] {
        guard let seq = v.sequence else { throw fail(v, "\(what) must be a list of {path, finding, reason}") }
        var out: [FIPSAllowance] = []
        for (i, item) in seq.enumerated() {
            guard let m = item.mapping else { throw fail(item, "\(what)[\(i)] must be a mapping {path, finding, reason}") }
            var fields: [String: String] = [:]
            for (ek, ev) in m {
                guard let key = ek.string, ["path", "finding", "reason"].contains(key) else {
                    throw fail(ek, "unknown key '\(ek.string ?? "?")' in \(what)[\(i)] (expected path, finding, reason)")
                }
                guard let s = ev.scalar?.string, !s.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw fail(ev, "\(what)[\(i)].\(key) must be a non-empty string")
                }
                fields[key] = s
            }
            for key in ["path", "finding", "reason"] where fields[key] == nil {
                throw fail(item, "\(what)[\(i)] needs \(key) (every allowance names a path, a finding and why it is acceptable)")
            }
            out.append(FIPSAllowance(path: fields["path"]!, finding: fields["finding"]!, reason: fields["reason"]!, source: at(item)))
        }
        return out
    }

    /// Reads the annotation value; the error names `source`.
    public static func parseAnnotation(_ value: String, source: String) throws -> [FIPSAllowance] {
        do {
            let list = try JSONDecoder().decode([FIPSAllowance].self, from: Data(value.utf8))
            return list.map { var a = $0; a.source = source; return a }
        } catch {
            throw FIPSRegistryError(message: "\(source): \(annotation) is not a JSON list of {path, finding, reason}: \(error)")
        }
    }
}
