import ArgumentParser
import Foundation
import KilnAPK
import KilnBuild
import KilnCore
import KilnCrypto

/// `kiln build` packaging options: where the repository is and which key signs it.
struct PackagingOptions: ParsableArguments {
    @Option(name: .long, help: "APK repository the packages go to (<repository>/<arch>/*.apk + APKINDEX.tar.gz; default: <out>/packages).")
    var repository: String?

    @Option(name: .long, help: "RSA key that signs packages and the index (default: keys/kiln-dev.rsa; created like `make keys` does when missing).")
    var signingKey: String = "keys/kiln-dev.rsa"

    @Option(name: .long, help: "Distribution name for the packages' purls (pkg:apk/<distro>/...).")
    var distro: String = "kiln"

    @Option(name: .long, help: "SBOM supplier, e.g. \"Example Corp\" (default: NOASSERTION).")
    var supplier: String?

    @Flag(name: .long, help: "Only build the trees; write no packages and no index.")
    var noPackage = false

    static let defaultSigningKey = "keys/kiln-dev.rsa"

    /// The signer; the default development key is created (as `make keys` does) when it is missing.
    func signer() throws -> APKSigner {
        let path = signingKey
        if path == PackagingOptions.defaultSigningKey, !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: "keys", withIntermediateDirectories: true)
            let fd = open("keys/.kiln-dev.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw KilnMessage("cannot create keys/.kiln-dev.lock: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            flock(fd, LOCK_EX)
            defer { flock(fd, LOCK_UN) }
            if !FileManager.default.fileExists(atPath: path) {
                let key = try PrivateKey.generate(.rsa(bits: 4096))
                try AtomicFile.write(try key.publicKey.pem(), to: path + ".pub", mode: 0o644)
                try key.save(to: path)
                Progress.shared.log("kiln: created the development signing key \(path) (trust \(path).pub); pass --signing-key for your own key")
            }
        }
        return try APKSigner.load(path: path)
    }
}

extension PackageSpec {
    /// The writer's input for one package of a build result.
    init(_ m: PackageMetadata, result: BuildResult, distro: String, supplier: String?) throws {
        self.init(name: m.name, version: m.version, epoch: m.epoch, arch: result.arch)
        description = m.description
        url = m.url ?? ""
        commit = m.commit
        origin = m.origin
        license = m.licenses.count > 1 ? m.licenses.map { $0.contains(" ") ? "(\($0))" : $0 }.joined(separator: " AND ") : (m.licenses.first ?? "")
        dependencies.runtime = m.runtime
        dependencies.provides = m.provides
        dependencies.replaces = m.replaces
        if let p = m.providerPriority {
            guard let v = Int(p) else {
                throw KilnMessage("\(result.recipe): package \(m.name): provider-priority must be an integer, got \"\(p)\"")
            }
            dependencies.providerPriority = v
        }
        options = .init(noProvides: m.noProvides, noDepends: m.noDepends, noCommands: m.noCommands)
        var s = PackageSpec.Scriptlets()
        s.preInstall = m.scriptlets["pre-install"]
        s.postInstall = m.scriptlets["post-install"]
        s.preDeinstall = m.scriptlets["pre-deinstall"]
        s.postDeinstall = m.scriptlets["post-deinstall"]
        s.preUpgrade = m.scriptlets["pre-upgrade"]
        s.postUpgrade = m.scriptlets["post-upgrade"]
        scriptlets = s
        sources = result.sources.map { .init(uri: $0.uri, sha256: $0.sha256) }
        self.distro = distro
        self.supplier = supplier
        buildDate = result.sourceDateEpoch
    }
}

extension BuildCommand {
    /// Runs after each recipe's trees have landed: packages every tree as a signed .apk in
    /// `<repository>/<arch>/`, then rewrites that directory's signed APKINDEX.tar.gz. Each package
    /// file is complete (renamed into place) before the index names it.
    func afterBuild(_ result: BuildResult) throws {
        try stampFIPSModules(result)   // BuildCommand+FIPS.swift — first: the identity file must be in the tree before packaging
        guard !packaging.noPackage else { return }
        let signer = try packaging.signer()
        let repo = packaging.repository ?? "\(location.out)/packages"
        for m in result.packages {
            let spec = try PackageSpec(m, result: result, distro: packaging.distro, supplier: packaging.supplier)
            let out = try APKWriter.write(spec: spec, root: m.tree, repository: repo, signer: signer)
            Progress.shared.log("packaged \(out.path) (\(out.checksum))")
        }
        let idx = try APKRepository.updateIndex(directory: "\(repo)/\(result.arch)", signer: signer)
        Progress.shared.log("indexed \(idx.indexPath): \(idx.records.count) packages")
    }
}

/// Build-time packages from kiln's own repository: `environment.contents.packages` (and their
/// depends) found in `<repository>/<arch>/APKINDEX.tar.gz` are verified with the signing key and
/// unpacked into layers the sandbox puts over the toolchain root.
struct APKBuildInstaller: BuildDependencyInstaller {
    var repository: String
    var keyring: APKKeyring

    func records(arch: String) throws -> [APKIndexRecord] {
        let path = "\(repository)/\(arch)/APKINDEX.tar.gz"
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try APKIndex.read(path: path, options: APKVerifyOptions(keyring: keyring)).records
    }

    func available(_ names: [String], arch: String) throws -> [String] {
        let recs = try records(arch: arch)
        return names.filter { n in DependencyAtom.name(of: n).map { APKInstall.candidate(for: $0, in: recs) != nil } ?? false }
    }

    func install(_ names: [String], arch: String, over base: Toolchain, scratch: String) throws -> Toolchain { base }

    func layers(_ names: [String], arch: String, scratch: String) throws -> [String] {
        let (recs, _) = APKInstall.resolve(names, in: try records(arch: arch))
        var dirs: [String] = []
        for (i, r) in recs.enumerated() {
            let pkg = try APKReader.read(path: "\(repository)/\(arch)/\(r.fileName)", options: APKVerifyOptions(keyring: keyring))
            guard pkg.checksum == r.checksum else {
                throw KilnMessage("\(repository)/\(arch)/\(r.fileName): checksum \(pkg.checksum) does not match the index (\(r.checksum)); run `kiln index`")
            }
            let dir = "\(scratch)/\(String(format: "%03d", i))-\(r.name)"
            try APKInstall.extract(pkg, to: dir)
            dirs.append(dir)
        }
        return dirs
    }
}

extension APKBuildInstaller {
    /// Build-time packages from `repository`, trusting the key `signer` signs with.
    init(repository: String, signer: APKSigner) throws {
        var ring = APKKeyring()
        ring.add(name: signer.keyName, key: try signer.key.publicKey)
        self.init(repository: repository, keyring: ring)
    }
}

extension PackagingOptions {
    /// The installer for build-time packages (nil with --no-package).
    func installer(out: String) throws -> APKBuildInstaller? {
        guard !noPackage else { return nil }
        return try APKBuildInstaller(repository: repository ?? "\(out)/packages", signer: try signer())
    }
}
