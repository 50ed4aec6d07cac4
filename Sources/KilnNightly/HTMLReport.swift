import Foundation
import KilnCore

/// The self-contained HTML pages: inline CSS and an SVG timeline drawn here; no scripts, fonts or
/// other network assets.
public enum HTMLReport {
    static func esc(_ s: String) -> String { HTMLText.escape(s) }

    static func seconds(_ s: Double?) -> String {
        guard let s else { return "" }
        return s < 10 ? String(format: "%.2fs", s) : KilnCore.Progress.format(s)
    }

    static func bytes(_ n: Int64) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1024 * 1024 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return String(format: "%.1f MiB", Double(n) / 1048576)
    }

    static let colors: [NodeStatus: String] = [
        .built: "#2f9e5b", .unchanged: "#9aa5b1", .failed: "#d64545", .blocked: "#e0a030", .notRun: "#6b7785",
    ]

    static let css = """
    :root{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2733;background:#f5f7fa}
    body{margin:0 auto;max-width:1200px;padding:24px}
    h1{font-size:1.6em;margin:0 0 4px} h2{font-size:1.2em;margin:28px 0 8px}
    .meta{color:#5b6775;font-size:.9em}
    .cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
    .card{background:#fff;border-radius:8px;padding:12px 18px;min-width:110px;box-shadow:0 1px 3px rgba(0,0,0,.12);border-top:4px solid #9aa5b1}
    .card .n{font-size:2em;font-weight:700;display:block} .card .l{color:#5b6775;font-size:.85em}
    .card.built{border-color:#2f9e5b} .card.unchanged{border-color:#9aa5b1} .card.failed{border-color:#d64545}
    .card.blocked{border-color:#e0a030} .card.not-run{border-color:#6b7785} .card.total{border-color:#3b6fd6}
    table{border-collapse:collapse;width:100%;background:#fff;font-size:.88em;box-shadow:0 1px 3px rgba(0,0,0,.12)}
    th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e8ee;vertical-align:top}
    th{background:#eef2f6} td.mono,span.mono{font-family:ui-monospace,monospace;font-size:.92em;word-break:break-all}
    .st{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:.85em}
    .verdict-ok{color:#2f9e5b;font-weight:600} .verdict-bad{color:#d64545;font-weight:600}
    .timeline{background:#fff;box-shadow:0 1px 3px rgba(0,0,0,.12);overflow-x:auto}
    a{color:#2557b8}
    .exit0{color:#2f9e5b} .exit1{color:#d64545}
    """

    static func badge(_ s: NodeStatus) -> String {
        "<span class=\"st\" style=\"background:\(colors[s]!)\">\(s.rawValue)</span>"
    }

    /// The worker a node ran on: `n2` of placement `slurm job 12 on n2`; nil without a placement.
    static func worker(_ n: RunReport.NodeEntry) -> String? {
        guard let p = n.placement, let r = p.range(of: " on ", options: .backwards) else { return nil }
        return String(p[r.upperBound...])
    }

    /// The timeline's rows: one per node, or — when nodes ran on workers (Slurm) — one per worker,
    /// with the nodes that ran in this process on a row of their own.
    static func timelineRows(_ ran: [RunReport.NodeEntry]) -> [(label: String, nodes: [RunReport.NodeEntry])] {
        guard ran.contains(where: { worker($0) != nil }) else { return ran.map { ($0.id, [$0]) } }
        let groups = Dictionary(grouping: ran) { worker($0) ?? "" }
        return groups.keys.sorted { ($0.isEmpty ? 1 : 0, $0) < ($1.isEmpty ? 1 : 0, $1) }.map { ($0.isEmpty ? "this host" : $0, groups[$0]!) }
    }

    /// One bar per node that ran, over time, coloured by status; one row per node, or per worker.
    public static func timelineSVG(_ report: RunReport) -> String {
        let ran = report.nodes.filter { $0.start != nil && $0.end != nil }
            .sorted { ($0.start!, $0.id) < ($1.start!, $1.id) }
        let rows = timelineRows(ran)
        let labelW = 230.0, chartW = 820.0, rowH = 18.0, top = 28.0
        let span = max(ran.map { $0.end! }.max() ?? 0, 0.001)
        let height = top + Double(max(rows.count, 1)) * rowH + 12
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" width=\"\(Int(labelW + chartW + 20))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(labelW + chartW + 20)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"build timeline\">\n"
        s += "<title>Build timeline: \(ran.count) nodes ran over \(esc(seconds(span)))</title>\n"
        // time axis: about 8 ticks at a round step
        let raw = span / 8
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = 0.0
        while t <= span + 1e-9 {
            let x = labelW + t / span * chartW
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e8ee\"/>", x, top - 6, x, height - 8)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#5b6775\">", x, top - 10) + esc(seconds(t)) + "</text>\n"
            t += step
        }
        if ran.isEmpty {
            s += "<text x=\"\(Int(labelW))\" y=\"\(Int(top + 12))\" fill=\"#5b6775\">nothing was built in this run</text>\n"
        }
        for (i, row) in rows.enumerated() {
            let y = top + Double(i) * rowH
            let label = row.label.count > 34 ? String(row.label.prefix(33)) + "…" : row.label
            s += String(format: "<text class=\"row\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1d2733\">", labelW - 8, y + 12.5) + esc(label) + "</text>"
            for n in row.nodes {
                let x = labelW + n.start! / span * chartW
                let w = max((n.end! - n.start!) / span * chartW, 2)
                s += "<rect class=\"bar \(n.status.rawValue)\" fill=\"\(colors[n.status]!)\" "
                    + String(format: "x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"2\">", x, y + 2, w, rowH - 4)
                s += "<title>\(esc(n.id)): \(n.status.rawValue) in \(esc(seconds(n.duration))) (from \(esc(seconds(n.start))))"
                    + (n.placement.map { ", " + esc($0) } ?? "") + "</title></rect>\n"
            }
        }
        s += "</svg>"
        return s
    }

    public static func render(_ r: RunReport) -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        h += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        h += "<title>kiln nightly \(esc(r.runID))</title><style>\(css)</style></head><body>\n"
        h += "<p class=\"meta\"><a href=\"../index.html\">all runs</a></p>"
        h += "<h1>kiln nightly — run \(esc(r.runID))</h1>\n"
        h += "<p class=\"meta\">started \(esc(r.startedAt)) · took \(esc(seconds(r.durationSeconds))) · kiln \(esc(r.kilnVersion)) · "
        h += "\(r.jobs) jobs\(r.keepGoing ? " · keep-going" : "")\(r.interrupted ? " · <b>interrupted</b>" : "") · "
        h += "exit status <b class=\"exit\(r.exitStatus == 0 ? 0 : 1)\" id=\"exit-status\">\(r.exitStatus)</b></p>\n"
        let sm = r.summary
        h += "<div class=\"cards\" id=\"summary\">"
        for (cls, label, n) in [("total", "nodes", sm.total), ("built", "built", sm.built), ("unchanged", "skipped as unchanged", sm.unchanged),
                                ("failed", "failed", sm.failed), ("blocked", "blocked", sm.blocked), ("not-run", "not run", sm.notRun)] {
            h += "<div class=\"card \(cls)\"><span class=\"n\" id=\"count-\(cls)\">\(n)</span><span class=\"l\">\(label)</span></div>"
        }
        if !r.repro.isEmpty {
            h += "<div class=\"card total\"><span class=\"n\" id=\"count-repro\">\(sm.reproChecked - sm.reproFailed)/\(sm.reproChecked)</span><span class=\"l\">reproducible</span></div>"
        }
        h += "</div>\n"

        h += "<h2>Timeline</h2><div class=\"timeline\">\(timelineSVG(r))</div>\n"
        h += "<p class=\"meta\">"
        for s in NodeStatus.allCases where s == .built || s == .failed {
            h += "<span class=\"st\" style=\"background:\(colors[s]!)\">\(s.rawValue)</span> "
        }
        h += "one bar per node that ran; unchanged and blocked nodes take no time and are listed below.</p>\n"

        if let updates = r.updates {
            h += "<h2>Updates</h2>"
            if updates.isEmpty { h += "<p class=\"meta\" id=\"updates\">the archive had nothing new for the recipes or the toolchain</p>\n" } else {
                h += "<table id=\"updates\"><tr><th>what</th><th>name</th><th>before</th><th>now</th></tr>\n"
                for u in updates {
                    h += "<tr><td>\(esc(u.kind))</td><td>\(esc(u.name))</td><td class=\"mono\">\(esc(u.from ?? "(absent)"))</td><td class=\"mono\">\(esc(u.to ?? "(absent)"))</td></tr>\n"
                }
                h += "</table>\n"
            }
        }
        if !r.changes.isEmpty {
            h += "<h2>Changed since the last run</h2><table id=\"changes\"><tr><th>node</th><th>what</th><th>output</th><th>before</th><th>now</th></tr>\n"
            for c in r.changes {
                h += "<tr><td>\(esc(c.node))</td><td>\(esc(c.what))</td><td class=\"mono\">\(esc(c.output ?? ""))</td>"
                h += "<td class=\"mono\">\(esc(c.from ?? ""))</td><td class=\"mono\">\(esc(c.to ?? ""))</td></tr>\n"
            }
            h += "</table>\n"
        }
        if !r.repro.isEmpty {
            h += "<h2>Reproducibility sample</h2><table id=\"repro\"><tr><th>node</th><th>verdict</th></tr>\n"
            for x in r.repro {
                let cls = x.reproducible == true ? "verdict-ok" : "verdict-bad"
                h += "<tr><td>\(esc(x.node))</td><td class=\"\(cls)\">\(esc(x.verdict))</td></tr>\n"
            }
            h += "</table>\n"
        }

        let rank: [NodeStatus: Int] = [.failed: 0, .blocked: 1, .notRun: 2, .built: 3, .unchanged: 4]
        let nodes = r.nodes.sorted { (rank[$0.status]!, $0.id) < (rank[$1.status]!, $1.id) }
        h += "<h2>Nodes</h2><table id=\"nodes\"><tr><th>node</th><th>status</th><th>why</th><th>time</th><th>log</th><th>boundary</th><th>outputs</th></tr>\n"
        for n in nodes {
            var why = n.reasons.map(esc).joined(separator: "<br>")
            if !n.blockedBy.isEmpty { why = "blocked by " + n.blockedBy.map(esc).joined(separator: ", ") }
            if let e = n.error { why += "<br><span class=\"mono\">\(esc(String(e.prefix(400))))</span>" }
            let outs = n.outputs.map { "\(esc($0.path)) <span class=\"mono\">\(esc(String($0.digest.prefix(19))))…</span> \(bytes($0.size))" }
                .joined(separator: "<br>")
            let log = n.log.map { "<a href=\"\(esc($0))\">log</a>" } ?? ""
            h += "<tr id=\"node-\(esc(n.id))\"><td><b>\(esc(n.id))</b>\(n.version.map { " " + esc($0) } ?? "")<br><span class=\"meta\">\(esc(n.file))</span></td>"
            h += "<td>\(badge(n.status))</td><td>\(why)</td><td>\(esc(seconds(n.duration)))\(n.placement.map { "<br><span class=\"meta placement\">\(esc($0))</span>" } ?? "")</td><td>\(log)</td><td>\(boundaryCell(n.boundary))</td><td>\(outs)</td></tr>\n"
        }
        h += "</table>\n</body></html>\n"
        return h
    }

    /// The BOUNDARY cell: an image node's FIPS boundary verdict, empty for package nodes.
    static func boundaryCell(_ verdict: String?) -> String {
        guard let verdict else { return "" }
        let cls = verdict == "pass" ? "verdict-ok" : verdict == "fail" ? "verdict-bad" : "meta"
        return "<span class=\"\(cls)\">\(esc(verdict))</span>"
    }

    public static func renderIndex(_ runs: [ReportWriter.IndexEntry]) -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>kiln nightly runs</title><style>\(css)</style></head><body>\n"
        h += "<h1>kiln nightly runs</h1><p class=\"meta\">\(runs.count) runs, newest first</p>\n"
        h += "<table id=\"runs\"><tr><th>run</th><th>started</th><th>took</th><th>built</th><th>unchanged</th><th>failed</th><th>blocked</th><th>not run</th><th>exit</th></tr>\n"
        for r in runs {
            let s = r.summary
            h += "<tr><td><a href=\"\(esc(r.runID))/report.html\">\(esc(r.runID))</a>\(r.interrupted ? " (interrupted)" : "")</td><td>\(esc(r.startedAt))</td>"
            h += "<td>\(esc(seconds(r.durationSeconds)))</td><td>\(s.built)</td><td>\(s.unchanged)</td><td>\(s.failed)</td><td>\(s.blocked)</td><td>\(s.notRun)</td>"
            h += "<td class=\"exit\(r.exitStatus == 0 ? 0 : 1)\">\(r.exitStatus)</td></tr>\n"
        }
        h += "</table></body></html>\n"
        return h
    }
}
