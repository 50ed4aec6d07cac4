import Foundation
import KilnArchive
import KilnCrypto
import KilnImage
import KilnOCI
import XCTest

/// `kiln run` unpacks untrusted layers on the host: links must stay in the root whatever the entry
/// order, the image user is read beneath the root, and unpacking is capped.
final class RunHostileTests: XCTestCase {
    static func layer(_ entries: [TarEntry]) throws -> Data {
        try Gzip.compress(TarWriter.archive(entries, options: TarWriterOptions(epoch: 0)))
    }

    /// A one-image OCI layout at `dir` with the given layers (and an image config without `history`).
    static func layout(_ dir: String, layers: [Data], user: String? = nil) throws {
        let l = try OCILayout.create(at: dir)
        var diffIDs: [String] = []
        var descs: [OCIDescriptor] = []
        for d in layers {
            diffIDs.append("sha256:" + (try Digest.sha256Hex(try Gzip.decompress(d))))
            descs.append(try l.writeBlob(d, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip"))
        }
        var config: [String: Any] = ["architecture": "amd64", "os": "linux",
                                     "config": ["Entrypoint": ["/bin/true"]], "rootfs": ["type": "layers", "diff_ids": diffIDs]]
        if let user { config["config"] = ["Entrypoint": ["/bin/true"], "User": user] }
        let c = try l.writeBlob(try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]),
                                mediaType: OCIMediaType.imageConfig)
        func json(_ d: OCIDescriptor) -> [String: Any] { ["mediaType": d.mediaType, "digest": d.digest, "size": d.size] }
        let manifest: [String: Any] = ["schemaVersion": 2, "mediaType": OCIMediaType.imageManifest, "config": json(c),
                                       "layers": descs.map(json)]
        let m = try l.writeBlob(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]),
                                mediaType: OCIMediaType.imageManifest)
        var md = m
        md.annotations = [OCIMediaType.refName: "probe:1"]
        try l.writeImageIndex([md])
    }

    func testEntryOrderCannotLeadALinkOutOfTheRoot() throws {
        let p = try Playground(self)
        // `a -> b/../victim` is inside while b is absent; `b -> .` then makes it point beside the root.
        let cases: [[TarEntry]] = [
            [.symlink("a", to: "b/../victim"), .symlink("b", to: ".")],
            [.symlink("etc", to: "z/../victim-etc"), .symlink("z", to: ".")],
            [.directory("d"), .symlink("d/a", to: "c/../../victim"), .symlink("d/c", to: "..")],
        ]
        for (i, entries) in cases.enumerated() {
            let data = try Self.layer(entries)
            let dest = "\(p.work)/x\(i)"
            XCTAssertThrowsError(try ArchiveReader.extract(data: data, to: dest)) { e in
                XCTAssertTrue("\(e)".contains("points outside the destination"), "\(e)")
            }
            try Self.layout("\(p.work)/img\(i)", layers: [data])
            try p.refuses(["run", "img\(i)"], mentions: ["refusing entry", "points outside"], environment: ["TMPDIR": "\(p.work)/tmp/"])
        }
    }

    /// The image's `etc` is an absolute link to a host directory holding a passwd with `app`:
    /// resolving the user must read the image's own (absent) passwd, never the host's.
    func testImageUserIsNeverReadThroughALinkToTheHost() throws {
        let p = try Playground(self)
        try Data("app:x:4242:4242::/:/bin/sh\n".utf8).write(to: URL(fileURLWithPath: "\(p.victim)/passwd"))
        let root = "\(p.work)/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for target in [p.victim, "/../../../../../../\(p.victim)", "../\(String(repeating: "../", count: 12))\(p.victim)"] {
            try? FileManager.default.removeItem(atPath: "\(root)/etc")
            try FileManager.default.createSymbolicLink(atPath: "\(root)/etc", withDestinationPath: target)
            XCTAssertThrowsError(try ImageRunner.resolveUser("app", root: root), target) { e in
                XCTAssertTrue("\(e)".contains("not in the image's /etc/passwd"), "\(e)")
            }
        }
        // A link that stays inside the root is followed as the image would.
        try FileManager.default.removeItem(atPath: "\(root)/etc")
        try FileManager.default.createDirectory(atPath: "\(root)/real-etc", withIntermediateDirectories: true)
        try Data("app:x:7:8::/:/bin/sh\n".utf8).write(to: URL(fileURLWithPath: "\(root)/real-etc/passwd"))
        try FileManager.default.createSymbolicLink(atPath: "\(root)/etc", withDestinationPath: "/../real-etc")
        XCTAssertEqual(try ImageRunner.resolveUser("app", root: root).uid, 7)
    }

    func testEntryCountIsCapped() throws {
        let p = try Playground(self)
        let many = try Self.layer((0..<500).map { TarEntry.file("f\($0)", Data()) })
        XCTAssertThrowsError(try ArchiveReader.extract(data: many, to: "\(p.work)/x", options: ExtractOptions(maxEntries: 100))) { e in
            guard case .tooManyEntries(_, _, 100)? = e as? ArchiveError else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("more than 100 entries"), "\(e)")
        }
        XCTAssertNoThrow(try ArchiveReader.extract(data: many, to: "\(p.work)/y", options: ExtractOptions(maxEntries: 500)))
    }

    func testUnpackingIsCapped() throws {
        let p = try Playground(self)
        let bomb = try Self.layer([.file("zeros", Data(count: 8 << 20))])
        XCTAssertLessThan(bomb.count, 64 << 10)
        try Self.layout("\(p.work)/img", layers: [bomb])
        let tmp = "\(p.work)/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        for args in [["run", "--max-unpacked", "1M", "img"], ["run", "img"]] {
            let env = args.count == 2 ? ["TMPDIR": tmp + "/", "KILN_RUN_MAX_UNPACKED": "2M"] : ["TMPDIR": tmp + "/"]
            try p.refuses(args, mentions: ["img", "more than \(args.count == 2 ? 2 << 20 : 1 << 20) bytes", "--max-unpacked"],
                          environment: env)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp), [], "kiln run left its root behind")
        }
        try p.refuses(["run", "--max-unpacked", "lots", "img"], mentions: ["--max-unpacked lots", "expected a size"])
        // Within the cap the same image unpacks (an image config without `history` is valid).
        let root = "\(p.work)/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let config = try ImageRunner.unpack(layout: try OCILayout(path: "\(p.work)/img"), ref: nil, into: root, maxUnpackedBytes: 16 << 20)
        XCTAssertEqual(config.history.count, 0)
        XCTAssertEqual(config.config.Entrypoint ?? [], ["/bin/true"])
    }

    /// Manifests and configs missing required fields: the digest and the missing key, not a Swift dump.
    func testMalformedLayoutDocumentsAreOneClearLine() throws {
        let p = try Playground(self)
        let l = try OCILayout.create(at: "\(p.work)/img")
        let config = try l.writeBlob(Data(#"{"architecture":"amd64","os":"linux"}"#.utf8), mediaType: OCIMediaType.imageConfig)
        let cfgJSON = #"{"mediaType":"\#(config.mediaType)","digest":"\#(config.digest)","size":\#(config.size)}"#
        let noLayers = try l.writeBlob(Data(#"{"schemaVersion":2,"mediaType":"\#(OCIMediaType.imageManifest)","config":\#(cfgJSON)}"#.utf8), mediaType: OCIMediaType.imageManifest)
        try l.writeImageIndex([noLayers])
        try p.refuses(["run", "img"], mentions: [noLayers.digest, "not a valid OCI image manifest", "missing key `layers`"])
        let noRootFS = try l.writeBlob(Data(#"{"schemaVersion":2,"mediaType":"\#(OCIMediaType.imageManifest)","config":\#(cfgJSON),"layers":[]}"#.utf8), mediaType: OCIMediaType.imageManifest)
        try l.writeImageIndex([noRootFS])
        try p.refuses(["run", "img"], mentions: [config.digest, "not a valid OCI image config", "missing key `rootfs`"])
        XCTAssertFalse(try p.kiln(["run", "img"]).err.contains("DecodingError"))
    }
}
