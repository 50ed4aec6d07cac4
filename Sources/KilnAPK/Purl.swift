import Foundation

/// The one package-URL builder for APK packages, so the package SBOM, the image SBOM and the
/// provenance give a package the same purl (melange's form):
/// `pkg:apk/<distro>/<name>@<version>?arch=<arch>&distro=<distro>` (distro lower-cased, every
/// component percent-encoded; `arch` left out when unknown).
public enum APKPurl {
    /// The purl of `name` at `version` (the full `-rN` version) for `arch` in `distro`.
    public static func make(name: String, version: String, arch: String, distro: String) -> String {
        let d = escape(distro.lowercased())
        var qualifiers: [String] = []
        if !arch.isEmpty { qualifiers.append("arch=\(escape(arch))") }
        qualifiers.append("distro=\(d)")
        return "pkg:apk/\(d)/\(escape(name))@\(escape(version))?" + qualifiers.joined(separator: "&")
    }

    /// Percent-encodes everything but letters, digits and `.-_~+` (purl component escaping).
    public static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: ".-_~+")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
