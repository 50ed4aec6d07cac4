import Foundation
import KilnCore

/// `out/reports/<run-id>/report.json`.
public struct RunReport: Codable, Sendable {
    public static let schema = "https://kiln.dev/nightly-report/v1"

    public struct Summary: Codable, Sendable, Equatable {
        public var total = 0, built = 0, unchanged = 0, failed = 0, blocked = 0, notRun = 0
        public var reproChecked = 0, reproFailed = 0
    }
    public struct NodeEntry: Codable, Sendable {
        public var id: String
        public var kind: NodeKind
        public var name: String
        public var variant: String?
        public var file: String
        public var version: String?
        public var status: NodeStatus
        public var reasons: [String]
        public var blockedBy: [String]
        public var start: Double?
        public var end: Double?
        public var duration: Double?
        public var log: String?
        public var key: String
        public var outputs: [OutputRecord]
        public var error: String?
        /// Image nodes: the FIPS boundary verdict (`pass`, `fail`, `-`), see `boundaryVerdict(kind:outputs:)`; nil otherwise.
        public var boundary: String? = nil
        /// Where the node was built when not in the coordinator (`slurm job 12 on n2`).
        public var placement: String? = nil

        /// An image node's boundary verdict: its fips variant's (the one `kiln verify --require-fips`
        /// judges), else the worst of its outputs', `-` when none was audited; nil for package nodes.
        public static func boundaryVerdict(kind: NodeKind, outputs: [OutputRecord]) -> String? {
            guard kind == .image else { return nil }
            if let fips = outputs.first(where: { $0.kind == "image:fips" })?.boundary { return fips }
            let all = outputs.compactMap(\.boundary)
            return all.contains("fail") ? "fail" : all.contains("pass") ? "pass" : "-"
        }
    }
    /// What changed since the previous successful build of a node.
    public struct Change: Codable, Sendable, Equatable {
        public var node: String
        /// `new-node`, `version`, `digest`, `size`, `new-output`, `removed-output`.
        public var what: String
        public var output: String?
        public var from: String?
        public var to: String?
    }
    public struct ReproResult: Codable, Sendable, Equatable {
        public var node: String
        public var reproducible: Bool?
        public var verdict: String
        public var differingEntries: Int
        public init(node: String, reproducible: Bool?, verdict: String, differingEntries: Int) {
            self.node = node; self.reproducible = reproducible; self.verdict = verdict; self.differingEntries = differingEntries
        }
    }

    public var schema = RunReport.schema
    public var runID: String
    /// Wall-clock start (reports are records of an event, not reproducible artifacts).
    public var startedAt: String
    public var durationSeconds: Double
    public var kilnVersion: String
    public var jobs: Int
    public var keepGoing: Bool
    public var interrupted: Bool
    public var summary: Summary
    /// 0 all good, 1 some nodes failed (or were blocked / not run).
    public var exitStatus: Int32
    public var nodes: [NodeEntry]
    public var changes: [Change]
    public var repro: [ReproResult]
    /// What `--update` picked up before the run: bumped recipes, toolchain packages that moved (nil: not asked).
    public var updates: [Update]? = nil
}

public enum ReportWriter {
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return e
    }

    /// Picks a fresh run directory under `reportsRoot` (`20261127-023000Z`, `-2`, ... when taken).
    public static func makeRunDirectory(reportsRoot: String, date: Date = Date()) throws -> (id: String, path: String) {
        try FileManager.default.createDirectory(atPath: reportsRoot, withIntermediateDirectories: true)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let base = f.string(from: date) + "Z"
        for i in 1...1000 {
            let id = i == 1 ? base : "\(base)-\(i)"
            let path = reportsRoot + "/" + id
            if mkdir(path, 0o755) == 0 { return (id, path) }
            if errno != EEXIST { throw KilnMessage("cannot create \(path): \(String(cString: strerror(errno)))") }
        }
        throw KilnMessage("cannot pick a run directory under \(reportsRoot): too many runs this second")
    }

    /// Writes report.json and report.html into `runDirectory`, appends the run to
    /// `<reportsRoot>/runs.json` and rewrites `<reportsRoot>/index.html`.
    public static func write(_ report: RunReport, runDirectory: String, reportsRoot: String) throws {
        try AtomicFile.write(try encoder().encode(report), to: runDirectory + "/report.json")
        try AtomicFile.write(HTMLReport.render(report), to: runDirectory + "/report.html")
        try updateIndex(with: report, reportsRoot: reportsRoot)
    }

    public struct IndexEntry: Codable, Sendable, Equatable {
        public var runID: String
        public var startedAt: String
        public var durationSeconds: Double
        public var summary: RunReport.Summary
        public var exitStatus: Int32
        public var interrupted: Bool
    }

    static func updateIndex(with report: RunReport, reportsRoot: String) throws {
        let path = reportsRoot + "/runs.json"
        var runs: [IndexEntry] = []
        if let data = FileManager.default.contents(atPath: path) {
            runs = (try? JSONDecoder().decode([IndexEntry].self, from: data)) ?? []
        }
        runs.removeAll { $0.runID == report.runID }
        runs.append(IndexEntry(runID: report.runID, startedAt: report.startedAt, durationSeconds: report.durationSeconds,
                               summary: report.summary, exitStatus: report.exitStatus, interrupted: report.interrupted))
        runs.sort { ($0.startedAt, $0.runID) > ($1.startedAt, $1.runID) }
        try AtomicFile.write(try encoder().encode(runs), to: path)
        try AtomicFile.write(HTMLReport.renderIndex(runs), to: reportsRoot + "/index.html")
    }
}
