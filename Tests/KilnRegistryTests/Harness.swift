import Foundation
import KilnCrypto
import KilnOCI
import KilnTestSupport
import XCTest

/// A loopback port that was free a moment ago.
func freePort() throws -> Int { try TestSupport.freeLoopbackPort() }

/// Signed test images: a gzip'd layer with an apk installed database, signed and attested by the
/// real `kiln sign`, so `kiln verify` has real signatures, SBOM and provenance to check.
enum ImageFixture {
    /// Builds the image `tag` in `layout` (created if needed); `signWith` signs it (nil: unsigned).
    @discardableResult
    static func make(layout: String, tag: String, payload: String, layerBytes: Int = 200_000, signWith key: String?) throws -> String {
        let l = try OCILayout.create(at: layout)
        let installed = "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:hello\nV:1.0-r0\nA:x86_64\nS:1\nI:1\nT:hello\nU:https://example.org\nL:MIT\no:hello\nm:kiln\nt:0\n\n"
        var noise = [UInt8](repeating: 0, count: layerBytes)
        var x: UInt64 = UInt64(truncatingIfNeeded: payload.hashValue) | 1
        for i in noise.indices { x ^= x << 13; x ^= x >> 7; x ^= x << 17; noise[i] = UInt8(truncatingIfNeeded: x) }
        var tar = CraftedTar.file("lib/apk/db/installed", Array(installed.utf8))
        tar += CraftedTar.file("etc/payload", Array(payload.utf8)) + CraftedTar.file("usr/share/noise", noise) + CraftedTar.endOfArchive
        let dir = NSTemporaryDirectory() + "kiln-fixture-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(tar).write(to: URL(fileURLWithPath: dir + "/layer.tar"))
        let gz = try TestSupport.run("/bin/gzip", ["-n", "-k", dir + "/layer.tar"])
        guard gz.status == 0 else { throw XCTSkip("gzip failed: \(gz.err)") }
        let layer = try l.writeBlob(try Data(contentsOf: URL(fileURLWithPath: dir + "/layer.tar.gz")), mediaType: OCIMediaType.imageLayerGzip)
        let diff = "sha256:" + (try Digest.sha256Hex(Data(tar)))
        let config: JSON = .object([("architecture", "amd64"), ("created", "2024-01-01T00:00:00Z"), ("os", "linux"),
                                    ("rootfs", .object([("type", "layers"), ("diff_ids", .array([.string(diff)]))]))])
        let cfg = try l.writeBlob(config.compact(), mediaType: OCIMediaType.imageConfig)
        let manifest: JSON = .object([("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageManifest)),
                                      ("config", cfg.json), ("layers", .array([layer.json]))])
        let m = try l.writeBlob(manifest.compact(), mediaType: OCIMediaType.imageManifest)
        try l.setTag(tag, to: m)
        if let key {
            let r = try TestSupport.kiln(["sign", "\(layout):\(tag)", "--key", key, "--sbom-dir", dir + "/sbom"])
            guard r.status == 0 else { throw KilnTestFailure("kiln sign failed: \(r.err)") }
        }
        return m.digest
    }

    /// An ECDSA key pair from `kiln keygen` (DIR/NAME.key, DIR/NAME.pub).
    static func keys(_ dir: String) throws -> (key: String, pub: String) {
        let r = try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", dir + "/cosign"])
        guard r.status == 0 else { throw KilnTestFailure("kiln keygen failed: \(r.err)") }
        return (dir + "/cosign.key", dir + "/cosign.pub")
    }
}

struct KilnTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
