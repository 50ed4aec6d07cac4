import Foundation
import KilnCore

/// Errors from the archive module. Unsafe-entry errors name the entry and the archive.
public enum ArchiveError: KilnError, Equatable {
    case io(path: String, what: String, errno: Int32)
    case libarchive(context: String, message: String)
    case zlib(context: String, code: Int32, message: String)
    case invalidEntry(path: String, reason: String)
    case unsafeEntry(archive: String, entry: String, reason: String)
    case corrupt(context: String, reason: String)
    /// Extraction stopped at `entry`: the archive's file data passes `limit` bytes (`ExtractOptions.maxTotalBytes`).
    case tooLarge(archive: String, entry: String, limit: Int64)
    /// Extraction stopped at `entry`: the archive has more than `limit` entries (`ExtractOptions.maxEntries`).
    case tooManyEntries(archive: String, entry: String, limit: Int)

    public var description: String {
        switch self {
        case let .io(path, what, e):
            return "\(what) \(path): \(String(cString: strerror(e)))"
        case let .libarchive(context, message):
            return "\(context): \(message)"
        case let .zlib(context, code, message):
            return "\(context): zlib error \(code)\(message.isEmpty ? "" : " (\(message))")"
        case let .invalidEntry(path, reason):
            return "tar entry \(path): \(reason)"
        case let .unsafeEntry(archive, entry, reason):
            return "\(archive): refusing entry '\(entry)': \(reason)"
        case let .corrupt(context, reason):
            return "\(context): \(reason)"
        case let .tooLarge(archive, entry, limit):
            return "\(archive): stopped at entry '\(entry)': the archive unpacks to more than \(limit) bytes of file data "
                + "(the limit); refusing a possible decompression bomb"
        case let .tooManyEntries(archive, entry, limit):
            return "\(archive): stopped at entry '\(entry)': the archive has more than \(limit) entries (the limit); "
                + "refusing a possible decompression bomb"
        }
    }
}
