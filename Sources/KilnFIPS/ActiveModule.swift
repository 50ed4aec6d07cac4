import Foundation
import KilnCore
import KilnCrypto

/// The FIPS module doing kiln's own crypto in FIPS mode (`kiln --fips`): what the loaded provider
/// says about itself through OpenSSL, and kiln's identity for it (label from the module registry)
/// when the provider's package left one beside the module.
public struct ActiveFIPSModule: Sendable, Equatable, CustomStringConvertible {
    /// Name, version and build info read from the provider (`OSSL_PROVIDER_get_params`).
    public var provider: ProviderIdentity
    /// The modules directory fips.so was loaded from.
    public var modulesDirectory: String
    /// kiln's identity of the module (`usr/share/kiln/fips-module.json` of its package), if found.
    public var identity: FIPSModuleIdentity?

    /// "validated" only for a CMVP-listed module built from exactly its source; otherwise
    /// "fips-capable" (also when kiln has no identity for the module).
    public var label: FIPSLabel { identity?.label ?? .fipsCapable }

    /// e.g. "OpenSSL FIPS Provider 3.0.22 (build 3.0.22), fips-capable (from openssl-fips-provider 3.0.22)".
    public var description: String {
        "\(provider), \(label.rawValue)"
            + (identity.map { " (kiln identity: \($0.package) \($0.version); \($0.reason))" } ?? " (no kiln identity beside the module in \(modulesDirectory))")
    }

    /// The module of kiln's FIPS-mode context, nil outside FIPS mode. The identity is looked up
    /// beside the module: for `ROOT/usr/lib/ossl-modules` (the provider package's layout) ROOT's
    /// `usr/share/kiln/fips-module.json`. A version that disagrees with the provider's own is an error.
    public static func current() throws -> ActiveFIPSModule? {
        guard let p = CryptoProvider.fipsModule else { return nil }
        let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["OPENSSL_MODULES"] ?? CryptoProvider.modulesDirectory)
            .standardizedFileURL.path
        let suffix = "/" + (FIPSModuleIdentity.modulePath as NSString).deletingLastPathComponent
        var identity: FIPSModuleIdentity?
        if dir.hasSuffix(suffix) { identity = try FIPSModuleIdentity.read(root: String(dir.dropLast(suffix.count))) }
        if let i = identity, i.version != p.version {
            throw KilnMessage("the FIPS provider loaded from \(dir) reports version \(p.version), but kiln's identity beside it says \(i.package) \(i.version); the module and its package do not match")
        }
        return ActiveFIPSModule(provider: p, modulesDirectory: dir, identity: identity)
    }
}
