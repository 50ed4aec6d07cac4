import Foundation
import KilnTestSupport
import XCTest

/// The build sandbox must never show a signing key, wherever the recipe lives (real bubblewrap).
final class SandboxHostileTests: XCTestCase {
    static let marker = "KILN-HOSTILE-PRIVATE-KEY-\(UUID().uuidString)"

    /// A step that looks for the key everywhere it could be bound and fails the build if it sees it;
    /// it also checks that the declared source dir (`<recipe dir>/x/`) did reach the workspace.
    static func recipe(expectSourceFile: Bool) -> String {
        // Contents are searched where a host directory could be bound; names everywhere (/usr, /opt: big).
        let search = "/home /tmp /.kiln /var /etc /mnt /srv /root /run /media"
        return """
        package:
          name: x
          version: "1.0"
        pipeline:
          - runs: |
              for d in \(search); do
                [ -e "$d" ] || continue
                if grep -rqs '\(marker)' "$d"; then echo "LEAK: key readable under $d"; exit 1; fi
              done
              if cat /home/build/.kiln-source-dir/keys/* 2>/dev/null | grep -q KILN-HOSTILE; then echo LEAK-fallback; exit 1; fi
              found=$(find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -name 'kiln-dev.rsa' -print 2>/dev/null || true)
              if [ -n "$found" ]; then echo "LEAK: key file visible at $found"; exit 1; fi
              \(expectSourceFile ? "test -f /home/build/declared.txt || { echo source dir missing; exit 1; }" : "true")
              mkdir -p "${{targets.destdir}}/usr/share/x"
              echo ok > "${{targets.destdir}}/usr/share/x/ok"

        """
    }

    func testBuildStepCannotReadASigningKeyBesideTheRecipe() throws {
        let p = try Playground(self)
        let key = "-----BEGIN PRIVATE KEY-----\n\(Self.marker)\n-----END PRIVATE KEY-----\n"
        // The project layout: keys/ beside recipes/, a key in recipes/ itself and in recipes/keys/.
        try p.write("keys/kiln-dev.rsa", key)
        try p.write("recipes/kiln-dev.rsa", key)
        try p.write("recipes/keys/kiln-dev.rsa", key)
        try p.write("recipes/x.yaml", Self.recipe(expectSourceFile: true))
        try p.write("recipes/x/declared.txt", "declared source\n")
        // A recipe directly beside keys/ with no source dir (where the old fallback bound its directory).
        try p.write("y.yaml", Self.recipe(expectSourceFile: false))
        for (i, recipe) in ["recipes/x.yaml", "y.yaml"].enumerated() {
            let r = try p.kiln(["build", recipe, "--out", "out\(i)", "--no-package",
                                "--source-date-epoch", "0"])
            XCTAssertEqual(r.status, 0, "\(recipe): \(r.out)\(r.err)")
            XCTAssertFalse(r.err.contains("LEAK") || r.out.contains("LEAK"), "\(recipe): \(r.err)")
        }
    }
}
