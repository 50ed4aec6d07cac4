import ArgumentParser
import Foundation
import KilnCore
import KilnImage

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an image from an OCI layout in bubblewrap (no network, nothing from the host).",
        discussion: "kiln run out/images/hello:hello:1.0-r0 -- /usr/bin/hello --version")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "LAYOUT[:TAG] — an OCI layout directory and an optional tag (name:version or version).")
    var image: String

    @Argument(parsing: .postTerminator, help: "Command to run instead of the image's CMD.")
    var command: [String] = []

    func run() throws {
        let status = try ImageRunner.run(reference: image, command: command)
        if status != 0 { throw ExitStatus(code: status, message: "command in the image exited with status \(status)") }
    }
}
