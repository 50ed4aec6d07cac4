import Foundation

/// A Go binary's build information, read from its bytes (no Go needed): the `\xff Go buildinf:`
/// header (in `.go.buildinfo`), the Go version and the module info's `build KEY=VALUE` settings.
/// Go 1.18+ inline-string layout only; older binaries yield version "go1.17 or older".
struct GoBuildInfo {
    static let magic: [UInt8] = [0xff] + Array(" Go buildinf:".utf8)
    static let sentinelLength = 16

    /// Offset of the header in the file.
    var offset: Int
    var version: String
    var settings: [String: String]

    var summary: String {
        let keys = ["GOFIPS140", "GOEXPERIMENT", "CGO_ENABLED"].compactMap { k in settings[k].map { "\(k)=\($0)" } }
        return ([version] + keys).joined(separator: " ")
    }

    static func uvarint(_ d: Data, _ i: inout Int) -> Int? {
        var x = 0, shift = 0
        while i < d.count, shift < 63 {
            let b = d[d.startIndex + i]; i += 1
            x |= Int(b & 0x7f) << shift
            if b < 0x80 { return x }
            shift += 7
        }
        return nil
    }

    static func find(in data: Data) -> GoBuildInfo? {
        guard let o = ByteSearch.first(magic, in: data), o + 32 <= data.count else { return nil }
        let flags = data[data.startIndex + o + 15]
        guard flags & 0x2 != 0 else { return GoBuildInfo(offset: o, version: "go1.17 or older", settings: [:]) }
        var i = o + 32
        func string() -> String? {
            guard let n = uvarint(data, &i), n >= 0, n <= data.count - i else { return nil }
            defer { i += n }
            return String(decoding: data[(data.startIndex + i)..<(data.startIndex + i + n)], as: UTF8.self)
        }
        let version = string() ?? "unknown"
        var mod = string() ?? ""
        if mod.utf8.count >= 2 * sentinelLength {
            mod = String(decoding: Array(mod.utf8).dropFirst(sentinelLength).dropLast(sentinelLength), as: UTF8.self)
        }
        var settings: [String: String] = [:]
        for line in mod.split(separator: "\n") where line.hasPrefix("build\t") {
            let kv = line.dropFirst(6)
            guard let eq = kv.firstIndex(of: "=") else { continue }
            settings[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        return GoBuildInfo(offset: o, version: version, settings: settings)
    }
}
