import Foundation

/// A unified diff of two texts (LCS over lines), `context` lines around each change; used for the
/// first lines of differing text files.
public enum TextDiff {
    public static func isText(_ d: Data) -> Bool {
        let head = d.prefix(8192)
        if head.contains(0) { return false }
        return String(data: head, encoding: .utf8) != nil || String(data: d.prefix(8188), encoding: .utf8) != nil
    }

    static func lines(_ d: Data, max: Int) -> [String] {
        let s = String(decoding: d, as: UTF8.self)
        var out: [String] = []
        s.enumerateLines { line, stop in out.append(line); if out.count >= max { stop = true } }
        return out
    }

    /// `---`/`+++` headers and `@@` hunks over the first `maxLines` lines of each side; nil when
    /// those lines are equal.
    public static func unified(_ a: Data, _ b: Data, nameA: String, nameB: String, maxLines: Int = 200,
                               context: Int = 3, maxOutputLines: Int = 80) -> String? {
        let x = lines(a, max: maxLines), y = lines(b, max: maxLines)
        if x == y { return nil }
        // LCS table
        let n = x.count, m = y.count
        var t = [[Int32]](repeating: [Int32](repeating: 0, count: m + 1), count: n + 1)
        if n > 0 && m > 0 {
            for i in stride(from: n - 1, through: 0, by: -1) {
                for j in stride(from: m - 1, through: 0, by: -1) {
                    t[i][j] = x[i] == y[j] ? t[i + 1][j + 1] + 1 : max(t[i + 1][j], t[i][j + 1])
                }
            }
        }
        enum Op { case same(Int, Int), del(Int), add(Int) }
        var ops: [Op] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n && j < m && x[i] == y[j] { ops.append(.same(i, j)); i += 1; j += 1 }
            else if i < n && (j == m || t[i + 1][j] >= t[i][j + 1]) { ops.append(.del(i)); i += 1 }
            else { ops.append(.add(j)); j += 1 }
        }
        // group into hunks
        var changeIdx: [Int] = []
        for (k, op) in ops.enumerated() { if case .same = op { continue }; changeIdx.append(k) }
        var hunks: [(Int, Int)] = []
        for k in changeIdx {
            let lo = max(0, k - context), hi = min(ops.count - 1, k + context)
            if let last = hunks.last, lo <= last.1 + 1 { hunks[hunks.count - 1].1 = max(last.1, hi) } else { hunks.append((lo, hi)) }
        }
        // lines of each side consumed before op k
        var aBefore = [Int](repeating: 0, count: ops.count + 1), bBefore = aBefore
        for (k, op) in ops.enumerated() {
            aBefore[k + 1] = aBefore[k]; bBefore[k + 1] = bBefore[k]
            switch op {
            case .same: aBefore[k + 1] += 1; bBefore[k + 1] += 1
            case .del: aBefore[k + 1] += 1
            case .add: bBefore[k + 1] += 1
            }
        }
        var out = ["--- \(nameA)", "+++ \(nameB)"]
        for (lo, hi) in hunks {
            var body: [String] = []
            for k in lo...hi {
                switch ops[k] {
                case .same(let p, _): body.append(" " + x[p])
                case .del(let p): body.append("-" + x[p])
                case .add(let q): body.append("+" + y[q])
                }
            }
            let aLen = aBefore[hi + 1] - aBefore[lo], bLen = bBefore[hi + 1] - bBefore[lo]
            // unified format: start is 1-based, or the line before when the range is empty
            let aStart = aLen > 0 ? aBefore[lo] + 1 : aBefore[lo]
            let bStart = bLen > 0 ? bBefore[lo] + 1 : bBefore[lo]
            out.append("@@ -\(aStart),\(aLen) +\(bStart),\(bLen) @@")
            out += body
            if out.count > maxOutputLines { break }
        }
        if out.count > maxOutputLines { out = Array(out.prefix(maxOutputLines)) + ["… (diff truncated)"] }
        if x.count == maxLines || y.count == maxLines { out.append("… (only the first \(maxLines) lines compared)") }
        return out.joined(separator: "\n")
    }

}
