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
}
