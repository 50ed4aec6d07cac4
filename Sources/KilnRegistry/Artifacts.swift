import Foundation
import KilnCore
import KilnCrypto
import KilnOCI

/// Single blobs and small OCI artifact manifests in one repository (no layout on disk): what
/// `kiln nightly --store registry://…` keeps there. Every blob is checked against its digest as it
/// streams in and renamed into place only then; every manifest against its digest header.
public struct RegistryArtifacts {
    /// The client (connections and tokens are reused).
    public let client: RegistryClient
    /// The repository (`kiln/nightly`).
    public let repository: String

    /// The empty JSON config of an artifact manifest (OCI 1.1 `application/vnd.oci.empty.v1+json`).
    public static let emptyConfig = OCIDescriptor(mediaType: "application/vnd.oci.empty.v1+json",
                                                  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2)

    /// Artifacts in `repository` through `client`.
    public init(client: RegistryClient, repository: String) { self.client = client; self.repository = repository }

    var source: String { "\(client.registry)/\(repository)" }

    /// Whether the registry has blob `digest`.
    public func hasBlob(_ digest: String) throws -> Bool {
        let head = try client.send("HEAD", client.url(repository, "blobs/\(digest)"), repo: repository, actions: "pull")
        if head.status == 200 { return true }
        try client.expect(head, [404], "HEAD blob \(digest)")
        return false
    }

    /// Uploads the file at `path` as a blob (nothing is sent when the registry has it); returns its descriptor.
    public func pushBlob(file path: String, mediaType: String) throws -> OCIDescriptor {
        var st = stat()
        guard stat(path, &st) == 0 else { throw KilnMessage("\(path): cannot read: \(String(cString: strerror(errno)))") }
        let d = OCIDescriptor(mediaType: mediaType, digest: "sha256:" + (try Digest.hashFile(.sha256, path: path).hexString), size: Int64(st.st_size))
        try upload(d, body: .file(path: path, size: d.size))
        return d
    }

    /// Uploads `data` as a blob (nothing is sent when the registry has it); returns its descriptor.
    public func pushBlob(data: Data, mediaType: String) throws -> OCIDescriptor {
        let d = OCIDescriptor(mediaType: mediaType, digest: "sha256:" + (try Digest.sha256Hex(data)), size: Int64(data.count))
        try upload(d, body: .data(data))
        return d
    }

    func upload(_ d: OCIDescriptor, body: HTTPBody) throws {
        if try hasBlob(d.digest) { return }
        let start = try client.send("POST", client.url(repository, "blobs/uploads/"), repo: repository, actions: "pull,push")
        try client.expect(start, [202], "start an upload of \(d.digest)")
        let put = try client.send("PUT", try Pusher.location(start, client).appendingQuery("digest=\(d.digest)"), repo: repository,
                                  actions: "pull,push", headers: [("Content-Type", "application/octet-stream")], body: body)
        try client.expect(put, [201], "upload \(d.digest)")
        try client.checkDigestHeader(put, d.digest, "upload")
    }

    /// Streams blob `digest` (at most `maxSize` bytes) to `destination` via a temporary name; a
    /// blob whose bytes do not hash to `digest` is refused and nothing is left behind.
    public func pullBlob(_ digest: String, to destination: String, maxSize: Int64) throws {
        _ = try OCIDigest(parsing: digest, source: "\(source): bad blob digest")
        try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.produce(destination) { tmp -> Void in
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw KilnMessage("\(tmp): cannot create: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let hash = try DigestStream(.sha256)
            let resp = try client.send("GET", client.url(repository, "blobs/\(digest)"), repo: repository, actions: "pull", maxBody: maxSize) { bytes in
                hash.update(bytes)
                var off = 0
                while off < bytes.count {
                    let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
                    if n < 0 { if errno == EINTR { continue }; throw KilnMessage("\(tmp): write failed: \(String(cString: strerror(errno)))") }
                    off += n
                }
            }
            if resp.status == 404 { throw KilnMessage("\(source): blob \(digest) is missing from the registry") }
            try client.expect(resp, [200], "GET blob \(digest)")
            let got = "sha256:" + (try hash.finalize().hexString)
            guard got == digest else { throw KilnMessage("\(source): blob \(digest) arrived with content digest \(got) — modified in the registry; refused") }
        }
    }

    /// Blob `digest` in memory (at most `maxSize` bytes), checked against its digest.
    public func blobData(_ digest: String, maxSize: Int64) throws -> Data {
        _ = try OCIDigest(parsing: digest, source: "\(source): bad blob digest")
        let resp = try client.send("GET", client.url(repository, "blobs/\(digest)"), repo: repository, actions: "pull", maxBody: maxSize)
        if resp.status == 404 { throw KilnMessage("\(source): blob \(digest) is missing from the registry") }
        try client.expect(resp, [200], "GET blob \(digest)")
        guard "sha256:" + (try Digest.sha256Hex(resp.body)) == digest else {
            throw KilnMessage("\(source): blob \(digest) arrived with other content — modified in the registry; refused")
        }
        return resp.body
    }

    /// Pushes an OCI 1.1 artifact manifest (`artifactType`, the empty config, `layers`, whose blobs
    /// must be in the registry) and points `tag` at it; returns the manifest's digest.
    @discardableResult
    public func pushArtifact(tag: String, artifactType: String, layers: [OCIDescriptor], annotations: [String: String] = [:]) throws -> String {
        guard RegistryReference.isValidTag(tag) else { throw KilnMessage("\(source): \(tag) is not a valid registry tag") }
        _ = try pushBlob(data: Data("{}".utf8), mediaType: Self.emptyConfig.mediaType)
        var fields: [(String, JSON)] = [("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageManifest)),
                                        ("artifactType", .string(artifactType)), ("config", Self.emptyConfig.json),
                                        ("layers", .array(layers.map(\.json)))]
        if !annotations.isEmpty { fields.append(("annotations", .object(annotations.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))) }
        let body = JSON.object(fields).compact()
        let digest = "sha256:" + (try Digest.sha256Hex(body))
        let put = try client.send("PUT", client.url(repository, "manifests/\(tag)"), repo: repository, actions: "pull,push",
                                  headers: [("Content-Type", OCIMediaType.imageManifest)], body: .data(body))
        try client.expect(put, [201], "PUT artifact \(tag)")
        try client.checkDigestHeader(put, digest, "PUT artifact \(tag)")
        return digest
    }

    /// The artifact `tag` points at (its type and layers), or nil when there is no such tag.
    public func artifact(tag: String) throws -> (artifactType: String, layers: [OCIDescriptor])? {
        let resp = try client.send("GET", client.url(repository, "manifests/\(tag)"), repo: repository, actions: "pull",
                                   headers: [("Accept", OCIMediaType.imageManifest)], maxBody: 1 << 20)
        if resp.status == 404 { return nil }
        try client.expect(resp, [200], "GET artifact \(tag)")
        let digest = "sha256:" + (try Digest.sha256Hex(resp.body))
        if let h = resp.header("Docker-Content-Digest"), h != digest {
            throw KilnMessage("\(source): artifact \(tag): Docker-Content-Digest \(h) but the content is \(digest); refused")
        }
        let j = try JSON.parse(resp.body, source: "\(source): artifact \(tag)")
        let layers = try (j["layers"]?.array ?? []).enumerated().map { try OCIDescriptor(json: $0.element, source: "\(source): \(tag): layers[\($0.offset)]") }
        return (j["artifactType"]?.string ?? j["config"]?["mediaType"]?.string ?? "", layers)
    }
}
