import Foundation

/// Reads a file of an unpacked root file system the way a process chrooted into it would see it —
/// symlinks resolved inside the root (absolute targets start at the root, `..` stops there) — and
/// opens every component with `O_NOFOLLOW` beneath the root, so no link can lead kiln, running on
/// the host, to a host file (e.g. an image's `etc -> ../../etc` making kiln read the host's passwd).
public enum RootedFile {
    /// Why a rooted read failed.
    public enum Failure: Error, Equatable {
        /// The path does not exist in the root (or is not a regular file).
        case missing
        /// More than 40 symlinks, or the file is larger than the limit asked for.
        case refused(String)
    }

    /// The contents of `path` (relative to `root`, or absolute inside it); at most `maxBytes`.
    public static func read(root: String, path: String, maxBytes: Int = 16 << 20) -> Result<Data, Failure> {
        guard let comps = resolve(root: root, path: path) else { return .failure(.refused("too many symlinks resolving /\(path)")) }
        var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.missing) }
        for (i, c) in comps.enumerated() {
            let last = i == comps.count - 1
            let next = openat(fd, c, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (last ? 0 : O_DIRECTORY))
            close(fd)
            guard next >= 0 else { return .failure(.missing) }
            fd = next
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return .failure(.missing) }
        guard st.st_size <= maxBytes else { return .failure(.refused("/\(path) is larger than \(maxBytes) bytes")) }
        var data = Data(count: Int(st.st_size))
        let n = data.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { return .failure(.missing) }
        return .success(data.prefix(n))
    }

    /// `path`'s components with every symlink on the way expanded inside `root` (chroot semantics);
    /// nil after 40 expansions (a loop).
    static func resolve(root: String, path: String) -> [String]? {
        var stack: [String] = []
        var todo = Array(path.split(separator: "/").map(String.init).reversed())
        var expansions = 0
        while let c = todo.popLast() {
            if c == "." || c.isEmpty { continue }
            if c == ".." { _ = stack.popLast(); continue }
            stack.append(c)
            guard let t = linkTarget(root + "/" + stack.joined(separator: "/")) else { continue }
            expansions += 1
            if expansions > 40 { return nil }
            stack.removeLast()
            if t.hasPrefix("/") { stack = [] }
            todo.append(contentsOf: t.split(separator: "/").map(String.init).reversed())
        }
        return stack
    }

    /// The target of the symlink at `hostPath`, or nil when it is not a symlink.
    public static func linkTarget(_ hostPath: String) -> String? {
        var st = stat()
        guard lstat(hostPath, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK else { return nil }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(hostPath, &buf, Int(PATH_MAX))
        guard n >= 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
