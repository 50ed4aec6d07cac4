import Foundation
import XCTest

/// Debian's `docker-registry` on a loopback port this harness picks, with its storage in a temporary
/// directory; started by the test and always stopped by PID in the test's teardown.
public final class LocalRegistry {
    /// Debian's registry binary.
    public static let binary = "/usr/bin/docker-registry"
    /// Its port, storage directory and process.
    public let port: Int
    /// The storage root.
    public let storage: String
    let process: Process
    /// `127.0.0.1:<port>`.
    public var address: String { "127.0.0.1:\(port)" }

    /// Skips the test when the binary is absent (`make deps` installs it).
    public init(_ t: XCTestCase, dir: String, tls: (cert: String, key: String)? = nil, htpasswd: String? = nil, clientCA: String? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: LocalRegistry.binary) else {
            throw XCTSkip("\(LocalRegistry.binary) is not installed (apt-get install docker-registry, or `make deps`)")
        }
        port = try TestSupport.freeLoopbackPort()
        storage = dir + "/storage"
        var cfg = """
            version: 0.1
            log: {level: error, accesslog: {disabled: true}}
            storage: {filesystem: {rootdirectory: \(storage)}, delete: {enabled: true}}
            http:
              addr: 127.0.0.1:\(port)

            """
        if let tls { cfg += "  tls: {certificate: \(tls.cert), key: \(tls.key)" + (clientCA.map { ", clientcas: [\($0)]" } ?? "") + "}\n" }
        if let htpasswd { cfg += "auth: {htpasswd: {realm: kiln-test, path: \(htpasswd)}}\n" }
        try Data(cfg.utf8).write(to: URL(fileURLWithPath: dir + "/registry.yml"))
        process = Process()
        process.executableURL = URL(fileURLWithPath: LocalRegistry.binary)
        process.arguments = ["serve", dir + "/registry.yml"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let log = dir + "/registry.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        let pid = process.processIdentifier
        let proc = process
        t.addTeardownBlock { kill(pid, SIGTERM); proc.waitUntilExit() }
        // Wait until it accepts connections (at most 10 s).
        let deadline = Date().addingTimeInterval(10)
        while !canConnect(port: port) {
            guard process.isRunning, Date() < deadline else {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw XCTSkip("docker-registry did not start on port \(port): \(text.suffix(400))")
            }
            usleep(50_000)
        }
    }

    /// The storage file of blob `digest` (distribution's filesystem driver layout).
    public func blobDataPath(_ digest: String) -> String {
        let hex = String(digest.dropFirst(7))
        return "\(storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
public func canConnect(port: Int) -> Bool {
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(s) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET); a.sin_port = UInt16(port).bigEndian; a.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &a) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

