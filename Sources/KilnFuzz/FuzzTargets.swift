import Foundation
import KilnAPK
import KilnArchive
import KilnBuild
import KilnCore
import KilnCrypto
import KilnImage
import KilnOCI
import KilnRecipe

/// Every parser kiln runs on untrusted bytes, as one entry point per format for coverage-guided
/// fuzzing (`make fuzz`, libFuzzer) and for replaying a corpus in `make test` (KilnFuzzTests).
/// A target must return for every input — a thrown error is the right answer to bad bytes; a trap,
/// a crash, a hang or unbounded memory is a defect.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case recipe, imageConfig = "image-config", pipeline, tar, tarStream = "tar-stream", gzip, apk, apkindex, pkginfo
    case elf, json = "oci-json", layoutReference = "layout-reference", pem, toolchainLock = "toolchain-lock"
    case sourceList = "source-list", dependency

    /// Feeds `data` to the target's parser; errors are swallowed (they are the expected answer).
    public func run(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        let loose = APKVerifyOptions(allowUntrusted: true)
        switch self {
        case .recipe: _ = try? RecipeParser(lenient: false).parse(text: text, file: "fuzz.yaml")
        case .imageConfig: _ = try? ImageConfig.parse(text, file: "fuzz.yaml")
        case .pipeline: _ = try? PipelineDefinition.parse(text: text, file: "fuzz.yaml", id: "fuzz")
        case .tar: _ = try? ArchiveReader.entries(data: data, name: "fuzz.tar")
        case .tarStream: _ = try? TarStream.parse(data, context: "fuzz.tar")
        case .gzip: _ = try? Gzip.decompress(data, limit: 64 << 20)
        case .apk: _ = try? APKReader.read(data: data, file: "fuzz.apk", options: loose)
        case .apkindex:
            _ = try? APKIndex.read(data: data, file: "APKINDEX.tar.gz", options: loose)
            _ = try? APKIndex.parseText(text, file: "APKINDEX")
        case .pkginfo: _ = try? PkgInfo.parse(text, file: ".PKGINFO")
        case .elf: _ = ELFInfo.parse(data)
        case .json: _ = try? JSON.parse(data, source: "fuzz.json")
        case .layoutReference: _ = try? LayoutReference.parse(text)
        case .pem:
            _ = try? PublicKey(pem: data, source: "fuzz.pub")
            _ = try? PrivateKey(pem: data, password: "fuzz", source: "fuzz.key")
        case .toolchainLock: _ = try? DebianToolchain.parseLock(text, file: "fuzz.lock")
        case .sourceList: _ = try? DebianSourceList.parse(text, path: "fuzz.txt")
        case .dependency:
            _ = APKDependency.parse(text)
            _ = DependencyAtom.parse(text)
        }
    }

    /// The target named by `KILN_FUZZ_TARGET` (libFuzzer passes no arguments of ours).
    public static var fromEnvironment: FuzzTarget? {
        ProcessInfo.processInfo.environment["KILN_FUZZ_TARGET"].flatMap(FuzzTarget.init(rawValue:))
    }
}
