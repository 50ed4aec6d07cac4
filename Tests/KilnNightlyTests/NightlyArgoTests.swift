import Foundation
import XCTest
import KilnCore
import KilnOCI
import KilnTestSupport
@testable import KilnNightly

/// `kiln nightly --emit argo DIR`: the DAG, resources from recipes, kiln's own soundness check, and
/// (under KILN_TEST_FULL) Argo's schema, an unknown-field check and `kubernetes-validate --strict`.
final class NightlyArgoTests: XCTestCase {
    func testEmitArgoWritesASoundDAGWithRecipeResourcesAndThePlanInTheStore() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/recipes", withIntermediateDirectories: true)
        // two independent chains a → b → c and x → y → z; b asks for resources
        let withRes = NightlyCLITests.recipe("b", deps: ["a"]).replacingOccurrences(of: "  copyright:", with: "  resources:\n    cpu: \"4\"\n    memory: 8Gi\n  copyright:")
        let recipes = ["a": NightlyCLITests.recipe("a"), "b": withRes, "c": NightlyCLITests.recipe("c", deps: ["b"]),
                       "x": NightlyCLITests.recipe("x"), "y": NightlyCLITests.recipe("y", deps: ["x"]), "z": NightlyCLITests.recipe("z", deps: ["y"])]
        for (n, t) in recipes { try AtomicFile.write(t, to: "\(dir)/recipes/\(n).yaml") }
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "rsa", "--out", dir + "/k"]).status, 0)
        let r = try TestSupport.kiln(["nightly", "--recipes", dir + "/recipes", "--out", dir + "/out", "--signing-key", dir + "/k.rsa",
                                      "--no-images", "--emit", "argo", dir + "/argo", "--store", dir + "/store", "--argo-image", "registry.invalid/kiln:1"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains("argo: 6 package task(s)"), r.out)
        let wf = try JSON.parse(Data(contentsOf: URL(fileURLWithPath: dir + "/argo/workflow.json")), source: "workflow.json")
        XCTAssertEqual(ArgoWorkflow.problems(wf), [])
        XCTAssertEqual(wf["kind"]?.string, "Workflow")
        let tasks = wf["spec"]?["templates"]?.array?.first?["dag"]?["tasks"]?.array ?? []
        func task(_ n: String) -> JSON? { tasks.first { $0["name"]?.string == n } }
        func arg(_ t: JSON?, _ name: String) -> String? { t?["arguments"]?["parameters"]?.array?.first { $0["name"]?.string == name }?["value"]?.string }
        XCTAssertEqual(tasks.count, 6)
        XCTAssertNil(task("a")?["depends"]); XCTAssertNil(task("x")?["depends"])
        XCTAssertEqual(task("c")?["depends"]?.string, "b"); XCTAssertEqual(task("z")?["depends"]?.string, "y")
        XCTAssertEqual(arg(task("b"), "cpu"), "4"); XCTAssertEqual(arg(task("b"), "memory"), "8Gi")
        XCTAssertEqual(arg(task("a"), "cpu"), "1")
        // the worker plan the pods read is in the store, with every task's node and no private key
        let params = wf["spec"]?["arguments"]?["parameters"]?.array ?? []
        let planPath = params.first { $0["name"]?.string == "plan" }?["value"]?.string ?? ""
        let plan = try SharedDirectoryStore.loadPlan(path: planPath)
        XCTAssertEqual(plan.nodes.keys.sorted(), ["a", "b", "c", "x", "y", "z"])
        XCTAssertTrue(plan.packageKeyPEM.contains("BEGIN PUBLIC KEY"))
        XCTAssertEqual(params.first { $0["name"]?.string == "kiln-image" }?["value"]?.string, "registry.invalid/kiln:1")
        // one template per node kind, plus the DAG; workers get no secrets but the store's credentials
        XCTAssertEqual(wf["spec"]?["templates"]?.array?.compactMap { $0["name"]?.string }, ["nightly", "package-node"])

        // kiln's own check catches what Argo's schema lets through
        var bad = String(decoding: wf.compact(), as: UTF8.self)
        bad = bad.replacingOccurrences(of: "\"depends\":\"b\"", with: "\"depends\":\"bb\"")
            .replacingOccurrences(of: "{{inputs.parameters.node}}", with: "{{inputs.parameters.nod}}")
        let problems = ArgoWorkflow.problems(try JSON.parse(Data(bad.utf8)))
        XCTAssertTrue(problems.contains("task c depends on bb, which is not a task"), "\(problems)")
        XCTAssertTrue(problems.contains("template package-node uses {{inputs.parameters.nod}}, which is not declared"), "\(problems)")

        // Argo's schema (from hera's models), unknown fields, kubernetes-validate --strict: ~30 s, in make test-full
        guard ProcessInfo.processInfo.environment["KILN_TEST_FULL"] == "1" else { return }
        let python = TestSupport.packageRoot + "/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else { return XCTFail("\(python) is missing: run `make venv`") }
        let v = try TestSupport.run(python, [TestSupport.packageRoot + "/Tests/scripts/argo_validate.py", dir + "/argo/workflow.json", dir + "/scratch"])
        XCTAssertEqual(v.status, 0, v.out + v.err)
        XCTAssertEqual(v.out.split(separator: "\n").filter { $0.hasPrefix("ok") }.count, 7, v.out)
    }
}
