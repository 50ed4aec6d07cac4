// KilnAttest — signatures, SBOMs and provenance for OCI images.
//
// Owns: cosign-compatible signing and verification (`Signing`, `Verify`), image SPDX/CycloneDX
// SBOMs, SLSA provenance, DSSE attestations, `ImageContents` (installed db — parsed by KilnAPK —
// and per-package SBOMs from the layers), `ImageFIPSModule`. Layouts, descriptors and the ordered
// `JSON` come from KilnOCI.
// Package purls come from KilnAPK's `APKPurl` (one purl per package), FIPS labels from KilnFIPS.
//
// May import: KilnAPK, KilnArchive, KilnCrypto, KilnFIPS, KilnCore.
