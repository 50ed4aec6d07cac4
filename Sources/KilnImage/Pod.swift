import Foundation
import KilnCore
import KilnOCI
import KilnRecipe
import Yams

/// A pod file (`recipes/pods/*.yaml`, format in README "Pods"): several images run side by side in
/// one network namespace that has only loopback. Parsed strictly: an unknown key, a bad value or an
/// unsafe path is a `ConfigError` naming file:line and the fix.
public struct PodFile: Sendable {
    /// `tls:` — a CA and a server certificate made at pod start by kiln's own OpenSSL.
    public struct TLS: Sendable {
        /// Names the server certificate carries (`localhost`, `127.0.0.1`, …).
        public var hosts: [String]
        /// Where `ca.crt`, `tls.crt` and `tls.key` appear (read-only) in every container.
        public var mount: String
    }
    /// A file the pod declares for one container (like a ConfigMap), read-only in that container.
    public struct File: Sendable {
        /// Absolute path in the container.
        public var path: String
        /// The file's bytes.
        public var content: String
    }
    /// `ready: {port}` — later containers wait until something listens on this loopback TCP port.
    public struct Ready: Sendable {
        /// The TCP port.
        public var port: Int
        /// Seconds to wait (default 30).
        public var timeout: Int
        /// Where `ready:` is written.
        public var location: SourceLocation
    }
    /// One container of the pod.
    public struct Container: Sendable {
        /// Its name: the log prefix `[name]`.
        public var name: String
        /// The OCI layout directory (resolved against the pod file's directory).
        public var image: String
        /// `variant:` pinned for this container, if any.
        public var variant: ImageVariant?
        /// `tag:` — an explicit tag instead of a variant: the whole tag (`nginx:1.22.1-r0`) or its
        /// version (`1.22.1-r0`, matching the layout's one tag `NAME:1.22.1-r0`).
        public var tag: String?
        /// `entrypoint:` — replaces the image's ENTRYPOINT.
        public var entrypoint: [String]?
        /// `args:` — replaces the image's CMD.
        public var args: [String]?
        /// `env:` — added to (and overriding) the image's environment, in file order.
        public var env: [(key: String, value: String)]
        /// `files:` — pod-declared files.
        public var files: [File]
        /// `ready:`, if any.
        public var ready: Ready?
        /// `probe: true` — the pod ends when this container exits.
        public var probe: Bool
        /// Where this container's entry starts.
        public var location: SourceLocation
    }

    /// The pod file's path.
    public var file: String
    /// `name:`.
    public var name: String
    /// `tls:`, if any.
    public var tls: TLS?
    /// `containers:`, in start order.
    public var containers: [Container]

    /// Paths a pod file may not place files at: the kernel's and the run time's own mounts.
    static let reservedRoots = ["/proc", "/dev", "/sys", "/tmp"]

    /// Reads and checks `path`.
    public static func load(path: String) throws -> PodFile {
        let read: Data?
        do { read = try YAMLLimits.readFile(path) } catch let e as RecipeError { throw ConfigError(e.location, e.message) }
        guard let data = read else { throw ConfigError(SourceLocation(file: path), "cannot read pod file (does the file exist?)") }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// Parses pod file text; `file` names it in errors and anchors relative `image:` paths.
    public static func parse(_ text: String, file: String) throws -> PodFile {
        do { try YAMLLimits.standard.check(text, file: file) } catch let e as RecipeError { throw ConfigError(e.location, e.message) }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch let e as YamlError {
            throw ConfigError(YAMLDiagnostics.location(of: e, file: file), "invalid YAML: \(YAMLDiagnostics.problem(e))")
        }
        guard let root = node else { throw ConfigError(SourceLocation(file: file), "empty pod file: expected name: and containers:") }
        let r = NodeReader(file: file)
        var pod = PodFile(file: file, name: "", tls: nil, containers: [])
        var containersNode: Node?
        for (key, kn, value) in try r.mapping(root, "the pod file") {
            switch key {
            case "name": pod.name = try r.string(value, "name")
                try checkName(pod.name, r.loc(value), what: "name")
            case "tls": pod.tls = try parseTLS(value, r)
            case "containers": containersNode = value
            default: throw unknownKey(key, kn, r, in: "the pod file", known: ["name", "tls", "containers"])
            }
        }
        guard !pod.name.isEmpty else { throw ConfigError(r.loc(root), "missing `name:` (the pod's name, e.g. name: nginx-tls)") }
        guard let cn = containersNode else { throw ConfigError(r.loc(root), "missing `containers:` (a list of {name, image, …})") }
        let dir = URL(fileURLWithPath: file).deletingLastPathComponent().path
        var seen: [String: SourceLocation] = [:]
        for c in try r.sequence(cn, "containers") {
            let container = try parseContainer(c, r, dir: dir, tls: pod.tls)
            if let first = seen[container.name] {
                throw ConfigError(container.location, "two containers are named `\(container.name)` (the first at line \(first.line)); give each a unique name")
            }
            seen[container.name] = container.location
            pod.containers.append(container)
        }
        guard !pod.containers.isEmpty else { throw ConfigError(r.loc(cn), "containers: is empty; a pod needs at least one container") }
        guard pod.containers.contains(where: \.probe) else {
            throw ConfigError(r.loc(cn), "no container has `probe: true`: mark the container whose exit ends the pod (its exit status is the pod's)")
        }
        return pod
    }

    static func unknownKey(_ key: String, _ n: Node, _ r: NodeReader, in what: String, known: [String]) -> ConfigError {
        ConfigError(r.loc(n), "unknown key `\(key)` in \(what) (known: \(known.joined(separator: ", "))); fix or remove it")
    }

    /// Pod and container names: a DNS label (lower-case letters, digits, `-`; at most 63).
    static func checkName(_ s: String, _ loc: SourceLocation, what: String) throws {
        let ok = s.count <= 63 && s.first.map { $0.isASCII && ($0.isLowercase || $0.isNumber) } == true
            && s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
        guard ok else { throw ConfigError(loc, "\(what) `\(s)` is not a valid name (lower-case letters, digits and -, starting with a letter or digit, at most 63)") }
    }

    /// An absolute, normalised path with no `.`/`..` components; `what` names the key in errors.
    static func absolutePath(_ s: String, _ loc: SourceLocation, what: String) throws -> String {
        guard s.hasPrefix("/") else { throw ConfigError(loc, "\(what) `\(s)` must be an absolute path (starting with /)") }
        let comps = s.split(separator: "/").map(String.init)
        guard !comps.contains(".."), !comps.contains("."), !s.contains("\0") else {
            throw ConfigError(loc, "\(what) `\(s)` contains `.` or `..`; write the path without them")
        }
        guard !comps.isEmpty else { throw ConfigError(loc, "\(what) cannot be / itself") }
        let p = "/" + comps.joined(separator: "/")
        for r in reservedRoots where p == r || p.hasPrefix(r + "/") {
            throw ConfigError(loc, "\(what) `\(s)` is under \(r), which the pod runtime mounts itself (\(r == "/tmp" ? "a private tmpfs" : "the kernel's view")); put it elsewhere, e.g. /etc or /run")
        }
        return p
    }

    static func parseTLS(_ n: Node, _ r: NodeReader) throws -> TLS {
        var tls = TLS(hosts: ["localhost", "127.0.0.1"], mount: "/run/pod/tls")
        for (key, kn, v) in try r.mapping(n, "tls") {
            switch key {
            case "hosts":
                tls.hosts = try r.strings(v, "tls.hosts").map(\.0)
                guard !tls.hosts.isEmpty else { throw ConfigError(r.loc(v), "tls.hosts is empty; list the names the server certificate carries, e.g. [localhost, 127.0.0.1]") }
                for h in tls.hosts where h.isEmpty || h.contains(where: { $0 == "," || $0 == "\n" || $0 == " " }) {
                    throw ConfigError(r.loc(v), "tls.hosts: `\(h)` is not a host name or address")
                }
            case "mount": tls.mount = try absolutePath(try r.string(v, "tls.mount"), r.loc(v), what: "tls.mount")
            default: throw unknownKey(key, kn, r, in: "tls", known: ["hosts", "mount"])
            }
        }
        return tls
    }

    static let containerKeys = ["name", "image", "variant", "tag", "entrypoint", "args", "env", "files", "ready", "probe"]

    static func parseContainer(_ n: Node, _ r: NodeReader, dir: String, tls: TLS?) throws -> Container {
        var c = Container(name: "", image: "", variant: nil, tag: nil, entrypoint: nil, args: nil, env: [], files: [],
                          ready: nil, probe: false, location: r.loc(n))
        var variantNode: Node?
        for (key, kn, v) in try r.mapping(n, "a container") {
            switch key {
            case "name": c.name = try r.string(v, "name"); try checkName(c.name, r.loc(v), what: "container name")
            case "image":
                let s = try r.string(v, "image")
                guard !s.isEmpty else { throw ConfigError(r.loc(v), "image: is empty; give an OCI layout directory, e.g. ../../out/images/curl") }
                c.image = s.hasPrefix("/") ? s : URL(fileURLWithPath: dir).appendingPathComponent(s).standardizedFileURL.path
            case "variant":
                let s = try r.string(v, "variant")
                guard let vv = ImageVariant(rawValue: s) else { throw ConfigError(r.loc(v), "variant: `\(s)` is not standard or fips") }
                c.variant = vv; variantNode = v
            case "tag":
                // `1.22.1-r0` (the version) or `nginx:1.22.1-r0` (the whole tag, as kiln image writes it).
                let t = try r.string(v, "tag")
                let parts = t.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                if parts.count == 2 { try ImageConfig.checkImageName(parts[0], at: r.loc(v)) }
                try ImageConfig.checkTag(parts.last!, at: r.loc(v))
                c.tag = t
            case "entrypoint": c.entrypoint = try r.sequence(v, "entrypoint").map { try r.string($0, "each item of entrypoint") }
            case "args": c.args = try r.sequence(v, "args").map { try r.string($0, "each item of args") }
            case "env":
                for (k, knode, ev) in try r.mapping(v, "env") {
                    guard !k.isEmpty, !k.contains("="), !k.contains("\0") else { throw ConfigError(r.loc(knode), "env: `\(k)` is not a variable name") }
                    c.env.append((k, try r.string(ev, "env.\(k)")))
                }
            case "files": c.files = try parseFiles(v, r, tls: tls)
            case "ready": c.ready = try parseReady(v, r)
            case "probe": c.probe = try r.bool(v, "probe")
            default: throw unknownKey(key, kn, r, in: "a container", known: containerKeys)
            }
        }
        guard !c.name.isEmpty else { throw ConfigError(c.location, "a container has no `name:` (it prefixes the container's log lines)") }
        guard !c.image.isEmpty else { throw ConfigError(c.location, "container `\(c.name)` has no `image:` (an OCI layout directory, relative to the pod file)") }
        if c.tag != nil, let vn = variantNode {
            throw ConfigError(r.loc(vn), "container `\(c.name)` has both variant: and tag:; keep one (tag: names the image exactly)")
        }
        return c
    }

    static func parseFiles(_ n: Node, _ r: NodeReader, tls: TLS?) throws -> [File] {
        var out: [File] = []
        var seen: [String: Int] = [:]
        for f in try r.sequence(n, "files") {
            var path: String?, content: String?
            for (key, kn, v) in try r.mapping(f, "a files entry") {
                switch key {
                case "path": path = try absolutePath(try r.string(v, "files.path"), r.loc(v), what: "files: path")
                    if let t = tls?.mount, path == t || path!.hasPrefix(t + "/") {
                        throw ConfigError(r.loc(v), "files: path `\(path!)` is under tls.mount \(t), where the pod's certificates are mounted; put it elsewhere")
                    }
                case "content": content = try r.string(v, "files.content")
                default: throw unknownKey(key, kn, r, in: "a files entry", known: ["path", "content"])
                }
            }
            guard let path else { throw ConfigError(r.loc(f), "a files entry has no `path:` (where the file appears in the container)") }
            guard let content else { throw ConfigError(r.loc(f), "files entry \(path) has no `content:`") }
            if let line = seen[path] { throw ConfigError(r.loc(f), "files: \(path) is declared twice (first at line \(line)); keep one") }
            seen[path] = r.loc(f).line
            out.append(File(path: path, content: content))
        }
        return out
    }

    static func parseReady(_ n: Node, _ r: NodeReader) throws -> Ready {
        var ready = Ready(port: 0, timeout: 30, location: r.loc(n))
        for (key, kn, v) in try r.mapping(n, "ready") {
            switch key {
            case "port": ready.port = try r.int(v, "ready.port")
                guard (1...65535).contains(ready.port) else { throw ConfigError(r.loc(v), "ready.port \(ready.port) is not a TCP port (1–65535)") }
            case "timeout": ready.timeout = try r.int(v, "ready.timeout")
                guard (1...3600).contains(ready.timeout) else { throw ConfigError(r.loc(v), "ready.timeout must be 1–3600 seconds") }
            default: throw unknownKey(key, kn, r, in: "ready", known: ["port", "timeout"])
            }
        }
        guard ready.port != 0 else { throw ConfigError(r.loc(n), "ready: needs `port:` (the loopback TCP port the container listens on)") }
        return ready
    }
}
