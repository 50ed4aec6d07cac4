import Foundation

/// A static reading of OpenSSL's config format (`config(5)`): `[section]` headers, `key = value`
/// lines (first `=` splits; surrounding quotes dropped), `#` comments, `.include [=] path`
/// directives and `.pragma` lines (ignored). Values are not `$var`-expanded.
struct OpenSSLConfig {
    /// Section name → key → value (the default section is "default"; a later key wins).
    var sections: [String: [String: String]] = [:]
    /// `.include` targets in file order.
    var includes: [String] = []

    static func parse(_ text: String, into base: OpenSSLConfig = OpenSSLConfig(), section start: String = "default") -> OpenSSLConfig {
        var c = base
        var section = start
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash].trimmingCharacters(in: .whitespaces) }
            if line.isEmpty { continue }
            if line.hasPrefix(".include") {
                var rest = line.dropFirst(".include".count).trimmingCharacters(in: .whitespaces)
                if rest.hasPrefix("=") { rest = rest.dropFirst().trimmingCharacters(in: .whitespaces) }
                if !rest.isEmpty { c.includes.append(unquote(rest)) }
                continue
            }
            if line.hasPrefix(".") { continue }
            if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
                section = line[line.index(after: line.startIndex)..<close].trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let k = line[..<eq].trimmingCharacters(in: .whitespaces)
            let v = unquote(line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces))
            c.sections[section, default: [:]][k] = v
        }
        return c
    }

    static func unquote(_ s: String) -> String {
        if s.count >= 2, let f = s.first, f == s.last, f == "\"" || f == "'" { return String(s.dropFirst().dropLast()) }
        return s
    }

    /// Whether an `activate` value turns the provider on (OpenSSL 3.0 activates on any value but
    /// these "off" spellings, which 3.2+ reads as booleans).
    static func isOn(_ v: String?) -> Bool {
        guard let v = v?.lowercased() else { return false }
        return !["0", "no", "false", "off", "n"].contains(v)
    }
}
