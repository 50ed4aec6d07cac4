// KilnFuzz — every parser kiln runs on untrusted bytes, behind one entry point per format.
//
// Owns: `FuzzTarget` (recipe and image-config YAML, pipelines, tar/pax, gzip, APK, APKINDEX, .PKGINFO,
// ELF, OCI JSON, layout references, PEM keys, toolchain locks, Debian source lists, dependency
// atoms). `kiln-fuzz` runs them under libFuzzer (`make fuzz`) or replays files; KilnFuzzTests replays
// Tests/fuzz-corpus/ and a deterministic mutation run in `make test`. Not part of the `kiln` binary.
//
// May import: KilnAPK, KilnArchive, KilnBuild, KilnCore, KilnCrypto, KilnImage, KilnOCI, KilnRecipe.
