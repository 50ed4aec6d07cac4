import Foundation
import KilnCrypto
import XCTest
import KilnCore
@testable import KilnNightly

/// A generated catalog: packages with build deps, pipelines and sources as input digests.
struct GenCatalog {
    struct Spec {
        var name: String
        var build: [String] = []
        var runtime: [String] = []
        var pipelines: [String] = ["autoconf/make"]
        var recipe = "v1"
        var provides: [String] = []
        var variant: String? = nil
        var kind: NodeKind = .package
    }
    var specs: [Spec]
    var pipelineDigests: [String: String] = ["autoconf/make": "p1", "cmake/build": "c1"]

    func nodes() -> [CatalogNode] {
        specs.map { s in
            var inputs = [InputComponent("recipe", try! Digest.sha256Hex(Data((s.name + s.recipe).utf8)))]
            for p in s.pipelines { inputs.append(InputComponent("pipeline:\(p)", pipelineDigests[p] ?? "none")) }
            inputs.append(InputComponent("toolchain", "tc1"))
            return CatalogNode(
                id: CatalogNode.makeID(kind: s.kind, name: s.name, variant: s.variant), kind: s.kind, name: s.name,
                variant: s.variant, file: "recipes/\(s.kind == .image ? "images/" : "")\(s.name).yaml", version: "1.0-r0",
                provides: s.provides,
                dependencies: s.build.map { NodeDependency($0, s.kind == .image ? .install : .build) }
                    + s.runtime.map { NodeDependency($0, .runtime) },
                inputs: inputs)
        }
    }

    /// `count` packages in layers; each depends on up to two packages of the previous layer.
    static func layered(_ count: Int, width: Int = 50) -> GenCatalog {
        var specs: [Spec] = []
        for i in 0..<count {
            var s = Spec(name: String(format: "pkg%04d", i))
            if i >= width {
                s.build = [String(format: "pkg%04d", i - width)]
                if i % 3 == 0 { s.build.append(String(format: "pkg%04d", i - width + 1 < i - (i % width) ? i - width + 1 : i - width)) }
            }
            s.pipelines = i % 2 == 0 ? ["autoconf/make"] : ["cmake/build"]
            specs.append(s)
        }
        return GenCatalog(specs: specs)
    }
}

/// A fake executor: writes one output file per node (content from the key), records calls,
/// fails the nodes it is told to, and can sleep.
final class FakeExecutor: NodeExecutor, @unchecked Sendable {
    let lock = NSLock()
    var calls: [String] = []
    var failing: Set<String> = []
    var delay: Double = 0
    var running = 0, maxRunning = 0
    var intervals: [String: (Double, Double)] = [:]
    var onStart: ((String) -> Void)?
    /// What a build "finds" (ELF scan): provides and runtime depends per node id.
    var discovered: [String: (provides: [String], depends: [String])] = [:]
    let t0 = Date()

    func execute(_ ctx: NodeContext) throws -> NodeOutcome {
        let start = Date().timeIntervalSince(t0)
        lock.lock(); calls.append(ctx.node.id); running += 1; maxRunning = max(maxRunning, running); let cb = onStart; lock.unlock()
        cb?(ctx.node.id)
        defer {
            lock.lock(); running -= 1; intervals[ctx.node.id] = (start, Date().timeIntervalSince(t0)); lock.unlock()
        }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        try "building \(ctx.node.id)\n".write(toFile: ctx.logPath, atomically: false, encoding: .utf8)
        lock.lock(); let fail = failing.contains(ctx.node.id); lock.unlock()
        if fail { throw KilnMessage("\(ctx.node.file): build step failed (exit 2)") }
        let rel = "packages/x86_64/\(ctx.node.id.replacingOccurrences(of: ":", with: "-"))-\(ctx.node.version ?? "0").apk"
        let data = Data("package \(ctx.node.id) key \(ctx.key.key)\n".utf8)
        try AtomicFile.write(data, to: ctx.outputRoot + "/" + rel)
        let found = discovered[ctx.node.id]
        return NodeOutcome(outputs: [OutputRecord(kind: "apk", path: rel, digest: "sha256:" + (try Digest.sha256Hex(data)),
                                                  size: Int64(data.count), version: ctx.node.version)],
                           provides: found?.provides ?? [], runtimeDependencies: found?.depends ?? [])
    }

    var callSet: Set<String> { lock.lock(); defer { lock.unlock() }; return Set(calls) }
    func reset() { lock.lock(); calls = []; maxRunning = 0; intervals = [:]; lock.unlock() }
}

extension XCTestCase {
    func runNightly(_ cat: GenCatalog, exec: FakeExecutor, out: String, jobs: Int = 2, keepGoing: Bool = true,
                    only: [String] = []) throws -> (report: RunReport, directory: String) {
        var o = NightlyOptions(outputRoot: out)
        o.jobs = jobs; o.keepGoing = keepGoing; o.only = only
        return try NightlyRunner(loader: StaticCatalog(cat.nodes()), executor: exec, options: o).run()
    }
}
