import ArgumentParser
import Foundation
import KilnCrypto

/// Options every subcommand accepts (`kiln SUBCOMMAND --fips ...`, or before the subcommand:
/// `kiln --fips SUBCOMMAND ...`, see `hoist`).
struct GlobalOptions: ParsableArguments {
    @Flag(name: .long, help: "Use only the OpenSSL FIPS provider for kiln's own crypto (also KILN_FIPS=1).")
    var fips = false

    @Option(name: .long, help: "OpenSSL config that loads the FIPS provider (default: $OPENSSL_CONF).")
    var fipsConfig: String?

    /// These options as arguments for a child `kiln` process (FIPS mode carries over).
    var childArguments: [String] {
        (fipsRequested ? ["--fips"] : []) + (fipsConfig.map { ["--fips-config", $0] } ?? [])
    }

    /// FIPS mode requested by flag or environment.
    var fipsRequested: Bool {
        fips || GlobalOptions.fipsFromEnvironment
    }

    static var fipsFromEnvironment: Bool {
        ["1", "true", "yes", "on"].contains(ProcessInfo.processInfo.environment["KILN_FIPS"]?.lowercased() ?? "")
    }

    /// Puts the options into effect: FIPS mode loads the FIPS provider or throws (never falls back).
    /// Kiln.main calls this for every command before `run()`; calling it again is harmless.
    func activate() throws {
        if fipsRequested { try CryptoProvider.enableFIPS(config: fipsConfig) }
    }

    /// Activates the GlobalOptions of a parsed command (found by reflection), or only KILN_FIPS
    /// for a command without them.
    static func activate(for command: ParsableCommand) throws {
        for child in Mirror(reflecting: command).children {
            if let group = child.value as? OptionGroup<GlobalOptions> { return try group.wrappedValue.activate() }
        }
        if fipsFromEnvironment { try CryptoProvider.enableFIPS(config: nil) }
    }

    /// Moves global options written before the subcommand (`kiln --fips version`) to the end of
    /// the arguments (before any `--`), where the subcommand's option group parses them.
    static func hoist(_ args: [String]) -> [String] {
        var globals: [String] = []
        var rest = args[...]
        while let first = rest.first {
            if first == "--fips" {
                globals.append(first); rest = rest.dropFirst()
            } else if first == "--fips-config", rest.count >= 2 {
                globals += rest.prefix(2); rest = rest.dropFirst(2)
            } else if first.hasPrefix("--fips-config=") {
                globals.append(first); rest = rest.dropFirst()
            } else { break }
        }
        guard !globals.isEmpty, !rest.isEmpty else { return args }
        var out = Array(rest)
        out.insert(contentsOf: globals, at: out.firstIndex(of: "--") ?? out.endIndex)
        return out
    }
}

/// `p` made absolute against the working directory (the CLI resolves paths once, libraries take them absolute).
func absolutePath(_ p: String) -> String {
    p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
}
