import Foundation
import KilnCore

extension APKWriter {
    /// Replaces the signature of the package at `source` with `signer`'s over the same control
    /// member and writes the result atomically to `destination`. The signature entry keeps the
    /// package's epoch (its old signature entry's mtime), so the bytes are exactly what signing at
    /// build time with `signer` would have written — how a distributed nightly's coordinator signs
    /// packages that workers built with a throwaway key. Returns the new file's size.
    @discardableResult
    public static func resign(_ source: String, to destination: String, signer: APKSigner) throws -> Int {
        guard let data = FileManager.default.contents(atPath: source) else { throw APKError.io("cannot read \(source)") }
        let members = try APKReader.members(data, file: source)
        guard members.count == 3 else {
            throw APKError.malformed(file: source, "\(members.count) gzip members; a signed package has 3 (signature, control, data)")
        }
        let sigTar = try APKReader.gunzip(data.subdata(in: members[0]), file: source, member: "signature")
        _ = try APKReader.parseSignatureMember(sigTar, file: source)
        let entries = try APKTarStream.parse(sigTar, file: source, member: "signature").entries
        guard entries.count == 1, let epoch = entries.first?.mtime else {
            throw APKError.malformed(file: source, "signature member holds \(entries.count) entries; expected one")
        }
        let rest = data.subdata(in: members[1].lowerBound..<data.count)
        let signed = try signatureMember(signing: data.subdata(in: members[1]), signer: signer, epoch: epoch) + rest
        try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(signed, to: destination)
        return signed.count
    }
}
