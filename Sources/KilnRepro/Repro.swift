import Foundation
import KilnOCI
import KilnCore
import KilnBuild
import KilnCrypto
import KilnAttest

/// The environment variations of a rebuild (`--vary`), reprotest-style.
public struct ReproVariations: Sendable, Equatable {
    public static let all = ["build-path", "time", "umask", "timezone", "locale", "hostname", "domain", "user", "cpus", "dir-order"]

    public var names: [String]

    /// `all` (default), a comma list (`time,umask`), or `all,-time` to leave some out.
    public init(_ spec: String = "all") throws {
        var set: [String] = []
        for raw in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !raw.isEmpty {
            if raw == "all" { set = ReproVariations.all; continue }
            if raw == "none" { set = []; continue }
            let minus = raw.hasPrefix("-")
            let name = minus ? String(raw.dropFirst()) : raw
            guard ReproVariations.all.contains(name) else {
                throw ReproError.invalid("--vary: unknown variation `\(name)`; known: \(ReproVariations.all.joined(separator: ", "))")
            }
            if minus { set.removeAll { $0 == name } } else if !set.contains(name) { set.append(name) }
        }
        names = ReproVariations.all.filter { set.contains($0) }
    }

    /// The sandbox settings for these variations (`build-path` is applied by building in a fresh,
    /// differently named output directory; it needs no sandbox setting).
    public var environment: BuildEnvironmentVariation {
        var v = BuildEnvironmentVariation()
        for n in names {
            switch n {
            case "time": v.clockOffset = "+397d"
            case "umask": v.childUmask = "0002"   // the sandbox child only; kiln's own umask is never changed
            case "timezone": v.timeZone = "KLN-14"
            case "locale": v.locale = "fr_CH.UTF-8"
            case "hostname": v.hostname = "kiln-repro-varied"
            case "domain": v.domainName = "kiln-repro-varied.invalid"
            case "dir-order": v.reverseDirectoryOrder = true
            case "user": v.uid = 1234; v.gid = 1234; v.userName = "kilnrepro"
            case "cpus": v.cpus = 1
            default: break
            }
        }
        return v
    }

    /// Human-readable, for reports and the attestation.
    public var described: [String: String] {
        var d: [String: String] = [:]
        let e = environment
        for n in names {
            switch n {
            case "build-path": d[n] = "fresh output directory with a different name"
            case "time": d[n] = "wall clock shifted by \(e.clockOffset!) (libfaketime); SOURCE_DATE_EPOCH unchanged"
            case "umask": d[n] = "the sandbox child (bwrap and what it starts) runs with umask 0002; each step sets 022, as in every build; kiln's own umask is unchanged"
            case "timezone": d[n] = "TZ=\(e.timeZone!)"
            case "locale": d[n] = "LANG=LC_ALL=\(e.locale!)"
            case "hostname": d[n] = e.hostname!
            case "domain": d[n] = "domain name \(e.domainName!) (a fresh UTS namespace)"
            case "dir-order": d[n] = "directory listings of the workspace reversed (disorderfs)"
            case "user": d[n] = "\(e.userName!) uid=\(e.uid!) gid=\(e.gid!)"
            case "cpus": d[n] = "\(e.cpus!) CPU"
            default: break
            }
        }
        return d
    }
}

/// One published artifact and its rebuild, compared.
public struct ReproPair: Sendable {
    public var name: String
    public var comparison: ComparisonReport
    public init(name: String, comparison: ComparisonReport) { self.name = name; self.comparison = comparison }
}

/// The result of `kiln repro`: every artifact of the target compared with its rebuild.
public struct ReproOutcome: Sendable {
    public var target: String
    public var variant: String
    public var variations: ReproVariations
    public var pairs: [ReproPair]

    public init(target: String, variant: String, variations: ReproVariations, pairs: [ReproPair]) {
        self.target = target; self.variant = variant; self.variations = variations; self.pairs = pairs
    }

    public var reproducible: Bool { !pairs.isEmpty && pairs.allSatisfy(\.comparison.reproducible) }
    public var differingEntries: Int { pairs.reduce(0) { $0 + $1.comparison.differences.count } }
    public var verdict: String {
        reproducible ? "reproducible" : "NOT reproducible (\(differingEntries) differing entries)"
    }

    /// `notes` go just before the closing verdict line.
    public func render(notes: [String] = []) -> String {
        var s = "kiln repro \(target) (variant \(variant)); varied: \(variations.names.isEmpty ? "nothing" : variations.names.joined(separator: ", "))\n"
        for p in pairs {
            s += "== \(p.name)\n"
            var body = p.comparison.render()
            // the per-artifact verdict is kept, the overall one closes the output
            if pairs.count == 1, body.hasSuffix(p.comparison.verdict + "\n") { body = String(body.dropLast(p.comparison.verdict.count + 1)) }
            s += body
        }
        return s + notes.map { $0 + "\n" }.joined() + verdict + "\n"
    }

    public static let predicateType = "https://kiln.dev/attestations/repro/v1"

    /// An in-toto Statement v1 about the published artifacts with kiln's repro predicate.
    public func statement() throws -> Data {
        func obj(_ pairs: [(String, JSON)]) -> JSON { .object(pairs) }
        let subjects: [JSON] = pairs.map { p in
            obj([("name", .string(p.name)),
                 ("digest", obj([("sha256", .string(String(p.comparison.digestA.dropFirst("sha256:".count))))]))])
        }
        let artifacts: [JSON] = pairs.map { p in
            obj([("name", .string(p.name)),
                 ("published", .string(p.comparison.digestA)),
                 ("rebuilt", .string(p.comparison.digestB)),
                 ("reproducible", .bool(p.comparison.reproducible)),
                 ("differingEntries", .array(p.comparison.differences.map { .string($0.path) }))])
        }
        let vars = variations.described
        let predicate = obj([
            ("target", .string(target)),
            ("variant", .string(variant)),
            ("artifacts", .array(artifacts)),
            ("variations", obj(vars.keys.sorted().map { ($0, JSON.string(vars[$0]!)) })),
            ("reproducible", .bool(reproducible)),
            ("differingEntries", .int(Int64(differingEntries))),
            ("verdict", .string(verdict)),
            ("builder", obj([("id", .string("https://kiln.dev/kiln")), ("version", .string(KilnVersion.current))])),
        ])
        let st = obj([
            ("_type", .string("https://in-toto.io/Statement/v1")),
            ("subject", .array(subjects)),
            ("predicateType", .string(ReproOutcome.predicateType)),
            ("predicate", predicate),
        ])
        return st.compact()
    }

    /// The statement signed as a DSSE envelope (like kiln's other attestations); written atomically.
    public func writeAttestation(to path: String, key: PrivateKey) throws {
        let env = try DSSEEnvelope.sign(payload: try statement(), key: key)
        try AtomicFile.write(env.json.pretty(), to: path)
    }
}
