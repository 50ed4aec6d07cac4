import COpenSSL
import Foundation

/// kiln's one OpenSSL library context. Outside FIPS mode it is OpenSSL's default context (nil);
/// `enableFIPS` replaces it with a private context holding only the "fips" and "base" providers
/// and default properties "fips=yes". Every EVP fetch in kiln goes through `CryptoProvider.context`.
public enum CryptoProvider {
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var context: OpaquePointer?
        var fips = false
        var providers: [OpaquePointer] = []
    }
    private static let state = State()

    /// The library context for every fetch (nil = OpenSSL's default context).
    static var context: OpaquePointer? {
        state.lock.lock(); defer { state.lock.unlock() }
        return state.context
    }

    /// True once `enableFIPS` succeeded.
    public static var isFIPS: Bool {
        state.lock.lock(); defer { state.lock.unlock() }
        return state.fips
    }

    /// Loads the OpenSSL FIPS provider into a new library context and makes it kiln's context.
    /// `config` (else $OPENSSL_CONF) names an OpenSSL config that includes the fipsmodule.cnf
    /// written by `openssl fipsinstall`; modules come from $OPENSSL_MODULES (or OpenSSL's MODULESDIR).
    /// Throws `.fipsUnavailable` when anything is missing — it never falls back to the default provider.
    public static func enableFIPS(config: String?) throws {
        if isFIPS { return }
        guard let ctx = OSSL_LIB_CTX_new() else { throw CryptoError.fipsUnavailable(detail: "cannot create an OpenSSL library context") }
        ERR_clear_error()
        var loaded: [OpaquePointer] = []
        func fail(_ detail: String) -> CryptoError {
            for p in loaded { OSSL_PROVIDER_unload(p) }
            OSSL_LIB_CTX_free(ctx)
            return .fipsUnavailable(detail: detail)
        }
        let env = ProcessInfo.processInfo.environment
        let cfg = (config?.isEmpty == false ? config : nil) ?? (env["OPENSSL_CONF"]?.isEmpty == false ? env["OPENSSL_CONF"] : nil)
        let modules = env["OPENSSL_MODULES"] ?? modulesDirectory
        let module = modules + "/fips.so"
        let notInstalled = "the OpenSSL FIPS provider is not installed: \(module) does not exist (set OPENSSL_MODULES to the "
            + "directory holding fips.so, and --fips-config or OPENSSL_CONF to a config that includes its fipsmodule.cnf)"
        let haveModule = FileManager.default.fileExists(atPath: module)
        if let cfg {
            guard FileManager.default.isReadableFile(atPath: cfg) else {
                throw fail("OpenSSL config \(cfg) is not readable; pass --fips-config or OPENSSL_CONF naming a config that includes fipsmodule.cnf")
            }
            guard OSSL_LIB_CTX_load_config(ctx, cfg) == 1 else {
                let detail = CryptoError.drainErrors()
                throw fail(haveModule ? "cannot load OpenSSL config \(cfg): \(detail)" : notInstalled)
            }
        }
        let where_ = "modules directory \(modules)" + (cfg.map { ", config \($0)" } ?? ", no config (set --fips-config or OPENSSL_CONF)")
        guard let fips = OSSL_PROVIDER_load(ctx, "fips") else {
            let detail = CryptoError.drainErrors()
            throw fail(haveModule ? "the OpenSSL FIPS provider could not be loaded or failed its self-test (\(where_)): \(detail)" : notInstalled)
        }
        loaded.append(fips)
        guard let base = OSSL_PROVIDER_load(ctx, "base") else {
            throw fail("the OpenSSL base provider could not be loaded: \(CryptoError.drainErrors())")
        }
        loaded.append(base)
        guard EVP_set_default_properties(ctx, "fips=yes") == 1 else {
            throw fail("cannot set default properties fips=yes: \(CryptoError.drainErrors())")
        }
        guard OSSL_PROVIDER_available(ctx, "fips") == 1, OSSL_PROVIDER_self_test(fips) == 1 else {
            throw fail("the OpenSSL FIPS provider is not available or failed its self-test (\(where_)): \(CryptoError.drainErrors())")
        }
        // Prove that an approved algorithm really comes from the FIPS provider.
        guard let md = EVP_MD_fetch(ctx, "SHA256", nil) else {
            throw fail("SHA-256 cannot be fetched from the FIPS provider (\(where_)): \(CryptoError.drainErrors())")
        }
        let from = EVP_MD_get0_provider(md).flatMap { OSSL_PROVIDER_get0_name($0) }.map { String(cString: $0) }
        EVP_MD_free(md)
        guard from == "fips" else {
            throw fail("SHA-256 came from provider \(from ?? "?") instead of fips")
        }
        state.lock.lock(); defer { state.lock.unlock() }
        state.context = ctx
        state.fips = true
        state.providers = loaded
    }

    /// Back to OpenSSL's default context (tests only: FIPS mode is otherwise for the whole process).
    static func resetForTesting() {
        state.lock.lock(); defer { state.lock.unlock() }
        guard let ctx = state.context else { return }
        for p in state.providers { OSSL_PROVIDER_unload(p) }
        OSSL_LIB_CTX_free(ctx)
        state.context = nil
        state.fips = false
        state.providers = []
    }

    /// Providers active in kiln's context, e.g. ["OpenSSL FIPS Provider 3.0.22 (fips)", "OpenSSL Base Provider 3.0.22 (base)"].
    public static var loadedProviders: [String] {
        final class Box { var names: [String] = [] }
        let box = Box()
        let cb: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { prov, arg in
            guard let prov, let arg else { return 1 }
            let box = Unmanaged<Box>.fromOpaque(arg).takeUnretainedValue()
            box.names.append(CryptoProvider.describe(prov))
            return 1
        }
        let ctx = context
        if ctx == nil, let md = EVP_MD_fetch(nil, "SHA256", nil) { EVP_MD_free(md) }   // activate fallbacks
        _ = OSSL_PROVIDER_do_all(ctx, cb, Unmanaged.passUnretained(box).toOpaque())
        return box.names.sorted()
    }

    static func describe(_ prov: OpaquePointer) -> String {
        let short = String(cString: OSSL_PROVIDER_get0_name(prov))
        let out = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 2)
        out.initialize(repeating: nil, count: 2)
        defer { out.deallocate() }
        var params = [OSSL_PARAM_construct_utf8_ptr(cString("name"), out, 0),
                      OSSL_PARAM_construct_utf8_ptr(cString("version"), out + 1, 0),
                      OSSL_PARAM_construct_end()]
        guard OSSL_PROVIDER_get_params(prov, &params) == 1, let name = out[0] else { ERR_clear_error(); return short }
        return String(cString: name) + (out[1].map { " " + String(cString: $0) } ?? "") + " (\(short))"
    }

    /// The FIPS provider kiln's context loaded, as the module itself reports it through
    /// `OSSL_PROVIDER_get_params` (name, version, buildinfo); nil outside FIPS mode.
    public static var fipsModule: ProviderIdentity? {
        state.lock.lock(); defer { state.lock.unlock() }
        guard state.fips, let prov = state.providers.first else { return nil }
        let out = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 3)
        out.initialize(repeating: nil, count: 3)
        defer { out.deallocate() }
        var params = [OSSL_PARAM_construct_utf8_ptr(cString("name"), out, 0),
                      OSSL_PARAM_construct_utf8_ptr(cString("version"), out + 1, 0),
                      OSSL_PARAM_construct_utf8_ptr(cString("buildinfo"), out + 2, 0),
                      OSSL_PARAM_construct_end()]
        guard OSSL_PROVIDER_get_params(prov, &params) == 1 else { ERR_clear_error(); return nil }
        func s(_ i: Int) -> String { out[i].map { String(cString: $0) } ?? "" }
        return ProviderIdentity(name: s(0), version: s(1), buildInfo: s(2))
    }

    /// "OpenSSL 3.0.19 27 Jan 2026" — the libcrypto kiln runs with.
    public static var openSSLVersion: String { String(cString: OpenSSL_version(Int32(OPENSSL_VERSION))) }

    /// OpenSSL's compiled-in modules directory (where it looks for fips.so without $OPENSSL_MODULES).
    public static var modulesDirectory: String {
        let s = String(cString: OpenSSL_version(Int32(OPENSSL_MODULES_DIR)))
        return s.replacingOccurrences(of: "MODULESDIR: ", with: "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}

/// An OpenSSL provider as it describes itself (`OSSL_PROVIDER_get_params`).
public struct ProviderIdentity: Sendable, Equatable, CustomStringConvertible {
    /// e.g. "OpenSSL FIPS Provider".
    public var name: String
    /// e.g. "3.0.22".
    public var version: String
    /// The provider's build information, e.g. "3.0.22".
    public var buildInfo: String
    /// "OpenSSL FIPS Provider 3.0.22 (build 3.0.22)".
    public var description: String { "\(name) \(version)" + (buildInfo.isEmpty ? "" : " (build \(buildInfo))") }
}
