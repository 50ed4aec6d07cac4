// KilnAPK — the one APK model: v2 packages and APKINDEX repositories (apk-tools 2.x semantics).
//
// Owns: reading/verifying (`APKReader`, with the entry policy and decompression limit), writing
// (`APKWriter`, `PkgInfo`, dependency scanning over KilnArchive's ELF reader; `APKWriter.resign` replaces a package's signature), the index
// (`APKIndexRecord`, `APKIndex`, `APKRepository`), `APKKeyring`/`APKSigner`, version ordering
// (`APKVersion`), dependency atoms (`APKDependency`, on KilnCore's `DependencyAtom`), the `Solver`
// (used by images) and `APKRepositoryPackage`, build-root installation (`APKInstall`), the package
// SBOM and the one purl builder (`APKPurl`). KilnImage and KilnAttest import it instead of
// re-reading APK files.
//
// May import: KilnArchive, KilnCrypto, KilnRecipe (`PackageSyntax`: the name/version rules recipes
// are checked with), KilnCore.
//
// Stable API for other modules (image assembler, build, attest):
//
// Reading / verifying a package
//   var ring = APKKeyring()                       // or APKKeyring(directory: "keys")
//   try ring.add(path: "keys/kiln-dev.rsa.pub")   // key name = file name, as in `.SIGN.RSA256.<name>`
//   let pkg = try APKReader.read(path: "x.apk", options: APKVerifyOptions(keyring: ring))
//     // checks: gzip members (sig?, control, ONE data member), no zero blocks in sig/control,
//     // .PKGINFO first, RSA signature over the compressed control member, datahash (SHA-256 of the
//     // compressed data member), per-file APK-TOOLS.checksum.SHA1. Throws APKError otherwise.
//   pkg.info           : PkgInfo   — pkgname, pkgver, pkgdesc, url, builddate, size, arch, origin,
//                                    commit, maintainer, license, depends, provides, installIf,
//                                    providerPriority, replaces, triggers, datahash
//   pkg.checksum       : "Q1…"     — APKINDEX C: / installed-db C:
//   pkg.scripts        : [".post-install": Data, …]
//   pkg.entries        : [APKTarEntry] in archive order (path, kind, mode, uid, gid, uname, gname,
//                                    mtime, size, linkTarget, pax, xattrs, data for regular files)
//   pkg.checksumSHA1(of: entry) -> String?   — hex SHA-1 for `Z:` lines (hardlinks: their target's)
//   pkg.trustedKey, pkg.signatures, pkg.dataHash, pkg.fileSize, pkg.memberRanges
//
// Reading / verifying an index
//   let idx = try APKIndex.read(path: ".../APKINDEX.tar.gz", options: APKVerifyOptions(keyring: ring))
//   idx.records : [APKIndexRecord] — checksum(C) name(P) version(V) arch(A) size(S) installedSize(I)
//                 description(T) url(U) license(L) origin(o) maintainer(m) buildTime(t) commit(c)
//                 providerPriority(k) depends(D) provides(p) installIf(i); record.fileName
//   APKIndex.parseText(_:file:) / renderText(_:) for the bare APKINDEX text.
//
// Writing
//   let signer = try APKSigner.load(path: "keys/kiln-dev.rsa")   // signs as .SIGN.RSA256.kiln-dev.rsa.pub
//   try APKWriter.write(spec: PackageSpec(...), root: treeDir, repository: repoDir, signer: signer)
//     // → <repo>/<arch>/<name>-<version>-r<epoch>.apk, with automatic so:/cmd:/pc:/interpreter
//     //   dependencies (DependencyScanner, ELF parsed in Swift) and an SPDX 2.3 SBOM at
//     //   var/lib/db/sbom/<name>-<version>-r<epoch>.spdx.json
//   try APKRepository.updateIndex(directory: "<repo>/<arch>", signer: signer)   // atomic, locked
//   try APKRepository.add(spec:root:repository:signer:)                          // write + reindex
