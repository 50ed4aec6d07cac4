// KilnRepro — reproducibility checks: load two artifacts, compare, explain.
//
// Owns: `ArtifactLoader` (APK, OCI layout, tar), the `Differ` (entries, attributes, text diffs,
// ELF sections through KilnArchive's `ELFFile`), build variations, repro outcomes and attestations.
//
// May import: KilnBuild (variations), KilnAttest (JSON, DSSE), KilnArchive, KilnCrypto, KilnCore.
