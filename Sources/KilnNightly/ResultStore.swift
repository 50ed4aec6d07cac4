import Foundation
import KilnCore

/// One output of a node: a package file, an image layout, a signature, ...
public struct OutputRecord: Codable, Sendable, Equatable {
    /// e.g. `apk`, `image`, `signature`.
    public var kind: String
    /// Relative to the output directory.
    public var path: String
    /// `sha256:<hex>`.
    public var digest: String
    public var size: Int64
    /// Package version (`1.2.3-r0`) or image tag, when it has one.
    public var version: String?
    /// An image's verified FIPS boundary attestation verdict (`pass`, `fail`; `-` when it has none);
    /// nil for outputs that are not images (and in results stored before images were audited).
    public var boundary: String?
    public init(kind: String, path: String, digest: String, size: Int64, version: String? = nil, boundary: String? = nil) {
        self.kind = kind; self.path = path; self.digest = digest; self.size = size; self.version = version; self.boundary = boundary
    }
}

/// The stored result of a node's last successful build; `out/nightly/state/<node>.json`.
public struct StoredResult: Codable, Sendable, Equatable {
    public var id: String
    public var input: InputKey
    public var outputs: [OutputRecord]
    public var version: String?
    public var runID: String
    public var durationSeconds: Double
    /// What the build found the packages provide / need at runtime (ELF scan), when known.
    public var provides: [String]? = nil
    public var runtimeDependencies: [String]? = nil
}

/// Results that survive restarts: one JSON file per node, written atomically as soon as the node
/// finishes, so a killed run loses nothing it finished.
public final class ResultStore: @unchecked Sendable {
    public let directory: String
    public let outputRoot: String

    public init(outputRoot: String) {
        self.outputRoot = outputRoot
        self.directory = outputRoot + "/nightly/state"
    }

    static func fileName(_ id: String) -> String {
        // ids are names with `:` and `@`; keep them readable but safe as a single path component.
        var s = ""
        for u in id.unicodeScalars {
            if CharacterSet.alphanumerics.contains(u) || "-_.+@".unicodeScalars.contains(u) { s.unicodeScalars.append(u) }
            else { s += String(format: "%%%02X", u.value) }
        }
        return s + ".json"
    }

    public func path(for id: String) -> String { directory + "/" + ResultStore.fileName(id) }

    private let lock = NSLock()
    private var memo: [String: StoredResult?] = [:]

    public func load(_ id: String) -> StoredResult? {
        lock.lock()
        if let m = memo[id] { lock.unlock(); return m }
        lock.unlock()
        var r: StoredResult?
        if let data = FileManager.default.contents(atPath: path(for: id)) {
            r = try? JSONDecoder().decode(StoredResult.self, from: data)
        }
        lock.lock(); memo[id] = .some(r); lock.unlock()
        return r
    }

    public func save(_ result: StoredResult) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try AtomicFile.write(try enc.encode(result), to: path(for: result.id))
        lock.lock(); memo[result.id] = .some(result); lock.unlock()
    }

    /// Outputs recorded for a node that are no longer on disk (relative paths).
    public func missingOutputs(_ r: StoredResult) -> [String] {
        r.outputs.map(\.path).filter { !FileManager.default.fileExists(atPath: outputRoot + "/" + $0) }
    }
}
