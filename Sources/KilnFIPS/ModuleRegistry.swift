import Foundation
import KilnCore
import KilnCrypto

/// The two words kiln uses about a FIPS provider. Nothing else, never "compliant".
public enum FIPSLabel: String, Codable, Sendable, CaseIterable {
    /// Built from a tarball the registry lists, certificate active on the build date.
    case validated
    /// A FIPS provider present and enforced, but not a listed module (or its certificate is not active).
    case fipsCapable = "fips-capable"
}

/// One CMVP-validated module as listed in `recipes/fips/modules.yaml`.
public struct FIPSModule: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    public var tarball: String
    public var uri: String
    public var sha256: String
    public var certificate: String
    public var standard: String
    public var securityLevel: Int?
    /// `active`, `historical` or `revoked`.
    public var status: String
    /// Last day (UTC, inclusive) the certificate is active: `YYYY-MM-DD`.
    public var sunset: String
    public var historicalSince: String?

    enum CodingKeys: String, CodingKey {
        case name, version, tarball, uri, sha256, certificate, standard, status, sunset
        case securityLevel = "security-level", historicalSince = "historical-since"
    }
}

/// The outcome of classifying a provider build.
public struct FIPSClassification: Codable, Sendable, Equatable {
    public var label: FIPSLabel
    /// The registry entry whose tarball digest matched (also when the label is fips-capable because
    /// the certificate is not active).
    public var module: FIPSModule?
    /// One sentence: why this label.
    public var reason: String
}

public struct FIPSRegistryError: KilnError {
    public var message: String
    public var description: String { message }
}

/// The module registry (data in the repo) and the classifier.
public struct FIPSModuleRegistry: Sendable, Equatable {
    public var modules: [FIPSModule]
    /// Where it was read from (for messages and SBOM notes).
    public var source: String
    /// sha256 of the registry file (recorded next to a label so it can be re-checked).
    public var digest: String

    /// Where the registry ships, relative to the kiln repository's root. Library functions never fall
    /// back to it (it would depend on the working directory): the CLI resolves it once (SharedOptions).
    public static let defaultPath = "recipes/fips/modules.yaml"

    public init(modules: [FIPSModule], source: String = "<memory>", digest: String = "") {
        self.modules = modules; self.source = source; self.digest = digest
    }

    /// Classifies a provider built from a source tarball with digest `tarballSHA256` on `buildEpoch`
    /// (the build's SOURCE_DATE_EPOCH). `validated` needs all of: the digest is listed, the entry's
    /// status is `active`, and the build date is on or before its sunset. Everything else is `fips-capable`.
    public func classify(tarballSHA256: String, buildEpoch: Int64) -> FIPSClassification {
        let digest = tarballSHA256.lowercased()
        guard let m = modules.first(where: { $0.sha256 == digest }) else {
            return FIPSClassification(label: .fipsCapable, module: nil,
                                      reason: "source tarball sha256 \(digest.prefix(16))… is not a CMVP-validated module listed in the registry")
        }
        let cert = "CMVP #\(m.certificate) (\(m.standard))"
        guard m.status == "active" else {
            let since = m.historicalSince.map { " since \($0)" } ?? ""
            return FIPSClassification(label: .fipsCapable, module: m,
                                      reason: "built from \(m.name) \(m.version) source, but \(cert) is \(m.status)\(since)")
        }
        guard let end = FIPSModuleRegistry.endOfDay(m.sunset), buildEpoch <= end else {
            return FIPSClassification(label: .fipsCapable, module: m,
                                      reason: "built from \(m.name) \(m.version) source after the sunset (\(m.sunset)) of \(cert)")
        }
        return FIPSClassification(label: .validated, module: m,
                                  reason: "built from the \(m.name) \(m.version) source validated under \(cert), active until \(m.sunset)")
    }

    /// Classifies a tarball file by hashing it.
    public func classify(tarballPath: String, buildEpoch: Int64) throws -> FIPSClassification {
        classify(tarballSHA256: try Digest.hashFile(.sha256, path: tarballPath).hexString, buildEpoch: buildEpoch)
    }

    /// Seconds since the epoch of the last second of day `YYYY-MM-DD` (UTC), or nil if malformed.
    public static func endOfDay(_ date: String) -> Int64? {
        let p = date.split(separator: "-")
        guard p.count == 3, p[0].count == 4, p[1].count == 2, p[2].count == 2,
              let y = Int32(p[0]), let mo = Int32(p[1]), let d = Int32(p[2]),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var t = tm()
        t.tm_year = y - 1900; t.tm_mon = mo - 1; t.tm_mday = d
        let start = Int64(timegm(&t))
        // Reject dates that normalised into another day (e.g. 2030-02-31).
        guard t.tm_mday == d, t.tm_mon == mo - 1 else { return nil }
        return start + 86_399
    }
}
