// KilnImage — apko-dialect image configs into OCI image layouts.
//
// Owns: `ImageConfig` (parse, includes, variants), `ImageBuilder` (resolve → install → layer →
// OCI), `ImageTree`, `RootFS` (installed db, users, os-release), `Layering`, its Codable OCI
// manifest/config/index model over KilnOCI's `OCILayout`, `ImageReuse` (a rerun with unchanged inputs
// leaves a verified layout alone), `kiln run`'s extraction (`Runner`), and pods —
// `PodFile` (the pod file format) and `PodRunner` (`kiln pod run`: containers sharing one loopback-only
// network namespace), here because a pod is `kiln run` several times over: same unpacking, same bwrap
// arguments, same YAML reader and `ConfigError`. It does not read APK itself: repositories and packages
// are loaded and verified with KilnAPK (`Repository` only adds image-specific advice to errors), the
// dependency `Solver` is KilnAPK's, and FIPS facts come from KilnFIPS's `FIPSModuleIdentity`.
//
// May import: KilnAPK, KilnArchive, KilnCrypto, KilnFIPS, KilnOCI, KilnCore, Yams.
