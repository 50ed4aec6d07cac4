// KilnNightly — incremental catalog rebuilds.
//
// Owns: the catalog model (`CatalogNode`, input keys), loaders for recipes and image configs (an
// image key covers its config, every included file, its keyring and all variants' packages), the
// dependency `Graph` (Tarjan cycles), the pure planner, the `Scheduler`, the per-node `ResultStore`,
// text and HTML reports. Executors are injected (`NodeExecutor`); the CLI provides them today.
//
// May import: KilnBuild, KilnImage, KilnRecipe (to read recipes and configs into nodes), KilnCrypto, KilnCore.
