import Foundation
import KilnCore

/// One self-contained HTML page per audit (`kiln audit --html DIR`): verdict, the boundary as a
/// picture (the module, the libcrypto that loads it, the ELFs that link it, and everything found
/// outside), the checks, and every finding and allowance with evidence and advice. No scripts, no
/// external resources; every value is escaped.
public enum AuditHTML {
    static func esc(_ s: String) -> String { HTMLText.escape(s) }

    /// The page for `r`.
    public static func page(_ r: AuditReport) -> String {
        let ok = r.passed
        var h = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>kiln audit \(esc(r.image))</title>
        <style>
        body{font-family:system-ui,sans-serif;margin:2em;color:#222}code{font-size:90%}
        .v{display:inline-block;padding:.2em .6em;border-radius:.3em;color:#fff;background:\(ok ? "#2a7d2a" : "#b22")}
        table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
        .finding{background:#fde8e8}.allowed{background:#fff6d6}
        .box{border:2px solid #2a7d2a;border-radius:.5em;padding:.6em;margin:.4em}.outside{border-color:#b22}
        .row{display:flex;flex-wrap:wrap;align-items:flex-start}.small{font-size:85%;color:#555}
        </style></head><body>
        <h1>FIPS boundary audit <span class="v">\(ok ? "PASS" : "FAIL")</span></h1>
        <p><code>\(esc(r.image))</code> — manifest <code>\(esc(r.manifestDigest))</code> — \(r.fileCount) files, \(r.elfCount) ELF — kiln \(esc(r.kilnVersion))</p>

        """
        // The boundary picture.
        h += "<h2>Boundary</h2><div class=\"row\">"
        if let m = r.module {
            h += "<div class=\"box\"><b>FIPS module</b><br><code>/\(esc(m.path))</code><br>\(esc(m.name)) \(esc(m.version)) — <b>\(esc(m.label))</b>"
            h += m.certificate.map { " (CMVP #\(esc($0)))" } ?? ""
            h += "<br><span class=\"small\">module-mac \(esc(String(m.moduleMAC.prefix(23))))…</span></div>"
        } else {
            h += "<div class=\"box outside\"><b>no FIPS module</b></div>"
        }
        h += "<div class=\"box\"><b>libcrypto</b><br><code>/\(esc(r.libcrypto ?? "none"))</code></div>"
        h += "<div class=\"box\"><b>link it (\(r.cryptoUsers.count))</b><br>" + r.cryptoUsers.map { "<code>/\(esc($0))</code>" }.joined(separator: "<br>") + "</div>"
        let outside = Dictionary(grouping: r.findings.filter { !$0.path.isEmpty }, by: \.path).sorted { $0.key < $1.key }
        if !outside.isEmpty {
            h += "<div class=\"box outside\"><b>found outside the boundary</b><br>"
            h += outside.map { p, fs in "<code>/\(esc(p))</code> <span class=\"small\">\(esc(fs.map { $0.id + ($0.allowed == nil ? "" : " (allowed)") }.joined(separator: ", ")))</span>" }.joined(separator: "<br>")
            h += "</div>"
        }
        h += "</div>"
        // Checks.
        h += "<h2>Checks</h2><table><tr><th>check</th><th>status</th><th>summary</th></tr>"
        for c in r.checks {
            h += "<tr class=\"\(c.passed ? "" : "finding")\"><td>\(esc(c.name.rawValue))</td><td>\(c.passed ? "ok" : "FAIL")</td><td>\(esc(c.summary))</td></tr>"
        }
        h += "</table>"
        // Findings and allowances.
        h += "<h2>Findings (\(r.findings.filter { $0.allowed == nil }.count)) and allowances (\(r.findings.filter { $0.allowed != nil }.count))</h2>"
        if r.findings.isEmpty { h += "<p>None.</p>" } else {
            h += "<table><tr><th>status</th><th>finding</th><th>file</th><th>package</th><th>what</th><th>evidence</th><th>what to do / why allowed</th></tr>"
            for f in r.findings {
                let cls = f.allowed == nil ? "finding" : "allowed"
                h += "<tr class=\"\(cls)\"><td>\(cls)</td><td><code>\(esc(f.id))</code></td><td><code>\(f.path.isEmpty ? "(image)" : "/" + esc(f.path))</code></td>"
                h += "<td>\(esc(f.package ?? "—"))</td><td>\(esc(f.message))</td><td><code>\(esc(f.evidence.text))</code></td>"
                h += "<td>\(esc(f.allowed.map { "allowed: " + $0 } ?? f.advice))</td></tr>"
            }
            h += "</table>"
        }
        return h + "</body></html>\n"
    }

    /// Writes one page per report into `dir` (created), named after the image's tag; returns the paths.
    @discardableResult
    public static func write(_ reports: [AuditReport], to dir: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return try reports.map { r in
            let tag = r.image.split(separator: ":", maxSplits: 1).count == 2 && r.image.hasPrefix("/") ? String(r.image.split(separator: ":", maxSplits: 1)[1]) : r.image
            let safe = String(tag.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" }).prefix(200)
            let path = dir + "/" + (safe.isEmpty ? "image" : String(safe)) + ".html"
            try AtomicFile.write(Data(page(r).utf8), to: path)
            return path
        }
    }
}
