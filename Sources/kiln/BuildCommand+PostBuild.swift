import Foundation
import KilnBuild

extension BuildCommand {
    /// Runs after each recipe's trees have landed (e.g. packaging the trees as .apk files).
    /// Add post-build steps here; options they need go on `BuildCommand` as an `@OptionGroup`.
    func afterBuild(_ result: BuildResult) throws {
        try stampFIPSModules(result)   // first: the identity file must be in the tree before packaging
    }
}
