// KilnOCI — the OCI vocabulary shared by images, attestations and repro.
//
// Owns: `OCIMediaType` (media types and annotation keys), `OCIDigest` (validated sha256 digests,
// blob paths), `LayoutReference` (the one `LAYOUT[:TAG]` parser). The layout readers/writers are
// still two (KilnImage's Codable writer, KilnAttest's ordered-JSON reader/tagger); they are to move
// here next (issue 22).
//
// May import: KilnCrypto, KilnCore.
