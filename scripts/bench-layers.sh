#!/usr/bin/env bash
# Layer assembly benchmark: kiln's layer writer vs `tar | gzip -6 -n` vs umoci, same tree, same
# gzip level, in one run. Usage: scripts/bench-layers.sh [TREE] [KILN]
# Default TREE: ~300 MB made of copies of the host's /usr/lib/python3* (built once under /tmp).
set -euo pipefail
KILN=${2:-.build/release/kiln}
[ -x "$KILN" ] || KILN=.build/debug/kiln
[ -x "$KILN" ] || { echo "build kiln first (swift build -c release)"; exit 1; }
WORK=$(mktemp -d /tmp/kiln-bench-layers.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
TREE=${1:-/tmp/kiln-bench-layers-tree}
if [ -z "${1:-}" ] && [ ! -d "$TREE" ]; then
    mkdir -p "$TREE.tmp"
    i=0
    while [ "$(du -sm "$TREE.tmp" | cut -f1)" -lt 300 ]; do
        i=$((i+1)); mkdir -p "$TREE.tmp/copy$i"
        cp -a /usr/lib/python3* "$TREE.tmp/copy$i/"
    done
    find "$TREE.tmp" -name __pycache__ -prune -o -type f -print >/dev/null
    mv "$TREE.tmp" "$TREE"
fi
echo "tree: $TREE ($(du -sm "$TREE" | cut -f1) MB, $(find "$TREE" | wc -l) entries), cores: $(nproc)"
# Warm the page cache so every contender reads from memory.
tar -cf - "$TREE" >/dev/null 2>&1 || true

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); awk "BEGIN{print $e - $s}"; }

K1=$(t "$KILN" layer "$TREE" -o "$WORK/kiln1.tar.gz" --source-date-epoch 0 --level 6)
K2=$(t "$KILN" layer "$TREE" -o "$WORK/kiln2.tar.gz" --source-date-epoch 0 --level 6 --threads 1)
TG=$(t bash -c "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C '$TREE' -cf - . | gzip -6 -n > '$WORK/tar.tar.gz'")
UM=""
if command -v umoci >/dev/null; then
    umoci init --layout "$WORK/oci" >/dev/null
    umoci new --image "$WORK/oci:bench" >/dev/null
    UM=$(t umoci insert --rootless --image "$WORK/oci:bench" "$TREE" /tree)
fi
K3=$(t "$KILN" layer "$TREE" -o "$WORK/kiln3.tar.gz" --source-date-epoch 0 --level 6)

s1=$(sha256sum < "$WORK/kiln1.tar.gz" | cut -c1-64); s2=$(sha256sum < "$WORK/kiln2.tar.gz" | cut -c1-64); s3=$(sha256sum < "$WORK/kiln3.tar.gz" | cut -c1-64)
same=no; [ "$s1" = "$s2" ] && [ "$s1" = "$s3" ] && same=yes
printf "kiln layer (all cores)   %6.2fs  %s\n" "$K1" "$(stat -c %s "$WORK/kiln1.tar.gz") bytes"
printf "kiln layer (again)       %6.2fs\n" "$K3"
printf "kiln layer (1 thread)    %6.2fs\n" "$K2"
printf "tar | gzip -6 -n         %6.2fs  %s\n" "$TG" "$(stat -c %s "$WORK/tar.tar.gz") bytes"
[ -n "$UM" ] && printf "umoci insert (its gzip)  %6.2fs\n" "$UM"
best=$(awk "BEGIN{print ($K1 < $K3) ? $K1 : $K3}")
printf "speed-up vs tar|gzip: %.2fx (best kiln run); byte-identical across runs and thread counts: %s\n" \
    "$(awk "BEGIN{print $TG / $best}")" "$same"
