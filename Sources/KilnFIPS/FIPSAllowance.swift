import Foundation
import KilnCore
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
    /// keys — the one syntax of an image config's `fips.allow` and an audit policy's `allow`, read by
    /// the caller's `YAMLReader` (null is an empty list; a repeated key is an error). `what` names the
    /// list in messages (`fips.allow`); each entry's `source` is `source` of its place (`file:line:col`).
    public static func parseList(_ v: Node, what: String, reader r: YAMLReader,
                                 source: (SourceLocation) -> String = { "\($0)" }) throws -> [FIPSAllowance] {
        guard r.isNull(v) || v.sequence != nil else {
            throw InputError(.wrongType, r.location(v), "\(what) must be a list of {path, finding, reason}")
        }
        var out: [FIPSAllowance] = []
        for (i, item) in try r.sequence(v, what).enumerated() {
            guard item.mapping != nil else {
                throw InputError(.wrongType, r.location(item), "\(what)[\(i)] must be a mapping {path, finding, reason}")
            }
            var fields: [String: String] = [:]
            for e in try r.entries(item, "\(what)[\(i)]") {
                guard ["path", "finding", "reason"].contains(e.key) else {
                    throw InputError(.unknownKey, r.location(e.keyNode), "unknown key '\(e.key)' in \(what)[\(i)] (expected path, finding, reason)")
                }
                guard let s = e.value.scalar?.string, !r.isNull(e.value), !s.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw InputError(.invalidValue, r.location(e.value), "\(what)[\(i)].\(e.key) must be a non-empty string")
                }
                fields[e.key] = s
            }
            for key in ["path", "finding", "reason"] where fields[key] == nil {
                throw InputError(.missingKey, r.location(item), "\(what)[\(i)] needs \(key) (every allowance names a path, a finding and why it is acceptable)")
            }
            out.append(FIPSAllowance(path: fields["path"]!, finding: fields["finding"]!, reason: fields["reason"]!,
                                     source: source(r.location(item))))
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
