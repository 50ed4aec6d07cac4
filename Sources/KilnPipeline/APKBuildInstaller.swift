import Foundation
import KilnAPK
import KilnBuild
import KilnCore

/// Build-time packages from kiln's own repository: `environment.contents.packages` (and their
/// depends) found in `<repository>/<arch>/APKINDEX.tar.gz` are verified with the signing key and
/// unpacked into layers the sandbox puts over the toolchain root.
public struct APKBuildInstaller: BuildDependencyInstaller {
    /// The repository root (`<repository>/<arch>/APKINDEX.tar.gz`).
    public var repository: String
    /// The keys its index and packages must be signed with.
    public var keyring: APKKeyring

    /// An installer over `repository`, trusting `keyring`.
    public init(repository: String, keyring: APKKeyring) { self.repository = repository; self.keyring = keyring }

    /// The verified index records for `arch` (none when the repository has no index yet).
    public func records(arch: String) throws -> [APKIndexRecord] {
        let path = "\(repository)/\(arch)/APKINDEX.tar.gz"
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try APKIndex.read(path: path, options: APKVerifyOptions(keyring: keyring)).records
    }

    /// The names the repository can provide.
    public func available(_ names: [String], arch: String) throws -> [String] {
        let recs = try records(arch: arch)
        return names.filter { n in DependencyAtom.name(of: n).map { APKInstall.candidate(for: $0, in: recs) != nil } ?? false }
    }

    /// Build roots are layered, not installed into (see `layers`).
    public func install(_ names: [String], arch: String, over base: Toolchain, scratch: String) throws -> Toolchain { base }

    /// Verified, unpacked package directories for `names` and their depends, dependencies first.
    public func layers(_ names: [String], arch: String, scratch: String) throws -> [String] {
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
    public init(repository: String, signer: APKSigner) throws {
        var ring = APKKeyring()
        ring.add(name: signer.keyName, key: try signer.key.publicKey)
        self.init(repository: repository, keyring: ring)
    }
}
