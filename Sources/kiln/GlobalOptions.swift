import ArgumentParser
import Foundation

/// Options every subcommand accepts (`kiln SUBCOMMAND --fips ...`).
struct GlobalOptions: ParsableArguments {
    @Flag(name: .long, help: "Use only the OpenSSL FIPS provider for kiln's own crypto (also KILN_FIPS=1).")
    var fips = false

    @Option(name: .long, help: "OpenSSL config that loads the FIPS provider (default: $OPENSSL_CONF).")
    var fipsConfig: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    /// FIPS mode requested by flag or environment.
    var fipsRequested: Bool {
        fips || ["1", "true", "yes"].contains(ProcessInfo.processInfo.environment["KILN_FIPS"]?.lowercased() ?? "")
    }
}
