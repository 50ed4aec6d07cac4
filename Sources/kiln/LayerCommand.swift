import ArgumentParser
import Foundation
import KilnArchive
import KilnCore
import KilnImage

struct LayerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layer",
        abstract: "Write a deterministic OCI layer (tar+gzip) from a directory tree; prints digest and diff_id.",
        discussion: "The same writer `kiln image` uses: sorted paths, one mtime, root owners, chunked libdeflate gzip on all cores. Used by scripts/bench-layers.sh.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Directory to pack.")
    var directory: String

    @Option(name: .shortAndLong, help: "Output .tar.gz file.")
    var output: String

    @Option(name: .long, help: "mtime of every entry (default: $SOURCE_DATE_EPOCH or 0).")
    var sourceDateEpoch: Int64?

    @Option(name: .long, help: "gzip level 0-12 (libdeflate's scale; default: the image default).")
    var level: Int = LayerWriter.defaultLevel

    @Option(name: .long, help: "Compression threads (0 = one per core; output bytes do not depend on it).")
    var threads: Int = 0

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw KilnMessage("\(directory): not a directory")
        }
        let entries = try TreeScanner.entries(root: directory)
        let epoch = sourceDateEpoch ?? SourceDateEpoch.fromEnvironment() ?? 0
        let outDir = URL(fileURLWithPath: output).deletingLastPathComponent().path
        let tmpDir = outDir + "/.kiln-layer-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: tmpDir) }
        let r = try LayerWriter.write(entries: entries, epoch: epoch, blobsDir: tmpDir, level: level, threads: threads)
        try AtomicFile.rename(tmpDir + "/" + String(r.descriptor.digest.dropFirst(7)), to: output)
        print("digest \(r.descriptor.digest) size \(r.descriptor.size)")
        print("diff_id \(r.diffID) size \(r.uncompressedSize)")
    }
}
