import Foundation
import KilnCrypto
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

    /// A step may leave links in the workspace; kiln (on the host, as root) must never follow them:
    /// not to copy a later fetch's source into `victim/`, not to stamp or package `victim/` as a tree.
    func testLinksLeftByAStepNeverLeadKilnOutOfTheWorkspace() throws {
        let p = try Playground(self)
        let src = try p.write("src.txt", "a source\n")
        let sha = try Digest.hashFile(.sha256, path: src).hexString
        try p.write("via-fetch.yaml", """
        package:
          name: x
          version: "1.0"
        pipeline:
          - runs: ln -s \(p.victim) /home/build/sub
          - uses: fetch
            working-directory: /home/build/sub
            with:
              uri: src.txt
              expected-sha256: \(sha)

        """)
        try p.refuses(["build", "via-fetch.yaml", "--out", "out", "--no-package"], mentions: ["via-fetch.yaml:6:", "/sub", "symlink"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(p.victim)/src.txt"))
        try p.write("via-tree.yaml", """
        package:
          name: x
          version: "1.0"
        pipeline:
          - runs: rm -rf "${{targets.destdir}}" && ln -s \(p.victim) "${{targets.destdir}}"

        """)
        try p.refuses(["build", "via-tree.yaml", "--out", "out", "--no-package"], mentions: ["via-tree.yaml", "melange-out/x", "not a directory"])
        var st = stat()
        XCTAssertEqual(lstat("\(p.work)/out/trees/x86_64/x", &st), -1, "the link became a package tree")
        // A link inside the tree is package content (kept as a link); kiln never stamps what it points to.
        try p.write("inside.yaml", """
        package:
          name: x
          version: "1.0"
        pipeline:
          - runs: mkdir -p "${{targets.destdir}}" && ln -s \(p.victim) "${{targets.destdir}}/etc"

        """)
        let before = p.snapshot()
        let r = try p.kiln(["build", "inside.yaml", "--out", "out2", "--no-package"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(p.snapshot(), before, "kiln changed what a link in the tree points to")
    }
}
