import Foundation
import KilnArchive

/// One ELF of the image with its dynamic facts.
struct ImageELF {
    let path: String
    let data: Data
    let info: ELFInfo
    let owner: String?
}

/// The linkage check: every ELF's `DT_NEEDED` resolved inside the root with ld.so's rules — RPATH
/// (only without RUNPATH), `LD_LIBRARY_PATH`, RUNPATH (`$ORIGIN` expanded), the image's
/// `etc/ld.so.conf`, then the default directories; exactly one libcrypto.so.3 and one libssl.so.3,
/// both owned by the OpenSSL package; RUNPATHs that leave the image or point at writable places,
/// and `dlopen`-able crypto library names in `.rodata`, are findings.
struct LinkageCheck {
    static let defaultDirs = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "usr/lib64", "lib", "usr/lib"]
    static let writablePrefixes = ["tmp", "var/tmp", "dev/shm", "run", "home", "root", "var/cache", "var/run", "mnt", "media"]
    static let cryptoLibraryNames = ["libcrypto.so", "libssl.so", "libgcrypt.so", "libgnutls.so", "libnettle.so", "libhogweed.so",
                                     "libmbedcrypto.so", "libwolfssl.so", "libsodium.so", "libk5crypto.so", "libnss3.so", "libsoftokn3.so"]

    let root: ImageRoot
    let elfs: [ImageELF]
    /// Packages that are "the OpenSSL package" (libcrypto/libssl may come only from these).
    let isOpenSSLPackage: (String?) -> Bool

    /// ld.so.conf directories (with `include` globs of `*.conf` in the named directory).
    func ldSoConfDirs() -> [String] {
        var out: [String] = []
        var queue = ["etc/ld.so.conf"], seen = Set<String>()
        while !queue.isEmpty {
            let p = queue.removeFirst()
            guard seen.insert(p).inserted, seen.count < 64, let d = root.data(p) else { continue }
            for raw in String(decoding: d, as: UTF8.self).split(separator: "\n") {
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                if line.isEmpty { continue }
                if line.hasPrefix("include ") {
                    let pattern = ImageRoot.join(ImageRoot.dirname(p), String(line.dropFirst(8)).trimmingCharacters(in: .whitespaces))
                    let dir = ImageRoot.dirname(pattern), glob = ImageRoot.basename(pattern)
                    let realDir = root.resolve(dir) ?? dir
                    for f in root.contents.files.keys.sorted() where ImageRoot.dirname(f) == realDir && fnmatch(glob, ImageRoot.basename(f), 0) == 0 {
                        queue.append(f)
                    }
                } else { out.append(ImageRoot.join("", line)) }
            }
        }
        return out
    }

    /// The directories of a `:`-separated RPATH/RUNPATH, `$ORIGIN` expanded against `elfDir`.
    static func expand(_ path: String, origin elfDir: String) -> [String] {
        path.split(separator: ":", omittingEmptySubsequences: false).map { e in
            String(e).replacingOccurrences(of: "${ORIGIN}", with: "/" + elfDir).replacingOccurrences(of: "$ORIGIN", with: "/" + elfDir)
                .replacingOccurrences(of: "$LIB", with: "lib64").replacingOccurrences(of: "${LIB}", with: "lib64")
                .replacingOccurrences(of: "$PLATFORM", with: "x86_64").replacingOccurrences(of: "${PLATFORM}", with: "x86_64")
        }
    }

    func run() -> (findings: [AuditFinding], libcrypto: String?, users: [String], summary: String) {
        var f: [AuditFinding] = []
        let env = root.environment
        let ldLibraryPath = (env["LD_LIBRARY_PATH"] ?? "").split(separator: ":").map { ImageRoot.join("", String($0)) }
        let confDirs = ldSoConfDirs()
        var resolvedCrypto: [String: Set<String>] = ["libcrypto.so.3": [], "libssl.so.3": []]
        var unresolved = 0, edges = 0

        for e in elfs where e.info.isDynamic {
            let realPath = root.resolve(e.path) ?? e.path
            let origin = ImageRoot.dirname(realPath)
            // RPATH/RUNPATH entries themselves.
            for (tag, value) in [("DT_RUNPATH", e.info.runpath), ("DT_RPATH", e.info.rpath)] {
                guard let value else { continue }
                for (raw, dir) in zip(value.split(separator: ":", omittingEmptySubsequences: false).map(String.init), LinkageCheck.expand(value, origin: origin)) {
                    let ev = AuditEvidence(symbol: tag, string: value)
                    if !dir.hasPrefix("/") {
                        f.append(AuditFinding("runpath-writable", .linkage, path: e.path, package: e.owner,
                                              message: "\(tag) entry '\(raw)' is relative: it is searched relative to the process's working directory",
                                              evidence: ev, advice: "rebuild with an absolute or $ORIGIN-relative RUNPATH inside the image (or none)"))
                        continue
                    }
                    let norm = ImageRoot.join("", dir)
                    let escapes = dir.split(separator: "/").reduce(into: (depth: 0, out: false)) { acc, c in
                        if c == ".." { acc.depth -= 1; if acc.depth < 0 { acc.out = true } } else if c != "." { acc.depth += 1 }
                    }.out
                    if LinkageCheck.writablePrefixes.contains(where: { norm == $0 || norm.hasPrefix($0 + "/") }) {
                        f.append(AuditFinding("runpath-writable", .linkage, path: e.path, package: e.owner,
                                              message: "\(tag) entry '\(raw)' points at a writable place: anything written there is loaded before the image's libraries",
                                              evidence: ev, advice: "rebuild without that RUNPATH (e.g. -Wl,--disable-new-dtags and no -rpath) or point it inside the image's read-only tree"))
                    } else if escapes || !root.isDirectory(norm) {
                        f.append(AuditFinding("runpath-outside", .linkage, path: e.path, package: e.owner,
                                              message: "\(tag) entry '\(raw)' \(escapes ? "leaves the image root" : "names a directory the image does not have") (a mounted volume there would be searched first)",
                                              evidence: ev, advice: "rebuild without the build machine's RUNPATH"))
                    }
                }
            }
            var search: [String] = []
            if e.info.runpath == nil, let r = e.info.rpath { search += LinkageCheck.expand(r, origin: origin).filter { $0.hasPrefix("/") } }
            search += ldLibraryPath
            if let r = e.info.runpath { search += LinkageCheck.expand(r, origin: origin).filter { $0.hasPrefix("/") } }
            search += confDirs + LinkageCheck.defaultDirs
            for lib in e.info.needed {
                edges += 1
                var hit: String?
                if lib.contains("/") { hit = root.resolve(ImageRoot.join(origin, lib)) } else {
                    for d in search {
                        let p = ImageRoot.join("", d) + "/" + lib
                        if let r = root.resolve(p), root.data(r) != nil { hit = r; break }
                    }
                }
                guard let hit else {
                    unresolved += 1
                    f.append(AuditFinding("needed-unresolved", .linkage, path: e.path, package: e.owner,
                                          message: "DT_NEEDED \(lib) is not found in the image: the loader fails, or finds it wherever LD_LIBRARY_PATH points at run time",
                                          evidence: AuditEvidence(symbol: "DT_NEEDED", string: lib), advice: "install the package that provides \(lib)"))
                    continue
                }
                if resolvedCrypto[lib] != nil { resolvedCrypto[lib]!.insert(hit) }
            }
            // dlopen-able crypto libraries named in .rodata but not needed.
            if !isOpenSSLPackage(e.owner), let ro = ELFFile(e.data)?.sectionRange(named: ".rodata") {
                for name in LinkageCheck.cryptoLibraryNames {
                    guard let o = ByteSearch.first(Array(name.utf8), in: e.data, range: ro) else { continue }
                    let s = ByteSearch.printable(e.data, at: o, max: 40)
                    if e.info.needed.contains(where: { $0.hasPrefix(name) }) || e.info.soname.map({ $0.hasPrefix(name) }) == true { continue }
                    f.append(AuditFinding("dlopen-crypto", .linkage, path: e.path, package: e.owner,
                                          message: "names the crypto library \(s) in .rodata without linking it: it can dlopen() a library the linkage audit does not see",
                                          evidence: AuditEvidence(offset: o, symbol: ".rodata", string: s),
                                          advice: "if it loads the image's libcrypto.so.3 (e.g. golang-fips), allow it with a reason; otherwise remove the dlopen"))
                }
            }
        }

        // Every libcrypto/libssl copy in the image (whatever its name), beside the loader's choice.
        var chosenCrypto: String?
        for (soname, id, what) in [("libcrypto.so.3", "second-libcrypto", "libcrypto"), ("libssl.so.3", "second-libssl", "libssl")] {
            let copies = Set(elfs.filter { e in
                e.info.soname.map { $0.hasPrefix(what + ".so") } ?? ImageRoot.basename(e.path).hasPrefix(what + ".so")
            }.map { root.resolve($0.path) ?? $0.path })
            let fromLoader = resolvedCrypto[soname] ?? []
            let preferred = fromLoader.sorted().first(where: { isOpenSSLPackage(root.owner($0)) })
                ?? copies.sorted().first(where: { isOpenSSLPackage(root.owner($0)) && LinkageCheck.defaultDirs.contains(ImageRoot.dirname($0)) })
                ?? copies.sorted().first(where: { isOpenSSLPackage(root.owner($0)) })
            if what == "libcrypto" { chosenCrypto = preferred ?? fromLoader.sorted().first ?? copies.sorted().first }
            for c in copies.union(fromLoader).sorted() where c != preferred {
                let owner = root.owner(c)
                f.append(AuditFinding(id, .linkage, path: c, package: owner,
                                      message: "a \(what) that is not the OpenSSL package's \(preferred.map { "/" + $0 } ?? soname)\(owner.map { " (owned by \($0))" } ?? " (owned by no package)")\(fromLoader.contains(c) ? "; ELFs in the image load it" : "")",
                                      evidence: AuditEvidence(symbol: "DT_SONAME", string: elfs.first { (root.resolve($0.path) ?? $0.path) == c }?.info.soname),
                                      advice: "remove it: every program must use the one libcrypto/libssl of the FIPS-capable OpenSSL package"))
            }
            if copies.isEmpty && fromLoader.isEmpty && !elfs.isEmpty && what == "libcrypto" {
                f.append(AuditFinding("libcrypto-missing", .linkage, path: "", message: "the image has no libcrypto.so.3: nothing can load the FIPS provider",
                                      advice: "install the OpenSSL 3 library package"))
            }
        }
        let users = elfs.filter { $0.info.needed.contains("libcrypto.so.3") || $0.info.needed.contains("libssl.so.3") }.map(\.path).sorted()
        return (f, chosenCrypto, users, "\(elfs.count) ELF files, \(edges) DT_NEEDED resolved in the image (\(unresolved) unresolved); \(users.count) link libcrypto/libssl directly → /\(chosenCrypto ?? "none")")
    }
}
