import Foundation
import KilnOCI
import XCTest
@testable import KilnImage

/// KilnImage encodes KilnOCI's `OCIDescriptor` with sorted keys; the bytes must be those its own
/// former `Descriptor` struct produced, or every image manifest digest would change.
final class DescriptorBytesTests: XCTestCase {
    func testSortedKeyEncodingIsUnchanged() throws {
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let layer = OCIDescriptor(mediaType: OCIMediaType.imageLayerGzip, digest: digest, size: 42)
        XCTAssertEqual(String(decoding: try OCI.encode(layer), as: UTF8.self),
                       #"{"digest":"\#(digest)","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":42}"#)
        var tagged = OCIDescriptor(mediaType: OCIMediaType.imageManifest, digest: digest, size: 7,
                                   annotations: [OCIMediaType.refName: "hello:1"])
        tagged.platform = OCIPlatform(architecture: "amd64", os: "linux")
        XCTAssertEqual(String(decoding: try OCI.encode(tagged), as: UTF8.self),
                       #"{"annotations":{"org.opencontainers.image.ref.name":"hello:1"},"digest":"\#(digest)","mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"architecture":"amd64","os":"linux"},"size":7}"#)
        // And the ordered form KilnAttest rewrites index.json with keeps platform where it was read.
        let back = try OCIDescriptor(json: try JSON.parse(try OCI.encode(tagged), source: "t"), source: "t")
        XCTAssertEqual(back.platform, tagged.platform)
        XCTAssertEqual(try JSONDecoder().decode(OCIDescriptor.self, from: try OCI.encode(tagged)), tagged)
    }
}
