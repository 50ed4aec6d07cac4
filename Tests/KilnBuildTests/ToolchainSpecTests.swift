import KilnBuild
import KilnCore
import XCTest

/// Libraries take the toolchain lock explicitly: `--toolchain debian` without one is a clear error,
/// never a read of `recipes/toolchain/bookworm.lock` relative to whatever the working directory is.
final class ToolchainSpecTests: XCTestCase {
    func testDebianNeedsAnExplicitLock() throws {
        XCTAssertThrowsError(try ToolchainSpec.resolve("debian", out: NSTemporaryDirectory(), lockPath: nil)) { e in
            XCTAssertTrue("\(e)".contains("--toolchain debian: no toolchain lock given"), "\(e)")
        }
        XCTAssertEqual(try ToolchainSpec.resolve("host", out: NSTemporaryDirectory(), lockPath: nil).name, Toolchain.host.name)
    }
}
