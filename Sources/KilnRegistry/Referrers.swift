import Foundation
import KilnCore
import KilnCrypto
import KilnOCI

/// OCI 1.1 referrers: kiln pushes each `.sig` / `.att` manifest a second time with a `subject` (the
/// signed image) and an `artifactType`, and — when the registry's answer has no `OCI-Subject` header —
/// lists it in the fallback index at tag `sha256-<hex>` (read-modify-write). Pull discovers them through
/// `GET /v2/<name>/referrers/<digest>`, else that fallback tag, else the `.sig` / `.att` tags.
extension Pusher {
    /// Pushes the artifact manifest `artifact` (from the layout) as a referrer of `subject`.
    mutating func pushReferrer(_ artifact: OCIDescriptor, artifactType: String, subject: OCIDescriptor) throws {
        let j = try layout.readJSON(artifact)
        let subj = OCIDescriptor(mediaType: subject.mediaType, digest: subject.digest, size: subject.size)
        let referrer = j.removing("subject").removing("artifactType").setting("artifactType", .string(artifactType)).setting("subject", subj.json)
        let body = referrer.compact()
        let digest = "sha256:" + (try Digest.sha256Hex(body))
        let desc = OCIDescriptor(mediaType: OCIMediaType.imageManifest, digest: digest, size: Int64(body.count), artifactType: artifactType)
        let head = try client.send("HEAD", client.url(repo, "manifests/\(digest)"), repo: repo, actions: "pull,push", headers: [("Accept", manifestAccept)])
        var subjectHeader = false
        if head.status == 200 {
            report.manifestsExisting += 1
        } else {
            let put = try client.send("PUT", client.url(repo, "manifests/\(digest)"), repo: repo, actions: "pull,push",
                                      headers: [("Content-Type", OCIMediaType.imageManifest)], body: .data(body))
            try client.expect(put, [201], "PUT referrer \(digest)")
            try client.checkDigestHeader(put, digest, "PUT referrer")
            subjectHeader = put.header("OCI-Subject") != nil
            report.manifestsPushed += 1
            progress("referrer \(Pusher.short(digest)) (\(artifactType)) of \(Pusher.short(subject.digest)): pushed"
                + (subjectHeader ? " (registry indexes referrers)" : ""))
        }
        if subjectHeader { return }
        // Registries without the referrers API: keep the fallback index at sha256-<hex> up to date.
        if try client.referrersAPI(repo: repo, subject: subject.digest) != nil, head.status == 200 { return }
        let tag = CosignTag.referrersFallback(for: subject.digest)
        let get = try client.send("GET", client.url(repo, "manifests/\(tag)"), repo: repo, actions: "pull,push", headers: [("Accept", OCIMediaType.imageIndex)])
        var entries: [JSON] = []
        if get.status == 200 {
            let idx = try JSON.parse(get.body, source: "\(client.registry)/\(repo):\(tag)")
            entries = idx["manifests"]?.array ?? []
        } else {
            try client.expect(get, [404], "GET referrers fallback tag \(tag)")
        }
        if entries.contains(where: { $0["digest"]?.string == digest }) {
            progress("tag \(tag) (referrers fallback) lists \(Pusher.short(digest)): unchanged")
            return
        }
        entries.append(desc.json)
        let index = JSON.object([("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageIndex)), ("manifests", .array(entries))]).compact()
        let put = try client.send("PUT", client.url(repo, "manifests/\(tag)"), repo: repo, actions: "pull,push",
                                  headers: [("Content-Type", OCIMediaType.imageIndex)], body: .data(index))
        try client.expect(put, [201], "PUT referrers fallback index \(tag)")
        report.tags.append(tag)
        progress("tag \(tag) (referrers fallback index, \(entries.count) referrer(s))")
    }
}

extension RegistryClient {
    /// The referrers of `subject` from the referrers API; nil when the registry has none (404).
    func referrersAPI(repo: String, subject: String) throws -> [OCIDescriptor]? {
        let r = try send("GET", url(repo, "referrers/\(subject)"), repo: repo, actions: "pull", headers: [("Accept", OCIMediaType.imageIndex)])
        if r.status == 404 { return nil }
        try expect(r, [200], "GET referrers of \(subject)")
        return try RegistryClient.descriptors(inIndex: r.body, source: "\(registry)/\(repo) referrers of \(subject)")
    }

    /// The referrers of `subject`: the API, else the fallback tag `sha256-<hex>`, else none; and which source answered.
    func referrers(repo: String, subject: String) throws -> (descriptors: [OCIDescriptor], source: String) {
        if let api = try referrersAPI(repo: repo, subject: subject) { return (api, "referrers API") }
        let tag = CosignTag.referrersFallback(for: subject)
        let r = try send("GET", url(repo, "manifests/\(tag)"), repo: repo, actions: "pull", headers: [("Accept", OCIMediaType.imageIndex)])
        if r.status == 404 { return ([], "none") }
        try expect(r, [200], "GET referrers fallback tag \(tag)")
        return (try RegistryClient.descriptors(inIndex: r.body, source: "\(registry)/\(repo):\(tag)"), "fallback tag \(tag)")
    }

    static func descriptors(inIndex body: Data, source: String) throws -> [OCIDescriptor] {
        let j = try JSON.parse(body, source: source)
        return try (j["manifests"]?.array ?? []).prefix(1000).enumerated().map { try OCIDescriptor(json: $0.element, source: "\(source): manifests[\($0.offset)]") }
    }
}
