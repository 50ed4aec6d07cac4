/// The manifest annotation keys of a fips image's module identity: KilnImage writes them (from the
/// provider package's `FIPSModuleIdentity`), KilnAttest reads them back for the SBOM and provenance.
/// The identity travels as typed fields — name and version apart — so no reader has to split a
/// "name version" string; `module` keeps that string for people reading the manifest.
public enum FIPSAnnotationKey {
    /// `validated` or `fips-capable`.
    public static let status = "dev.kiln.fips.status"
    /// "NAME VERSION" (or just the name), for people; readers use `moduleName` and `moduleVersion`.
    public static let module = "dev.kiln.fips.module"
    /// The module's name, e.g. `OpenSSL FIPS Provider`.
    public static let moduleName = "dev.kiln.fips.module.name"
    /// The module's version, e.g. `3.1.2` (absent when unknown).
    public static let moduleVersion = "dev.kiln.fips.module.version"
    /// The CMVP certificate number (validated modules only).
    public static let certificate = "dev.kiln.fips.certificate"
    /// The provider package, `NAME-VERSION`.
    public static let package = "dev.kiln.fips.package"
    /// The image config's allow-list (`FIPSAllowance`).
    public static let allow = FIPSAllowance.annotation
}
