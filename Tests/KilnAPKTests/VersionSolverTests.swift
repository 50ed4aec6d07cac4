import KilnCore
@testable import KilnAPK
import XCTest

final class APKVersionTests: XCTestCase {
    func testOrdering() {
        let ordered = ["0.9", "1.0_alpha1", "1.0_alpha2", "1.0_beta", "1.0_pre1", "1.0_rc1", "1.0", "1.0-r1",
                       "1.0_p1", "1.0a", "1.0.1", "1.0.1-r0", "1.0.1-r10", "1.2", "1.10", "2"]
        for i in 0..<ordered.count {
            for j in 0..<ordered.count {
                let c = APKVersion.compare(ordered[i], ordered[j])
                XCTAssertEqual(c, i < j ? -1 : (i == j ? 0 : 1), "\(ordered[i]) vs \(ordered[j])")
            }
        }
        XCTAssertEqual(APKVersion.compare("1.2.3-r0", "1.2.3-r0"), 0)
        XCTAssertEqual(APKVersion.compare("3.0.22-r0", "3.0.9-r5"), 1)
        // Leading zero in a later component compares as a fraction.
        XCTAssertEqual(APKVersion.compare("1.01", "1.1"), -1)
        XCTAssertFalse(APKVersion.isValid("1.0-x"))
        XCTAssertFalse(APKVersion.isValid("abc"))
        XCTAssertTrue(APKVersion.isValid("2.12.1_git20230101-r3"))
    }

    func testFuzzy() {
        XCTAssertTrue(APKVersion.fuzzyMatches("1.2.9-r0", "1.2"))
        XCTAssertTrue(APKVersion.fuzzyMatches("1.2", "1.2"))
        XCTAssertFalse(APKVersion.fuzzyMatches("1.20", "1.2"))
        XCTAssertFalse(APKVersion.fuzzyMatches("1.3", "1.2"))
    }

    func testDependencyParse() {
        XCTAssertEqual(APKDependency.parse("foo=1.2-r0"), APKDependency(name: "foo", op: .eq, version: "1.2-r0"))
        XCTAssertEqual(APKDependency.parse("foo>=1.2"), APKDependency(name: "foo", op: .ge, version: "1.2"))
        XCTAssertEqual(APKDependency.parse("foo<2"), APKDependency(name: "foo", op: .lt, version: "2"))
        XCTAssertEqual(APKDependency.parse("foo~1.2"), APKDependency(name: "foo", op: .fuzzy, version: "1.2"))
        XCTAssertEqual(APKDependency.parse("so:libc.musl-x86_64.so.1"), APKDependency(name: "so:libc.musl-x86_64.so.1"))
        XCTAssertEqual(APKDependency.parse("!bar"), APKDependency(name: "bar", conflict: true))
        XCTAssertNil(APKDependency.parse("foo>=not a version"))
        XCTAssertNil(APKDependency.parse(""))
        XCTAssertTrue(APKDependency.parse("foo<2")!.accepts(version: "1.9-r3"))
        XCTAssertFalse(APKDependency.parse("foo<2")!.accepts(version: "2"))
        XCTAssertFalse(APKDependency.parse("foo>=1")!.accepts(version: nil))
    }
}

final class SolverTests: XCTestCase {
    let repo = [
        APKRepositoryPackage(name: "libc", version: "1.2-r0", provides: ["so:libc.so.1=1"]),
        APKRepositoryPackage(name: "libc", version: "1.3-r0", provides: ["so:libc.so.1=1"]),
        APKRepositoryPackage(name: "busybox", version: "1.36-r0", depends: ["so:libc.so.1"], provides: ["cmd:sh=1.36-r0", "/bin/sh"]),
        APKRepositoryPackage(name: "dash", version: "0.5-r0", depends: ["so:libc.so.1"], provides: ["cmd:sh=0.5-r0"], providerPriority: 200),
        APKRepositoryPackage(name: "app", version: "2.0-r0", depends: ["cmd:sh", "libssl>=3"]),
        APKRepositoryPackage(name: "libssl", version: "3.0.9-r0", depends: ["so:libc.so.1"]),
        APKRepositoryPackage(name: "libssl", version: "3.0.22-r0", depends: ["so:libc.so.1"]),
        APKRepositoryPackage(name: "libssl-fips", version: "3.0.22-r0", depends: ["so:libc.so.1"], provides: ["libssl=3.0.22-r0"], origin: "libssl"),
        APKRepositoryPackage(name: "old", version: "1.0-r0", depends: ["libc<1.3"]),
    ]

    func names(_ rs: [APKRepositoryPackage]) -> [String] { rs.map(\.nameVersion) }

    func testResolvesNewestWithProvidersAndPriority() throws {
        let s = Solver(records: repo)
        let r = try s.solve([APKDependency.parse("app")!])
        // dash has the higher provider_priority for cmd:sh; deps come before dependents.
        XCTAssertEqual(names(r), ["libc-1.3-r0", "dash-0.5-r0", "libssl-3.0.22-r0", "app-2.0-r0"])
    }

    func testVersionConstraints() throws {
        let s = Solver(records: repo)
        XCTAssertEqual(names(try s.solve([APKDependency.parse("libssl<3.0.22")!])), ["libc-1.3-r0", "libssl-3.0.9-r0"])
        XCTAssertEqual(names(try s.solve([APKDependency.parse("libssl=3.0.9-r0")!])).last, "libssl-3.0.9-r0")
        XCTAssertEqual(names(try s.solve([APKDependency.parse("libssl~3.0")!])).last, "libssl-3.0.22-r0")
        XCTAssertThrowsError(try s.solve([APKDependency.parse("libssl~3.0.2")!]))
    }

    func testBacktracksOnLaterConstraint() throws {
        // app pulls libc 1.3 first; old needs libc<1.3: the solver learns and picks 1.2.
        let s = Solver(records: repo)
        let r = try s.solve([APKDependency.parse("busybox")!, APKDependency.parse("old")!])
        XCTAssertTrue(names(r).contains("libc-1.2-r0"), "\(names(r))")
        XCTAssertFalse(names(r).contains("libc-1.3-r0"))
    }

    func testFIPSPrefersFipsBuilds() throws {
        let s = Solver(records: repo)
        let r = try s.solve([APKDependency.parse("app")!], preferFIPS: true)
        XCTAssertTrue(names(r).contains("libssl-fips-3.0.22-r0"), "\(names(r))")
        XCTAssertFalse(names(r).contains { $0.hasPrefix("libssl-3") })
    }

    func testUnsatisfiablePrintsChain() {
        let recs = repo + [APKRepositoryPackage(name: "broken", version: "1-r0", depends: ["app", "so:libmissing.so.9"])]
        let s = Solver(records: recs)
        XCTAssertThrowsError(try s.solve([APKDependency.parse("broken")!])) { e in
            let msg = "\(e)"
            XCTAssertTrue(msg.contains("world → broken-1-r0 → so:libmissing.so.9"), msg)
            XCTAssertTrue(msg.contains("no package named or providing"), msg)
        }
        XCTAssertThrowsError(try s.solve([APKDependency.parse("libssl>=4")!])) { e in
            XCTAssertTrue("\(e)".contains("available: 3.0.22-r0, 3.0.9-r0"), "\(e)")
        }
        XCTAssertThrowsError(try s.solve([APKDependency.parse("app")!, APKDependency.parse("!dash")!])) { e in
            XCTAssertTrue("\(e)".contains("!dash"), "\(e)")
        }
    }

    func testIndexParse() throws {
        let text = "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:foo\nV:1.0-r0\nA:x86_64\nS:100\nI:200\nT:a thing\no:foo\nt:1700000000\nk:10\nD:so:libc.so.1 bar>=2\np:cmd:foo=1.0-r0\n\nC:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:bar\nV:2-r0\n\n"
        let r = try APKIndex.parseText(text, file: "APKINDEX")
        XCTAssertEqual(r.count, 2)
        XCTAssertEqual(r[0].depends, ["so:libc.so.1", "bar>=2"])
        XCTAssertEqual(r[0].providerPriority, 10)
        XCTAssertEqual(r[0].buildTime, 1_700_000_000)
        XCTAssertThrowsError(try APKIndex.parseText("P:x\nbad line\n", file: "I")) { e in
            XCTAssertTrue("\(e)".contains("I: ") && "\(e)".contains("line 2"), "\(e)")
        }
    }

    /// Build roots (APKInstall) choose with the image solver's order and honour constraints; before,
    /// `c<2` installed c-2-r0 and ties between providers were broken arbitrarily.
    func testBuildRootsPickWhatImagesPick() {
        func rec(_ n: String, _ v: String, d: [String] = [], p: [String] = []) -> APKIndexRecord {
            var r = APKIndexRecord(); r.name = n; r.version = v; r.depends = d; r.provides = p; r.checksum = "Q1"; return r
        }
        let recs = [rec("app", "1-r0", d: ["c<2", "so:libx.so.1"]), rec("c", "1-r0"), rec("c", "2-r0"),
                    rec("zzz", "1-r0", p: ["so:libx.so.1=1"]), rec("aaa", "1-r0", p: ["so:libx.so.1=1"])]
        let (got, missing) = APKInstall.resolve(["app"], in: recs)
        XCTAssertEqual(got.map(\.nameVersion), ["c-1-r0", "aaa-1-r0", "app-1-r0"])
        XCTAssertEqual(missing, [])
        let image = try? Solver(records: recs.map { APKRepositoryPackage(record: $0) }).solve([APKDependency(name: "app")])
        XCTAssertEqual(Set(image?.map(\.nameVersion) ?? []), Set(got.map(\.nameVersion)))
    }
}
