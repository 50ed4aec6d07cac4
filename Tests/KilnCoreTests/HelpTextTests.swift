import Foundation
import XCTest
import KilnTestSupport

/// Every subcommand's `--help` is prose that ArgumentParser wraps: no hard line breaks that leave a
/// ragged half-line (a line followed by one whose first word would still have fitted on it).
final class HelpTextTests: XCTestCase {
    static let width = 80

    /// Lines of `help` that end early although the next line continues the same text.
    static func raggedLines(_ help: String) -> [String] {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out: [String] = []
        for (a, b) in zip(lines, lines.dropFirst()) {
            let at = a.trimmingCharacters(in: .whitespaces), bt = b.trimmingCharacters(in: .whitespaces)
            guard !at.isEmpty, !bt.isEmpty, !a.hasPrefix("USAGE:") else { continue }
            let indent = b.prefix { $0 == " " }.count
            if indent == 2 || bt.hasPrefix("-") || bt.hasPrefix("kiln ") || at.hasSuffix("\\") || bt.hasSuffix(":") { continue }
            if at.hasPrefix("-") && !at.contains("  ") { continue }   // an option name alone; its help starts below
            let word = bt.prefix { $0 != " " }
            if a.count + 1 + word.count < width - 1 { out.append(a) }
        }
        return out
    }

    /// The subcommand names listed in a help text's SUBCOMMANDS section.
    static func subcommands(_ help: String) -> [String] {
        guard let r = help.range(of: "SUBCOMMANDS:\n") else { return [] }
        return help[r.upperBound...].split(separator: "\n").compactMap { line in
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
            return line.split(separator: " ").first.map(String.init)
        }.filter { $0 != "See" && $0 != "help" }
    }

    func testNoSubcommandHelpHasHardWrappedLines() throws {
        var queue: [[String]] = [[]], seen = 0
        while let path = queue.first {
            queue.removeFirst()
            let r = try TestSupport.kiln(path + ["--help"], environment: ["COLUMNS": "\(Self.width)", "PATH": "/usr/bin:/bin"])
            XCTAssertEqual(r.status, 0, "kiln \(path.joined(separator: " ")) --help: \(r.err)")
            seen += 1
            for line in Self.raggedLines(r.out) {
                XCTFail("kiln \(path.joined(separator: " ")) --help: a hard line break leaves a half-line: \"\(line)\"")
            }
            queue += Self.subcommands(r.out).map { path + [$0] }
        }
        XCTAssertGreaterThan(seen, 20, "walked too few subcommands")
    }

    func testTheCheckFindsARaggedLine() {
        let ragged = "OVERVIEW: x\n\nkiln repro RECIPE rebuilds the recipe's packages from the same inputs in a fresh workspace,\nwith the environment varied\n"
        XCTAssertEqual(Self.raggedLines(ragged).count, 0, "a line that is full is not ragged")
        let half = "OVERVIEW: x\n\nTrees land in <out>/trees/<arch>/<package>/ (one per package and subpackage)\nwith a\nmachine-readable file\n"
        XCTAssertEqual(Self.raggedLines(half), ["with a"])
    }
}
