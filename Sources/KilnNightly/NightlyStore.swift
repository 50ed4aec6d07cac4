import Foundation
import KilnCore
import KilnCrypto
import KilnOCI

/// One node handed to a worker: what to build and the input key the coordinator planned it with.
public struct NodeJob: Codable, Sendable, Equatable {
    /// The node id (`zlib`, `zlib@fips`).
    public var id: String
    /// The recipe file (absolute).
    public var recipePath: String
    /// The build option applied (nil: standard).
    public var variant: String?
    /// Name and version, for the catalog node the executor is given.
    public var name: String
    /// The recipe's version.
    public var version: String?
    /// The key the coordinator planned the node with; the worker's result carries it back.
    public var input: InputKey
}

/// What every worker of one run needs besides the node: written once by the coordinator into the
/// store (`plan.json`) and read by `kiln nightly-node`.
public struct NightlyWorkerPlan: Codable, Sendable, Equatable {
    /// The run this plan belongs to; a result from another run does not count.
    public var runID: String
    /// Target architecture.
    public var arch: String
    /// `--toolchain` as given to the coordinator (`host`, `debian`, a root directory).
    public var toolchain: String
    /// The Debian toolchain lock.
    public var toolchainLock: String?
    /// Extra pipeline directories.
    public var pipelineDirectories: [String]
    /// The source cache (absolute; on the shared filesystem).
    public var sourceCache: String?
    /// Whether sources may be downloaded.
    public var download: Bool
    /// The coordinator's package key: its name (`kiln-dev.rsa.pub`) and public PEM. Workers never
    /// get the private key: they sign with a throwaway key, the coordinator re-signs on import.
    public var packageKeyName: String
    /// The public key (PEM), trusted by workers for build-time packages.
    public var packageKeyPEM: String
    /// The coordinator's APK repository (read by workers for build-time packages; written only by the coordinator).
    public var repository: String
    /// The output directory (trees, build logs) — on the shared filesystem.
    public var outputRoot: String
    /// Purl distro and SBOM supplier.
    public var distro: String
    /// SBOM supplier.
    public var supplier: String?
    /// The nodes of this run that may be built by workers, by id.
    public var nodes: [String: NodeJob]
    /// The FIPS module registry file (absolute, on the shared filesystem) that labels provider trees.
    public var fipsRegistry: String? = nil
}

extension NightlyWorkerPlan {
    /// This run-wide part with `runID` and every package node the plan builds.
    public func filled(plan: Plan, runID: String) -> NightlyWorkerPlan {
        var p = self
        p.runID = runID
        for e in plan.entries where e.action == .build {
            guard let n = plan.graph.nodes[e.id], n.kind == .package, let payload = n.payload as? RecipeNodePayload else { continue }
            p.nodes[e.id] = NodeJob(id: e.id, recipePath: payload.recipePath, variant: payload.variant, name: n.name,
                                    version: n.version, input: e.key)
        }
        return p
    }
}

/// A package a worker built: its file name in the repository and the store blob holding it.
public struct StoredPackage: Codable, Sendable, Equatable {
    /// e.g. `zlib-1.3-r0.apk`.
    public var fileName: String
    /// `sha256:<hex>` of the file (the blob's name in the store).
    public var digest: String
    /// Its size in bytes.
    public var size: Int64
    /// The package's full version.
    public var version: String
}

/// What a worker wrote for one node: the stored result plus where it ran.
public struct WorkerResult: Codable, Sendable, Equatable {
    /// The node's result (outputs relative to the output directory, as the coordinator will import them).
    public var result: StoredResult
    /// The packages, by content digest in the store.
    public var packages: [StoredPackage]
    /// The Slurm node (`SLURMD_NODENAME`) or host the worker ran on.
    public var worker: String
    /// The Slurm job id (`SLURM_JOB_ID`), when it ran under Slurm.
    public var jobID: String?
    /// When the worker started and finished (seconds since 1970, the worker's clock), for the
    /// scheduling overhead the coordinator logs (submit → start, finish → seen).
    public var startedAt: Double? = nil
    /// See `startedAt`.
    public var finishedAt: Double? = nil
}

/// Where a distributed nightly keeps what workers and the coordinator share: the run's plan,
/// node results, built packages (content-addressed), build-time packages and logs. Workers write
/// results and blobs; only the coordinator imports packages into the signed APKINDEX and builds
/// images. Two implementations: `SharedDirectoryStore` (NFS) and `RegistryStore` (an OCI registry).
public protocol NightlyStore: Sendable {
    /// How a worker opens this store (`kiln nightly-node --store`): a directory or `registry://…`.
    var locator: String { get }
    /// Writes the run's worker plan and returns where workers read it from (`--plan`).
    func writePlan(_ plan: NightlyWorkerPlan) throws -> String
    /// Reads the plan written by `writePlan` (`location` is what it returned).
    func loadPlan(_ location: String) throws -> NightlyWorkerPlan
    /// The worker result of node `id` (nil when none was written).
    func result(_ id: String) -> WorkerResult?
    /// Writes a node's worker result atomically (the last step of a worker).
    func writeResult(_ result: WorkerResult) throws
    /// Removes a node's worker result (before the node is submitted, so a stale one cannot count).
    func removeResult(_ id: String) throws
    /// Moves a built file into the store under its content digest; returns `sha256:<hex>`.
    func putBlob(movingFile path: String) throws -> String
    /// Copies the blob `digest` to `destination` (atomically), checking its digest.
    func getBlob(_ digest: String, to destination: String) throws
    /// The local path the job's output goes to (`sbatch --output`); the worker writes its build log
    /// to this path + `.build` and publishes it with `publishLog`.
    func logPath(_ id: String) -> String
    /// Makes the worker's build log of node `id` readable by the coordinator.
    func publishLog(_ id: String) throws
    /// What the coordinator can read of node `id`'s logs (job output and build log).
    func log(_ id: String) -> String
    /// Coordinator: makes the build-time packages in `packagesDirectory` (`<repo>/<arch>`) available
    /// to node `id`'s worker. A no-op when workers see the repository.
    func publishInputs(_ id: String, packagesDirectory: String) throws
    /// Worker: copies node `id`'s build-time packages into `directory` (checked by digest); returns
    /// how many, or nil when the worker reads the coordinator's repository directly.
    func fetchInputs(_ id: String, into directory: String) throws -> Int?
}

extension NightlyStore {
    func readLogFiles(_ id: String) -> String {
        var text = ""
        for p in [logPath(id), logPath(id) + ".build"] {
            if let d = FileManager.default.contents(atPath: p) { text += "==> \(p)\n" + String(decoding: d, as: UTF8.self) }
        }
        return text
    }
}

/// Opens a store from its `--store` text.
public enum NightlyStores {
    /// `registry://HOST[:PORT]/REPO` (HTTPS), `registry+http://127.0.0.1:PORT/REPO` (plain HTTP,
    /// loopback only) or an absolute directory.
    public static func open(_ spec: String) throws -> NightlyStore {
        if spec.hasPrefix("registry://") || spec.hasPrefix("registry+http://") { return try RegistryStore(spec: spec) }
        guard !spec.contains("://") else {
            throw KilnMessage("--store \(spec): unknown scheme; give a directory, registry://HOST[:PORT]/REPO or registry+http://127.0.0.1:PORT/REPO")
        }
        guard spec.hasPrefix("/") else { throw KilnMessage("--store \(spec): give an absolute directory") }
        return SharedDirectoryStore(root: spec)
    }
}

/// The shared-directory store (NFS or a local directory every worker sees):
/// `plan.json`, `results/<node>.json`, `blobs/sha256/<hex>`, `logs/<node>.log`.
public struct SharedDirectoryStore: NightlyStore {
    /// The store's root (absolute).
    public let root: String
    /// A store rooted at `root` (created on first write).
    public init(root: String) { self.root = root }
    /// The directory itself.
    public var locator: String { root }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]; return e
    }

    func resultPath(_ id: String) -> String { root + "/results/" + ResultStore.fileName(id) }

    /// Writes `plan.json` under `runs/<run-id>/`.
    public func writePlan(_ plan: NightlyWorkerPlan) throws -> String {
        let path = "\(root)/runs/\(plan.runID)/plan.json"
        try AtomicFile.write(try Self.encoder().encode(plan), to: path)
        return path
    }

    /// Reads a worker plan file.
    public func loadPlan(_ location: String) throws -> NightlyWorkerPlan { try Self.loadPlan(path: location) }

    /// Reads a worker plan, naming the file when it is unreadable.
    public static func loadPlan(path: String) throws -> NightlyWorkerPlan {
        guard let d = FileManager.default.contents(atPath: path) else { throw KilnMessage("\(path): cannot read the worker plan") }
        return try decodePlan(d, source: path)
    }

    static func decodePlan(_ d: Data, source: String) throws -> NightlyWorkerPlan {
        do { return try JSONDecoder().decode(NightlyWorkerPlan.self, from: d) }
        catch { throw KilnMessage("\(source): not a kiln worker plan (\(error)); it is written by `kiln nightly --executor slurm`") }
    }

    /// The node's result, or nil when missing or unreadable.
    public func result(_ id: String) -> WorkerResult? {
        guard let d = FileManager.default.contents(atPath: resultPath(id)) else { return nil }
        return try? JSONDecoder().decode(WorkerResult.self, from: d)
    }

    /// Writes `results/<node>.json` atomically.
    public func writeResult(_ result: WorkerResult) throws {
        try AtomicFile.write(try Self.encoder().encode(result), to: resultPath(result.result.id))
    }

    /// Removes `results/<node>.json` if present.
    public func removeResult(_ id: String) throws {
        let p = resultPath(id)
        if FileManager.default.fileExists(atPath: p) { try FileManager.default.removeItem(atPath: p) }
    }

    func blobPath(_ digest: String) throws -> String {
        // KilnOCI's digest parser: sha256 and 64 lower-case hex digits, so no `../` reaches a path.
        let d = try OCIDigest(parsing: digest, source: "\(root): bad blob digest")
        return "\(root)/blobs/sha256/\(d.hex)"
    }

    /// Renames `path` to `blobs/sha256/<hex>` (same filesystem); an existing blob is kept.
    public func putBlob(movingFile path: String) throws -> String {
        let digest = "sha256:" + (try Digest.hashFile(.sha256, path: path).hexString)
        let dest = try blobPath(digest)
        let fm = FileManager.default
        try fm.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if fm.fileExists(atPath: dest) { try fm.removeItem(atPath: path) }
        else if rename(path, dest) != 0 { throw KilnMessage("cannot move \(path) into the store at \(dest): \(String(cString: strerror(errno)))") }
        return digest
    }

    /// Copies a blob to `destination` via a temporary name, refusing one whose bytes do not match.
    public func getBlob(_ digest: String, to destination: String) throws {
        let src = try blobPath(digest)
        guard let d = FileManager.default.contents(atPath: src) else { throw KilnMessage("\(src): blob \(digest) is missing from the store") }
        guard "sha256:" + (try Digest.sha256Hex(d)) == digest else { throw KilnMessage("\(src): content does not match \(digest); refusing it") }
        try AtomicFile.write(d, to: destination)
    }

    /// `logs/<node>.log`.
    public func logPath(_ id: String) -> String {
        root + "/logs/" + ResultStore.fileName(id).replacingOccurrences(of: ".json", with: ".log")
    }

    /// The build log sits in the store already.
    public func publishLog(_ id: String) throws {}
    /// `logs/<node>.log` and `.log.build`.
    public func log(_ id: String) -> String { readLogFiles(id) }
    /// Workers read the repository on the shared filesystem.
    public func publishInputs(_ id: String, packagesDirectory: String) throws {}
    /// Workers read the repository on the shared filesystem.
    public func fetchInputs(_ id: String, into directory: String) throws -> Int? { nil }
}
