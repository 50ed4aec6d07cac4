import Foundation
import KilnCore
import KilnFuzz
import KilnTestSupport
import XCTest

/// Replays the fuzz corpus (`Tests/fuzz-corpus/<target>/`: inputs `make fuzz` found, kept as
/// regressions) and a deterministic mutation run over real seeds through every fuzz target. A target
/// must return for every input: a trap or crash takes the test process down, which fails the run.
final class FuzzCorpusTests: XCTestCase {
    var root: String { TestSupport.packageRoot }

    /// Real inputs for each target, from the repository (and bytes made here for the binary formats).
    func seeds(_ t: FuzzTarget) throws -> [Data] {
        func files(_ dir: String, _ ext: String) -> [Data] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(dir)")) ?? []).sorted()
                .filter { $0.hasSuffix(ext) }.compactMap { FileManager.default.contents(atPath: "\(root)/\(dir)/\($0)") }
        }
        switch t {
        case .recipe: return files("recipes", ".yaml")
        case .imageConfig: return files("recipes/images", ".yaml")
        case .pipeline: return files("Sources/KilnBuild/Pipelines", ".yaml") + files("Sources/KilnBuild/Pipelines/autoconf", ".yaml")
        case .toolchainLock: return files("recipes/toolchain", ".lock")
        case .sourceList: return files("recipes", ".txt")
        case .elf: return [try Data(contentsOf: URL(fileURLWithPath: "/bin/true"))]
        case .pem: return files("keys", ".pub") + [Data("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n".utf8)]
        case .json: return [Data(#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":1,"annotations":{"a":"b"}}]}"#.utf8)]
        case .layoutReference: return [Data("out/images/curl:curl:7.88.1-r0-fips".utf8)]
        case .pkginfo: return [Data("pkgname = a\npkgver = 1.0-r0\narch = x86_64\nsize = 1\ndepend = so:libc.so.6\n".utf8)]
        case .dependency: return ["so:libc.so.6", "curl>=7.88", "!conflict", "a~1.2", "name=1.0-r0"].map { Data($0.utf8) }
        case .tar, .tarStream, .gzip, .apk, .apkindex:
            let dir = try TestSupport.temporaryDirectory(self)
            try FileManager.default.createDirectory(atPath: dir + "/t/usr/bin", withIntermediateDirectories: true)
            try "x".write(toFile: dir + "/t/usr/bin/f", atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: dir + "/t/usr/bin/l", withDestinationPath: "f")
            try "pkgname = t\npkgver = 1-r0\n".write(toFile: dir + "/t/.PKGINFO", atomically: true, encoding: .utf8)
            try Subprocess("tar", ["--format=pax", "-cf", dir + "/a.tar", "-C", dir + "/t", "."]).check()
            try Subprocess("gzip", ["-kn", dir + "/a.tar"]).check()
            let tar = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.tar"))
            let gz = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.tar.gz"))
            return t == .tar || t == .tarStream ? [tar] : [gz, gz + gz]
        }
    }

    /// Deterministic mutations: truncations, byte flips, spliced repeats, large numbers in text.
    func mutations(of seed: Data, count: Int, rng: inout SplitMix) -> [Data] {
        guard !seed.isEmpty else { return [seed] }
        var out: [Data] = [seed, Data(), seed.prefix(1)]
        for _ in 0..<count {
            var d = seed
            switch rng.next() % 5 {
            case 0: d = d.prefix(Int(rng.next() % UInt64(d.count)))
            case 1: for _ in 0..<(1 + rng.next() % 8) { let i = Int(rng.next() % UInt64(d.count)); d[d.startIndex + i] ^= UInt8(truncatingIfNeeded: rng.next()) }
            case 2: let i = Int(rng.next() % UInt64(d.count)); d.insert(contentsOf: d.prefix(64), at: d.startIndex + i)
            case 3: let i = Int(rng.next() % UInt64(d.count)); d.insert(contentsOf: Data("99999999999999999999".utf8), at: d.startIndex + i)
            default: let i = Int(rng.next() % UInt64(d.count)); d.replaceSubrange(d.startIndex + i..<min(d.endIndex, d.startIndex + i + 4), with: [0xff, 0xff, 0xff, 0x7f])
            }
            out.append(d)
        }
        return out
    }

    func testEveryTargetSurvivesItsCorpusAndMutatedSeeds() throws {
        var rng = SplitMix(seed: 0x6b696c6e)
        var runs = 0
        for t in FuzzTarget.allCases {
            let dir = "\(root)/Tests/fuzz-corpus/\(t.rawValue)"
            let kept = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
                .compactMap { FileManager.default.contents(atPath: "\(dir)/\($0)") }
            let seeds = try self.seeds(t)
            XCTAssertFalse(seeds.isEmpty, "no seeds for \(t.rawValue)")
            for s in kept + seeds {
                for input in mutations(of: s, count: 40, rng: &rng) { t.run(input); runs += 1 }
            }
        }
        XCTAssertGreaterThan(runs, 500)
    }
}

/// A small deterministic generator (SplitMix64), so a failing mutation is the same on every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
