// KilnAttest — signatures, SBOMs and provenance for OCI images.
//
// Owns: cosign-compatible signing and verification (`Signing`, `Verify`), the ordered `JSON` used
// for every signed payload, image SPDX/CycloneDX SBOMs, SLSA provenance, DSSE attestations, its
// reader of OCI layouts (`OCILayout`; still a twin of KilnImage's writer model, see issue 22),
// `ImageContents` (installed db and per-package SBOMs from the layers), `ImageFIPSModule`.
// Package purls come from KilnAPK's `APKPurl` (one purl per package), FIPS labels from KilnFIPS.
//
// May import: KilnAPK, KilnArchive, KilnCrypto, KilnFIPS, KilnCore.
