import Foundation
import KilnAPK
import KilnArchive
import KilnCore

/// Where package file contents wait while an image is assembled: a private directory under the
/// output directory, one file per large regular file, removed when the build ends. Small files
/// stay in memory up to a fixed budget, so memory is bounded by the budget plus the metadata of
/// the tree, whatever the size of the packages; the layer writer streams spilled files back.
final class SpillDirectory {
    /// Files up to this size stay in memory (while the budget lasts).
    static let inlineLimit = 64 << 10
    /// Most bytes of file contents kept in memory for the whole build.
    static let inlineBudget = 16 << 20

    let path: String
    private var count = 0
    private var inlineLeft: Int
    private var removed = false

    /// Creates `path` (mode 0700; it must not exist).
    init(path: String, inlineBudget: Int = SpillDirectory.inlineBudget) throws {
        self.path = path
        inlineLeft = inlineBudget
        guard mkdir(path, 0o700) == 0 else {
            throw RepositoryError("\(path): cannot create the spill directory for package contents (\(String(cString: strerror(errno))))")
        }
    }

    deinit { remove() }

    func remove() {
        guard !removed else { return }
        removed = true
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Whether a file of `size` bytes is kept in memory (and takes it from the budget).
    func keepsInline(_ size: Int64) -> Bool {
        guard size <= Int64(SpillDirectory.inlineLimit), size <= Int64(inlineLeft) else { return false }
        inlineLeft -= Int(size)
        return true
    }

    /// A fresh file name in the directory.
    func nextPath() -> String {
        count += 1
        return path + "/\(count)"
    }
}

/// Turns one package's streamed data entries into `TarEntry`s whose contents are in memory
/// (`.data`) or in the spill directory (`.file`).
final class PackageSpiller {
    let spill: SpillDirectory
    let file: String
    private(set) var entries: [TarEntry] = []
    private var sink: FileSink?
    private var buffer: Data?

    init(spill: SpillDirectory, file: String) { self.spill = spill; self.file = file }

    func handle(_ ev: TarStreamEvent) throws {
        switch ev {
        case .entry(let e):
            guard let t = e.tarEntry else { return }     // devices and fifos: refused by the reader's policy
            entries.append(t)
            guard t.kind == .file else { return }
            if spill.keepsInline(t.size) {
                buffer = Data(capacity: Int(t.size))
            } else {
                let p = spill.nextPath()
                do { sink = try FileSink(path: p, mode: 0o600) } catch {
                    throw RepositoryError("\(file): cannot spill \(t.path) to \(p): \(error)")
                }
                entries[entries.count - 1].content = .file(path: p)
            }
        case .data(let b):
            if let s = sink {
                do { try s.write(b) } catch { throw RepositoryError("\(file): cannot spill \(entries.last?.path ?? ""): \(error)") }
            } else {
                buffer?.append(contentsOf: b)
            }
        case .end:
            if let s = sink { sink = nil; try s.close() }
            if let b = buffer { buffer = nil; entries[entries.count - 1].content = .data(b) }
        }
    }
}
