import Foundation

/// Compares two artifacts from their digests (pass 1, `ArtifactLoader`), then reads again only
/// what differs, up to `maxDiffBytes` of each entry (pass 2, `ContentReader`): memory is bounded by
/// the number of entries, never by the artifacts' sizes.
public enum Differ {
    /// The most bytes of one entry's contents read to explain how it differs (the unified diff of a
    /// text file's first lines, the ELF sections of a binary); larger contents are compared by
    /// digest and the first differing byte found through their block digests.
    public static let maxDiffBytes = 16 << 20
    /// The most content bytes (both sides) explained per pass over the artifacts.
    static let batchBytes = 48 << 20

    static func octal(_ m: UInt32) -> String { "0" + String(m, radix: 8) }

    /// Compares two artifacts: first by digest, then entry by entry.
    public static func compare(_ a: Artifact, _ b: Artifact) throws -> ComparisonReport {
        let same = a.digest == b.digest
        let diffs = same ? [] : try compareEntries(a.entries, b.entries)
        var firstU: Int?
        if !same, let ua = a.uncompressed, let ub = b.uncompressed, case .file(let pa) = a.source, case .file(let pb) = b.source {
            firstU = try firstDifference(ua, ub) { side, block in
                try ArchiveScan.inflatedBlock(side == 0 ? pa : pb, name: side == 0 ? a.path : b.path, block: block)
            }
        }
        return ComparisonReport(a: a.path, b: b.path, format: a.format == b.format ? a.format : "\(a.format)/\(b.format)",
                                digestA: a.digest, digestB: b.digest, reproducible: same, differences: diffs,
                                firstDifferingByte: same ? nil : try ContentReader.firstDifference(a.source, b.source),
                                firstDifferingUncompressedByte: firstU, diffoscopeReport: nil)
    }

    /// The first differing byte of two digested contents; `block(side, k)` reads block k of side 0 (a) or 1 (b).
    static func firstDifference(_ a: ContentDigest, _ b: ContentDigest, block: (Int, Int) throws -> Data) throws -> Int? {
        switch a.divergence(from: b) {
        case .none: return nil
        case .byte(let n): return Int(n)
        case .block(let k):
            guard let d = firstDifferingByte(try block(0, k), try block(1, k)) else { return nil }
            return k * ContentDigest.blockSize + d
        }
    }

    /// Entry-by-entry differences. When every entry matches but the artifacts still differ, the
    /// difference is in the archive itself (entry order, padding, compression): reported as one
    /// pseudo-entry so the count is never 0 for different files.
    public static func compareEntries(_ ea: [ArtifactEntry], _ eb: [ArtifactEntry]) throws -> [ComparisonReport.EntryDifference] {
        func index(_ es: [ArtifactEntry]) -> [String: ArtifactEntry] {
            var d: [String: ArtifactEntry] = [:]
            var dup: [String: Int] = [:]
            for e in es {
                // repeated paths (rare: a later member overrides) are kept apart with a suffix
                let n = dup[e.path, default: 0]; dup[e.path] = n + 1
                d[n == 0 ? e.path : "\(e.path) (#\(n + 1))"] = e
            }
            return d
        }
        let ia = index(ea), ib = index(eb)
        var out: [ComparisonReport.EntryDifference] = []
        var pending: [(at: Int, x: ArtifactEntry, y: ArtifactEntry)] = []
        for path in Set(ia.keys).union(ib.keys).sorted() {
            switch (ia[path], ib[path]) {
            case (_?, nil): out.append(.init(path: path, kind: .onlyInA, attributes: []))
            case (nil, _?): out.append(.init(path: path, kind: .onlyInB, attributes: []))
            case let (x?, y?):
                guard let d = attributes(x, y) else { continue }
                if x.digest != y.digest { pending.append((out.count, x, y)) }
                out.append(d)
            default: break
            }
        }
        try explain(pending, into: &out)
        if out.isEmpty {
            let oa = ea.map(\.path), ob = eb.map(\.path)
            if oa != ob {
                let i = (0..<min(oa.count, ob.count)).first { oa[$0] != ob[$0] } ?? min(oa.count, ob.count)
                out.append(.init(path: "<archive entry order>", kind: .differs, attributes: [
                    .init(attribute: "entry #\(i + 1)", a: i < oa.count ? oa[i] : "-", b: i < ob.count ? ob[i] : "-")]))
            }
        }
        return out
    }

    /// The attribute differences of two entries (contents by digest), nil when they match.
    static func attributes(_ x: ArtifactEntry, _ y: ArtifactEntry) -> ComparisonReport.EntryDifference? {
        var attrs: [ComparisonReport.AttributeDifference] = []
        func add(_ name: String, _ a: String, _ b: String) { if a != b { attrs.append(.init(attribute: name, a: a, b: b)) } }
        add("type", x.kind.rawValue, y.kind.rawValue)
        add("mode", octal(x.mode), octal(y.mode))
        add("owner", "\(x.uid):\(x.gid) (\(x.uname):\(x.gname))", "\(y.uid):\(y.gid) (\(y.uname):\(y.gname))")
        add("mtime", x.mtime.map(String.init) ?? "-", y.mtime.map(String.init) ?? "-")
        add("size", String(x.size), String(y.size))
        add("link target", x.linkTarget ?? "-", y.linkTarget ?? "-")
        for k in Set(x.extra.keys).union(y.extra.keys).sorted() { add(k, x.extra[k] ?? "-", y.extra[k] ?? "-") }
        if x.digest != y.digest { add("content", "sha256:" + x.digest.sha256, "sha256:" + y.digest.sha256) }
        if attrs.isEmpty { return nil }
        return .init(path: x.path, kind: .differs, attributes: attrs)
    }

    /// Fills in the first differing byte, the ELF sections and the text diff of entries whose
    /// contents differ, reading them again in batches of at most `batchBytes`.
    static func explain(_ pending: [(at: Int, x: ArtifactEntry, y: ArtifactEntry)],
                        into out: inout [ComparisonReport.EntryDifference]) throws {
        func head(_ e: ArtifactEntry) -> Int { Int(min(e.digest.size, Int64(maxDiffBytes))) }
        func want(_ e: ArtifactEntry, _ block: Int?) -> ContentReader.Want {
            // the block is read separately only when the head does not hold it
            let inHead = block.map { e.digest.size <= Int64(maxDiffBytes) || ($0 + 1) * ContentDigest.blockSize <= maxDiffBytes } ?? true
            return .init(source: e.content, head: head(e), block: inHead ? nil : block)
        }
        var start = 0
        while start < pending.count {
            var end = start, cost = 0
            while end < pending.count && (end == start || cost + head(pending[end].x) + head(pending[end].y) <= batchBytes) {
                cost += head(pending[end].x) + head(pending[end].y) + 2 * ContentDigest.blockSize
                end += 1
            }
            let batch = pending[start..<end]
            var blocks: [Int?] = []
            for p in batch {
                if case .block(let k) = p.x.digest.divergence(from: p.y.digest) { blocks.append(k) } else { blocks.append(nil) }
            }
            let ca = try ContentReader.collect(zip(batch, blocks).map { want($0.x, $1) })
            let cb = try ContentReader.collect(zip(batch, blocks).map { want($0.y, $1) })
            for (i, p) in batch.enumerated() {
                out[p.at] = detail(out[p.at], p.x, p.y, ca[i], cb[i])
            }
            start = end
        }
    }

    /// One differing entry's first differing byte, ELF sections or text diff, from what pass 2 kept.
    static func detail(_ d: ComparisonReport.EntryDifference, _ x: ArtifactEntry, _ y: ArtifactEntry,
                       _ cx: ContentCollector, _ cy: ContentCollector) -> ComparisonReport.EntryDifference {
        var d = d
        func slice(_ c: ContentCollector, _ k: Int) -> Data {
            if c.blockRange != nil { return c.block }
            let lo = min(k * ContentDigest.blockSize, c.head.count), hi = min(lo + ContentDigest.blockSize, c.head.count)
            return c.head.subdata(in: lo..<hi)
        }
        switch x.digest.divergence(from: y.digest) {
        case .none: break
        case .byte(let n): d.firstDifferingByte = Int(n)
        case .block(let k): d.firstDifferingByte = firstDifferingByte(slice(cx, k), slice(cy, k)).map { k * ContentDigest.blockSize + $0 }
        }
        let whole = x.digest.size <= Int64(maxDiffBytes) && y.digest.size <= Int64(maxDiffBytes)
        if ELFSections.isELF(cx.head) && ELFSections.isELF(cy.head) {
            d.elfSections = whole ? ELFSections.differences(cx.head, cy.head)
                                  : ["(not compared: larger than the \(maxDiffBytes >> 20) MiB diff limit)"]
        } else if TextDiff.isText(cx.head) && TextDiff.isText(cy.head) {
            d.textDiff = TextDiff.unified(cx.head, cy.head, nameA: "a/\(x.path)", nameB: "b/\(y.path)")
        }
        return d
    }
}
