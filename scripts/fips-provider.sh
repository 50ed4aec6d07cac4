#!/bin/bash
# make fips-provider: build recipes/openssl-fips-provider.yaml in the pinned Debian root and leave
# OUT/fips/{fips.so,fipsmodule.cnf,openssl-fips.cnf} for FIPS-mode tests (reused while present).
set -euo pipefail
# TOOLCHAIN (default debian): `host` builds only the provider with the host's compiler and runs
# fipsinstall with the host's OpenSSL 3 CLI (no kiln-built openssl needed; what `make test` uses).
KILN=${1:?usage: fips-provider.sh KILN OUT [TOOLCHAIN] [SOURCE_CACHE]}; OUT=${2:?}; TOOLCHAIN=${3:-debian}; SOURCES=${4:-$OUT/sources}
DIR="$OUT/fips"
if [ -f "$DIR/fips.so" ] && [ -f "$DIR/fipsmodule.cnf" ] && [ -f "$DIR/openssl-fips.cnf" ]; then
    echo "fips-provider: $DIR is ready"; exit 0
fi
TREE=$(ls -d "$OUT"/trees/*/openssl-fips-provider 2>/dev/null | head -1 || true)
if [ -z "$TREE" ] || [ ! -f "$TREE/usr/lib/ossl-modules/fips.so" ]; then
    "$KILN" build --toolchain "$TOOLCHAIN" --offline --no-package --out "$OUT" --source-cache "$SOURCES" \
        recipes/openssl-fips-provider.yaml
    TREE=$(ls -d "$OUT"/trees/*/openssl-fips-provider | head -1)
fi
mkdir -p "$DIR"
ABS=$(cd "$DIR" && pwd)
cp "$TREE/usr/lib/ossl-modules/fips.so" "$DIR/.fips.so.tmp" && mv "$DIR/.fips.so.tmp" "$DIR/fips.so"
cp "$TREE/etc/ssl/fipsmodule.cnf" "$DIR/.fipsmodule.cnf.tmp" && mv "$DIR/.fipsmodule.cnf.tmp" "$DIR/fipsmodule.cnf"
cat > "$DIR/.openssl-fips.cnf.tmp" <<CNF
config_diagnostics = 1
openssl_conf = openssl_init
.include $ABS/fipsmodule.cnf
[openssl_init]
providers = provider_sect
alg_section = algorithm_sect
[provider_sect]
fips = fips_sect
base = base_sect
[base_sect]
activate = 1
[algorithm_sect]
default_properties = fips=yes
CNF
mv "$DIR/.openssl-fips.cnf.tmp" "$DIR/openssl-fips.cnf"
echo "fips-provider: $DIR (OPENSSL_MODULES=$ABS KILN_TEST_FIPS_CONF=$ABS/openssl-fips.cnf)"
