import KilnRecipe

/// How build and test logs number steps: one number per step the recipe writes. A `uses:` pipeline
/// whose definition has several `runs:` expands to several resolved steps with the same name and
/// location; they share the recipe step's number and are told apart as "part i of n" (they used to
/// show as separate numbered steps of the same name).
struct StepNumbering {
    /// The recipe step number (1-based) of each resolved step.
    private(set) var number: [Int] = []
    /// `", part i of n"` for a step that is one of several parts, else "".
    private(set) var part: [String] = []
    /// How many recipe steps there are.
    private(set) var total = 0

    init(_ steps: [ResolvedStep]) {
        var groups: [Range<Int>] = []
        var start = 0
        for i in steps.indices where i > 0 {
            let a = steps[i - 1], b = steps[i]
            if a.package != b.package || a.name != b.name || a.location != b.location { groups.append(start..<i); start = i }
        }
        if !steps.isEmpty { groups.append(start..<steps.count) }
        total = groups.count
        for (g, range) in groups.enumerated() {
            for (k, _) in range.enumerated() {
                number.append(g + 1)
                part.append(range.count > 1 ? ", part \(k + 1) of \(range.count)" : "")
            }
        }
    }
}
