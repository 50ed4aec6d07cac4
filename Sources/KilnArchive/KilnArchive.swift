// KilnArchive — the binary container formats: tar/PAX, gzip, ELF.
//
// Owns: reading tar through libarchive (`ArchiveReader`: entries, safe extraction) and the one raw
// tar-header walker (`TarStream`, apk and POSIX dialects, for members without end-of-archive blocks
// and PAX records libarchive drops); deterministic writing (`TarWriter`, `PaxHeader`, `TreeScanner`);
// gzip (`Gzip` with decompression limits, `GzipSink` on zlib, chunked `ParallelGzipSink` on libdeflate); the `ByteSink`
// chain; the one ELF reader (`ELFFile`, `ELFInfo`) used by KilnAPK's scanner and KilnRepro's differ.
// Every untrusted size and offset goes through KilnCore's `ByteReader`.
//
// May import: KilnCrypto, KilnCore, CArchive, CZlib, CDeflate.
