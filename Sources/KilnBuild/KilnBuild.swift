// KilnBuild — turns a recipe into package trees: sources, sandbox, steps, tests.
//
// Owns: `Builder` (fetch, git mirrors, workspace, build-dependency installation, the step loop,
// tree normalisation, `PackageMetadata`), `Sandbox` (bubblewrap), `SourceCache`/`GitCache`,
// `CherryPicker`, toolchain roots, `TreeDependencyInstaller`, build variations for repro.
//
// May import: KilnRecipe (the plan it executes), KilnCrypto (source digests), KilnCore.
// Not KilnAPK: the CLI (to become a pipeline library) maps builds to packages.
