import Foundation
import KilnArchive

/// A data/control-member entry of an APK, read by KilnArchive's `TarStream` in its `.apk` dialect
/// (apk-tools io_archive.c `apk_tar_parse` semantics).
public typealias APKTarEntry = TarStreamEntry

/// apk-semantics tar reading for the package and index readers; errors become `APKError.malformed`
/// naming the file and member.
enum APKTarStream {
    typealias Result = TarStream.Result

    static func zeroBlocks(_ data: Data) -> [Int] { TarStream.zeroBlocks(data) }

    static func str<C: Collection>(_ b: C) -> String where C.Element == UInt8 { TarStream.string(b) }

    /// Parses `data` as a tar stream. `file` names the package in errors.
    static func parse(_ data: Data, file: String, member: String) throws -> Result {
        do { return try TarStream.parse(data, context: member, dialect: .apk) } catch let e as ArchiveError {
            guard case let .corrupt(context, reason) = e else { throw e }
            throw APKError.malformed(file: file, "\(context): \(reason)")
        }
    }
}
