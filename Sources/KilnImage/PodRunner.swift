import Foundation
import KilnCore
import KilnCrypto
import KilnOCI

/// `kiln pod run`: the containers of a `PodFile` in ONE new network namespace that has only
/// loopback (held by a first bubblewrap process; each container enters it with `nsenter --net`),
/// each in its own user/mount/pid/ipc/uts namespaces, its root the image's layers unpacked by
/// `ImageRunner.unpack` and mounted read-only with a private /tmp, as the image's user. The pod
/// stops every container (SIGTERM, then SIGKILL after `grace`) when the first probe exits.
public enum PodRunner {
    /// How to run a pod.
    public struct Options: Sendable {
        /// The variant of containers that pin neither `variant:` nor `tag:`.
        public var variant: ImageVariant = .standard
        /// Seconds the whole pod may run before it is stopped and the run fails.
        public var timeout: Double = 600
        /// Seconds between SIGTERM and SIGKILL when the pod stops.
        public var grace: Double = 5
        /// When set, each container's output also goes to `DIR/NAME.log` (unprefixed).
        public var logDirectory: String?
        /// Set (to the signal number) by the caller's SIGINT/SIGTERM handler: the pod stops, its
        /// containers are stopped and its temporary files removed, and the run fails saying so.
        public var interrupt: LockedValue<Int32>?
        /// Cap on the file data unpacked per container.
        public var maxUnpackedBytes: Int64 = ImageRunner.defaultMaxUnpackedBytes
        /// Defaults.
        public init() {}
    }

    /// How the pod ended.
    public struct Outcome: Sendable, Equatable {
        /// The probe container that ended the pod.
        public var probe: String
        /// Its exit status (128 + signal when killed by a signal): the pod's status.
        public var status: Int32
    }

    /// One container, resolved before anything starts.
    struct Prepared {
        var spec: PodFile.Container
        var tag: String
        var root: String
        var argv: [String]
        var bwrap: [String]
    }

    /// Loads the pod file at `path` and runs it (`kiln pod run`).
    public static func run(path: String, options: Options = Options()) throws -> Outcome {
        try run(try PodFile.load(path: path), options: options)
    }

    /// Runs `pod` and returns the first probe's exit status.
    public static func run(_ pod: PodFile, options: Options = Options()) throws -> Outcome {
        guard let bwrap = Subprocess.which("bwrap") else { throw KilnMessage("bwrap (bubblewrap) not found; run `make deps`") }
        guard let nsenter = Subprocess.which("nsenter") else { throw KilnMessage("nsenter (util-linux) not found; run `make deps`") }
        let selected = try pod.containers.map { c -> (PodFile.Container, OCILayout, String) in
            let (layout, tag) = try selectImage(c, pod: pod, variant: options.variant)
            return (c, layout, tag)
        }
        let work = NSTemporaryDirectory() + "kiln-pod-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: work) }

        var shared: [String] = []
        if let tls = pod.tls {
            let dir = try writeTLS(tls, into: work + "/tls", pod: pod)
            shared = ["--ro-bind", dir, tls.mount]
        }
        var prepared: [Prepared] = []
        for (c, layout, tag) in selected {
            prepared.append(try prepare(c, layout: layout, tag: tag, pod: pod, work: work, shared: shared, options: options))
        }

        let log = try PodLog(containers: pod.containers.map(\.name), directory: options.logDirectory)
        let readers = DispatchGroup()
        var running: [(name: String, process: Process, probe: Bool)] = []
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: bwrap)
        holder.arguments = ["--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr",
                            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
                            "--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/sleep", "infinity"]
        holder.environment = [:]
        holder.standardInput = FileHandle.nullDevice
        defer {
            stop(running.map(\.process) + [holder], grace: options.grace)
            if readers.wait(timeout: .now() + 5) == .timedOut { log.note("pod \(pod.name): a container's output did not end after it stopped") }
        }
        try holder.run()
        let netPID = try networkHolder(holder, pod: pod)

        let started = Date()
        for p in prepared {
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: nsenter)
            proc.arguments = ["--net=/proc/\(netPID)/ns/net", "--", bwrap] + p.bwrap
            proc.environment = [:]
            proc.standardInput = FileHandle.nullDevice
            let out = Pipe(), err = Pipe()
            proc.standardOutput = out; proc.standardError = err
            try proc.run()
            try? out.fileHandleForWriting.close(); try? err.fileHandleForWriting.close()
            log.follow(dup(out.fileHandleForReading.fileDescriptor), name: p.spec.name, to: 1, group: readers)
            log.follow(dup(err.fileHandleForReading.fileDescriptor), name: p.spec.name, to: 2, group: readers)
            running.append((p.spec.name, proc, p.spec.probe))
            log.note("pod \(pod.name): started \(p.spec.name) (\(p.tag) from \(URL(fileURLWithPath: p.spec.image).lastPathComponent)): \(p.argv.joined(separator: " "))")
            if let ready = p.spec.ready {
                try waitReady(ready, container: p.spec.name, process: proc, netPID: netPID, pod: pod, deadline: started + options.timeout,
                              options: options)
            }
        }

        var reported = Set<String>()
        while true {
            for r in running where !r.process.isRunning && !reported.contains(r.name) {
                reported.insert(r.name)
                let status = exitStatus(r.process)
                if r.probe {
                    log.note("pod \(pod.name): probe \(r.name) exited with status \(status); stopping the pod")
                    return Outcome(probe: r.name, status: status)
                }
                log.note("pod \(pod.name): \(r.name) exited with status \(status)")
            }
            try checkInterrupt(options, pod: pod)
            if Date().timeIntervalSince(started) > options.timeout {
                throw KilnMessage("\(pod.file): pod \(pod.name) still running after \(Int(options.timeout)) s (no probe exited); "
                                  + "it was stopped — check the logs above, or pass a larger --timeout")
            }
            usleep(20_000)
        }
    }

    static func checkInterrupt(_ options: Options, pod: PodFile) throws {
        if let sig = options.interrupt?.value, sig != 0 {
            throw KilnMessage("pod \(pod.name): interrupted by signal \(sig); every container was stopped")
        }
    }

    static func exitStatus(_ p: Process) -> Int32 {
        p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    }

    /// The layout and tag for `c`: its `tag:`, or the layout's one tag ending in `-fips` (fips) or
    /// not (standard). Cosign's `sha256-….sig/.att` tags are not images.
    static func selectImage(_ c: PodFile.Container, pod: PodFile, variant: ImageVariant) throws -> (OCILayout, String) {
        let at = "\(c.location): container \(c.name)"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: c.image, isDirectory: &isDir), isDir.boolValue else {
            throw KilnMessage("\(at): image \(c.image) does not exist; build it first (kiln image CONFIG --out \(c.image)) or fix the path (relative to the pod file)")
        }
        guard FileManager.default.fileExists(atPath: c.image + "/oci-layout") else {
            throw KilnMessage("\(at): \(c.image) is not an OCI layout (no oci-layout file); image: must name a directory `kiln image --out` wrote")
        }
        let layout: OCILayout
        let tags: [String]
        do {
            layout = try OCILayout(path: c.image)
            tags = try layout.manifests().filter { OCIMediaType.isManifest($0.mediaType) }.compactMap(\.refName)
                .filter { !CosignTag.isArtifactTag($0) }
        } catch { throw KilnMessage("\(at): \(error)") }
        if let tag = c.tag {
            if tags.contains(tag) { return (layout, tag) }
            let byVersion = tag.contains(":") ? [] : tags.filter { $0.hasSuffix(":" + tag) }
            guard byVersion.count == 1 else {
                throw KilnMessage("\(at): \(c.image) has \(byVersion.isEmpty ? "no tag" : "several tags for") \(tag) (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")))")
            }
            return (layout, byVersion[0])
        }
        let v = c.variant ?? variant
        let matching = tags.filter { $0.hasSuffix("-fips") == (v == .fips) }
        guard matching.count == 1 else {
            let what = matching.isEmpty ? "no \(v.rawValue) tag" : "\(matching.count) \(v.rawValue) tags (\(matching.joined(separator: ", ")))"
            throw KilnMessage("\(at): \(c.image) has \(what) (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", "))); "
                              + (matching.isEmpty ? "build that variant (kiln image --variant all) or " : "") + "pin one with `tag:`")
        }
        return (layout, matching[0])
    }

    /// Unpacks the container's root, writes its `files:` and works out its bwrap arguments.
    static func prepare(_ c: PodFile.Container, layout: OCILayout, tag: String, pod: PodFile, work: String,
                        shared: [String], options: Options) throws -> Prepared {
        let at = "\(c.location): container \(c.name)"
        let dir = work + "/c-" + c.name
        let root = dir + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o755)
        var config: OCI.ImageConfig
        do { config = try ImageRunner.unpack(layout: layout, ref: tag, into: root, maxUnpackedBytes: options.maxUnpackedBytes) }
        catch { throw KilnMessage("\(at): cannot unpack \(c.image):\(tag): \(error)") }
        let argv = c.entrypoint.map { $0 + (c.args ?? []) }
            ?? (config.config.Entrypoint ?? []) + (c.args ?? config.config.Cmd ?? [])
        guard !argv.isEmpty else { throw KilnMessage("\(at): the image has no entrypoint or cmd; give `entrypoint:` or `args:`") }
        let user: (uid: Int, gid: Int)
        do { user = try ImageRunner.resolveUser(config.config.User, root: root) } catch { throw KilnMessage("\(at): \(error)") }
        config.config.Env = (config.config.Env ?? []) + c.env.map { "\($0.key)=\($0.value)" }
        // Like a Kubernetes pod: /etc/hosts names localhost and the container (unless files: gives one).
        var mounts = shared
        if !c.files.contains(where: { $0.path == "/etc/hosts" }) {
            let hosts = dir + "/hosts"
            try AtomicFile.write(Data("127.0.0.1\tlocalhost \(c.name)\n::1\tlocalhost ip6-localhost ip6-loopback\n".utf8), to: hosts)
            chmod(hosts, 0o644)
            mounts += ["--ro-bind", hosts, "/etc/hosts"]
        }
        for (i, f) in c.files.enumerated() {
            let host = dir + "/file-\(i)"
            try AtomicFile.write(Data(f.content.utf8), to: host)
            chmod(host, 0o644)
            mounts += ["--ro-bind", host, f.path]
        }
        let args = ImageRunner.bwrapArguments(root: root, config: config, argv: argv, uid: user.uid, gid: user.gid,
                                              shareNetwork: true, mounts: mounts, readOnlyRoot: true, hostname: c.name)
        return Prepared(spec: c, tag: tag, root: root, argv: argv, bwrap: args)
    }

    /// `ca.crt`, `tls.crt`, `tls.key` (a new CA and a server certificate for `hosts`, ECDSA P-256,
    /// made by KilnCrypto) in `dir`, readable by every image user.
    static func writeTLS(_ tls: PodFile.TLS, into dir: String, pod: PodFile) throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let caKey = try PrivateKey.generate(.ecdsaP256)
            let ca = try Certificates.makeCA(commonName: "kiln pod \(pod.name) CA", key: caKey, days: 2)
            let key = try PrivateKey.generate(.ecdsaP256)
            let cert = try Certificates.issueServer(names: tls.hosts, key: key, caCertificate: ca, caKey: caKey, days: 2)
            try AtomicFile.write(ca, to: dir + "/ca.crt")
            try AtomicFile.write(cert, to: dir + "/tls.crt")
            try key.save(to: dir + "/tls.key")
            for f in ["ca.crt", "tls.crt", "tls.key"] { chmod(dir + "/" + f, 0o644) }
            chmod(dir, 0o755)
        } catch { throw KilnMessage("\(pod.file): tls: cannot make the pod's certificates: \(error)") }
        return dir
    }

    /// The pid of the process inside the holder's new network namespace (bwrap's child).
    static func networkHolder(_ holder: Process, pod: PodFile) throws -> Int32 {
        let mine = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        for _ in 0..<250 {
            for c in PodProc.descendants(of: holder.processIdentifier) {
                if let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(c)/ns/net"), ns != mine { return c }
            }
            guard holder.isRunning else { break }
            usleep(20_000)
        }
        throw KilnMessage("\(pod.file): could not create the pod's network namespace (bwrap --unshare-net did not start; is kiln running as root with bubblewrap installed?)")
    }

    /// Waits until something listens on `ready.port` in the pod's network namespace.
    static func waitReady(_ ready: PodFile.Ready, container: String, process: Process, netPID: Int32, pod: PodFile, deadline: Date,
                          options: Options) throws {
        let until = min(Date() + Double(ready.timeout), deadline)
        while !PodProc.listeningPorts(pid: netPID).contains(ready.port) {
            try checkInterrupt(options, pod: pod)
            guard process.isRunning else {
                throw KilnMessage("\(ready.location): container \(container) exited with status \(exitStatus(process)) before listening on port \(ready.port); see its log lines above")
            }
            guard Date() < until else {
                throw KilnMessage("\(ready.location): container \(container) did not listen on loopback TCP port \(ready.port) within \(ready.timeout) s; "
                                  + "check its log lines above and the port it is configured for, or raise ready.timeout")
            }
            usleep(50_000)
        }
    }

    /// Stops processes and everything under them: SIGTERM to each process tree, SIGKILL to what is
    /// left after `grace` seconds, then waits for each (no process is left behind).
    static func stop(_ processes: [Process], grace: Double) {
        let live = processes.filter(\.isRunning)
        guard !live.isEmpty else { return }
        // SIGTERM to the programs (bwrap's monitor would SIGKILL its sandbox at once if signalled itself).
        for p in live { for d in PodProc.descendants(of: p.processIdentifier) { kill(d, SIGTERM) } }
        let until = Date() + grace
        while Date() < until && live.contains(where: \.isRunning) { usleep(20_000) }
        for p in live where p.isRunning {
            for d in PodProc.descendants(of: p.processIdentifier) { kill(d, SIGKILL) }
            kill(p.processIdentifier, SIGKILL)
        }
        for p in live { p.waitUntilExit() }
    }
}
