import Foundation

/// Package names with a meaning across modules (recipes' FIPS variant, images' FIPS variant,
/// attestations): one home instead of string literals in each.
public enum FIPSPackageName {
    /// The package carrying the OpenSSL FIPS provider module (`fips.so`).
    public static let provider = "openssl-fips-provider"
    /// The package carrying the OpenSSL configuration that enables it.
    public static let config = "openssl-config-fips"
    /// Both: what every FIPS variant installs at run time.
    public static let runtime = [provider, config]
}
