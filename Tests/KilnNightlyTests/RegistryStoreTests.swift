import Foundation
import XCTest
import KilnCore
import KilnCrypto
import KilnOCI
import KilnTestSupport
@testable import KilnNightly

/// The registry store against Debian's real docker-registry on loopback.
final class RegistryStoreTests: XCTestCase {
    func testPlanResultsBlobsInputsAndLogsRoundTripAndTamperingIsRefused() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/reg", withIntermediateDirectories: true)
        let reg = try LocalRegistry(self, dir: dir + "/reg")
        let store = try RegistryStore(spec: "registry+http://\(reg.address)/kiln/nightly")
        XCTAssertThrowsError(try RegistryStore(spec: "registry+http://example.org/kiln/nightly")) {
            XCTAssertTrue("\($0)".contains("loopback"), "\($0)")
        }
        XCTAssertThrowsError(try NightlyStores.open("s3://bucket/x")) { XCTAssertTrue("\($0)".contains("unknown scheme"), "\($0)") }

        let key = InputKey(key: "k1", components: [:], dependencies: [:])
        let plan = NightlyWorkerPlan(runID: "2026-12-01T10:00:00Z", arch: "x86_64", toolchain: "host", toolchainLock: "/l", pipelineDirectories: [],
                                     sourceCache: nil, download: false, packageKeyName: "k.rsa.pub", packageKeyPEM: "-", repository: "/repo", outputRoot: "/out",
                                     distro: "kiln", supplier: nil,
                                     nodes: ["a@fips": NodeJob(id: "a@fips", recipePath: "/r/a.yaml", variant: "fips", name: "a", version: "1", input: key)])
        let location = try store.writePlan(plan)
        XCTAssertEqual(try store.loadPlan(location), plan)
        XCTAssertThrowsError(try store.loadPlan("plan-nope")) { XCTAssertTrue("\($0)".contains("no worker plan plan-nope"), "\($0)") }

        // a package moved into the store by digest, fetched back and checked
        try AtomicFile.write("package bytes", to: dir + "/a-1.0-r0.apk")
        let digest = try store.putBlob(movingFile: dir + "/a-1.0-r0.apk")
        XCTAssertEqual(digest, "sha256:" + (try Digest.sha256Hex(Data("package bytes".utf8))))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a-1.0-r0.apk"))
        try store.getBlob(digest, to: dir + "/back/a.apk")
        XCTAssertEqual(try String(contentsOfFile: dir + "/back/a.apk", encoding: .utf8), "package bytes")

        XCTAssertNil(store.result("a@fips"))
        let r = WorkerResult(result: StoredResult(id: "a@fips", input: key, outputs: [], version: "1.0-r0", runID: plan.runID, durationSeconds: 1),
                             packages: [StoredPackage(fileName: "a-1.0-r0.apk", digest: digest, size: 13, version: "1.0-r0")], worker: "n2", jobID: "7")
        try store.writeResult(r)
        XCTAssertEqual(store.result("a@fips"), r)
        try store.removeResult("a@fips")
        XCTAssertNil(store.result("a@fips"), "a removed result still counts")
        // a result naming a package that was never pushed is refused
        var orphan = r
        orphan.packages[0].digest = "sha256:" + String(repeating: "0", count: 64)
        XCTAssertThrowsError(try store.writeResult(orphan)) { XCTAssertTrue("\($0)".contains("was not pushed"), "\($0)") }

        // build-time packages: published by the coordinator, pulled by the worker by digest
        try FileManager.default.createDirectory(atPath: dir + "/repo/x86_64", withIntermediateDirectories: true)
        try AtomicFile.write("dep one", to: dir + "/repo/x86_64/one-1-r0.apk")
        try AtomicFile.write("dep two", to: dir + "/repo/x86_64/two-1-r0.apk")
        try AtomicFile.write("index", to: dir + "/repo/x86_64/APKINDEX.tar.gz")
        try store.publishInputs("b", packagesDirectory: dir + "/repo/x86_64")
        XCTAssertEqual(try store.fetchInputs("b", into: dir + "/worker/x86_64"), 2)
        XCTAssertEqual(try String(contentsOfFile: dir + "/worker/x86_64/two-1-r0.apk", encoding: .utf8), "dep two")
        XCTAssertThrowsError(try store.fetchInputs("never-published", into: dir + "/w2")) { XCTAssertTrue("\($0)".contains("no build-time packages"), "\($0)") }

        // bytes changed inside the registry's storage are refused, and nothing is left behind
        let one = "sha256:" + (try Digest.sha256Hex(Data("dep one".utf8)))
        try AtomicFile.write("EVL one", to: reg.blobDataPath(one))   // same size, other bytes
        XCTAssertThrowsError(try store.fetchInputs("b", into: dir + "/worker2/x86_64")) { XCTAssertTrue("\($0)".contains("refused"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/worker2/x86_64/one-1-r0.apk"))

        // the worker's build log is pushed; the coordinator reads it without the worker's disk
        let logPath = store.logPath("b") + ".build"
        try AtomicFile.write("step 1 ok\nbroken\n", to: logPath)
        try store.publishLog("b")
        try FileManager.default.removeItem(atPath: logPath)
        XCTAssertTrue(store.log("b").contains("broken"), store.log("b"))
    }

    /// `kiln nightly --executor slurm --store registry+http://…`: the workers reach the coordinator
    /// only through the registry (private work directories, build-time packages pulled by digest)
    /// and build the same bytes as `--executor local`. ~15 s: in `make test-full` only.
    func testSlurmRunThroughRegistryStoreMatchesLocalBytes() throws {
        guard ProcessInfo.processInfo.environment["KILN_TEST_FULL"] == "1" || ProcessInfo.processInfo.environment["KILN_TEST_REGISTRY_STORE"] == "1" else {
            throw XCTSkip("set KILN_TEST_FULL=1 (make test-full)")
        }
        let missing = LoopbackSlurm.missingTools
        guard missing.isEmpty, FileManager.default.fileExists(atPath: "/etc/munge/munge.key"), getuid() == 0 else {
            return XCTFail("Slurm/munge tools missing (\(missing)) or not root; run `make deps` as root")
        }
        let base = "/tmp/kiln-slurm-reg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/reg", withIntermediateDirectories: true)
        let reg = try LocalRegistry(self, dir: base + "/reg")
        let cluster = LoopbackSlurm(dir: base + "/slurm")
        addTeardownBlock { cluster.stop() }
        try cluster.start()
        let recipes = ["a": NightlyCLITests.recipe("a"), "b": NightlyCLITests.recipe("b", deps: ["a"]),
                       "c": NightlyCLITests.recipe("c"), "d": NightlyCLITests.recipe("d", deps: ["c"])]
        try FileManager.default.createDirectory(atPath: base + "/recipes", withIntermediateDirectories: true)
        for (n, t) in recipes { try AtomicFile.write(t, to: "\(base)/recipes/\(n).yaml") }
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "rsa", "--out", base + "/k"]).status, 0)
        func nightly(_ out: String, _ extra: [String]) throws -> (status: Int32, out: String, err: String) {
            try TestSupport.kiln(["nightly", "--recipes", base + "/recipes", "--out", out, "--signing-key", base + "/k.rsa",
                                  "--jobs", "3", "--no-images"] + extra, environment: cluster.environment)
        }
        var r = try nightly(base + "/local", ["--executor", "local"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let spec = "registry+http://\(reg.address)/kiln/nightly"
        let t0 = Date()
        r = try nightly(base + "/slurm", ["--executor", "slurm", "--store", spec])
        print("registry store: slurm run \(Date().timeIntervalSince(t0)) s for 4 nodes")
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains(": 4 built, 0 unchanged, 0 failed"), r.out)
        for n in ["a", "b", "c", "d"] {
            let local = FileManager.default.contents(atPath: "\(base)/local/packages/x86_64/\(n)-1.0-r0.apk")
            XCTAssertNotNil(local, n)
            XCTAssertEqual(local, FileManager.default.contents(atPath: "\(base)/slurm/packages/x86_64/\(n)-1.0-r0.apk"), "\(n): other bytes through the registry store")
        }
        // nothing went through a shared directory: no store under the output, results are registry artifacts
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/slurm/nightly/store"))
        let store = try RegistryStore(spec: spec)
        XCTAssertEqual(store.result("b")?.packages.map(\.fileName), ["b-1.0-r0.apk"])
        XCTAssertTrue(store.log("b").contains("build-time package"), store.log("b"))
        XCTAssertGreaterThanOrEqual(Set(cluster.finishedJobs().map(\.node)).count, 2, "\(cluster.finishedJobs())")
        // a failing worker's reason reaches the coordinator through the pushed log
        try AtomicFile.write(NightlyCLITests.recipe("e", steps: "- runs: echo broken-in-registry >&2; exit 3"), to: base + "/recipes/e.yaml")
        r = try nightly(base + "/slurm", ["--executor", "slurm", "--store", spec, "--keep-going"])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.contains(": 0 built, 4 unchanged, 1 failed"), r.out)
        XCTAssertTrue(store.log("e").contains("broken-in-registry"), store.log("e"))

        // --emit argo with the registry store: the pods' --plan is a tag the store serves
        try AtomicFile.write(NightlyCLITests.recipe("e"), to: base + "/recipes/e.yaml")
        r = try nightly(base + "/slurm", ["--emit", "argo", base + "/argo", "--store", spec])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let wf = try JSON.parse(Data(contentsOf: URL(fileURLWithPath: base + "/argo/workflow.json")))
        let params = wf["spec"]?["arguments"]?["parameters"]?.array ?? []
        XCTAssertEqual(params.first { $0["name"]?.string == "store" }?["value"]?.string, spec)
        let tag = params.first { $0["name"]?.string == "plan" }?["value"]?.string ?? ""
        XCTAssertEqual(try store.loadPlan(tag).nodes.keys.sorted(), ["e"])   // the one node not built yet
    }
}
