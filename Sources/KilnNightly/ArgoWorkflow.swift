import Foundation
import KilnCore
import KilnCrypto
import KilnOCI

/// `kiln nightly --emit argo DIR`: the run's plan as an Argo Workflows `Workflow` (JSON, which is
/// YAML too) — the plan beyond this machine, on paper. One DAG task per package node to build,
/// `depends` on the tasks of its dependencies that build too; one template per node kind:
/// `package-node` runs `kiln nightly-node` (the same worker Slurm runs) with the node's recipe
/// resources as pod requests and no secrets. Image nodes are not tasks: as with Slurm, the
/// coordinator imports the results from the store, signs packages and index, and builds the images.
/// Argo archives each pod's log in its artifact repository (`artifactRepositoryRef`); results and
/// packages go through kiln's store (`--store registry://…`, the worker plan pushed there first).
public enum ArgoWorkflow {
    /// Where the workers find things.
    public struct Settings: Sendable {
        /// The store's locator (`registry://…`, or a directory every pod mounts).
        public var store: String
        /// Where workers read the plan (`--plan`).
        public var planLocation: String
        /// The worker container image (with kiln, the toolchain and the recipes at the coordinator's paths).
        public var image = "kiln-worker:latest"
        /// The ConfigMap and key of the artifact repository (Argo's `artifactRepositoryRef`).
        public var artifactRepository = (configMap: "artifact-repositories", key: "kiln-nightly")
        /// Settings with the required parts.
        public init(store: String, planLocation: String) { self.store = store; self.planLocation = planLocation }
    }

    /// A DNS-1123 style task name for node `id` (`zlib@fips` → `zlib-fips-<hash>`); plain names stay as they are.
    public static func taskName(_ id: String) -> String {
        let lower = id.lowercased()
        var s = String(lower.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
        while s.contains("--") { s = s.replacingOccurrences(of: "--", with: "-") }
        s = String(s.trimmingCharacters(in: CharacterSet(charactersIn: "-")).prefix(50))
        if s == id && !s.isEmpty { return s }
        let h = (try? Digest.sha256Hex(Data(id.utf8)).prefix(6)).map(String.init) ?? "0"
        return (s.isEmpty ? "node" : s) + "-" + h
    }

    /// The workflow for the package nodes `plan` builds.
    public static func make(plan: Plan, settings: Settings, runID: String) throws -> JSON {
        let building = Set(plan.entries.filter { $0.action == .build }.map(\.id))
        var tasks: [JSON] = []
        for e in plan.entries where e.action == .build {
            guard let n = plan.graph.nodes[e.id], n.kind == .package, let payload = n.payload as? RecipeNodePayload else { continue }
            let res = try RecipeResources.load(recipePath: payload.recipePath)
            let deps = Set((plan.graph.edges[e.id] ?? []).map(\.to)).filter { building.contains($0) && plan.graph.nodes[$0]?.kind == .package }
            var task: [(String, JSON)] = [("name", .string(taskName(e.id))), ("template", "package-node"),
                                          ("arguments", ["parameters": .array([param("node", e.id), param("cpu", "\(res.cpu ?? 1)"),
                                                                               param("memory", res.kubernetesMemory ?? "2Gi")])])]
            if !deps.isEmpty { task.append(("depends", .string(deps.sorted().map(taskName).joined(separator: " && ")))) }
            tasks.append(.object(task))
        }
        let worker: JSON = [
            "name": "package-node",
            "inputs": ["parameters": [["name": "node"], ["name": "cpu", "default": "1"], ["name": "memory", "default": "2Gi"]]],
            "metadata": ["labels": ["app.kubernetes.io/name": "kiln", "app.kubernetes.io/component": "nightly-node"]],
            "retryStrategy": ["limit": "1", "retryPolicy": "OnError"],
            "container": [
                "name": "main",
                "image": "{{workflow.parameters.kiln-image}}",
                "command": ["kiln"],
                "args": ["nightly-node", "--plan", "{{workflow.parameters.plan}}", "--node", "{{inputs.parameters.node}}",
                         "--store", "{{workflow.parameters.store}}"],
                "resources": ["requests": ["cpu": "{{inputs.parameters.cpu}}", "memory": "{{inputs.parameters.memory}}"],
                              "limits": ["memory": "{{inputs.parameters.memory}}"]],
                // bubblewrap needs unprivileged user namespaces in the pod (see the README)
                "securityContext": ["allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 1000,
                                    "capabilities": ["drop": ["ALL"]], "seccompProfile": ["type": "Unconfined"]],
                "env": [["name": "KILN_REGISTRY_USER", "valueFrom": ["secretKeyRef": ["name": "kiln-store", "key": "user", "optional": true]]],
                        ["name": "KILN_REGISTRY_PASSWORD", "valueFrom": ["secretKeyRef": ["name": "kiln-store", "key": "password", "optional": true]]]],
            ],
        ]
        return [
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": ["generateName": "kiln-nightly-",
                         "labels": ["app.kubernetes.io/name": "kiln"],
                         "annotations": ["kiln.dev/run-id": .string(runID), "kiln.dev/nodes": .string("\(tasks.count)")]],
            "spec": [
                "entrypoint": "nightly",
                "serviceAccountName": "kiln-nightly",
                "archiveLogs": true,
                "artifactRepositoryRef": ["configMap": .string(settings.artifactRepository.configMap), "key": .string(settings.artifactRepository.key)],
                "podGC": ["strategy": "OnPodSuccess"],
                "arguments": ["parameters": .array([param("plan", settings.planLocation), param("store", settings.store),
                                                    param("kiln-image", settings.image)])],
                "templates": [["name": "nightly", "dag": ["tasks": .array(tasks)]], worker],
            ],
        ]
    }

    static func param(_ name: String, _ value: String) -> JSON { ["name": .string(name), "value": .string(value)] }

    /// What Argo's schema does not catch: every `depends` name is a task, no task name twice, every
    /// task's template exists, and every `{{inputs.parameters.X}}` a template uses it declares (and
    /// every `{{workflow.parameters.X}}` the workflow declares). Empty when the workflow is sound.
    public static func problems(_ wf: JSON) -> [String] {
        var out: [String] = []
        let spec = wf["spec"]
        let templates = spec?["templates"]?.array ?? []
        let names = templates.compactMap { $0["name"]?.string }
        let workflowParams = Set((spec?["arguments"]?["parameters"]?.array ?? []).compactMap { $0["name"]?.string })
        if let entry = spec?["entrypoint"]?.string, !names.contains(entry) { out.append("entrypoint \(entry) is not a template") }
        for t in templates {
            let tname = t["name"]?.string ?? "?"
            let declared = Set((t["inputs"]?["parameters"]?.array ?? []).compactMap { $0["name"]?.string })
            let text = String(decoding: t.compact(), as: UTF8.self)
            for (scope, known) in [("inputs.parameters.", declared), ("workflow.parameters.", workflowParams)] {
                for used in references(text, scope) where !known.contains(used) { out.append("template \(tname) uses {{\(scope)\(used)}}, which is not declared") }
            }
            let tasks = t["dag"]?["tasks"]?.array ?? []
            let taskNames = tasks.compactMap { $0["name"]?.string }
            for dup in Dictionary(grouping: taskNames, by: { $0 }).filter({ $0.value.count > 1 }).keys.sorted() { out.append("task \(dup) appears twice") }
            for task in tasks {
                let n = task["name"]?.string ?? "?"
                if let ref = task["template"]?.string, !names.contains(ref) { out.append("task \(n) uses template \(ref), which does not exist") }
                for d in (task["depends"]?.string ?? "").components(separatedBy: "&&").map({ $0.trimmingCharacters(in: .whitespaces) })
                    where !d.isEmpty && !taskNames.contains(d) {
                    out.append("task \(n) depends on \(d), which is not a task")
                }
                let target = templates.first { $0["name"]?.string == task["template"]?.string }
                let wanted = Set((target?["inputs"]?["parameters"]?.array ?? []).filter { $0["default"] == nil }.compactMap { $0["name"]?.string })
                let given = Set((task["arguments"]?["parameters"]?.array ?? []).compactMap { $0["name"]?.string })
                for m in wanted.subtracting(given).sorted() { out.append("task \(n) does not pass parameter \(m)") }
            }
        }
        return out
    }

    /// The names `X` of every `{{<scope>X}}` in `text`.
    static func references(_ text: String, _ scope: String) -> Set<String> {
        var found = Set<String>()
        var rest = Substring(text)
        while let r = rest.range(of: "{{" + scope) {
            let after = rest[r.upperBound...]
            guard let end = after.range(of: "}}") else { break }
            found.insert(String(after[..<end.lowerBound]).trimmingCharacters(in: .whitespaces))
            rest = after[end.upperBound...]
        }
        return found
    }
}
