// KilnRecipe — melange-dialect recipes: parsing and planning, no side effects.
//
// Owns: `Recipe` and `RecipeParser` (positions on every value, strict/lenient, read by KilnCore's `YAMLReader`),
// `${{...}}` substitution, pipeline definitions and `PipelinePlan` expansion, cherry-pick specs, the
// FIPS variant renaming.
//
// May import: KilnCore, Yams.
