// KilnImage — apko-dialect image configs into OCI image layouts.
//
// Owns: `ImageConfig` (parse, includes, variants), `ImageBuilder` (resolve → install → layer →
// OCI), `ImageTree`, `RootFS` (installed db, users, os-release), `Layering`, its Codable OCI
// manifest/config/index model over KilnOCI's `OCILayout`, and `kiln run`'s extraction (`Runner`). It does not read APK itself: repositories and packages
// are loaded and verified with KilnAPK (`Repository` only adds image-specific advice to errors), the
// dependency `Solver` is KilnAPK's, and FIPS facts come from KilnFIPS's `FIPSModuleIdentity`.
//
// May import: KilnAPK, KilnArchive, KilnCrypto, KilnFIPS, KilnOCI, KilnCore, Yams.
