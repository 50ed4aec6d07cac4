#!/bin/sh
# The demo summary's twin table (issue 17): for every layout under IMAGES with a standard tag and
# its -fips twin, the image sizes (config + layers, compressed) and what the FIPS build removed —
# the standard twin's `kiln audit` findings beside the FIPS twin's verdict. Logs in OUT/.
# Usage: scripts/fips-twins.sh KILN IMAGES OUT
set -u
KILN=${1:?usage: fips-twins.sh KILN IMAGES OUT}; IMAGES=${2:?}; OUT=${3:?}
mkdir -p "$OUT"
size() {  # bytes of config + layers of tag $2 in layout $1
    d=$(jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json" | head -n 1)
    jq '[.config.size] + [.layers[].size] | add' "$1/blobs/sha256/${d#sha256:}"
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
printf '%-10s %-24s %-10s %-10s %-9s %-6s %s\n' IMAGE FIPS-TWIN STANDARD FIPS DELTA AUDIT "WHAT THE FIPS BUILD REMOVED (standard twin's audit findings)" > "$OUT/twins.txt"
for l in "$IMAGES"/*/; do
    l=${l%/}; [ -f "$l/oci-layout" ] || continue
    fips=$(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty | select(endswith("-fips"))' "$l/index.json" | head -n 1)
    [ -n "$fips" ] || continue
    std=${fips%-fips}
    jq -e --arg t "$std" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)' "$l/index.json" > /dev/null || continue
    n=$(basename "$l")
    "$KILN" audit "$l:$std" > "$OUT/$n-standard.audit" 2>&1
    "$KILN" audit "$l:$fips" > "$OUT/$n-fips.audit" 2>&1; fstatus=$?
    removed=$(sed -n 's/^  finding \[\([^]]*\)\].*/\1/p' "$OUT/$n-standard.audit" | sort -u | paste -sd, -)
    verdict=PASS; [ "$fstatus" -eq 0 ] || verdict=FAIL
    s=$(size "$l" "$std"); f=$(size "$l" "$fips")
    printf '%-10s %-24s %-10s %-10s %-9s %-6s %s\n' "$n" "$fips" "$(mib "$s")" "$(mib "$f")" "+$(mib $((f - s)))" "$verdict" "${removed:-none}" >> "$OUT/twins.txt"
done
echo "== FIPS twins: sizes, and what the FIPS build removed"
cat "$OUT/twins.txt"
