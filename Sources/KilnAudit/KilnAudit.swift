// KilnAudit — the FIPS boundary audit of an image (`kiln audit`).
//
// Owns: `BoundaryAuditor` (unpacks an image's layers from an OCI layout into memory — digests
// checked, nothing written, nothing executed — and runs the module, configuration, linkage and
// foreign-crypto checks), the typed result (`AuditReport`, `AuditCheck`, `AuditFinding`), the
// allow-list policy (`AuditPolicy`) and the boundary attestation (predicate
// `https://kiln.dev/attestations/fips-boundary/v1`, written through KilnAttest's DSSE signing).
// ELF facts come from KilnArchive's one ELF reader, the installed database from KilnAPK, the layer
// walk (`ImageContents`) and in-toto statements from KilnAttest, the module registry from KilnFIPS,
// HMAC from KilnCrypto; `--exec` probes run through KilnImage's sandbox runner (`ImageRunner`).
//
// May import: KilnAttest, KilnAPK, KilnArchive, KilnFIPS, KilnImage, KilnOCI, KilnCrypto, KilnCore, Yams.
import Foundation
