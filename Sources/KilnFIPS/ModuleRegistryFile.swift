import Foundation
import KilnCore
import KilnCrypto
import Yams

/// Reading `recipes/fips/modules.yaml` through KilnCore's `YAMLReader` — the same size, depth and
/// alias limits, null and duplicate-key rules as every other YAML input — strictly: an unknown key
/// (a misspelt `historical-since`) is an error at its line, never silently dropped.
extension FIPSModuleRegistry {
    static let moduleKeys: Set<String> = ["name", "version", "tarball", "uri", "sha256", "certificate", "standard",
                                          "security-level", "status", "sunset", "historical-since"]

    /// Reads the registry at `path` (a regular file within `YAMLLimits`); pass an absolute path (the
    /// CLI resolves `defaultPath` against the repository once).
    public static func load(path: String) throws -> FIPSModuleRegistry {
        guard let data = try YAMLLimits.readFile(path) else {
            throw FIPSRegistryError(message: "\(path): FIPS module registry not found (it ships in the repository as \(defaultPath); pass --fips-registry FILE)")
        }
        return try parse(data, source: path)
    }

    /// Parses registry bytes; errors name `source`, the line and the entry.
    public static func parse(_ data: Data, source: String) throws -> FIPSModuleRegistry {
        let r = YAMLReader(file: source, unknownKeys: .reject(hint: ""))
        let root = try r.root(String(decoding: data, as: UTF8.self), expected: "a FIPS module registry (`modules:` list)")
        var modules: [FIPSModule]?
        try r.fields(root, "FIPS module registry", known: ["modules"]) { _, v in
            modules = try r.sequence(v, "modules").enumerated().map { try module($0.element, "modules[\($0.offset)]", r) }
        }
        guard let modules else {
            throw InputError(.missingKey, r.location(root), "FIPS module registry: missing required key `modules`")
        }
        return FIPSModuleRegistry(modules: modules, source: source, digest: try Digest.sha256Hex(data))
    }

    static func module(_ node: Node, _ what: String, _ r: YAMLReader) throws -> FIPSModule {
        var s: [String: (value: String, node: Node)] = [:]
        var level: Int?
        try r.fields(node, what, known: moduleKeys) { k, v in
            if k == "security-level" { level = try r.int(v, "\(what).security-level") } else { s[k] = (try r.string(v, "\(what).\(k)"), v) }
        }
        for k in moduleKeys.subtracting(["security-level", "historical-since"]).sorted() where s[k] == nil {
            throw InputError(.missingKey, r.location(node), "\(what): missing required key `\(k)`")
        }
        let m = FIPSModule(name: s["name"]!.value, version: s["version"]!.value, tarball: s["tarball"]!.value, uri: s["uri"]!.value,
                           sha256: s["sha256"]!.value, certificate: s["certificate"]!.value, standard: s["standard"]!.value,
                           securityLevel: level, status: s["status"]!.value, sunset: s["sunset"]!.value,
                           historicalSince: s["historical-since"]?.value)
        let at = "\(what) (\(m.name) \(m.version))"
        func fail(_ key: String, _ message: String) -> InputError { InputError(.invalidValue, r.location(s[key]!.node), "\(at): \(message)") }
        guard m.sha256.count == 64, m.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw fail("sha256", "sha256 must be 64 lower-case hex digits")
        }
        guard ["active", "historical", "revoked"].contains(m.status) else {
            throw fail("status", "status must be active, historical or revoked, not '\(m.status)'")
        }
        guard endOfDay(m.sunset) != nil else { throw fail("sunset", "sunset must be a date YYYY-MM-DD, not '\(m.sunset)'") }
        if let h = m.historicalSince, endOfDay(h) == nil {
            throw fail("historical-since", "historical-since must be a date YYYY-MM-DD, not '\(h)'")
        }
        return m
    }
}
