import Foundation
import KilnCore
import KilnCrypto
import Yams

/// apko's `include:` lookup and `certificates:`, kept apart from the main parser.
///
/// Paths are not confined to the config's directory: an image config is written by whoever runs
/// kiln (like apko's, it may name shared files such as `../base.yaml` or `/etc/kiln/keys/x.pub`), and
/// nothing it names is copied into an image unchecked — an include must parse as an image config
/// (within YAMLLimits, regular files only), a keyring entry as a public key, a certificate as one
/// X.509 certificate. See README "Image configs: includes, certificates".
extension ImageConfig {
    /// One `certificates.additional` entry, checked to be exactly one X.509 certificate.
    public struct Certificate: Sendable, Equatable {
        public var name: String
        /// The certificate re-encoded as PEM (64-column base64), what goes into the image.
        public var pem: String
        /// sha256 of the DER: part of the installed file's name (as apko names them).
        public var fingerprint: String
    }

    /// Where `include: inc` of the config at `file` is found, like apko: as given (an absolute path,
    /// or relative to the working directory), then relative to the config's directory, then below
    /// each of `includePaths`. Returns nil (and the places tried) when none exists.
    static func resolveInclude(_ inc: String, configFile file: String, includePaths: [String]) -> (path: String?, tried: [String]) {
        let fm = FileManager.default
        var tried: [String] = []
        if inc.hasPrefix("/") {
            return (fm.fileExists(atPath: inc) ? inc : nil, [inc])
        }
        let cwd = fm.currentDirectoryPath
        let dir = URL(fileURLWithPath: file).deletingLastPathComponent().path
        for base in [cwd, dir] + includePaths {
            let p = URL(fileURLWithPath: inc, relativeTo: URL(fileURLWithPath: base, isDirectory: true)).standardizedFileURL.path
            if tried.contains(p) { continue }
            tried.append(p)
            if fm.fileExists(atPath: p) { return (p, tried) }
        }
        return (nil, tried)
    }

    /// apko's certificate names become file names: `^[a-zA-Z0-9_-][a-zA-Z0-9_.-]*$`.
    static func isCertificateName(_ s: String) -> Bool {
        guard let f = s.first, f.isASCII, f.isLetter || f.isNumber || f == "_" || f == "-", s.count <= 128 else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    /// Parses `certificates:` (`additional: [{name, content}]`; `providers` is refused).
    static func parseCertificates(_ value: Node, _ r: YAMLReader) throws -> [Certificate] {
        var out: [Certificate] = []
        try r.fields(value, "certificates", known: ["additional", "providers"]) { k, v in
            guard k == "additional" else {
                throw ConfigError(r.location(v), "certificates.providers is not supported by kiln; list the certificates under certificates.additional, or install a ca-certificates package")
            }
            for (i, entry) in try r.sequence(v, "certificates.additional").enumerated() {
                let what = "certificates.additional[\(i)]"
                var name: String?, content: String?
                try r.fields(entry, what, known: ["name", "content"]) { ek, ev in
                    if ek == "name" { name = try r.string(ev, "\(what).name") } else { content = try r.string(ev, "\(what).content") }
                }
                guard let name, !name.isEmpty else { throw ConfigError(r.location(entry), "a certificates.additional entry needs a name") }
                guard isCertificateName(name) else {
                    throw ConfigError(r.location(entry), "certificate name '\(name)' is not allowed: letters, digits, _ . - only, not starting with a dot")
                }
                guard let content else { throw ConfigError(r.location(entry), "certificate '\(name)' needs content (one PEM certificate)") }
                let ders: [Data]
                do { ders = try CertificatePEM.certificates(in: content) } catch {
                    throw ConfigError(r.location(entry), "certificate '\(name)': \(error)")
                }
                guard ders.count == 1 else {
                    throw ConfigError(r.location(entry), "certificate '\(name)' must hold exactly one PEM certificate (found \(ders.count))")
                }
                guard !out.contains(where: { $0.name == name }) else {
                    throw ConfigError(r.location(entry), "certificate '\(name)' is listed twice")
                }
                let b64 = ders[0].base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
                out.append(Certificate(name: name, pem: "-----BEGIN CERTIFICATE-----\n\(b64)\n-----END CERTIFICATE-----\n",
                                       fingerprint: try Digest.sha256Hex(ders[0])))
            }
        }
        return out
    }

    /// One `contents.runtime_keyring` key: its file name under etc/apk/keys and its PEM.
    public struct RuntimeKey: Sendable, Equatable {
        public var name: String
        public var pem: Data
        public var location: SourceLocation
        public static func == (a: RuntimeKey, b: RuntimeKey) -> Bool { a.name == b.name && a.pem == b.pem }
    }

    /// Parses `contents.runtime_keyring`: apko's inline `{name, content}` entries, or (kiln) a local
    /// public key file's path, installed under its basename; a URL is refused (kiln is offline).
    /// Each must be exactly one PEM public key; names follow apko's certificate-name rule.
    static func parseRuntimeKeyring(_ value: Node, _ r: YAMLReader, resolve: (String) -> String) throws -> [RuntimeKey] {
        var out: [RuntimeKey] = []
        for entry in try r.sequence(value, "contents.runtime_keyring") {
            var name: String?, pem: Data?
            if case .scalar = entry {
                let s = try r.string(entry, "contents.runtime_keyring[]")
                if s.contains("://") && !s.hasPrefix("file://") {
                    throw ConfigError(r.location(entry), "runtime_keyring entry \(s) is a URL; kiln works offline — give a local public key file or {name, content}")
                }
                let path = resolve(s.hasPrefix("file://") ? String(s.dropFirst(7)) : s)
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                      let data = FileManager.default.contents(atPath: path), data.count <= 64 * 1024 else {
                    throw ConfigError(r.location(entry), "runtime_keyring file \(path) cannot be read (a public key file of at most 64 KiB)")
                }
                name = (path as NSString).lastPathComponent; pem = data
            } else {
                try r.fields(entry, "contents.runtime_keyring[]", known: ["name", "content"]) { ek, ev in
                    if ek == "name" { name = try r.string(ev, ek) } else { pem = Data(try r.string(ev, ek).utf8) }
                }
            }
            guard let name, isCertificateName(name) else {
                throw ConfigError(r.location(entry), "runtime_keyring entry needs a name of letters, digits, _ . - (not starting with a dot)")
            }
            guard let pem else { throw ConfigError(r.location(entry), "runtime_keyring key '\(name)' needs content (one PEM public key)") }
            let blocks = String(decoding: pem, as: UTF8.self).components(separatedBy: "-----BEGIN ").count - 1
            guard blocks == 1 else {
                throw ConfigError(r.location(entry), "runtime_keyring key '\(name)' must hold exactly one PEM public key (found \(blocks) PEM blocks)")
            }
            do { _ = try PublicKey(pem: pem, source: name) } catch {
                throw ConfigError(r.location(entry), "runtime_keyring key '\(name)': \(error)")
            }
            guard !out.contains(where: { $0.name == name }) else { throw ConfigError(r.location(entry), "runtime_keyring key '\(name)' is listed twice") }
            out.append(RuntimeKey(name: name, pem: pem, location: r.location(entry)))
        }
        return out
    }
}
