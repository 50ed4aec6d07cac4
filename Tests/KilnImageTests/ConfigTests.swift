import KilnCore
import KilnTestSupport
@testable import KilnImage
import XCTest

final class ImageConfigTests: XCTestCase {
    func write(_ dir: String, _ name: String, _ text: String) throws -> String {
        let p = dir + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func testParsesApkoFields() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let p = try write(dir, "hello.yaml", """
        contents:
          repositories: [./repo]
          keyring: [keys/dev.rsa.pub]
          packages:
            - hello=1.0-r0
            - busybox>=1.36
        entrypoint:
          command: /usr/bin/hello --greeting "hi there"
        cmd: --loud
        work-dir: /home/app
        stop-signal: SIGTERM
        accounts:
          groups: [{groupname: app, gid: 65532}]
          users: [{username: app, uid: 65532, gid: 65532, homedir: /home/app}]
          run-as: app
        environment: {LANG: C.UTF-8}
        annotations: {org.opencontainers.image.revision: abc123}
        paths:
          - {path: /data, type: directory, uid: 65532, gid: 65532, permissions: 0o750}
        archs: [x86_64]
        layering: {strategy: origin, budget: 4}
        variants:
          fips:
            packages: [fips-extra]
        frobnicate: true
        """)
        let c = try ImageConfig.load(path: p)
        XCTAssertEqual(c.packages.map(\.dependency.description), ["hello=1.0-r0", "busybox>=1.36"])
        XCTAssertEqual(c.packages[1].location.line, 6)
        XCTAssertEqual(c.repositories.first?.path, dir + "/./repo")
        XCTAssertEqual(c.keyring, [dir + "/keys/dev.rsa.pub"])
        XCTAssertEqual(try ShellWords.split(c.entrypoint!.command!, location: .init(file: "x")), ["/usr/bin/hello", "--greeting", "hi there"])
        XCTAssertEqual(c.users.first?.uid, 65532)
        XCTAssertEqual(c.runAs, "app")
        XCTAssertEqual(c.paths.first?.permissions, 0o750)
        XCTAssertEqual(c.layering?.budget, 4)
        XCTAssertEqual(c.variantPackages["fips"]?.map(\.dependency.name), ["fips-extra"])
        XCTAssertEqual(c.imageName, "hello")
        XCTAssertEqual(c.warnings.count, 1)
        XCTAssertTrue(c.warnings[0].contains("hello.yaml:25:1: unknown key `frobnicate` in image config (known: accounts,"), c.warnings[0])
    }

    func testErrorsNameFileLineColumn() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let p = try write(dir, "bad.yaml", "contents:\n  packages:\n    - ok\n    - 'bad>=what ever'\n")
        XCTAssertThrowsError(try ImageConfig.load(path: p)) { e in
            XCTAssertTrue("\(e)".hasPrefix(p + ":4:7: malformed package"), "\(e)")
        }
        let a = try write(dir, "arch.yaml", "contents: {packages: [a]}\narchs:\n  - aarch64\n")
        XCTAssertThrowsError(try ImageConfig.load(path: a)) { e in
            XCTAssertTrue("\(e)".contains("arch.yaml:3:5: architecture 'aarch64' cannot be built here"), "\(e)")
        }
        let y = try write(dir, "yaml.yaml", "contents:\n  packages: [a\n")
        XCTAssertThrowsError(try ImageConfig.load(path: y)) { e in
            XCTAssertTrue("\(e)".contains("yaml.yaml:3:"), "\(e)")
        }
        let t = try write(dir, "type.yaml", "accounts:\n  users:\n    - {username: x, uid: abc}\n")
        XCTAssertThrowsError(try ImageConfig.load(path: t)) { e in
            XCTAssertTrue("\(e)".contains("type.yaml:3:26: accounts.users[0].uid: expected an integer, found `abc`"), "\(e)")
        }
    }

    func testIncludeMerges() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/base", withIntermediateDirectories: true)
        _ = try write(dir, "base/base.yaml", """
        contents:
          repositories: [../repo]
          keyring: [k.pub]
          packages: [busybox]
        environment: {A: base, B: base}
        cmd: /bin/sh
        """)
        let p = try write(dir, "app.yaml", """
        include: base/base.yaml
        contents:
          packages: [app]
        environment: {B: app}
        """)
        let c = try ImageConfig.load(path: p)
        XCTAssertEqual(c.packages.map(\.dependency.name), ["busybox", "app"])
        XCTAssertEqual(c.environment, ["A": "base", "B": "app"])
        XCTAssertEqual(c.cmd, "/bin/sh")
        XCTAssertEqual(c.repositories.first?.path, dir + "/base/../repo")
        XCTAssertEqual(c.keyring, [dir + "/base/k.pub"])
        let cyc = try write(dir, "cycle.yaml", "include: cycle.yaml\n")
        XCTAssertThrowsError(try ImageConfig.load(path: cyc)) { e in XCTAssertTrue("\(e)".contains("include cycle"), "\(e)") }
    }
}
