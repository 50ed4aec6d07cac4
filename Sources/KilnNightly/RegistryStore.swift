import Foundation
import KilnCore
import KilnCrypto
import KilnOCI
import KilnRegistry

/// The nightly store in an OCI registry repository, for workers that share no filesystem with the
/// coordinator. Everything is an OCI 1.1 artifact manifest (empty config, kiln artifact types)
/// under a tag, with its content as layers:
/// `plan-<run>` (the worker plan), `result-<node>` (the worker result and, as further layers, the
/// packages it built — so they stay referenced), `inputs-<node>` (the build-time packages the
/// coordinator offers the node, titled by file name), `log-<node>` (the worker's build log).
/// Blobs are content-addressed and checked by digest on the way in; a removed result is a tag
/// pointing at an empty "removed" artifact (tags cannot be deleted on every registry).
public final class RegistryStore: NightlyStore, @unchecked Sendable {
    /// The artifact types.
    public static let planType = "application/vnd.dev.kiln.nightly.plan.v1+json"
    /// A worker result (layer 0: its JSON; further layers: the packages).
    public static let resultType = "application/vnd.dev.kiln.nightly.result.v1+json"
    /// A result removed before a node was resubmitted.
    public static let removedType = "application/vnd.dev.kiln.nightly.removed.v1"
    /// Build-time packages offered to one node.
    public static let inputsType = "application/vnd.dev.kiln.nightly.inputs.v1"
    /// A worker's build log.
    public static let logType = "application/vnd.dev.kiln.nightly.log.v1+text"
    /// The media type of package layers.
    public static let apkType = "application/vnd.dev.kiln.apk.v2"
    static let title = "org.opencontainers.image.title"

    /// `registry://HOST:PORT/REPO` as given.
    public let locator: String
    /// HOST:PORT.
    public let registry: String
    /// The repository.
    public let repository: String
    let options: RegistryOptions
    private let lock = NSLock()
    private var client: RegistryClient?

    /// Opens `registry://HOST[:PORT]/REPO` (HTTPS) or `registry+http://…` (plain HTTP, loopback only);
    /// credentials as for `kiln push` (KILN_REGISTRY_USER/PASSWORD or ~/.docker/config.json).
    public init(spec: String, options: RegistryOptions = RegistryOptions()) throws {
        let plain = spec.hasPrefix("registry+http://")
        let rest = String(spec.dropFirst(plain ? "registry+http://".count : "registry://".count))
        let ref = try RegistryReference.parse(rest)
        guard ref.tag == nil, ref.digest == nil, rest.contains("/") else {
            throw KilnMessage("--store \(spec): write registry://HOST[:PORT]/REPO (a repository, no tag or digest)")
        }
        var o = options
        o.http.insecureLoopback = plain
        locator = spec; registry = ref.registry; repository = ref.repository; self.options = o
        _ = try RegistryClient(registry: registry, options: o)   // refuses plain HTTP to a non-loopback host now
    }

    /// Runs `body` with the one client (calls are serialized: a client holds one connection).
    func withArtifacts<T>(_ body: (RegistryArtifacts) throws -> T) throws -> T {
        lock.lock(); defer { lock.unlock() }
        if client == nil { client = try RegistryClient(registry: registry, options: options) }
        do { return try body(RegistryArtifacts(client: client!, repository: repository)) }
        catch { client = nil; throw KilnMessage("\(locator): \(error)") }
    }

    /// A registry tag for a node id or run id: unsafe characters become `_`, plus a short hash so
    /// different ids never share a tag.
    static func tag(_ prefix: String, _ id: String) -> String {
        let safe = String(id.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" }.prefix(90))
        let h = (try? Digest.sha256Hex(Data(id.utf8)).prefix(8)).map(String.init) ?? "0"
        return "\(prefix)-\(safe)-\(h)"
    }

    /// Pushes the plan as `plan-<run>`; workers read it with `--plan plan-<run>`.
    public func writePlan(_ plan: NightlyWorkerPlan) throws -> String {
        let t = Self.tag("plan", plan.runID)
        let data = try SharedDirectoryStore.encoder().encode(plan)
        try withArtifacts { a in
            try a.pushArtifact(tag: t, artifactType: Self.planType, layers: [try a.pushBlob(data: data, mediaType: Self.planType)])
        }
        return t
    }

    /// Pulls the plan tagged `location`.
    public func loadPlan(_ location: String) throws -> NightlyWorkerPlan {
        let data = try withArtifacts { a -> Data in
            guard let art = try a.artifact(tag: location), art.artifactType == Self.planType, let l = art.layers.first else {
                throw KilnMessage("no worker plan \(location) in \(repository) (it is pushed by `kiln nightly --executor slurm --store registry://…`)")
            }
            return try a.blobData(l.digest, maxSize: 64 << 20)
        }
        return try SharedDirectoryStore.decodePlan(data, source: "\(locator) \(location)")
    }

    /// The result tagged `result-<node>` (nil when absent, removed or unreadable).
    public func result(_ id: String) -> WorkerResult? {
        try? withArtifacts { a -> WorkerResult? in
            guard let art = try a.artifact(tag: Self.tag("result", id)), art.artifactType == Self.resultType, let l = art.layers.first else { return nil }
            return try JSONDecoder().decode(WorkerResult.self, from: try a.blobData(l.digest, maxSize: 16 << 20))
        } ?? nil
    }

    /// Pushes the result JSON with the node's packages as further layers, then moves the tag.
    public func writeResult(_ result: WorkerResult) throws {
        let data = try SharedDirectoryStore.encoder().encode(result)
        try withArtifacts { a in
            var layers = [try a.pushBlob(data: data, mediaType: Self.resultType)]
            for p in result.packages {
                guard try a.hasBlob(p.digest) else { throw KilnMessage("package \(p.fileName) (\(p.digest)) was not pushed before its result") }
                layers.append(OCIDescriptor(mediaType: Self.apkType, digest: p.digest, size: p.size, annotations: [Self.title: p.fileName]))
            }
            try a.pushArtifact(tag: Self.tag("result", result.result.id), artifactType: Self.resultType, layers: layers)
        }
    }

    /// Points `result-<node>` at an empty "removed" artifact.
    public func removeResult(_ id: String) throws {
        try withArtifacts { a in
            guard try a.artifact(tag: Self.tag("result", id)) != nil else { return }
            try a.pushArtifact(tag: Self.tag("result", id), artifactType: Self.removedType, layers: [RegistryArtifacts.emptyConfig])
        }
    }

    /// Uploads the file (nothing when the registry has the blob) and removes it.
    public func putBlob(movingFile path: String) throws -> String {
        let d = try withArtifacts { try $0.pushBlob(file: path, mediaType: Self.apkType) }
        try FileManager.default.removeItem(atPath: path)
        return d.digest
    }

    /// Streams a blob to `destination`, refusing other bytes.
    public func getBlob(_ digest: String, to destination: String) throws {
        try withArtifacts { try $0.pullBlob(digest, to: destination, maxSize: 8 << 30) }
    }

    /// A directory on this host (the job's output stays on the node that ran it).
    var spool: String {
        let h = (try? Digest.sha256Hex(Data(locator.utf8)).prefix(12)).map(String.init) ?? "0"
        return NSTemporaryDirectory() + "kiln-registry-store-\(h)"
    }

    /// `<tmp>/kiln-registry-store-<hash>/logs/<node>.log`, local to whichever host uses it.
    public func logPath(_ id: String) -> String {
        spool + "/logs/" + ResultStore.fileName(id).replacingOccurrences(of: ".json", with: ".log")
    }

    /// Pushes `logPath(id).build` as `log-<node>`.
    public func publishLog(_ id: String) throws {
        let path = logPath(id) + ".build"
        guard FileManager.default.fileExists(atPath: path) else { return }
        try withArtifacts { a in
            try a.pushArtifact(tag: Self.tag("log", id), artifactType: Self.logType, layers: [try a.pushBlob(file: path, mediaType: Self.logType)])
        }
    }

    /// The pushed build log (and the job output, when it was written on this host).
    public func log(_ id: String) -> String {
        var text = (try? String(contentsOfFile: logPath(id), encoding: .utf8)).map { "==> \(logPath(id))\n" + $0 } ?? ""
        let pushed = try? withArtifacts { a -> Data? in
            guard let art = try a.artifact(tag: Self.tag("log", id)), art.artifactType == Self.logType, let l = art.layers.first else { return nil }
            return try a.blobData(l.digest, maxSize: 64 << 20)
        }
        if let d = pushed ?? nil { text += "==> \(locator) \(Self.tag("log", id))\n" + String(decoding: d, as: UTF8.self) }
        return text
    }

    /// Pushes every `.apk` in `packagesDirectory` (those the registry lacks) and tags the list as `inputs-<node>`.
    public func publishInputs(_ id: String, packagesDirectory: String) throws {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: packagesDirectory)) ?? []
        try withArtifacts { a in
            var layers: [OCIDescriptor] = []
            for f in files.sorted() where f.hasSuffix(".apk") && !f.hasPrefix(".") {
                var d = try a.pushBlob(file: packagesDirectory + "/" + f, mediaType: Self.apkType)
                d.annotations = [Self.title: f]
                layers.append(d)
            }
            if layers.isEmpty { layers = [RegistryArtifacts.emptyConfig] }
            try a.pushArtifact(tag: Self.tag("inputs", id), artifactType: Self.inputsType, layers: layers)
        }
    }

    /// Pulls `inputs-<node>` into `directory` by digest; a title that is not a plain `.apk` file name is refused.
    public func fetchInputs(_ id: String, into directory: String) throws -> Int? {
        try withArtifacts { a -> Int in
            guard let art = try a.artifact(tag: Self.tag("inputs", id)), art.artifactType == Self.inputsType else {
                throw KilnMessage("no build-time packages (\(Self.tag("inputs", id))) for \(id) in \(repository); the coordinator pushes them before it submits the node")
            }
            var n = 0
            for l in art.layers where l.mediaType == Self.apkType {
                guard let f = l.annotations[Self.title], f.hasSuffix(".apk"), !f.contains("/"), !f.hasPrefix(".") else {
                    throw KilnMessage("\(Self.tag("inputs", id)) names a bad package file \(l.annotations[Self.title] ?? "(none)"); refusing it")
                }
                try a.pullBlob(l.digest, to: directory + "/" + f, maxSize: l.size)
                n += 1
            }
            return n
        }
    }
}
