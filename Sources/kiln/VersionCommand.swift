import ArgumentParser
import KilnCore
import KilnCrypto
import KilnFIPS

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print kiln's version, the OpenSSL version, loaded providers and FIPS mode.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        // No global.activate() here on purpose: Kiln.main activates every command's GlobalOptions,
        // and the FIPS CLI tests (kiln --fips version) prove that path.
        print("kiln \(KilnVersion.current)")
        print("openssl: \(CryptoProvider.openSSLVersion)")
        print("providers: \(CryptoProvider.loadedProviders.joined(separator: ", "))")
        print("fips mode: \(CryptoProvider.isFIPS ? "on" : "off")")
        if let m = try ActiveFIPSModule.current() { print("fips module: \(m)") }
    }
}
