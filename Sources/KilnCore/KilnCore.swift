// KilnCore — the vocabulary every kiln module shares; depends on nothing.
//
// Owns: the `KilnError` protocol and `KilnMessage`; `AtomicFile` (write/replace under a final name);
// `Subprocess`; `Progress`; `SourceDateEpoch`; `ByteReader` (the overflow-checked reader every
// binary parser uses: tar/PAX, ELF); `DependencyAtom` (the one parser that splits an apk
// dependency atom into name/tag/op/version); `FIPSPackageName` (well-known package names); the one
// strict YAML reader (`YAMLReader`, `YAMLLimits`, `YAMLDiagnostics`, `YAMLValue`, `InputError`)
// behind recipes, pipeline files, image configs, the FIPS module registry and audit policies.
//
// May import: Foundation, Yams (no Kiln module).
