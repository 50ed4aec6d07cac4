import Foundation
import KilnFuzz

/// `kiln-fuzz`: built normally, `kiln-fuzz TARGET FILE...` replays inputs (a crash `make fuzz` found,
/// a corpus); built by `make fuzz` (`-sanitize=fuzzer,address -DKILN_FUZZ`) it hands control to
/// libFuzzer's driver, fuzzing the target named by `KILN_FUZZ_TARGET`.
@main
struct KilnFuzzMain {
    static func main() {
        #if KILN_FUZZ
        guard FuzzTarget.fromEnvironment != nil else { fail("set KILN_FUZZ_TARGET to one of \(names)") }
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
        #else
        let args = Array(CommandLine.arguments.dropFirst())
        guard let name = args.first, let target = FuzzTarget(rawValue: name) else { fail("usage: kiln-fuzz TARGET FILE...   (targets: \(names))") }
        for file in args.dropFirst() {
            guard let data = FileManager.default.contents(atPath: file) else { fail("kiln-fuzz: cannot read \(file)") }
            target.run(data)
            print("ok \(name) \(file)")
        }
        #endif
    }

    static var names: String { FuzzTarget.allCases.map(\.rawValue).joined(separator: " ") }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}

#if KILN_FUZZ
/// libFuzzer's driver (in the fuzzer runtime `-sanitize=fuzzer` links).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// One input for the target named by `KILN_FUZZ_TARGET` (also libFuzzer's own entry point, for when
/// the linker takes the fuzzer runtime's `main`).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let bytes, let target = FuzzTarget.fromEnvironment else { return 0 }
    target.run(Data(bytes: bytes, count: count))
    return 0
}
#endif
