import ArgumentParser
import Foundation
import KilnCore
import KilnImage

/// `kiln pod run`: several images in one loopback-only network namespace (README "Pods").
struct PodCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pod",
        abstract: "Run several images side by side in one network namespace that has only loopback, like a Kubernetes pod.",
        subcommands: [PodRunCommand.self])
}

struct PodRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pod file's containers together; the pod ends when the first probe container exits, with its status.",
        discussion: """
            Each container runs in bubblewrap in its own mount, pid, ipc and uts namespaces, its root the image's \
            layers read-only with a private /tmp, as the image's user; all share one new network namespace with \
            only loopback, so they reach each other on 127.0.0.1 and nothing else. Output lines are prefixed with \
            the container's name. When the first container marked `probe: true` exits, the others get SIGTERM \
            and, after a grace period, SIGKILL. Needs root (bubblewrap and nsenter). Example:

              kiln pod run recipes/pods/openssl-tls.yaml --variant fips
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The pod file (YAML: name, tls, containers).")
    var podFile: String

    @Option(name: .long, help: "Variant of containers that pin neither variant: nor tag: (standard or fips).")
    var variant: String = "standard"

    @Option(name: .long, help: "Seconds the pod may run before it is stopped and the run fails.")
    var timeout: Double = 600

    @Option(name: .long, help: "Seconds between SIGTERM and SIGKILL when the pod stops.")
    var grace: Double = 5

    @Option(name: .long, help: "Also write each container's output to DIR/NAME.log.")
    var logDir: String?

    func run() throws {
        var opts = PodRunner.Options()
        guard let v = ImageVariant(rawValue: variant) else { throw KilnMessage("--variant must be standard or fips (got '\(variant)')") }
        guard timeout > 0, grace >= 0 else { throw KilnMessage("--timeout must be positive and --grace not negative") }
        opts.variant = v; opts.timeout = timeout; opts.grace = grace; opts.logDirectory = logDir
        // Ctrl-C / SIGTERM: stop the containers and remove the pod's files instead of dying at once.
        let interrupt = LockedValue<Int32>(0)
        opts.interrupt = interrupt
        signal(SIGINT, SIG_IGN); signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { interrupt.withLock { $0 = sig } }
            s.resume()
            return s
        }
        defer { for s in sources { s.cancel() } }
        let outcome = try PodRunner.run(path: podFile, options: opts)
        if outcome.status != 0 {
            throw ExitStatus(code: outcome.status, message: "pod probe \(outcome.probe) exited with status \(outcome.status)")
        }
    }
}
