// KilnOCI — the OCI vocabulary shared by images, attestations and repro.
//
// Owns: the one `OCILayout` (create, blobs, index, tags under a lock, manifests of an index) and
// `OCIDescriptor`; `OCIMediaType` (media types and annotation keys); `OCIDigest` (validated sha256
// digests, blob paths); `LayoutReference` (the one `LAYOUT[:TAG]` parser); the ordered `JSON` value
// every signed or published document is written with; `CosignTag`. KilnImage adds its Codable
// manifest/config/index model on top (`OCI`, encoding `OCIDescriptor` with sorted keys: the bytes `kiln image` writes); KilnAttest
// signs and attaches; KilnRepro reads.
//
// May import: KilnCrypto, KilnCore.
