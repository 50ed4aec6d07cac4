#!/bin/sh
# kiln's own crypto in FIPS mode from the module the catalog built (issue 17): the newest
# openssl-fips-provider APK in PACKAGES is verified and extracted with `kiln apk extract`, a config
# that activates only that module (its own fipsmodule.cnf, default_properties fips=yes) is written,
# and `kiln --fips version` must load it and report it. Leaves OUT/root (the package's files),
# OUT/openssl-fips.cnf, OUT/env (OPENSSL_MODULES=...) and OUT/module.txt (the module kiln reports).
# Exits non-zero with the reason when the module cannot load: the demo never signs in default mode.
# Usage: scripts/fips-module.sh KILN PACKAGES OUT KEY
set -eu
KILN=${1:?usage: fips-module.sh KILN PACKAGES OUT KEY}; PKGS=${2:?}; OUT=${3:?}; KEY=${4:?}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
apk=$(ls "$PKGS"/x86_64/openssl-fips-provider-[0-9]*.apk 2>/dev/null | sort -V | tail -n 1)
[ -n "$apk" ] || { echo "fips-module: no openssl-fips-provider package in $PKGS/x86_64 (run make demo-packages)"; exit 1; }
rm -rf "$OUT/root.new"
"$KILN" apk extract "$apk" --key "$KEY" --out "$OUT/root.new"
rm -rf "$OUT/root"; mv "$OUT/root.new" "$OUT/root"
[ -f "$OUT/root/usr/lib/ossl-modules/fips.so" ] && [ -f "$OUT/root/etc/ssl/fipsmodule.cnf" ] || {
    echo "fips-module: $apk has no usr/lib/ossl-modules/fips.so or etc/ssl/fipsmodule.cnf"; exit 1; }
cat > "$OUT/openssl-fips.cnf.new" <<CNF
# Written by scripts/fips-module.sh: only the FIPS provider of $(basename "$apk") is activated.
config_diagnostics = 1
openssl_conf = openssl_init
.include $OUT/root/etc/ssl/fipsmodule.cnf
[openssl_init]
providers = provider_sect
alg_section = algorithm_sect
[provider_sect]
fips = fips_sect
[algorithm_sect]
default_properties = fips=yes
CNF
mv "$OUT/openssl-fips.cnf.new" "$OUT/openssl-fips.cnf"
echo "OPENSSL_MODULES=$OUT/root/usr/lib/ossl-modules" > "$OUT/env"
if ! OPENSSL_MODULES="$OUT/root/usr/lib/ossl-modules" "$KILN" --fips --fips-config "$OUT/openssl-fips.cnf" version > "$OUT/version.txt" 2>&1; then
    echo "fips-module: kiln cannot run in FIPS mode with the module the catalog built ($apk):"; cat "$OUT/version.txt"; exit 1
fi
sed -n 's/^fips module: //p' "$OUT/version.txt" > "$OUT/module.txt"
[ -s "$OUT/module.txt" ] || { echo "fips-module: kiln --fips did not report its module:"; cat "$OUT/version.txt"; exit 1; }
echo "kiln's own crypto (FIPS mode): $(cat "$OUT/module.txt")"
