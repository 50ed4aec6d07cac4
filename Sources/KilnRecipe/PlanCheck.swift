import Foundation
import KilnCore

/// Parse + plan of one recipe without building: every variant's build plan and every `test:` block.
/// What `kiln plan` prints for each recipe (and `scripts/wolfi-compat.sh` counts over a whole catalog).
public struct PlanCheck: Sendable {
    /// The outcome of one test block.
    public struct TestResult: Sendable {
        public var package: String
        /// nil when the block planned.
        public var failure: Failure?
        /// `uses:` names skipped because no pipeline of that name is known.
        public var skippedPipelines: [String]
    }

    /// Why something did not plan, with a short category for counting (`unknown pipeline ruby/build`).
    public struct Failure: Sendable, CustomStringConvertible {
        public var category: String
        public var message: String
        public var description: String { message }

        public init(_ error: Error) {
            message = (error as? KilnError)?.description ?? "\(error)"
            category = Self.category(of: error)
        }

        /// A stable short name for an error: its kind and the name it is about (pipeline, key,
        /// substitution, input), with list indices dropped so equal problems count together.
        public static func category(of error: Error) -> String {
            guard let e = error as? RecipeError else {
                return "other: " + String(((error as? KilnError)?.description ?? "\(error)").prefix(60))
            }
            let subject = firstQuoted(e.message)
            switch e.kind {
            case .unknownPipeline: return "unknown pipeline \(subject ?? "?")"
            case .unknownSubstitution:
                let s = (subject ?? "?").replacingOccurrences(of: "${{", with: "").replacingOccurrences(of: "}}", with: "")
                return "unknown substitution \(s)"
            case .unknownKey:
                let place = e.message.range(of: " in ").map { String(e.message[$0.upperBound...]) } ?? ""
                let what = place.split(separator: " ").first.map(String.init) ?? ""
                return "unknown key \(subject ?? "?") in \(stripIndices(what))"
            case .missingInput: return "missing input: " + stripIndices(String(e.message.prefix(80)))
            case .unknownInput:
                let words = e.message.split(separator: "`")
                return words.count >= 4 ? "unknown input \(words[1]).\(words[3])" : "unknown input"
            default: return "\(e.kind.rawValue): " + stripIndices(String(e.message.prefix(70)))
            }
        }

        static func firstQuoted(_ s: String) -> String? {
            guard let a = s.firstIndex(of: "`") else { return nil }
            let rest = s[s.index(after: a)...]
            guard let b = rest.firstIndex(of: "`") else { return nil }
            return String(rest[..<b])
        }

        static func stripIndices(_ s: String) -> String {
            var out = "", skipping = false
            for c in s {
                if c == "[" { skipping = true; out.append("["); continue }
                if c == "]" { skipping = false }
                if !skipping { out.append(c) }
            }
            return out
        }
    }

    public var file: String
    /// The recipe did not parse, or a variant's build plan failed (the first failure).
    public var failure: Failure?
    /// Variants planned: `standard` plus each build option.
    public var variants: [String]
    public var tests: [TestResult]
    public var warnings: [RecipeWarning]

    public var planned: Bool { failure == nil }

    /// Parses `path` and plans it for `arch` with `library`: the recipe as written and with each of
    /// its build options, then each test block (after the build plan, independent of it).
    public static func run(path: String, library: PipelineLibrary, arch: String, lenient: Bool = false) -> PlanCheck {
        var check = PlanCheck(file: path, failure: nil, variants: [], tests: [], warnings: [])
        let recipe: Recipe
        do {
            let parsed = try RecipeParser(lenient: lenient).parse(path: path)
            recipe = parsed.recipe
            check.warnings = parsed.warnings
        } catch {
            check.failure = Failure(error)
            return check
        }
        let expander = PipelineExpander(library: library, arch: arch)
        for variant in ["standard"] + recipe.options.map(\.name) {
            do {
                let r = variant == "standard" ? recipe : try recipe.applying(buildOption: variant)
                let plan = try expander.plan(r)
                check.warnings += plan.warnings
                check.variants.append(variant)
            } catch {
                if check.failure == nil { check.failure = Failure(error) }
            }
        }
        do {
            for block in try expander.testBlocks(recipe) {
                do {
                    let plan = try expander.planTest(block)
                    let skipped = plan.warnings.compactMap(\.skippedPipeline)
                    check.tests.append(TestResult(package: block.package, failure: nil, skippedPipelines: skipped))
                } catch {
                    check.tests.append(TestResult(package: block.package, failure: Failure(error), skippedPipelines: []))
                }
            }
        } catch {
            check.tests.append(TestResult(package: recipe.package.name, failure: Failure(error), skippedPipelines: []))
        }
        return check
    }

    /// Tab-separated lines for scripts: `ok|fail <TAB> file <TAB> ...`, then one `test-ok|test-fail`
    /// line per test block. Messages are on one line (newlines become spaces).
    public var lines: [String] {
        func flat(_ s: String) -> String { s.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ") }
        var out: [String] = []
        if let failure {
            out.append("fail\t\(file)\t\(flat(failure.category))\t\(flat(failure.message))")
        } else {
            out.append("ok\t\(file)\t\(variants.joined(separator: ","))")
        }
        for t in tests {
            if let f = t.failure {
                out.append("test-fail\t\(file)\t\(t.package)\t\(flat(f.category))\t\(flat(f.message))")
            } else {
                out.append("test-ok\t\(file)\t\(t.package)\t\(t.skippedPipelines.isEmpty ? "-" : "skipped " + t.skippedPipelines.joined(separator: ","))")
            }
        }
        return out
    }
}

extension RecipeWarning {
    /// For a "skipped: pipeline `X` is not known" warning (test blocks), the pipeline's name.
    public var skippedPipeline: String? {
        guard message.hasPrefix("skipped: pipeline `") else { return nil }
        return PlanCheck.Failure.firstQuoted(message)
    }
}
