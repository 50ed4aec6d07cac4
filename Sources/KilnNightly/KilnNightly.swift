// KilnNightly — incremental catalog rebuilds.
//
// Owns: the catalog model (`CatalogNode`, input keys), loaders for recipes and image configs (an
// image key covers its config, every included file, its keyring and all variants' packages), the
// dependency `Graph` (Tarjan cycles), the pure planner, the `Scheduler` (critical path first:
// `CriticalPath`), the per-node `ResultStore`,
// text and HTML reports. Executors are injected (`NodeExecutor`), so the planner and scheduler stay
// testable with fakes; the real ones live here too: `RecipeNodeExecutor` (build → package → index,
// through KilnPipeline's `PackageStage`), `ImageNodeExecutor` (assemble → sign → boundary audit → verify) and the
// repro check (KilnRepro's `RecipeRepro`), wired by `NightlyLaunch` over one explicit `NightlyRequest`; `NightlyLaunch.publish` pushes the images
// a run built (`kiln nightly --push`). Distributed runs: `SlurmExecutor` over a `NightlyStore` —
// `SharedDirectoryStore` (NFS) or `RegistryStore` (OCI artifacts in a registry).
//
// May import: KilnBuild, KilnImage, KilnRecipe (to read recipes and configs into nodes), KilnPipeline,
// KilnAPK, KilnAttest, KilnAudit, KilnOCI (the executors), KilnRepro (the repro check),
// KilnRegistry (`--push` of the images built, the registry store), KilnCrypto, KilnCore.
