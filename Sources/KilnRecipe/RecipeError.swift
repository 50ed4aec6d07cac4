import KilnCore

/// An error in a recipe or pipeline file: KilnCore's `InputError` (file:line:column, kind, message),
/// the same type every YAML input of kiln reports.
public typealias RecipeError = InputError

/// A warning tied to a place in a recipe (unknown keys in lenient mode, missing expected-commit...).
public typealias RecipeWarning = InputWarning
