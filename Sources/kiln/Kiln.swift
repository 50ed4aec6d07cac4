import ArgumentParser
import Foundation
import KilnCore

/// The `kiln` command: a thin layer over the Kiln* library modules.
/// One file per subcommand in this folder; add each new subcommand to `subcommands` below.
@main
struct Kiln: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Build FIPS container images: melange recipes → signed APKs → apko images, signed and verified.",
        version: KilnVersion.current,
        subcommands: [
            // Keep one per line, sorted: parallel work merges cleanly that way.
            ApkCommand.self,
            AuditCommand.self,
            BuildCommand.self,
            CertificateCommand.self,
            ImageCommand.self,
            IndexCommand.self,
            KeygenCommand.self,
            LayerCommand.self,
            LockCommand.self,
            NightlyCommand.self,
            NightlyNodeCommand.self,
            PlanCommand.self,
            PodCommand.self,
            PullCommand.self,
            PushCommand.self,
            ReproCommand.self,
            RunCommand.self,
            SignCommand.self,
            SourceCommand.self,
            TestCommand.self,
            ToolchainCommand.self,
            UpdateCommand.self,
            VerifyCommand.self,
            VersionCommand.self,
        ]
    )

    /// Runs the command and turns every error into a clear message and a non-zero exit (no traps,
    /// no stack traces). KilnError descriptions are printed as they are.
    static func main() {
        do {
            var command = try parseAsRoot(GlobalOptions.hoist(Array(CommandLine.arguments.dropFirst())))
            try GlobalOptions.activate(for: command)   // --fips / KILN_FIPS for every subcommand
            try command.run()
        } catch let error as KilnError {
            FileHandle.standardError.write(Data("kiln: error: \(error.description)\n".utf8))
            Foundation.exit(error is ExitStatus ? (error as! ExitStatus).code : 1)
        } catch {
            exit(withError: error)
        }
    }
}

/// Throw to exit with a specific status after printing a message (e.g. verify: 1 = failed check).
struct ExitStatus: KilnError {
    var code: Int32
    var message: String
    var description: String { message }
}
