import Foundation
import KilnCore
import XCTest

/// Helpers shared by every test target.
public enum TestSupport {
    /// The package root (the folder holding Package.swift).
    public static var packageRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }

    /// A fresh temporary directory, removed when the test case finishes.
    public static func temporaryDirectory(_ testCase: XCTestCase, prefix: String = "kiln-test") throws -> String {
        let path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        testCase.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// The built `kiln` executable (next to the test bundle in the build products folder).
    public static var kilnExecutable: String {
        // Linux: bundleURL is the products folder itself; macOS: it is the .xctest bundle inside it.
        let bundle = Bundle(for: Marker.self).bundleURL
        let candidates = [bundle.appendingPathComponent("kiln").path,
                          bundle.deletingLastPathComponent().appendingPathComponent("kiln").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    /// Runs a program and returns (status, stdout, stderr).
    @discardableResult
    public static func run(_ exe: String, _ args: [String], environment: [String: String]? = nil,
                           cwd: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe.hasPrefix("/") ? exe : "/usr/bin/env")
        p.arguments = exe.hasPrefix("/") ? args : [exe] + args
        if let environment { p.environment = environment }
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let o = Pipe(), e = Pipe()
        p.standardOutput = o; p.standardError = e
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let errRead = LockedValue(Data())   // filled by the reader thread, read after g.wait()
        let g = DispatchGroup(); g.enter()
        DispatchQueue.global().async {
            let d = e.fileHandleForReading.readDataToEndOfFile()
            errRead.withLock { $0 = d }
            g.leave()
        }
        let outData = o.fileHandleForReading.readDataToEndOfFile()
        g.wait(); p.waitUntilExit()
        let errData = errRead.value
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// Runs the built kiln.
    @discardableResult
    public static func kiln(_ args: [String], environment: [String: String]? = nil, cwd: String? = nil) throws
        -> (status: Int32, out: String, err: String) {
        try run(kilnExecutable, args, environment: environment, cwd: cwd)
    }

    /// A loopback TCP port that was free a moment ago (bound to port 0 and released), for the
    /// servers tests start (registry, TLS server, Slurm daemons).
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw KilnMessage("cannot open a socket to pick a loopback port") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET); addr.sin_port = 0; addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw KilnMessage("cannot pick a free loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    private final class Marker {}
}

extension TestSupport {
    /// The OpenSSL configuration that makes the FIPS provider the only source of algorithms (the
    /// text of recipes/openssl-config-fips.yaml's openssl.cnf): includes the module's `fipsmodule.cnf`
    /// at `include`, activates fips + base, and sets `default_properties = fips=yes`. One copy for
    /// every test that builds a FIPS image or tree.
    public static func fipsEnforcingConfig(include: String) -> String {
        """
        config_diagnostics = 1
        openssl_conf = openssl_init
        .include \(include)
        [openssl_init]
        providers = provider_sect
        alg_section = algorithm_sect
        [provider_sect]
        fips = fips_sect
        base = base_sect
        [base_sect]
        activate = 1
        [algorithm_sect]
        default_properties = fips=yes

        """
    }
}
