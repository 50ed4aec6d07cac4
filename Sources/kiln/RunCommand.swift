import ArgumentParser
import Foundation
import KilnCore
import KilnImage

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an image from an OCI layout in bubblewrap (no network, nothing from the host).",
        discussion: """
            As with `docker run`, arguments after `--` replace the image's CMD and follow its ENTRYPOINT; \
            `--entrypoint` replaces the ENTRYPOINT (an empty string clears it). Examples:

              kiln run out/images/openssl:openssl:3.0.22-r0 -- version -a
              kiln run --entrypoint /usr/bin/openssl \\
                  out/images/curl:curl:7.88.1-r0-fips -- list -providers
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "LAYOUT[:TAG] — an OCI layout directory and an optional tag (name:version or version).")
    var image: String

    @Option(name: .long, help: "Run this instead of the image's ENTRYPOINT (\"\" clears it).")
    var entrypoint: String?

    @Option(name: .long, help: "Most file data to unpack from the layers, e.g. 512M or 8G (default 4G, or $KILN_RUN_MAX_UNPACKED).")
    var maxUnpacked: String?

        @Argument(parsing: .postTerminator, help: "Arguments that replace the image's CMD (after its ENTRYPOINT).")
    var command: [String] = []

    func run() throws {
        let spec = maxUnpacked ?? ProcessInfo.processInfo.environment["KILN_RUN_MAX_UNPACKED"]
        let cap = try spec.map { try ByteSize.parse($0, what: "--max-unpacked") } ?? ImageRunner.defaultMaxUnpackedBytes
        let status = try ImageRunner.run(reference: image, command: command,
                                         entrypoint: entrypoint.map { $0.isEmpty ? [] : [$0] }, maxUnpackedBytes: cap)
        if status != 0 { throw ExitStatus(code: status, message: "command in the image exited with status \(status)") }
    }
}
