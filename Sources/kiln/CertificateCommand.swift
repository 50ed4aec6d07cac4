import ArgumentParser
import Foundation
import KilnCore
import KilnCrypto

struct CertificateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certificate",
        abstract: "Make a private CA and a TLS server certificate (ECDSA P-256) with kiln's own crypto, e.g. for a loopback registry.",
        discussion: "Writes DIR/ca.crt, DIR/ca.key, DIR/server.crt, DIR/server.key and a client certificate for mTLS, DIR/client.crt and DIR/client.key (keys mode 0600).")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Output directory.")
    var out: String

    @Option(name: .long, help: "A name for the server certificate (IP address or DNS name; repeatable).")
    var name: [String] = ["127.0.0.1", "localhost"]

    @Option(name: .long, help: "Validity in days.")
    var days = 30

    func run() throws {
        try Certificates.writeServerSet(directory: out, names: name, days: days)
        print("wrote \(out)/ca.crt, ca.key, server.crt, server.key, client.crt, client.key for \(name.joined(separator: ", "))")
    }
}
