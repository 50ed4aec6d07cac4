import ArgumentParser
import Foundation
import KilnCore
import KilnRepro

/// `kiln repro`: prove a package or image rebuilds bit-for-bit, or explain the difference.
/// Exit status: 0 reproducible, 1 not reproducible, 2 could not run.
struct ReproCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repro",
        abstract: "Compare two builds of a package or image entry by entry (exit 0 reproducible, 1 not, 2 could not run).",
        discussion: """
        kiln repro --compare A B compares two .apk files, tar/tar.gz layers or OCI image layouts:
        first by digest, then entry by entry (only-on-one-side, mode, owner, mtime, size, link
        target, content digest), with a unified diff of the first lines of differing text files, the
        ELF sections that differ, and the first byte offset where the files diverge.
        """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, parsing: .upToNextOption, help: "Compare these two artifacts (A B).")
    var compare: [String] = []

    @Flag(name: .long, help: "Print the comparison as JSON.")
    var json = false

    func run() throws {
        do {
            guard compare.count == 2 else {
                throw ReproError.invalid("give two artifacts to compare: kiln repro --compare A.apk B.apk")
            }
            let report = try Differ.compare(try ArtifactLoader.load(compare[0]), try ArtifactLoader.load(compare[1]))
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                var data = try enc.encode(ReproJSON(report: report))
                data.append(0x0a)
                FileHandle.standardOutput.write(data)
            } else {
                FileHandle.standardOutput.write(Data(report.render().utf8))
            }
            if !report.reproducible { throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
        } catch {
            throw ExitStatus(code: 2, message: "\(error)")
        }
    }
}

/// The JSON shape of `kiln repro --json`: the comparison plus the verdict line.
struct ReproJSON: Encodable {
    var report: ComparisonReport
    func encode(to encoder: Encoder) throws {
        try report.encode(to: encoder)
        var c = encoder.container(keyedBy: K.self)
        try c.encode(report.verdict, forKey: .verdict)
    }
    enum K: String, CodingKey { case verdict }
}
