import ArgumentParser
import KilnCore

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print kiln's version, the OpenSSL version, loaded providers and FIPS mode.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        print("kiln \(KilnVersion.current)")
    }
}
