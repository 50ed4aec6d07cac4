import Foundation
import KilnOCI

/// The four static checks of a boundary audit.
public enum AuditCheckName: String, Sendable, CaseIterable, Codable {
    /// fips.so present once, its MAC recomputed, its identity against the registry.
    case module
    /// The effective openssl.cnf and the environment that steers OpenSSL.
    case configuration
    /// Every ELF's DT_NEEDED closure: one libcrypto, one libssl, RUNPATHs inside the image.
    case linkage
    /// Crypto outside the module: library markers, algorithm constants, Go, Python, Node, Java.
    case foreignCrypto = "foreign-crypto"
    /// Behaviour probes in the sandbox (`--exec` only).
    case exec

    /// The static checks every audit runs.
    public static let staticChecks: [AuditCheckName] = [.module, .configuration, .linkage, .foreignCrypto]
}

/// Where in a file a finding was seen.
public struct AuditEvidence: Sendable, Equatable {
    /// Byte offset in the file.
    public var offset: Int?
    /// A symbol, section or key.
    public var symbol: String?
    /// The string or value seen.
    public var string: String?

    /// Evidence with any of the three parts.
    public init(offset: Int? = nil, symbol: String? = nil, string: String? = nil) {
        self.offset = offset; self.symbol = symbol; self.string = string
    }

    /// `offset 0x…, symbol …, "…"`.
    public var text: String {
        var parts: [String] = []
        if let offset { parts.append("offset 0x" + String(offset, radix: 16)) }
        if let symbol { parts.append(symbol) }
        if let string { parts.append("\"\(string)\"") }
        return parts.joined(separator: ", ")
    }

    var json: JSON {
        var o: [(String, JSON)] = []
        if let offset { o.append(("offset", .int(Int64(offset)))) }
        if let symbol { o.append(("symbol", .string(symbol))) }
        if let string { o.append(("string", .string(string))) }
        return .object(o)
    }
}

/// One thing an auditor would flag: a named finding (`id`, e.g. `second-libcrypto`), in a file,
/// with evidence and what to do. `allowed` carries the allow-list reason when a policy allows it.
public struct AuditFinding: Sendable, Equatable {
    /// The stable finding name (the allow-list and tests use it).
    public var id: String
    /// The check that raised it.
    public var check: AuditCheckName
    /// Image path (no leading `/`), or "" for image-wide findings (config env).
    public var path: String
    /// The package owning `path`, when the installed database names one.
    public var package: String?
    /// What is wrong, in one sentence.
    public var message: String
    /// Offset, symbol or string that shows it.
    public var evidence: AuditEvidence
    /// What to do about it.
    public var advice: String
    /// The allow-list reason, when allowed (an allowed finding does not fail the audit but is always shown).
    public var allowed: String?

    /// A finding (not allowed).
    public init(_ id: String, _ check: AuditCheckName, path: String, package: String? = nil, message: String,
                evidence: AuditEvidence = AuditEvidence(), advice: String) {
        self.id = id; self.check = check; self.path = path; self.package = package; self.message = message
        self.evidence = evidence; self.advice = advice; self.allowed = nil
    }

    var sortKey: String { "\(check.rawValue)\u{0}\(path)\u{0}\(id)\u{0}\(String(evidence.offset ?? -1, radix: 16))" }

    var json: JSON {
        var o: [(String, JSON)] = [("id", .string(id)), ("check", .string(check.rawValue)), ("path", .string(path))]
        if let package { o.append(("package", .string(package))) }
        o.append(("message", .string(message)))
        o.append(("evidence", evidence.json))
        o.append(("advice", .string(advice)))
        o.append(("status", .string(allowed == nil ? "finding" : "allowed")))
        if let allowed { o.append(("reason", .string(allowed))) }
        return .object(o)
    }
}

/// The result of one check.
public struct AuditCheck: Sendable, Equatable {
    /// Which check.
    public var name: AuditCheckName
    /// `pass` (nothing found, or every finding allowed) or `fail`.
    public var passed: Bool
    /// One line: what was checked and seen.
    public var summary: String

    var json: JSON {
        .object([("name", .string(name.rawValue)), ("status", .string(passed ? "pass" : "fail")), ("summary", .string(summary))])
    }
}

/// What the module check established about the image's FIPS module.
public struct AuditModule: Sendable, Equatable {
    /// Image path of fips.so.
    public var path: String
    /// e.g. "OpenSSL FIPS Provider".
    public var name: String
    /// e.g. "3.0.22".
    public var version: String
    /// `validated` or `fips-capable` (KilnFIPS's words).
    public var label: String
    /// The CMVP certificate, when the source is a listed module.
    public var certificate: String?
    /// The package owning fips.so.
    public var package: String?
    /// The recomputed module-mac (upper-case hex, colon separated, as fipsmodule.cnf writes it).
    public var moduleMAC: String

    var json: JSON {
        var o: [(String, JSON)] = [("path", .string(path)), ("name", .string(name)), ("version", .string(version)),
                                   ("label", .string(label))]
        if let certificate { o.append(("certificate", .string(certificate))) }
        if let package { o.append(("package", .string(package))) }
        o.append(("module-mac", .string(moduleMAC)))
        return .object(o)
    }
}

/// The audit of one image: verdict, module, every check and finding (allowed ones included).
public struct AuditReport: Sendable, Equatable {
    /// `LAYOUT:TAG` or the manifest digest.
    public var image: String
    /// The audited manifest.
    public var manifestDigest: String
    /// The FIPS module, when one was found.
    public var module: AuditModule?
    /// One per check run, in `AuditCheckName` order (`exec` only with `--exec`).
    public var checks: [AuditCheck]
    /// Sorted by check, path, id, offset.
    public var findings: [AuditFinding]
    /// Number of ELF files and of files looked at.
    public var elfCount: Int
    /// Files in the unpacked root.
    public var fileCount: Int
    /// The libcrypto the loader resolves, and the ELFs that link it (or libssl) directly.
    public var libcrypto: String? = nil
    /// ELFs with libcrypto.so.3 or libssl.so.3 in DT_NEEDED.
    public var cryptoUsers: [String] = []
    /// kiln's version (recorded in the attestation).
    public var kilnVersion: String

    /// Pass when no finding is left that the policy does not allow.
    public var passed: Bool { findings.allSatisfy { $0.allowed != nil } }
    /// `pass` or `fail`.
    public var verdict: String { passed ? "pass" : "fail" }

    /// The predicate of the boundary attestation, and `kiln audit --json`'s per-image object. Same
    /// report ⇒ same bytes (fixed key order, sorted findings).
    public var json: JSON {
        var o: [(String, JSON)] = [("image", .string(image)), ("manifestDigest", .string(manifestDigest)),
                                   ("verdict", .string(verdict))]
        o.append(("module", module?.json ?? .null))
        o.append(("checks", .array(checks.map(\.json))))
        o.append(("findings", .array(findings.filter { $0.allowed == nil }.map(\.json))))
        o.append(("allowances", .array(findings.filter { $0.allowed != nil }.map(\.json))))
        o.append(("inventory", .object([("files", .int(Int64(fileCount))), ("elf", .int(Int64(elfCount))),
                                        ("libcrypto", libcrypto.map(JSON.string) ?? .null),
                                        ("cryptoUsers", .array(cryptoUsers.map(JSON.string)))])))
        o.append(("kiln", .object([("version", .string(kilnVersion))])))
        return .object(o)
    }

    /// Human output: a verdict line, one line per check, then each finding with evidence and advice.
    public var text: String {
        var lines: [String] = []
        let mod = module.map { " — \($0.name) \($0.version), \($0.label)\($0.certificate.map { " (CMVP #\($0))" } ?? "")" } ?? " — no FIPS module"
        lines.append("audit \(image) \(manifestDigest.prefix(19))…: \(verdict.uppercased())\(mod)")
        for c in checks { lines.append("  \(c.passed ? "ok  " : "FAIL") \(c.name.rawValue): \(c.summary)") }
        for f in findings {
            let tag = f.allowed == nil ? "finding" : "allowed"
            lines.append("  \(tag) [\(f.id)] \(f.path.isEmpty ? "(image)" : "/" + f.path)\(f.package.map { " (\($0))" } ?? ""): \(f.message)")
            if !f.evidence.text.isEmpty { lines.append("      evidence: \(f.evidence.text)") }
            if let r = f.allowed { lines.append("      allowed because: \(r)") } else { lines.append("      what to do: \(f.advice)") }
        }
        return lines.joined(separator: "\n")
    }
}
