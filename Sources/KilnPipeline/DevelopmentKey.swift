import Foundation
import KilnAPK
import KilnCore
import KilnCrypto

/// The development signing key `kiln build` uses by default: created (RSA 4096, as `make keys`
/// does) under an flock when it is missing, so concurrent builds create it once.
public enum DevelopmentKey {
    /// Loads the signer at `path`, first creating the key pair `path`/`path.pub` when missing
    /// (serialised with `.kiln-dev.lock` in the key's directory).
    public static func signer(at path: String, progress: KilnCore.Progress = .shared) throws -> APKSigner {
        let lockDir = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: lockDir, withIntermediateDirectories: true)
            let lock = lockDir + "/.kiln-dev.lock"
            let fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw KilnMessage("cannot create \(lock): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            flock(fd, LOCK_EX)
            defer { flock(fd, LOCK_UN) }
            if !FileManager.default.fileExists(atPath: path) {
                let key = try PrivateKey.generate(.rsa(bits: 4096))
                try AtomicFile.write(try key.publicKey.pem(), to: path + ".pub", mode: 0o644)
                try key.save(to: path)
                progress.log("kiln: created the development signing key \(path) (trust \(path).pub); pass --signing-key for your own key")
            }
        }
        return try APKSigner.load(path: path)
    }
}
