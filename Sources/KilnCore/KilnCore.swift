// KilnCore — the vocabulary every kiln module shares; depends on nothing.
//
// Owns: the `KilnError` protocol and `KilnMessage`; `AtomicFile` (write/replace under a final name);
// `Subprocess`; `Progress`; `SourceDateEpoch`; `ByteReader` (the overflow-checked reader every
// binary parser uses: tar/PAX, ELF); `DependencyAtom` (the one parser that splits an apk
// dependency atom into name/tag/op/version); `FIPSPackageName` (well-known package names).
//
// May import: Foundation only (no Kiln module).
