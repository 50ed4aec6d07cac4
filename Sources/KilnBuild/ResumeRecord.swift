import Foundation
import KilnCore
import KilnCrypto
import KilnRecipe

/// What a failed build leaves beside its kept workspace (`<out>/tmp/resume-<name>-<arch>-<variant>/
/// resume.json`) so that `kiln build --resume` can rerun from the failed step — and refuse when any
/// input differs from the one the kept workspace was made from.
public struct ResumeRecord: Codable, Sendable, Equatable {
    /// Format of this file.
    public var schema = "kiln.resume/v1"
    /// The recipe file as given.
    public var recipe: String
    /// sha256 of the recipe file's bytes.
    public var recipeDigest: String
    /// sha256 over every expanded step (name, script, directory, environment, preparation, package).
    public var stepsDigest: String
    /// Each source as `uri sha256` (archives) or `uri @commit` (git checkouts), in plan order.
    public var sources: [String]
    /// sha256 over the source directory's files (`--source-dir` or `<recipe dir>/<name>/`), "" when none.
    public var sourceDirectoryDigest: String
    /// Toolchain name and lock digest.
    public var toolchain: String
    public var toolchainLockDigest: String?
    public var arch: String
    public var variant: String
    public var sourceDateEpoch: Int64
    /// Build packages installed from kiln's own repository.
    public var installedFromRepository: [String]
    /// kiln that made the workspace.
    public var kilnVersion = KilnVersion.current
    /// Index (in the expanded plan) of the step that failed; the resume starts there.
    public var failedStep: Int
    /// Display name of that step.
    public var failedStepName: String

    /// The kept workspace's directory for one package, arch and variant.
    public static func directory(out: String, package: String, arch: String, variant: String) -> String {
        "\(out)/tmp/resume-\(package)-\(arch)-\(variant)"
    }

    /// The inputs that differ from `current` (each named with both values); empty when it may resume.
    public func differences(from current: ResumeRecord) -> [String] {
        var d: [String] = []
        func check<T: Equatable>(_ what: String, _ a: T, _ b: T) { if a != b { d.append("\(what): was \(a), now \(b)") } }
        check("recipe file", recipe, current.recipe)
        check("recipe (sha256)", recipeDigest, current.recipeDigest)
        check("expanded steps (sha256)", stepsDigest, current.stepsDigest)
        check("sources", sources, current.sources)
        check("source directory (sha256)", sourceDirectoryDigest, current.sourceDirectoryDigest)
        check("toolchain", toolchain, current.toolchain)
        check("toolchain lock digest", toolchainLockDigest ?? "none", current.toolchainLockDigest ?? "none")
        check("arch", arch, current.arch)
        check("variant", variant, current.variant)
        check("SOURCE_DATE_EPOCH", sourceDateEpoch, current.sourceDateEpoch)
        check("build packages from kiln's repository", installedFromRepository, current.installedFromRepository)
        check("kiln version", kilnVersion, current.kilnVersion)
        return d
    }

    /// Written to a temporary name and renamed into place.
    public func write(to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try enc.encode(self) + Data("\n".utf8), to: path)
    }

    /// Reads a record; nil when there is none, a clear error when the file is not one.
    public static func read(from path: String) throws -> ResumeRecord? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        do {
            let r = try JSONDecoder().decode(ResumeRecord.self, from: d)
            guard r.schema == "kiln.resume/v1" else { throw KilnMessage("schema \(r.schema)") }
            return r
        } catch {
            throw KilnMessage("\(path): not a kiln resume record (\(error)); remove its directory and build clean")
        }
    }

    /// sha256 of the expanded steps, each field length-prefixed so no two plans collide.
    public static func stepsDigest(_ steps: [ResolvedStep]) throws -> String {
        var s = ""
        func add(_ f: String) { s += "\(f.utf8.count):\(f)" }
        for st in steps {
            add(st.name); add(st.script ?? "\u{0}none"); add(st.workingDirectory); add(st.package)
            add(st.preparation.map { String(describing: $0) } ?? "")
            for k in st.environment.keys.sorted() { add(k); add(st.environment[k] ?? "") }
            s += ";"
        }
        return try Digest.sha256Hex(Data(s.utf8))
    }

    /// sha256 over a directory's regular files and links (relative path + content/target), sorted.
    public static func directoryDigest(_ dir: String?) throws -> String {
        guard let dir else { return "" }
        let fm = FileManager.default
        var lines: [String] = []
        if let e = fm.enumerator(atPath: dir) {
            while let f = e.nextObject() as? String {
                let p = "\(dir)/\(f)"
                var st = stat()
                guard lstat(p, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFREG: lines.append("\(f)\u{0}\(String(st.st_mode & 0o7777, radix: 8))\u{0}" + (try Digest.hashFile(.sha256, path: p).hexString))
                case S_IFLNK: lines.append("\(f)\u{0}->" + ((try? fm.destinationOfSymbolicLink(atPath: p)) ?? ""))
                default: lines.append("\(f)\u{0}dir")
                }
            }
        }
        return try Digest.sha256Hex(Data(lines.sorted().joined(separator: "\n").utf8))
    }
}

/// `kiln build --resume` refused: no kept workspace, or an input changed since it was kept.
public struct ResumeRefused: KilnError {
    /// The package whose build was to resume.
    public var package: String
    /// The kept workspace's directory.
    public var directory: String
    /// What differs (empty: there is no kept workspace).
    public var changes: [String]
    /// Names the changed inputs and says a clean build is needed.
    public var description: String {
        if changes.isEmpty {
            return "kiln build --resume: no kept workspace of a failed build of \(package) at \(directory); build without --resume"
        }
        return "kiln build --resume: cannot resume \(package) — inputs changed since the failed build:\n"
            + changes.map { "  - \($0)\n" }.joined()
            + "a clean build is needed: run kiln build without --resume (it replaces \(directory))"
    }
}
