// KilnRegistry — pushing OCI layouts to registries and pulling them back, over kiln's own HTTP/1.1
// client whose TLS is libssl from kiln's library context (KilnCrypto's `TLSConnection`), so `--fips`
// covers registry traffic too. No URLSession, libcurl or BoringSSL.
//
// Owns: `Connection` (sockets with timeouts, plain only to loopback), `HTTPClient` (keep-alive,
// Content-Length and chunked bodies, streaming to/from files, redirects, retries, size bounds),
// `RegistryReference` (REGISTRY/REPO[:TAG|@DIGEST]), `RegistryCredentials` (env, docker config),
// `RegistryClient` (distribution-spec calls, Basic and Bearer auth), `RegistryPush`, `RegistryPull`,
// `RegistryArtifacts` (single blobs and OCI 1.1 artifact manifests without a layout: the nightly's registry store).
// Layouts, descriptors and digests are KilnOCI's.
//
// May import: KilnOCI, KilnCrypto, KilnCore.
