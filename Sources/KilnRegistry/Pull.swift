import Foundation
import KilnCore
import KilnCrypto
import KilnOCI

/// What a pull did.
public struct PullReport: Equatable, Sendable {
    /// The manifest (or index) digest pulled.
    public var digest = ""
    /// Blobs fetched and bytes received.
    public var blobs = 0
    public var bytes: Int64 = 0
    /// Manifests fetched (images, index, signatures, attestations).
    public var manifests = 0
    /// Tags written into the layout (the image's and `.sig` / `.att`).
    public var tags: [String] = []
}

/// `kiln pull REGISTRY/REPO[:TAG|@DIGEST] LAYOUT`: the image or index (all variants), its `.sig` / `.att`,
/// every manifest and blob checked against its digest while it streams in, into a temporary layout that is
/// renamed to LAYOUT only when everything arrived (a failed pull leaves nothing behind).
public enum RegistryPull {
    /// Pulls `source` into a new layout at `layoutPath` (which must not exist).
    public static func pull(_ source: RegistryReference, into layoutPath: String, options: RegistryOptions) throws -> PullReport {
        let client = try RegistryClient(registry: source.registry, options: options)
        return try pull(source, into: layoutPath, client: client)
    }

    /// As above with an existing client.
    public static func pull(_ source: RegistryReference, into layoutPath: String, client: RegistryClient) throws -> PullReport {
        guard let ref = source.reference else { throw KilnMessage("\(source): name a tag or digest (REGISTRY/REPO:TAG or @sha256:…)") }
        let fm = FileManager.default
        if fm.fileExists(atPath: layoutPath) { throw KilnMessage("\(layoutPath): already exists; kiln pull writes a new layout (choose another path or remove it)") }
        let parent = (layoutPath as NSString).deletingLastPathComponent
        let tmp = (parent.isEmpty ? "." : parent) + "/.\((layoutPath as NSString).lastPathComponent).kiln-pull-\(getpid())"
        try? fm.removeItem(atPath: tmp)
        do {
            let layout = try OCILayout.create(at: tmp)
            var p = Puller(layout: layout, client: client, repo: source.repository)
            let top = try p.manifest(ref, expected: source.digest)
            try p.tree(top)
            if let t = source.tag { try layout.setTag(t, to: top); p.report.tags.append(t) } else { try layout.addUntagged(top) }
            var subjects = [top.digest]
            if OCIMediaType.isIndex(top.mediaType) { subjects += try layout.imageManifests(of: top).map(\.digest) }
            for s in subjects {
                // Referrers API → fallback tag sha256-<hex> → the .sig / .att tags.
                let (found, how) = try client.referrers(repo: source.repository, subject: s)
                for r in found {
                    let t = r.artifactType == OCIMediaType.cosignSignatureArtifact ? CosignTag.signature(for: s)
                        : r.artifactType == OCIMediaType.cosignAttestationArtifact ? CosignTag.attestation(for: s) : nil
                    guard let t, try layout.lookup(tag: t) == nil else { continue }
                    let d = try p.manifest(r.digest, expected: r.digest)
                    try p.tree(d)
                    try layout.setTag(t, to: d)
                    p.report.tags.append(t)
                    client.options.progress("\(t) of \(Pusher.short(s)) found through the \(how)")
                }
                for t in [CosignTag.signature(for: s), CosignTag.attestation(for: s)] where try layout.lookup(tag: t) == nil {
                    guard let d = try p.manifestIfPresent(t) else { continue }
                    try p.tree(d)
                    try layout.setTag(t, to: d)
                    p.report.tags.append(t)
                }
            }
            p.report.digest = top.digest
            guard rename(tmp, layoutPath) == 0 else { throw KilnMessage("\(layoutPath): cannot rename the pulled layout into place: \(String(cString: strerror(errno)))") }
            return p.report
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }
}

struct Puller {
    let layout: OCILayout
    let client: RegistryClient
    let repo: String
    var report = PullReport()
    var done = Set<String>()

    init(layout: OCILayout, client: RegistryClient, repo: String) { self.layout = layout; self.client = client; self.repo = repo }

    /// GETs a manifest by tag or digest, checks its digest (against `expected`, the header, or its address), stores it.
    mutating func manifest(_ ref: String, expected: String?) throws -> OCIDescriptor {
        guard let d = try manifestIfPresent(ref, expected: expected) else {
            throw KilnMessage("\(client.registry)/\(repo): no manifest \(ref) (HTTP 404)")
        }
        return d
    }

    mutating func manifestIfPresent(_ ref: String, expected: String? = nil) throws -> OCIDescriptor? {
        let resp = try client.send("GET", client.url(repo, "manifests/\(ref)"), repo: repo, actions: "pull", headers: [("Accept", manifestAccept)])
        if resp.status == 404 { return nil }
        try client.expect(resp, [200], "GET manifest \(ref)")
        let digest = "sha256:" + (try Digest.sha256Hex(resp.body))
        let want = expected ?? (ref.hasPrefix("sha256:") ? ref : nil)
        if let want, want != digest {
            throw KilnMessage("\(client.registry)/\(repo): manifest \(want) arrived with content digest \(digest) — the registry served other bytes; refused")
        }
        if let h = resp.header("Docker-Content-Digest"), h != digest {
            throw KilnMessage("\(client.registry)/\(repo): manifest \(ref): Docker-Content-Digest \(h) but the content is \(digest); refused")
        }
        let j = try JSON.parse(resp.body, source: "\(client.registry)/\(repo): manifest \(ref)")
        let mt = j["mediaType"]?.string ?? resp.header("Content-Type")?.split(separator: ";").first.map(String.init) ?? ""
        guard OCIMediaType.isManifest(mt) || OCIMediaType.isIndex(mt) else {
            throw KilnMessage("\(client.registry)/\(repo): manifest \(ref) has media type \(mt.isEmpty ? "(none)" : mt), not an OCI/Docker manifest or index")
        }
        let d = try layout.writeBlob(resp.body, mediaType: mt)
        report.manifests += 1
        return d
    }

    /// Fetches everything under a manifest or index already stored in the layout.
    mutating func tree(_ d: OCIDescriptor, depth: Int = 0) throws {
        guard depth < 8 else { throw KilnMessage("\(client.registry)/\(repo): indexes nested deeper than 8 levels under \(d.digest); refused") }
        guard !done.contains(d.digest) else { return }
        done.insert(d.digest)
        let j = try layout.readJSON(d)
        let src = "\(client.registry)/\(repo)@\(d.digest)"
        if OCIMediaType.isIndex(d.mediaType) {
            for (i, m) in (j["manifests"]?.array ?? []).enumerated() {
                let child = try OCIDescriptor(json: m, source: "\(src): manifests[\(i)]")
                _ = try manifest(child.digest, expected: child.digest)
                try tree(child, depth: depth + 1)
            }
        } else {
            guard let c = j["config"] else { throw KilnMessage("\(src): manifest without config") }
            try blob(OCIDescriptor(json: c, source: "\(src): config"))
            for (i, l) in (j["layers"]?.array ?? []).enumerated() { try blob(OCIDescriptor(json: l, source: "\(src): layers[\(i)]")) }
        }
    }

    /// Streams a blob to a temporary file in the layout, hashing on the way; renamed when size and digest match.
    mutating func blob(_ d: OCIDescriptor) throws {
        guard !done.contains(d.digest) else { return }
        done.insert(d.digest)
        let final = try layout.blobPath(d.digest)
        let part = final + ".part"
        let fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw KilnMessage("\(part): cannot create: \(String(cString: strerror(errno)))") }
        var closed = false
        defer { if !closed { close(fd) }; unlink(part) }
        let hash = try DigestStream(.sha256)
        var got: Int64 = 0
        let t0 = Date()
        let resp = try client.send("GET", client.url(repo, "blobs/\(d.digest)"), repo: repo, actions: "pull", maxBody: d.size) { bytes in
            hash.update(bytes)
            got += Int64(bytes.count)
            var off = 0
            while off < bytes.count {
                let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
                if n < 0 { if errno == EINTR { continue }; throw KilnMessage("\(part): write failed: \(String(cString: strerror(errno)))") }
                off += n
            }
        }
        try client.expect(resp, [200], "GET blob \(d.digest)")
        guard got == d.size else { throw KilnMessage("\(client.registry)/\(repo): blob \(d.digest) is \(got) bytes, the manifest says \(d.size); refused") }
        let hex = try hash.finalize().hexString
        guard "sha256:" + hex == d.digest else {
            throw KilnMessage("\(client.registry)/\(repo): blob \(d.digest) arrived with content digest sha256:\(hex) — modified in the registry; refused")
        }
        close(fd); closed = true
        guard rename(part, final) == 0 else { throw KilnMessage("\(final): cannot rename into place: \(String(cString: strerror(errno)))") }
        report.blobs += 1
        report.bytes += got
        let secs = max(Date().timeIntervalSince(t0), 0.000_001)
        client.options.progress("blob \(Pusher.short(d.digest)) \(d.size) bytes: fetched (\(String(format: "%.1f", Double(d.size) / secs / 1_048_576)) MiB/s)")
    }
}

extension RegistryPull {
    /// Pulls `source` into a fresh temporary directory and returns the layout's path (`<dir>/layout`);
    /// the caller removes `<dir>` (the returned path's parent) when done. For `kiln verify REGISTRY/REPO@DIGEST`.
    public static func pullTemporary(_ source: RegistryReference, options: RegistryOptions) throws -> String {
        let dir = NSTemporaryDirectory() + "kiln-verify-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        do {
            _ = try pull(source, into: dir + "/layout", options: options)
        } catch { try? FileManager.default.removeItem(atPath: dir); throw error }
        return dir + "/layout"
    }
}
