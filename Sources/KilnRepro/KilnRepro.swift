// KilnRepro — reproducibility checks: load two artifacts, compare, explain.
//
// Owns: `ArtifactLoader` (APK, OCI layout, tar), the `Differ` (entries, attributes, text diffs,
// ELF sections through KilnArchive's `ELFFile`) in two streaming passes (`ArchiveScan` digests every
// entry as it passes, `ContentReader` re-reads only what differs, capped per entry, so memory never
// grows with artifact size), build variations, repro outcomes and attestations,
// and the recipe rebuild engine (`RecipeRepro` over a `RecipeReproRequest`, packaging through
// KilnPipeline's `PackageStage`). The image rebuild (`kiln repro CONFIG`) is still in the CLI.
//
// May import: KilnBuild (variations, rebuilds), KilnPipeline (packaging), KilnAPK (signer), KilnAttest
// (DSSE), KilnOCI, KilnArchive, KilnCrypto, KilnCore.
