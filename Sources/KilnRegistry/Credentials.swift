import Foundation
import KilnCore
import KilnOCI

/// A registry user name and password (or token). Never printed: `description` hides the secret.
public struct RegistryCredentials: Equatable, Sendable, CustomStringConvertible {
    /// User name.
    public var user: String
    /// Password or access token.
    public var password: String

    /// Credentials.
    public init(user: String, password: String) { self.user = user; self.password = password }

    public var description: String { "user \(user) (password hidden)" }

    /// `Basic base64(user:password)`.
    var basicHeader: String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }

    /// Credentials for `registry` (`host[:port]`): $KILN_REGISTRY_USER / $KILN_REGISTRY_PASSWORD first, then
    /// the `auths` of $DOCKER_CONFIG/config.json (else ~/.docker/config.json). nil = anonymous.
    public static func lookup(registry: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RegistryCredentials? {
        if let u = environment["KILN_REGISTRY_USER"], !u.isEmpty {
            guard let p = environment["KILN_REGISTRY_PASSWORD"], !p.isEmpty else {
                throw KilnMessage("KILN_REGISTRY_USER is set but KILN_REGISTRY_PASSWORD is not; set both (or neither, for the docker config or anonymous access)")
            }
            return RegistryCredentials(user: u, password: p)
        }
        let dir = environment["DOCKER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.docker"
        let path = dir + "/config.json"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path), data.count < 4 << 20 else { throw KilnMessage("\(path): cannot read (or larger than 4 MiB)") }
        let j = try JSON.parse(data, source: path)
        for (key, entry) in j["auths"]?.object ?? [] {
            var host = key
            for p in ["https://", "http://"] where host.hasPrefix(p) { host = String(host.dropFirst(p.count)) }
            host = String(host.split(separator: "/").first ?? "")
            guard host == registry else { continue }
            if let a = entry["auth"]?.string, !a.isEmpty {
                guard let raw = Data(base64Encoded: a), let text = String(data: raw, encoding: .utf8), let c = text.firstIndex(of: ":") else {
                    throw KilnMessage("\(path): auths[\"\(key)\"].auth is not base64 of user:password")
                }
                return RegistryCredentials(user: String(text[..<c]), password: String(text[text.index(after: c)...]))
            }
            if let u = entry["username"]?.string, let p = entry["password"]?.string { return RegistryCredentials(user: u, password: p) }
        }
        return nil
    }
}
