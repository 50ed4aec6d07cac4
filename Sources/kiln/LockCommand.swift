import ArgumentParser
import Foundation
import KilnCore
import KilnImage

struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Resolve an image config and pin the package names, versions and digests in a lock file.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Image config (apko dialect).")
    var config: String

    @Option(name: .long, help: "Repository directory (repeatable; replaces contents.repositories).")
    var repo: [String] = []

    @OptionGroup var keyring: KeyringOption

    @Option(name: .shortAndLong, help: "Lock file to write (default: CONFIG with .lock.json).")
    var output: String?

    func run() throws {
        let cfg = try ImageConfig.load(path: config)
        for w in cfg.warnings { FileHandle.standardError.write(Data("kiln: warning: \(w)\n".utf8)) }
        var opts = ImageBuildOptions()
        opts.repositories = repo.isEmpty ? nil : repo
        opts.extraKeys = keyring.keyring   // files and directories (added to contents.keyring)
        opts.variants = [.standard]
        let builder = ImageBuilder(config: cfg, options: opts)
        let res = try builder.resolve()
        for (v, e) in res.failures { FileHandle.standardError.write(Data("kiln: warning: variant \(v.rawValue) not locked: \(e)\n".utf8)) }
        let lock = try builder.lockFile(res)
        let dest = output ?? (URL(fileURLWithPath: config).deletingPathExtension().path + ".lock.json")
        try AtomicFile.write(try lock.encoded(), to: dest)
        print(dest)
    }
}
