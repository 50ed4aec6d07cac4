import Foundation
import KilnAttest
import KilnCore
import KilnCrypto
import KilnOCI

/// The key that signs repro verdicts: one given explicitly (`--attest-key`, which must exist) or
/// the default development key (skipped with a note when it is missing).
public struct ReproAttestationKey: Sendable {
    /// The key file.
    public var path: String
    /// Whether the caller named it (a missing explicit key is an error, a missing default a note).
    public var explicit: Bool

    /// `path`, or `defaultPath` when nil.
    public init(path: String?, defaultPath: String) {
        self.path = path ?? defaultPath
        explicit = path != nil
    }

    /// The key, or nil (with a note on `progress`) when the default key is missing.
    public func load(progress: KilnCore.Progress = .shared) throws -> PrivateKey? {
        guard FileManager.default.fileExists(atPath: path) else {
            if explicit { throw KilnMessage("--attest-key \(path): no such key (make one with `kiln keygen --type ecdsa`)") }
            progress.log("kiln: no attestation written: \(path) is missing (run `make keys`, or pass --attest-key)")
            return nil
        }
        return try SigningKeys.loadPrivate(path: path)
    }
}

/// Signing repro verdicts as in-toto attestations (DSSE envelopes).
public enum ReproAttestation {
    /// Signs `outcome` into `<directory>/repro.intoto.json`; returns that path (nil: default key missing).
    public static func write(_ outcome: ReproOutcome, directory: String, key: ReproAttestationKey,
                             progress: KilnCore.Progress = .shared) throws -> String? {
        guard let k = try key.load(progress: progress) else { return nil }
        let path = directory + "/repro.intoto.json"
        try outcome.writeAttestation(to: path, key: k)
        return path
    }

    /// Signs an image repro's verdict into its directory and attaches a one-image verdict to each
    /// compared image of the published layout; returns the attestation's path (nil: default key missing).
    public static func write(_ r: ImageReproResult, key: ReproAttestationKey, progress: KilnCore.Progress = .shared) throws -> String? {
        guard let k = try key.load(progress: progress) else { return nil }
        let path = r.directory + "/repro.intoto.json"
        try r.outcome.writeAttestation(to: path, key: k)
        let layout = try OCILayout(path: r.published)
        for p in r.outcome.pairs where r.publishedImages.contains(p.name) {
            let single = ReproOutcome(target: r.outcome.target, variant: r.outcome.variant, variations: r.outcome.variations, pairs: [p])
            try Attestor.attest(layout: layout, manifestDigest: p.comparison.digestA,
                                statements: [(ReproOutcome.predicateType, try JSON.parse(try single.statement()))], key: k)
        }
        return path
    }
}

/// The JSON `kiln repro --json` prints.
public enum ReproJSON {
    /// `kiln repro --compare --json`: the comparison plus its verdict line.
    public static func encode(_ report: ComparisonReport) throws -> Data { try encoded(CompareShape(report: report)) }

    /// `kiln repro TARGET --json`: the outcome, the attestation's path and the predicate type.
    public static func encode(_ outcome: ReproOutcome, attestation: String?) throws -> Data {
        try encoded(OutcomeShape(outcome: outcome, attestation: attestation))
    }

    static func encoded<T: Encodable>(_ v: T) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try enc.encode(v) + Data("\n".utf8)
    }

    struct CompareShape: Encodable {
        var report: ComparisonReport
        func encode(to encoder: Encoder) throws {
            try report.encode(to: encoder)
            var c = encoder.container(keyedBy: K.self)
            try c.encode(report.verdict, forKey: .verdict)
        }
        enum K: String, CodingKey { case verdict }
    }

    struct OutcomeShape: Encodable {
        var outcome: ReproOutcome
        var attestation: String?
        enum K: String, CodingKey { case target, variant, variations, artifacts, reproducible, differingEntries, verdict, attestation, predicateType }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(outcome.target, forKey: .target)
            try c.encode(outcome.variant, forKey: .variant)
            try c.encode(outcome.variations.names, forKey: .variations)
            try c.encode(outcome.pairs.map(\.comparison), forKey: .artifacts)
            try c.encode(outcome.reproducible, forKey: .reproducible)
            try c.encode(outcome.differingEntries, forKey: .differingEntries)
            try c.encode(outcome.verdict, forKey: .verdict)
            try c.encodeIfPresent(attestation, forKey: .attestation)
            try c.encode(ReproOutcome.predicateType, forKey: .predicateType)
        }
    }
}
