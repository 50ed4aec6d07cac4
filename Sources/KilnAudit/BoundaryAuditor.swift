import Foundation
import KilnArchive
import KilnAttest
import KilnCore
import KilnFIPS
import KilnOCI

/// Runs the static boundary audit of images in OCI layouts: unpack (in memory, digests checked,
/// nothing executed), then the module, configuration, linkage and foreign-crypto checks; findings
/// the policy (or the image's own `dev.kiln.fips.allow` annotation) allows are kept and marked.
public struct BoundaryAuditor: Sendable {
    /// The module registry (recipes/fips/modules.yaml); nil: every module is `fips-capable`.
    public var registry: FIPSModuleRegistry?
    /// Extra allowances (`--policy`).
    public var policy: AuditPolicy
    /// Also run the behaviour probes in kiln's sandbox (`--exec`; needs a tagged image and bwrap).
    public var exec: Bool

    /// An auditor.
    public init(registry: FIPSModuleRegistry?, policy: AuditPolicy = AuditPolicy(), exec: Bool = false) {
        self.registry = registry; self.policy = policy; self.exec = exec
    }

    /// Package names whose files are "the OpenSSL package" (libcrypto, libssl, the CLI, engines).
    static func isOpenSSLPackage(_ name: String?, packages: [String: String?]) -> Bool {
        guard let name else { return false }
        if ["openssl", "libcrypto3", "libssl3", "openssl-libs", "libopenssl3"].contains(name) { return true }
        if let origin = packages[name] ?? nil, origin == "openssl" { return true }
        return false
    }

    /// Audits every image `LAYOUT[:TAG]` names (all images of the layout without a tag).
    public func audit(reference: String) throws -> [AuditReport] {
        let ref = try LayoutReference.parse(reference)
        let layout = try OCILayout(path: ref.layout)
        return try Attestor.targets(layout: layout, tag: ref.tag).map { t in
            try audit(layout: layout, manifest: t.descriptor, name: ref.layout + ":" + (t.tag ?? t.descriptor.digest))
        }
    }

    /// Audits one image manifest of `layout`.
    public func audit(layout: OCILayout, manifest d: OCIDescriptor, name: String) throws -> AuditReport {
        let root = try ImageRoot(layout: layout, manifest: d)
        let origins = Dictionary(root.packages.map { ($0.name, $0.origin) }, uniquingKeysWith: { a, _ in a })
        let isOpenSSL: (String?) -> Bool = { BoundaryAuditor.isOpenSSLPackage($0, packages: origins) }
        let elfs: [ImageELF] = root.regularFiles.compactMap { p, data in
            guard ELFInfoCache.isELF(data), let info = ELFInfo.parse(data) else { return nil }
            return ImageELF(path: p, data: data, info: info, owner: root.owner(p))
        }
        let modulePath = root.regularFiles.first { ImageRoot.basename($0.path) == "fips.so" }?.path

        let linkage = LinkageCheck(root: root, elfs: elfs, isOpenSSLPackage: isOpenSSL).run()
        let config = ConfigCheck(root: root, libcrypto: linkage.libcrypto, module: modulePath,
                                 sharedOpenSSLNodes: elfs.filter { ImageRoot.basename($0.path) == "node" && $0.info.needed.contains("libcrypto.so.3") }).run()
        let module = try ModuleCheck(root: root, registry: registry, includedModuleConfig: config.includedModuleConfig).run()
        let foreign = ForeignCryptoCheck(root: root, elfs: elfs, isOpenSSLPackage: isOpenSSL, modulePath: modulePath).run()
        var probes: (findings: [AuditFinding], summary: String)?
        if exec {
            guard let tag = d.refName else { throw KilnMessage("\(name): --exec needs a tagged image (kiln's sandbox runs images by tag)") }
            probes = try ExecProbes(layout: layout, tag: tag, root: root).run()
        }

        // Allow-lists: the image's own (annotation), then --policy.
        var allow = policy.allow
        if let a = root.contents.annotationsAndLabels[FIPSAllowance.annotation] {
            allow = try FIPSAllowance.parseAnnotation(a, source: "image config, \(FIPSAllowance.annotation)") + allow
        }
        let effective = AuditPolicy(allow: allow)
        var findings = (module.findings + config.findings + linkage.findings + foreign.findings + (probes?.findings ?? [])).map { f -> AuditFinding in
            var f = f
            if let a = effective.allowance(for: f) { f.allowed = a.reason + (a.source.map { " (\($0))" } ?? "") }
            return f
        }
        findings.sort { $0.sortKey < $1.sortKey }
        var summaries: [AuditCheckName: String] = [.module: module.summary, .configuration: config.summary,
                                                   .linkage: linkage.summary, .foreignCrypto: foreign.summary]
        if let probes { summaries[.exec] = probes.summary }
        let checks = (AuditCheckName.staticChecks + (probes == nil ? [] : [.exec])).map { c in
            let open = findings.filter { $0.check == c && $0.allowed == nil }.count
            let allowed = findings.filter { $0.check == c && $0.allowed != nil }.count
            var s = summaries[c] ?? ""
            if open > 0 { s += " — \(open) finding\(open == 1 ? "" : "s")" }
            if allowed > 0 { s += " — \(allowed) allowed" }
            return AuditCheck(name: c, passed: open == 0, summary: s)
        }
        return AuditReport(image: name, manifestDigest: d.digest, module: module.module, checks: checks, findings: findings,
                           elfCount: elfs.count, fileCount: root.contents.files.count, libcrypto: linkage.libcrypto,
                           cryptoUsers: linkage.users, kilnVersion: KilnVersion.current)
    }
}
