import Foundation
import KilnCore
import KilnOCI

/// `REGISTRY/REPO[:TAG|@DIGEST]`, e.g. `127.0.0.1:5000/kiln/hello:1.0` or `ghcr.io/acme/app@sha256:…`.
/// The registry part is required (kiln has no default registry).
public struct RegistryReference: Equatable, Sendable, CustomStringConvertible {
    /// `host[:port]`.
    public var registry: String
    /// Repository path, e.g. `kiln/hello`.
    public var repository: String
    /// The tag, if given.
    public var tag: String?
    /// The manifest digest, if given (`sha256:…`).
    public var digest: String?

    /// A reference from its parts.
    public init(registry: String, repository: String, tag: String? = nil, digest: String? = nil) {
        self.registry = registry; self.repository = repository; self.tag = tag; self.digest = digest
    }

    /// True when `s` has the shape of a registry reference rather than a local path: a first component
    /// with a `.` or `:` (a host or host:port) or `localhost`, followed by a repository.
    public static func looksLikeReference(_ s: String) -> Bool {
        guard !s.hasPrefix("/"), !s.hasPrefix("."), let slash = s.firstIndex(of: "/") else { return false }
        let host = s[..<slash]
        if FileManager.default.fileExists(atPath: String(host)) { return false }
        return host == "localhost" || host.contains(".") || host.contains(":")
    }

    /// Parses a reference; every part is checked against the distribution-spec grammar.
    public static func parse(_ s: String) throws -> RegistryReference {
        func bad(_ why: String) -> KilnMessage { KilnMessage("\(s): not a registry reference (REGISTRY/REPO[:TAG|@DIGEST]): \(why)") }
        guard let slash = s.firstIndex(of: "/") else { throw bad("no registry host before the repository") }
        let registry = String(s[..<slash])
        guard !registry.isEmpty, registry.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:[]".contains($0)) }),
              registry == "localhost" || registry.contains(".") || registry.contains(":") else {
            throw bad("\(registry) is not a registry host (expected host.domain, host:port or localhost)")
        }
        var rest = String(s[s.index(after: slash)...])
        var digest: String?, tag: String?
        if let at = rest.firstIndex(of: "@") {
            let d = String(rest[rest.index(after: at)...])
            _ = try OCIDigest(parsing: d, source: s)
            digest = d
            rest = String(rest[..<at])
        }
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = String(rest[..<colon])
            guard isValidTag(tag!) else { throw bad("bad tag \(tag!) (letters, digits, _ . -; at most 128, not starting with . or -)") }
        }
        guard isValidRepository(rest) else { throw bad("bad repository name \(rest) (lower-case letters, digits, and . _ - / separators)") }
        return RegistryReference(registry: registry, repository: rest, tag: tag, digest: digest)
    }

    /// Distribution-spec tag grammar `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
    public static func isValidTag(_ t: String) -> Bool {
        guard let f = t.first, t.count <= 128, f.isASCII, f.isLetter || f.isNumber || f == "_" else { return false }
        return t.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    /// Distribution-spec repository grammar: components `[a-z0-9]+([._-][a-z0-9]+)*` joined by `/`.
    public static func isValidRepository(_ r: String) -> Bool {
        guard !r.isEmpty, r.count <= 255 else { return false }
        for comp in r.split(separator: "/", omittingEmptySubsequences: false) {
            guard let f = comp.first, let l = comp.last, f.isASCII && (f.isLowercase || f.isNumber), l.isASCII && (l.isLowercase || l.isNumber) else { return false }
            var prevSep = false
            for c in comp {
                let sep = "._-".contains(c)
                guard c.isASCII && (c.isLowercase || c.isNumber || sep) else { return false }
                if sep && prevSep && c != "_" { return false }
                prevSep = sep
            }
        }
        return true
    }

    /// The tag or digest the manifest is addressed by (digest first).
    public var reference: String? { digest ?? tag }

    public var description: String { "\(registry)/\(repository)" + (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0 } ?? "") }
}
