import ArgumentParser
import Foundation
import KilnCrypto
import KilnRegistry

/// Options of the commands that talk to a registry (`push`, `pull`, `verify REGISTRY/REPO@DIGEST`).
struct RegistryCLIOptions: ParsableArguments {
    @Option(name: .long, help: "PEM CA bundle to trust for the registry's TLS certificate (default: \(TLSClientOptions.systemBundle)).")
    var caFile: String?

    @Option(name: .long, help: "PEM client certificate for registries that require mutual TLS.")
    var clientCert: String?

    @Option(name: .long, help: "PEM private key of --client-cert (default: the --client-cert file).")
    var clientKey: String?

    @Flag(name: .long, help: "Allow plain HTTP, only to a loopback registry (127.0.0.0/8, ::1, localhost).")
    var insecureLoopback = false

    @Option(name: .long, help: "Seconds to wait for a connection or for each read/write.")
    var timeout: Double = 30

    /// The library options (credentials come from KILN_REGISTRY_USER/PASSWORD or the docker config).
    func registryOptions(quiet: Bool = false) -> RegistryOptions {
        var o = RegistryOptions()
        o.http.tls = TLSClientOptions(caFile: caFile, clientCertificate: clientCert, clientKey: clientKey)
        o.http.insecureLoopback = insecureLoopback
        o.http.timeout = timeout
        if !quiet { o.progress = { print($0); fflush(nil) } }   // fflush(nil): all streams, without the `stdout` global
        return o
    }
}
