// swift-tools-version:6.0
import PackageDescription

// kiln: recipes → APK packages → OCI images, with all crypto through OpenSSL 3 EVP.
// Domain modules are prefixed `Kiln` so that module names never collide with the types inside them.
// Each list is exactly the Kiln modules the target's sources import (Tests/KilnCoreTests/ModuleGraphTests
// fails otherwise); every module's overview comment (`Sources/<Module>/<Module>.swift`) says why.
let domains: [(name: String, deps: [Target.Dependency])] = [
    ("KilnCore", [.product(name: "Yams", package: "Yams")]),
    ("KilnCrypto", ["COpenSSL", "KilnCore"]),
    ("KilnArchive", ["CArchive", "CDeflate", "CZlib", "KilnCrypto", "KilnCore"]),
    ("KilnRecipe", ["KilnCore", .product(name: "Yams", package: "Yams")]),
    ("KilnBuild", ["KilnRecipe", "KilnCrypto", "KilnCore"]),
    ("KilnAPK", ["KilnArchive", "KilnCrypto", "KilnRecipe", "KilnCore"]),
    ("KilnFIPS", ["KilnCrypto", "KilnCore", .product(name: "Yams", package: "Yams")]),
    ("KilnOCI", ["KilnCrypto", "KilnCore"]),
    ("KilnImage", ["KilnAPK", "KilnArchive", "KilnCrypto", "KilnFIPS", "KilnOCI", "KilnCore", .product(name: "Yams", package: "Yams")]),
    ("KilnAttest", ["KilnAPK", "KilnArchive", "KilnCrypto", "KilnFIPS", "KilnOCI", "KilnCore"]),
    ("KilnAudit", ["KilnAttest", "KilnAPK", "KilnArchive", "KilnFIPS", "KilnImage", "KilnOCI", "KilnCrypto", "KilnCore", .product(name: "Yams", package: "Yams")]),
    ("KilnNightly", ["KilnAPK", "KilnAttest", "KilnAudit", "KilnBuild", "KilnImage", "KilnOCI", "KilnPipeline", "KilnRecipe", "KilnRegistry", "KilnRepro", "KilnCrypto", "KilnCore"]),
    ("KilnPipeline", ["KilnBuild", "KilnAPK", "KilnFIPS", "KilnRecipe", "KilnCrypto", "KilnCore"]),
    ("KilnRegistry", ["KilnOCI", "KilnCrypto", "KilnCore"]),
    ("KilnRepro", ["KilnBuild", "KilnAttest", "KilnAPK", "KilnImage", "KilnPipeline", "KilnRecipe", "KilnArchive", "KilnCrypto", "KilnOCI", "KilnCore"]),
]

// The Kiln modules the thin `kiln` CLI imports (ModuleGraphTests checks this list like the rows above).
let cliModules = ["KilnAPK", "KilnArchive", "KilnAttest", "KilnBuild", "KilnCore", "KilnCrypto", "KilnFIPS", "KilnImage", "KilnNightly", "KilnAudit",
                  "KilnOCI", "KilnPipeline", "KilnRecipe", "KilnRegistry", "KilnRepro"]

var targets: [Target] = [
    .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
                   providers: [.apt(["libssl-dev"])]),
    .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
                   providers: [.apt(["libarchive-dev"])]),
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                   providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(name: "CDeflate", path: "Sources/CDeflate", pkgConfig: "libdeflate",
                   providers: [.apt(["libdeflate-dev"])]),
    .executableTarget(
        name: "kiln",
        dependencies: cliModules.map { .target(name: $0) } + [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "Sources/kiln"),
]
for d in domains {
    targets.append(.target(name: d.name, dependencies: d.deps,
                           path: "Sources/\(d.name)",
                           resources: d.name == "KilnBuild" ? [.copy("Pipelines")] : nil))
    targets.append(.testTarget(name: "\(d.name)Tests",
                               dependencies: [.target(name: d.name), "KilnTestSupport"],
                               path: "Tests/\(d.name)Tests"))
}
// Hostile-input corpus: malformed recipes, configs, sources and layers against the real kiln binary.
targets.append(.testTarget(name: "KilnHostileTests",
                           dependencies: ["KilnRecipe", "KilnBuild", "KilnImage", "KilnArchive", "KilnCrypto", "KilnCore",
                                          "KilnTestSupport"],
                           path: "Tests/KilnHostileTests"))
// Fuzzing (make fuzz; not part of the kiln binary): every parser of untrusted bytes behind one entry
// point, run by `kiln-fuzz` under libFuzzer and replayed by KilnFuzzTests in `make test`.
targets.append(.target(name: "KilnFuzz", dependencies: ["KilnAPK", "KilnArchive", "KilnBuild", "KilnCore", "KilnCrypto",
                                                        "KilnImage", "KilnOCI", "KilnRecipe"], path: "Sources/KilnFuzz"))
targets.append(.executableTarget(name: "kiln-fuzz", dependencies: ["KilnFuzz"], path: "Sources/kiln-fuzz"))
targets.append(.testTarget(name: "KilnFuzzTests", dependencies: ["KilnFuzz", "KilnCore", "KilnTestSupport"], path: "Tests/KilnFuzzTests"))
targets.append(.target(name: "KilnTestSupport", dependencies: ["KilnArchive", "KilnCrypto", "KilnBuild", "KilnCore"], path: "Tests/KilnTestSupport"))

let package = Package(
    name: "kiln",
    platforms: [.macOS(.v13)],
    products: [.executable(name: "kiln", targets: ["kiln"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: targets,
    swiftLanguageModes: [.v6]
)
