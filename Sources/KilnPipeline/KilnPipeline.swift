// KilnPipeline — the orchestration between stages that used to live in the CLI.
//
// Owns: the build → package mapping (`PackageSpec.init(_:result:distro:supplier:)`), FIPS stamping
// and package writing shared by `kiln build`, nightly recipe nodes and `kiln repro`
// (`PackageStage`, with an explicit `PackagingContext`), the repository-backed build-dependency
// installer (`APKBuildInstaller`), and the development signing key (`DevelopmentKey`).
//
// May import: KilnBuild, KilnAPK, KilnFIPS, KilnCrypto, KilnCore.
