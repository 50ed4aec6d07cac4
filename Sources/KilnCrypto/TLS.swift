import COpenSSL
import Foundation
import KilnCore

/// Failures of a TLS connection: one line naming the host and what to do.
public enum TLSError: KilnError, Equatable {
    /// The CA bundle or client certificate/key could not be loaded.
    case configuration(path: String, detail: String)
    /// The server's certificate did not verify (unknown CA, wrong host name, expired …).
    case certificate(host: String, detail: String)
    /// The handshake failed for another reason (no shared cipher suite or protocol …).
    case handshake(host: String, detail: String)
    /// Reading or writing failed after the handshake.
    case io(host: String, detail: String)
    /// No data within the timeout.
    case timeout(host: String, seconds: Double)

    public var description: String {
        switch self {
        case let .configuration(path, detail): return "\(path): \(detail)"
        case let .certificate(host, detail):
            return "TLS: the certificate of \(host) is not trusted: \(detail) (give the registry's CA with --ca-file; "
                + "the name you connect to must be in the certificate's subjectAltName)"
        case let .handshake(host, detail):
            return "TLS: handshake with \(host) failed: \(detail)"
                + (CryptoProvider.isFIPS ? " (FIPS mode: only FIPS-approved protocol versions, groups and cipher suites are offered)" : "")
        case let .io(host, detail): return "TLS: connection to \(host): \(detail)"
        case let .timeout(host, s): return "TLS: no answer from \(host) within \(s) s"
        }
    }
}

/// Client TLS settings: the CA bundle that anchors trust and an optional client certificate (mTLS).
public struct TLSClientOptions: Sendable, Equatable {
    /// Debian's system CA bundle.
    public static let systemBundle = "/etc/ssl/certs/ca-certificates.crt"
    /// PEM file of trusted CA certificates (default: the system bundle).
    public var caFile: String
    /// PEM client certificate chain, for registries that require mTLS.
    public var clientCertificate: String?
    /// PEM private key of `clientCertificate`.
    public var clientKey: String?

    /// Options with the system bundle and no client certificate unless given.
    public init(caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
        self.caFile = caFile ?? TLSClientOptions.systemBundle
        self.clientCertificate = clientCertificate; self.clientKey = clientKey
    }
}

/// A libssl `SSL_CTX` made from kiln's library context (`CryptoProvider`): in FIPS mode it is created
/// with properties "fips=yes", so the handshake and record layer use only the FIPS provider.
/// TLS 1.2 is the minimum; the peer is always verified.
public final class TLSContext: @unchecked Sendable {   // SSL_CTX is read-only after set-up
    let ctx: OpaquePointer

    /// Loads the CA bundle (and client certificate) of `options`.
    public init(options: TLSClientOptions) throws {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new_ex(CryptoProvider.context, CryptoProvider.isFIPS ? "fips=yes" : nil, TLS_client_method()) else {
            throw TLSError.configuration(path: "libssl", detail: "cannot create a TLS context: \(CryptoError.drainErrors())")
        }
        self.ctx = ctx
        _ = kiln_ssl_ctx_set_min_proto(ctx, kiln_tls1_2_version())
        _ = SSL_CTX_set_options(ctx, kiln_ssl_op_ignore_unexpected_eof())
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        guard FileManager.default.isReadableFile(atPath: options.caFile) else {
            throw TLSError.configuration(path: options.caFile, detail: "cannot read the CA bundle (give a PEM file with --ca-file)")
        }
        guard SSL_CTX_load_verify_locations(ctx, options.caFile, nil) == 1 else {
            throw TLSError.configuration(path: options.caFile, detail: "not a PEM CA bundle: \(CryptoError.drainErrors())")
        }
        if let cert = options.clientCertificate {
            guard SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 else {
                throw TLSError.configuration(path: cert, detail: "cannot load the client certificate: \(CryptoError.drainErrors())")
            }
            let key = options.clientKey ?? cert
            guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
                throw TLSError.configuration(path: key, detail: "cannot load the client key or it does not match the certificate: \(CryptoError.drainErrors())")
            }
        }
    }

    deinit { SSL_CTX_free(ctx) }
}

/// One client TLS session over a connected socket `fd` (which the caller owns and closes).
/// SNI is sent for host names (not for IP addresses); `SSL_set1_host` makes the certificate name check part of verification.
public final class TLSConnection {
    let ssl: OpaquePointer
    /// The host the certificate was checked against.
    public let host: String
    /// The socket timeout in seconds (for messages).
    public let timeout: Double

    /// Performs the handshake; the socket's receive/send timeouts (`timeout` seconds) bound each step.
    public init(fd: Int32, host: String, context: TLSContext, timeout: Double) throws {
        self.timeout = timeout
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else { throw TLSError.handshake(host: host, detail: CryptoError.drainErrors()) }
        self.ssl = ssl
        self.host = host
        _ = SSL_set_fd(ssl, fd)
        let isIP = host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
        if !isIP { _ = kiln_ssl_set_sni(ssl, host) }
        guard SSL_set1_host(ssl, host) == 1 else { throw TLSError.handshake(host: host, detail: "cannot set the host name to verify") }
        let r = SSL_connect(ssl)
        if r != 1 {
            let err = SSL_get_error(ssl, r)
            let sysErrno = errno
            let verify = SSL_get_verify_result(ssl)
            let queue = CryptoError.drainErrors()
            if verify != Int(X509_V_OK) {
                throw TLSError.certificate(host: host, detail: String(cString: X509_verify_cert_error_string(verify)))
            }
            if err == SSL_ERROR_SYSCALL, sysErrno == EAGAIN || sysErrno == EWOULDBLOCK {
                throw TLSError.timeout(host: host, seconds: timeout)
            }
            throw TLSError.handshake(host: host, detail: err == SSL_ERROR_SYSCALL && queue == "no detail from OpenSSL"
                ? "the connection was closed during the handshake (\(String(cString: strerror(sysErrno))))" : queue)
        }
    }

    deinit { SSL_free(ssl) }

    /// The negotiated protocol, e.g. "TLSv1.3".
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
    /// The negotiated cipher suite, e.g. "TLS_AES_128_GCM_SHA256".
    public var cipher: String { SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "?" }

    /// Reads up to `count` bytes; 0 at the end of the stream. A socket timeout throws `.timeout`.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var got = 0
        let r = SSL_read_ex(ssl, buffer, count, &got)
        if r == 1 { return got }
        let err = SSL_get_error(ssl, 0)
        let sysErrno = errno
        if err == SSL_ERROR_ZERO_RETURN { return 0 }
        if err == SSL_ERROR_SYSCALL {
            if sysErrno == EAGAIN || sysErrno == EWOULDBLOCK { throw TLSError.timeout(host: host, seconds: timeout) }
            if sysErrno == 0 { return 0 }
            throw TLSError.io(host: host, detail: String(cString: strerror(sysErrno)))
        }
        throw TLSError.io(host: host, detail: CryptoError.drainErrors())
    }

    /// Writes all `count` bytes.
    public func write(_ buffer: UnsafeRawPointer, count: Int) throws {
        var off = 0
        while off < count {
            var n = 0
            if SSL_write_ex(ssl, buffer + off, count - off, &n) != 1 {
                let err = SSL_get_error(ssl, 0)
                let sysErrno = errno
                if err == SSL_ERROR_SYSCALL, sysErrno == EAGAIN || sysErrno == EWOULDBLOCK { throw TLSError.timeout(host: host, seconds: timeout) }
                throw TLSError.io(host: host, detail: err == SSL_ERROR_SYSCALL ? String(cString: strerror(sysErrno)) : CryptoError.drainErrors())
            }
            off += n
        }
    }

    /// Sends close_notify (best effort).
    public func shutdown() { _ = SSL_shutdown(ssl) }
}
