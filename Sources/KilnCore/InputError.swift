import Foundation

/// An error in a YAML input kiln reads (recipe, pipeline file, image config, FIPS module registry,
/// audit policy): always names file:line:column and what was expected. KilnRecipe calls it
/// `RecipeError`, KilnImage `ConfigError` — one type, so the same mistake reads the same everywhere.
public struct InputError: KilnError, Equatable {
    /// What kind of mistake (tests and `kiln plan` group failures by it).
    public enum Kind: String, Sendable, Equatable {
        case syntax             // not YAML
        case missingKey         // a required key is absent
        case wrongType          // a value of the wrong kind (mapping/sequence/scalar/int/bool)
        case unknownKey         // a key melange does not know (strict mode)
        case unknownPipeline    // `uses:` names no pipeline
        case missingInput       // a required pipeline input is not given
        case unknownInput       // `with:` names an input the pipeline does not declare
        case unknownSubstitution // `${{...}}` names nothing known
        case invalidValue       // a value of the right type but not allowed (bad regex, empty name, ...)
        case io                 // cannot read the file
        case limit              // the document is too deep or expands to too many nodes (YAMLLimits)
    }
    /// What kind of mistake.
    public var kind: Kind
    /// Where it is.
    public var location: SourceLocation
    /// What is wrong and what to do.
    public var message: String

    /// An error of `kind` at `location`.
    public init(_ kind: Kind, _ location: SourceLocation, _ message: String) {
        self.kind = kind; self.location = location; self.message = message
    }

    /// A value that is not allowed (the image config's checks, which carry no finer kind).
    public init(_ location: SourceLocation, _ message: String) {
        self.init(.invalidValue, location, message)
    }

    /// `file:line:col: message`.
    public var description: String { "\(location): \(message)" }
}

/// A warning tied to a place in a YAML input (unknown keys in lenient mode, missing expected-commit...).
public struct InputWarning: Sendable, Equatable, CustomStringConvertible {
    /// Where it is.
    public var location: SourceLocation
    /// What is odd.
    public var message: String
    /// A warning at `location`.
    public init(_ location: SourceLocation, _ message: String) { self.location = location; self.message = message }
    /// `file:line:col: warning: message`.
    public var description: String { "\(location): warning: \(message)" }
}
