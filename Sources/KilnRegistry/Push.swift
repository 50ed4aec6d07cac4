import Foundation
import KilnCore
import KilnCrypto
import KilnOCI

/// What a push did.
public struct PushReport: Equatable, Sendable {
    /// Manifest digest of what the tag now names.
    public var digest: String = ""
    /// Blobs uploaded / already present / mounted from another repository.
    public var uploaded = 0, existing = 0, mounted = 0
    /// Bytes sent in blob uploads.
    public var bytesUploaded: Int64 = 0
    /// Manifests written (by digest) and already present.
    public var manifestsPushed = 0, manifestsExisting = 0
    /// Tags written (including `.sig` / `.att`).
    public var tags: [String] = []
}

/// `kiln push LAYOUT[:TAG] REGISTRY/REPO[:TAG]`: blobs first (HEAD → cross-repository mount → upload),
/// then manifests by digest, then tags; the image's `sha256-<hex>.sig` / `.att` go along. Every answer's
/// `Docker-Content-Digest` is checked; a second push of the same layout uploads nothing.
public enum RegistryPush {
    /// Pushes the image `tag` (or the layout's only image) of `layoutPath` to `destination`.
    public static func push(layout layoutPath: String, tag: String?, to destination: RegistryReference,
                            options: RegistryOptions) throws -> PushReport {
        let client = try RegistryClient(registry: destination.registry, options: options)
        return try push(layout: layoutPath, tag: tag, to: destination, client: client)
    }

    /// As above with an existing client (connections and tokens are reused).
    /// `referrers`: also push each signature/attestation as an OCI 1.1 referrer (with the fallback tag index).
    public static func push(layout layoutPath: String, tag: String?, to destination: RegistryReference,
                            client: RegistryClient, referrers: Bool = true) throws -> PushReport {
        guard destination.digest == nil else { throw KilnMessage("\(destination): push to a tag, not a digest (REGISTRY/REPO:TAG)") }
        let layout = try OCILayout(path: layoutPath)
        let top: OCIDescriptor
        if let tag { top = try layout.resolve(tag) } else {
            let images = try layout.manifests().filter { !CosignTag.isArtifactTag($0.refName ?? "") }
            guard images.count == 1 else {
                throw KilnMessage("\(layoutPath): \(images.count) images in index.json; name one as LAYOUT:TAG (tags: \(images.compactMap(\.refName).sorted().joined(separator: ", ")))")
            }
            top = images[0]
        }
        guard let destTag = destination.tag ?? (tag ?? top.refName).map(registryTag(forLayoutTag:)) else {
            throw KilnMessage("\(destination): no tag to push to; write REGISTRY/REPO:TAG")
        }
        var p = Pusher(layout: layout, client: client, repo: destination.repository)
        try p.pushTree(top)
        try p.tag(destTag, top)
        // Signatures and attestations of the index and of every image in it.
        var subjects = [top.digest]
        if OCIMediaType.isIndex(top.mediaType) { subjects += try layout.imageManifests(of: top).map(\.digest) }
        let subjectDescriptors = [top] + (OCIMediaType.isIndex(top.mediaType) ? try layout.imageManifests(of: top) : [])
        for s in subjectDescriptors where subjects.contains(s.digest) {
            for (t, type) in [(CosignTag.signature(for: s.digest), OCIMediaType.cosignSignatureArtifact),
                              (CosignTag.attestation(for: s.digest), OCIMediaType.cosignAttestationArtifact)] {
                guard let d = try layout.lookup(tag: t) else { continue }
                try p.pushTree(d)
                try p.tag(t, d)
                if referrers { try p.pushReferrer(d, artifactType: type, subject: s) }
            }
        }
        p.report.digest = top.digest
        return p.report
    }
}

struct Pusher {
    let layout: OCILayout
    let client: RegistryClient
    let repo: String
    var report = PushReport()
    var done = Set<String>()

    init(layout: OCILayout, client: RegistryClient, repo: String) { self.layout = layout; self.client = client; self.repo = repo }

    var progress: @Sendable (String) -> Void { client.options.progress }
    static func short(_ d: String) -> String { String(d.prefix(19)) + "…" }

    /// Pushes a manifest or index and everything under it, children first.
    mutating func pushTree(_ d: OCIDescriptor, depth: Int = 0) throws {
        guard depth < 8 else { throw KilnMessage("\(layout.path): indexes nested deeper than 8 levels under \(d.digest)") }
        guard !done.contains(d.digest) else { return }
        let j = try layout.readJSON(d)
        let src = "\(layout.path)/blobs/sha256/\(d.hex)"
        if OCIMediaType.isIndex(d.mediaType) {
            for (i, m) in (j["manifests"]?.array ?? []).enumerated() { try pushTree(OCIDescriptor(json: m, source: "\(src): manifests[\(i)]"), depth: depth + 1) }
        } else {
            var blobs: [OCIDescriptor] = []
            if let c = j["config"] { blobs.append(try OCIDescriptor(json: c, source: "\(src): config")) }
            for (i, l) in (j["layers"]?.array ?? []).enumerated() { blobs.append(try OCIDescriptor(json: l, source: "\(src): layers[\(i)]")) }
            try pushBlobs(blobs)
        }
        try pushManifest(d)
        done.insert(d.digest)
    }

    enum BlobOutcome: Sendable { case existing, mounted, uploaded }

    /// Pushes the blobs `ds` not pushed yet, up to `client.options.parallelUploads` at once (each
    /// worker with its own client and connection); the first error is thrown after all have finished.
    mutating func pushBlobs(_ ds: [OCIDescriptor]) throws {
        var todo: [OCIDescriptor] = []
        for d in ds where !done.contains(d.digest) { done.insert(d.digest); todo.append(d) }
        let workers = max(1, min(client.options.parallelUploads, todo.count))
        var results = [Result<BlobOutcome, Error>?](repeating: nil, count: todo.count)
        if workers == 1 {
            for (i, d) in todo.enumerated() { results[i] = Result { try Pusher.pushBlob(d, layout: layout, client: client, repo: repo) } }
        } else {
            // One client (and connection) per worker, made here; worker w alone uses clients[w], so the
            // unchecked box is sound. Results go through a LockedValue.
            let clients = UncheckedBox((0..<workers).map { w -> Result<RegistryClient, Error> in
                w == 0 ? .success(client) : Result { try RegistryClient(registry: client.registry, options: client.options) }
            })
            let shared = LockedValue(results)
            let (layout, repo, todo) = (self.layout, self.repo, todo)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < todo.count {
                    let r = clients.value[w].flatMap { c in Result { try Pusher.pushBlob(todo[i], layout: layout, client: c, repo: repo) } }
                    shared.withLock { $0[i] = r }
                    i += workers
                }
            }
            results = shared.value
        }
        for r in results {
            switch try r!.get() {
            case .existing: report.existing += 1
            case .mounted: report.mounted += 1
            case .uploaded: report.uploaded += 1
            }
        }
        report.bytesUploaded += zip(todo, results).reduce(0) { sum, p in
            if case .success(.uploaded) = p.1 { return sum + p.0.size }
            return sum
        }
    }

    /// HEAD → mount → (chunked) upload of one blob.
    static func pushBlob(_ d: OCIDescriptor, layout: OCILayout, client: RegistryClient, repo: String) throws -> BlobOutcome {
        let progress = client.options.progress
        let path = try layout.blobPath(d.digest)
        var st = stat()
        guard stat(path, &st) == 0, Int64(st.st_size) == d.size else {
            throw KilnMessage("\(path): blob \(d.digest) is missing or not \(d.size) bytes; run `kiln verify` on the layout")
        }
        let head = try client.send("HEAD", client.url(repo, "blobs/\(d.digest)"), repo: repo, actions: "pull,push")
        if head.status == 200 {
            progress("blob \(Pusher.short(d.digest)) \(d.size) bytes: exists")
            return .existing
        }
        try client.expect(head, [404], "HEAD blob \(d.digest)")
        // Verify what we send: the layout's bytes must hash to the digest we announce.
        let hex = try Digest.hashFile(.sha256, path: path).hexString
        guard "sha256:" + hex == d.digest else { throw KilnMessage("\(path): content is sha256:\(hex), not \(d.digest); the layout is corrupt") }
        var uploadURL = client.url(repo, "blobs/uploads/")
        if let from = client.options.mountFrom, from != repo {
            let m = try client.send("POST", uploadURL.appendingQuery("mount=\(d.digest)&from=\(RegistryClient.encode(from))"),
                                    repo: repo, actions: "pull,push")
            if m.status == 201 {
                progress("blob \(Pusher.short(d.digest)) \(d.size) bytes: mounted from \(from)")
                return .mounted
            }
            try client.expect(m, [202], "mount \(d.digest) from \(from)")
            uploadURL = try location(m, client)
        } else {
            let start = try client.send("POST", uploadURL, repo: repo, actions: "pull,push")
            try client.expect(start, [202], "start an upload of \(d.digest)")
            uploadURL = try location(start, client)
        }
        let t0 = Date()
        let http = client.options.http
        var finalBody: HTTPBody = .file(path: path, size: d.size)
        var chunks = 0
        if d.size > http.chunkThreshold {
            // Chunked upload: PATCH each range to the Location the previous answer gave, then PUT ?digest= with no body.
            var offset: Int64 = 0
            while offset < d.size {
                let n = min(http.chunkSize, d.size - offset)
                let patch = try client.send("PATCH", uploadURL, repo: repo, actions: "pull,push",
                                            headers: [("Content-Type", "application/octet-stream"), ("Content-Range", "\(offset)-\(offset + n - 1)")],
                                            body: .fileRange(path: path, offset: offset, length: n))
                try client.expect(patch, [202], "upload chunk \(offset)-\(offset + n - 1) of \(d.digest)")
                uploadURL = try location(patch, client)
                offset += n
                chunks += 1
            }
            finalBody = .none
        }
        let put = try client.send("PUT", uploadURL.appendingQuery("digest=\(d.digest)"), repo: repo, actions: "pull,push",
                                  headers: [("Content-Type", "application/octet-stream")], body: finalBody)
        try client.expect(put, [201], "upload \(d.digest)")
        try client.checkDigestHeader(put, d.digest, "upload")
        let secs = max(Date().timeIntervalSince(t0), 0.000_001)
        progress("blob \(Pusher.short(d.digest)) \(d.size) bytes: uploaded\(chunks > 0 ? " in \(chunks) chunks" : "") (\(String(format: "%.1f", Double(d.size) / secs / 1_048_576)) MiB/s)")
        return .uploaded
    }

    static func location(_ resp: HTTPResponse, _ client: RegistryClient) throws -> HTTPURL {
        guard let loc = resp.header("Location") else { throw KilnMessage("\(client.registry): upload answer without Location") }
        let u = try resp.url.resolving(loc)
        guard u.origin == client.base.origin else { throw KilnMessage("\(client.registry): upload Location \(u.origin) is another server; refused") }
        return u
    }

    mutating func pushManifest(_ d: OCIDescriptor) throws {
        let body = try layout.readBlob(d)
        let head = try client.send("HEAD", client.url(repo, "manifests/\(d.digest)"), repo: repo, actions: "pull,push",
                                   headers: [("Accept", manifestAccept)])
        if head.status == 200 {
            report.manifestsExisting += 1
            progress("manifest \(Pusher.short(d.digest)): exists")
            return
        }
        let put = try client.send("PUT", client.url(repo, "manifests/\(d.digest)"), repo: repo, actions: "pull,push",
                                  headers: [("Content-Type", d.mediaType)], body: .data(body))
        try client.expect(put, [201], "PUT manifest \(d.digest)")
        try client.checkDigestHeader(put, d.digest, "PUT manifest")
        report.manifestsPushed += 1
        progress("manifest \(Pusher.short(d.digest)) (\(d.mediaType)): pushed")
    }

    mutating func tag(_ tag: String, _ d: OCIDescriptor) throws {
        guard RegistryReference.isValidTag(tag) else { throw KilnMessage("\(layout.path): tag \(tag) is not a valid registry tag") }
        let head = try client.send("HEAD", client.url(repo, "manifests/\(tag)"), repo: repo, actions: "pull,push", headers: [("Accept", manifestAccept)])
        if head.status == 200, head.header("Docker-Content-Digest") == d.digest {
            progress("tag \(tag) → \(Pusher.short(d.digest)): unchanged")
            return
        }
        let put = try client.send("PUT", client.url(repo, "manifests/\(tag)"), repo: repo, actions: "pull,push",
                                  headers: [("Content-Type", d.mediaType)], body: .data(try layout.readBlob(d)))
        try client.expect(put, [201], "tag \(tag)")
        try client.checkDigestHeader(put, d.digest, "tag \(tag)")
        report.tags.append(tag)
        progress("tag \(tag) → \(Pusher.short(d.digest))")
    }
}

extension RegistryPush {
    /// The registry tag for a layout tag: `openssl:3.0.22-r0` → `3.0.22-r0` (the part after the last `:`).
    public static func registryTag(forLayoutTag t: String) -> String { t.split(separator: ":").last.map(String.init) ?? t }

    /// Publishes every image of a layout under `prefix` (`REGISTRY/PREFIX`): layout tag `NAME:TAG` goes
    /// to `REGISTRY/PREFIX/NAME:TAG` (a bare `TAG` to `REGISTRY/PREFIX/<layout folder name>:TAG`), with
    /// signatures, attestations and referrers. One client (connections, tokens) for all. For `kiln nightly --push`
    /// and `make demo`.
    public static func publish(layout layoutPath: String, prefix: String, options: RegistryOptions) throws -> [(RegistryReference, PushReport)] {
        let base = try RegistryReference.parse(prefix)
        guard base.tag == nil, base.digest == nil else { throw KilnMessage("\(prefix): give REGISTRY/PREFIX without a tag or digest") }
        let client = try RegistryClient(registry: base.registry, options: options)
        let layout = try OCILayout(path: layoutPath)
        let folder = URL(fileURLWithPath: layoutPath).standardizedFileURL.lastPathComponent.lowercased()
        var out: [(RegistryReference, PushReport)] = []
        for tag in try layout.manifests().compactMap(\.refName) where !CosignTag.isArtifactTag(tag) {
            let parts = tag.split(separator: ":", maxSplits: 1).map(String.init)
            let name = parts.count == 2 ? parts[0] : folder
            let dest = try RegistryReference.parse("\(base.registry)/\(base.repository)/\(name):\(registryTag(forLayoutTag: tag))")
            out.append((dest, try push(layout: layoutPath, tag: tag, to: dest, client: client)))
        }
        return out
    }
}

/// A value handed to concurrent workers that each touch only their own part of it (see the caller).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
