import CYaml
import Foundation

/// Bounds on the shape of a YAML document, checked before the text reaches Yams' composer (which
/// recurses once per nesting level and expands every alias): a 40 KB file nested 20,000 deep would
/// overflow the stack, and a few hundred bytes of nested aliases ("billion laughs") would expand to
/// millions of nodes. Recipes, pipelines and image configs all go through `check`.
public struct YAMLLimits: Sendable, Equatable {
    /// Deepest nesting of mappings and sequences allowed (default 256).
    public var maxDepth: Int
    /// Most nodes the document may have once every alias is expanded (default 200,000).
    public var maxNodes: Int

    /// The defaults: depth 256, 200,000 expanded nodes — far above any real recipe or config.
    public static let standard = YAMLLimits(maxDepth: 256, maxNodes: 200_000)

    /// Limits with the given bounds.
    public init(maxDepth: Int, maxNodes: Int) { self.maxDepth = maxDepth; self.maxNodes = maxNodes }

    /// Most bytes a YAML document may have (default 16 MiB).
    public static let maxFileBytes = 16 << 20

    /// The bytes of the YAML file at `path`: a FIFO, device or directory is refused before it is
    /// opened (a FIFO would hang, `/dev/zero` would never end — e.g. as an image config's `include:`),
    /// and so is a file over `maxFileBytes`. nil when the file does not exist or cannot be read.
    public static func readFile(_ path: String) throws -> Data? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw InputError(.io, SourceLocation(file: path), "not a regular file (a directory, FIFO or device is never read as YAML)")
        }
        guard st.st_size <= maxFileBytes else {
            throw InputError(.limit, SourceLocation(file: path), "larger than \(maxFileBytes) bytes; a recipe or config is never that big")
        }
        return FileManager.default.contents(atPath: path)
    }

    /// Throws `InputError(.limit, …)` naming `file`, the line and the bound when `text` nests deeper
    /// than `maxDepth` or expands to more than `maxNodes` nodes. Syntax errors are left to the caller's
    /// parser (which reports them with their position): this walk stops quietly at the first one.
    /// libyaml's event parser keeps its state on the heap, so the walk itself never recurses.
    public func check(_ text: String, file: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBufferPointer { buf in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            var walk = Walk(limits: self, file: file)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return }
                try walk.visit(event)
            }
        }
    }

    /// The running counts of one walk: open collections (with the expanded-node total at their
    /// start, to size anchored ones) and the size of every anchor seen.
    private struct Walk {
        let limits: YAMLLimits
        let file: String
        var open: [(anchor: String?, startTotal: Int)] = []
        var anchorSizes: [String: Int] = [:]
        var total = 0

        init(limits: YAMLLimits, file: String) { self.limits = limits; self.file = file }

        mutating func visit(_ event: yaml_event_t) throws {
            let line = Int(event.start_mark.line) + 1
            switch event.type {
            case YAML_SCALAR_EVENT:
                try add(1, line: line)
                if let a = Self.name(event.data.scalar.anchor) { anchorSizes[a] = 1 }
            case YAML_ALIAS_EVENT:
                let a = Self.name(event.data.alias.anchor) ?? ""
                try add(anchorSizes[a] ?? 1, line: line)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let anchor = event.type == YAML_SEQUENCE_START_EVENT
                    ? Self.name(event.data.sequence_start.anchor) : Self.name(event.data.mapping_start.anchor)
                guard open.count < limits.maxDepth else {
                    throw InputError(.limit, SourceLocation(file: file, line: line),
                                      "YAML nested more than \(limits.maxDepth) levels deep; flatten the document")
                }
                open.append((anchor, total))
                try add(1, line: line)
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = open.popLast() else { return }
                if let a = frame.anchor { anchorSizes[a] = total - frame.startTotal }
            default:
                return
            }
        }

        /// Counts `n` more nodes; the total stays ≤ maxNodes, so no sum can overflow.
        mutating func add(_ n: Int, line: Int) throws {
            guard n <= limits.maxNodes - total else {
                throw InputError(.limit, SourceLocation(file: file, line: line),
                                  "YAML expands to more than \(limits.maxNodes) nodes (aliases are counted once per use); "
                                      + "this looks like an alias bomb — remove the nested aliases")
            }
            total += n
        }

        static func name(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        }
    }
}
