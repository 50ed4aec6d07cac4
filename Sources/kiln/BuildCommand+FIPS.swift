import Foundation
import KilnBuild
import KilnCore
import KilnFIPS

/// `--variant fips` needs a build root where kiln's OpenSSL is the only OpenSSL: the host toolchain
/// (the host's /usr with its libssl-dev) or any root holding OpenSSL headers/libraries is refused.
func checkFIPSVariantToolchain(_ variant: String?, _ tc: Toolchain) throws {
    guard variant == "fips" else { return }
    if tc.isHost {
        throw KilnMessage("--variant fips cannot use --toolchain host: the host's OpenSSL headers and libraries would be visible to the build. Use --toolchain debian (make toolchain).")
    }
    let found = DebianToolchain.openSSLFiles(root: tc.rootPath)
    guard found.isEmpty else {
        throw KilnMessage("--variant fips: toolchain root \(tc.rootPath) contains OpenSSL files (\(found.prefix(3).joined(separator: ", "))); only kiln's own OpenSSL packages may be visible to a FIPS build")
    }
}
