import Foundation
import KilnCore
import KilnFIPS
import KilnOCI

/// `kiln audit`'s one entry point: load the registry and policy, audit every reference (with `exec`, also probe it in the sandbox).
public enum BoundaryAudit {
    /// The registry at `path` (absolute); nil when no path is given or no file is there.
    public static func registry(at path: String?) throws -> FIPSModuleRegistry? {
        guard let path, FileManager.default.fileExists(atPath: path) else { return nil }
        return try FIPSModuleRegistry.load(path: path)
    }

    /// Audits each `LAYOUT[:TAG]`. The registry is optional (missing ⇒ every module `fips-capable`,
    /// said so in the module summary); a policy that cannot be read is an error.
    public static func run(references: [String], policyPath: String?, registryPath: String?,
                           exec: Bool = false) throws -> [AuditReport] {
        let policy = try policyPath.map { try AuditPolicy.load(path: $0) } ?? AuditPolicy()
        let registry = try registry(at: registryPath)
        let auditor = BoundaryAuditor(registry: registry, policy: policy, exec: exec)
        return try references.flatMap { try auditor.audit(reference: $0) }
    }

    /// `{"images": [report…], "verdict": pass|fail}`.
    public static func json(_ reports: [AuditReport]) -> JSON {
        .object([("verdict", .string(reports.allSatisfy(\.passed) ? "pass" : "fail")), ("images", .array(reports.map(\.json)))])
    }
}
