// KilnFIPS — what kiln knows about FIPS modules.
//
// Owns: `FIPSModuleRegistry` (recipes/fips/modules.yaml: CMVP-listed modules), `FIPSLabel`, the one
// `FIPSModuleIdentity` (written into a provider package at build time by `FIPSModuleStamper`, read
// back by KilnImage for manifest annotations; KilnAttest states it with the typed label), `ActiveFIPSModule` (the provider
// doing kiln's own crypto in FIPS mode, with its label), and
// `FIPSAllowance` (a boundary-audit allow-list entry: image config → manifest annotation → KilnAudit).
//
// May import: KilnCrypto, KilnCore, Yams.
