#!/usr/bin/env bash
# Layer and index benchmark (issue 19), paired and repeated, medians of RUNS (default 5):
#   1. `kiln layer` at its default level vs `umoci insert`            (goal: wall ≤ 0.6×, size ≤ umoci's)
#   2. `kiln layer --level 6` vs `tar --sort=name … | pigz -6 -n -p 2`   (goal: wall ≤ 0.5×, size ≤ pigz's)
#   3. byte-identical output for 1 and 2 threads and across runs; digest = sha256 of the file, diff_id =
#      sha256 of the gunzipped stream
#   4. the physical floor: sha256sum of the uncompressed tar; libdeflate alone on one thread / cores
#   5. `kiln index` after adding 1 package to a 1,000-package repository vs `kiln index --verify-all`
#      (goal ≤ 5 %)
#   6. peak RSS of `kiln image` on an image with a ~200 MB layer (goal ≤ 128 MiB; /usr/bin/time -v)
# Usage: make release && scripts/bench-layers.sh [TREE]
#   KILN=path/to/kiln (default .build/release/kiln), RUNS=N, SKIP=layers,index,image (sections to leave out),
#   BIGREPO=DIR (section 6: a repository holding bench-big built before).
# Default TREE (~220 MB, ~2,200 entries, built once under /tmp): the host's Python 3.11 stdlib, the
# Swift runtime's Linux libraries and Perl's modules. The machine's load is printed with the figures:
# other builds on the same cores distort them, so run it when `uptime` is low.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$ROOT/.build/release/kiln}
RUNS=${RUNS:-5}
SKIP=${SKIP:-}
[ -x "$KILN" ] || { echo "build kiln first: make release (or set KILN=)"; exit 1; }
for t in umoci pigz gcc python3 /usr/bin/time; do command -v "$t" >/dev/null || { echo "$t missing: run make deps"; exit 1; }; done
WORK=$(mktemp -d /tmp/kiln-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
TREE=${1:-/tmp/kiln-bench-layers-tree}
if [ -z "${1:-}" ] && [ ! -d "$TREE" ]; then
    mkdir -p "$TREE.tmp"
    cp -a /usr/lib/python3.11 "$TREE.tmp/python3.11"
    cp -a /opt/swift/usr/lib/swift/linux "$TREE.tmp/swift-linux" 2>/dev/null || cp -a "$(dirname "$(command -v swift)")/../lib/swift/linux" "$TREE.tmp/swift-linux"
    cp -a /usr/lib/x86_64-linux-gnu/perl "$TREE.tmp/perl" 2>/dev/null || true
    mv "$TREE.tmp" "$TREE"
fi
load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
el() { awk "BEGIN{print $2 - $1}"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
size() { stat -c %s "$1"; }
echo "tree: $TREE ($(du -sm "$TREE" | cut -f1) MB, $(find "$TREE" | wc -l) entries); $(nproc) cores; kiln: $KILN"
echo "load before: $(load)"
tar -cf - -C "$TREE" . >/dev/null          # warm the page cache: every contender reads from memory
TAR="tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C $TREE -cf - ."

if [[ ",$SKIP," != *",layers,"* ]]; then
# --- 1, 2: paired runs, contenders alternating -----------------------------------------------------
: > "$WORK/t.kd"; : > "$WORK/t.um"; : > "$WORK/t.k6"; : > "$WORK/t.pz"
# Every contender writes a new file, as umoci writes into a fresh layout each run: replacing an existing
# file on ext4 (rename over it, or `>` truncating it) forces its writeback before returning
# (auto_da_alloc), ≈ 0.1 s for 70 MB, which would be charged to whoever happened to replace a file.
for i in $(seq "$RUNS"); do
    rm -f "$WORK/kd.tgz" "$WORK/k6.tgz" "$WORK/pz.tgz"
    s=$(now); "$KILN" layer "$TREE" -o "$WORK/kd.tgz" --source-date-epoch 0 >/dev/null; e=$(now)
    el "$s" "$e" >> "$WORK/t.kd"
    rm -rf "$WORK/oci"; umoci init --layout "$WORK/oci" >/dev/null; umoci new --image "$WORK/oci:b" >/dev/null
    s=$(now); umoci insert --rootless --image "$WORK/oci:b" "$TREE" /tree >/dev/null; e=$(now)
    el "$s" "$e" >> "$WORK/t.um"
    s=$(now); "$KILN" layer "$TREE" -o "$WORK/k6.tgz" --source-date-epoch 0 --level 6 >/dev/null; e=$(now)
    el "$s" "$e" >> "$WORK/t.k6"
    s=$(now); bash -c "$TAR | pigz -6 -n -p $(nproc) > '$WORK/pz.tgz'"; e=$(now)
    el "$s" "$e" >> "$WORK/t.pz"
    [ "$i" = 1 ] && cp "$WORK/kd.tgz" "$WORK/kd-first.tgz"
done
UMSIZE=$(find "$WORK/oci/blobs/sha256" -type f -printf '%s\n' | sort -n | tail -1)
KD=$(median < "$WORK/t.kd"); UM=$(median < "$WORK/t.um"); K6=$(median < "$WORK/t.k6"); PZ=$(median < "$WORK/t.pz")
echo "load after layer runs: $(load)"
printf "%-44s %7.2fs  %10d bytes\n" "kiln layer (default level)" "$KD" "$(size "$WORK/kd.tgz")"
printf "%-44s %7.2fs  %10d bytes   kiln/umoci: wall %s, size %s\n" "umoci insert" "$UM" "$UMSIZE" \
    "$(ratio "$KD" "$UM")" "$(ratio "$(size "$WORK/kd.tgz")" "$UMSIZE")"
printf "%-44s %7.2fs  %10d bytes\n" "kiln layer --level 6" "$K6" "$(size "$WORK/k6.tgz")"
printf "%-44s %7.2fs  %10d bytes   kiln/pigz: wall %s, size %s\n" "tar --sort=name | pigz -6 -n -p $(nproc)" "$PZ" "$(size "$WORK/pz.tgz")" \
    "$(ratio "$K6" "$PZ")" "$(ratio "$(size "$WORK/k6.tgz")" "$(size "$WORK/pz.tgz")")"
echo "  (runs, s) kiln: $(paste -sd' ' "$WORK/t.kd") | umoci: $(paste -sd' ' "$WORK/t.um") | kiln-6: $(paste -sd' ' "$WORK/t.k6") | pigz: $(paste -sd' ' "$WORK/t.pz")"

# --- 3: determinism and the digests ------------------------------------------------------------------
out1=$("$KILN" layer "$TREE" -o "$WORK/t1.tgz" --source-date-epoch 0 --threads 1)
"$KILN" layer "$TREE" -o "$WORK/t2.tgz" --source-date-epoch 0 --threads 2 >/dev/null
h=$(sha256sum "$WORK/kd-first.tgz" "$WORK/kd.tgz" "$WORK/t1.tgz" "$WORK/t2.tgz" | cut -c1-64 | sort -u | wc -l)
digest=$(echo "$out1" | awk '/^digest/{print $2}'); diff=$(echo "$out1" | awk '/^diff_id/{print $2}')
[ "sha256:$(sha256sum < "$WORK/t1.tgz" | cut -c1-64)" = "$digest" ] && dok=yes || dok=NO
[ "sha256:$(zcat < "$WORK/t1.tgz" | sha256sum | cut -c1-64)" = "$diff" ] && iok=yes || iok=NO
echo "byte-identical (first run, last run, 1 thread, 2 threads): $([ "$h" = 1 ] && echo yes || echo NO); digest = sha256(file): $dok; diff_id = sha256(zcat): $iok"

# --- 4: physical floor -------------------------------------------------------------------------------
$TAR > "$WORK/layer.tar"
: > "$WORK/t.sha"
for i in $(seq "$RUNS"); do s=$(now); sha256sum "$WORK/layer.tar" >/dev/null; e=$(now); el "$s" "$e" >> "$WORK/t.sha"; done
cat > "$WORK/ld.c" <<'EOF'
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
/* libdeflate alone, one thread, the tar in 1 MiB chunks as kiln cuts it: seconds and bytes. */
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb"); if (!f) return 1;
    fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    unsigned char *in = malloc(n); if (fread(in, 1, n, f) != (size_t)n) return 1; fclose(f);
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(atoi(argv[2]));
    long chunk = 1 << 20; size_t cap = libdeflate_deflate_compress_bound(c, chunk); unsigned char *out = malloc(cap);
    struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
    long total = 0;
    for (long off = 0; off < n; off += chunk) {
        total += 18 + libdeflate_deflate_compress(c, in + off, n - off < chunk ? n - off : chunk, out, cap);
        libdeflate_crc32(0, in + off, n - off < chunk ? n - off : chunk);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f %ld\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, total);
    return 0;
}
EOF
gcc -O2 -o "$WORK/ld" "$WORK/ld.c" -ldeflate
LEVEL=$("$KILN" layer --help | tr -s ' \n' ' ' | sed 's/.*--level <level>//' | grep -o '(default: [0-9]*)' | head -1 | tr -dc 0-9)
for lv in ${LEVEL:-2} 6; do
    : > "$WORK/t.ld"
    for i in $(seq 3); do "$WORK/ld" "$WORK/layer.tar" "$lv" | cut -d' ' -f1 >> "$WORK/t.ld"; done
    LD=$(median < "$WORK/t.ld")
    printf "floor: libdeflate -%s one thread %.2fs / %d cores = %.2fs (%s bytes)\n" "$lv" "$LD" "$(nproc)" \
        "$(awk "BEGIN{print $LD / $(nproc)}")" "$("$WORK/ld" "$WORK/layer.tar" "$lv" | cut -d' ' -f2)"
done
printf "floor: sha256sum of the %d-byte tar %.2fs\n" "$(size "$WORK/layer.tar")" "$(median < "$WORK/t.sha")"
fi

# --- 5: index cost proportional to change ------------------------------------------------------------
# Two repositories of 1,000 real packages (kiln's writer, signed): tiny ones (≈ 8 KB: the worst case, where
# process start and the index's own size dominate) and catalog-sized ones (50–600 KB of real ELF bytes
# each, median ≈ 110 KB compressed, like kiln's own catalog: libcrypto3 2.1 MB, curl 92 KB, zlib 65 KB).
if [[ ",$SKIP," != *",index,"* ]]; then
    KEY="$ROOT/keys/kiln-dev.rsa"; KEY=$(readlink -f "$KEY" || echo "$KEY")
    [ -f "$KEY" ] || { "$KILN" keygen --type rsa --bits 2048 --out "$WORK/bench" >/dev/null; KEY="$WORK/bench.rsa"; }
    make_repo() {   # DIR KIND: 1,000 packages bench-p1..bench-p1000, built once
        local IDX=$1 kind=$2 i
        [ -f "$IDX/packages/x86_64/bench-p1000-1-r0.apk" ] && return 0
        rm -rf "$IDX"; mkdir -p "$IDX"
        { printf 'package:\n  name: bench-base\n  version: "1"\n  epoch: 0\npipeline:\n  - runs: mkdir -p ${{targets.destdir}}/usr/share/bench && echo base > ${{targets.destdir}}/usr/share/bench/base\nsubpackages:\n'
          for i in $(seq 1 1000); do
            if [ "$kind" = tiny ]; then
              printf '  - name: bench-p%d\n    pipeline:\n      - runs: mkdir -p ${{targets.subpkgdir}}/usr/share/bench-p%d && seq %d %d > ${{targets.subpkgdir}}/usr/share/bench-p%d/data\n' "$i" "$i" "$i" $((i + 2000)) "$i"
            else
              printf '  - name: bench-p%d\n    pipeline:\n      - runs: mkdir -p ${{targets.subpkgdir}}/usr/lib/bench-p%d && dd if=/usr/lib/x86_64-linux-gnu/libcrypto.so.3 of=${{targets.subpkgdir}}/usr/lib/bench-p%d/data.so bs=51200 skip=%d count=%d status=none\n' \
                "$i" "$i" "$i" $(( i % 50 )) $(( 1 + i % 12 ))
            fi
          done; } > "$IDX/repo.yaml"
        "$KILN" build "$IDX/repo.yaml" --toolchain host --offline --out "$IDX" --signing-key "$KEY" >/dev/null 2>&1
        rm "$IDX/packages/x86_64/bench-base-1-r0.apk"   # exactly 1,000 packages
    }
    printf 'package:\n  name: bench-extra\n  version: "1"\n  epoch: 0\npipeline:\n  - runs: mkdir -p ${{targets.destdir}}/usr/share/extra && seq 1 5000 > ${{targets.destdir}}/usr/share/extra/data\n' > "$WORK/extra.yaml"
    "$KILN" build "$WORK/extra.yaml" --toolchain host --offline --out "$WORK/extra" --signing-key "$KEY" >/dev/null 2>&1
    cpu() { awk '{print $2 + $3}' "$1"; }     # user + sys seconds from /usr/bin/time -f "%e %U %S"
    for kind in tiny catalog-sized; do
        IDX=/tmp/kiln-bench-index-$kind; [ "$kind" = tiny ] && [ -d /tmp/kiln-bench-index-repo ] && IDX=/tmp/kiln-bench-index-repo
        make_repo "$IDX" "${kind%%-*}"
        R="$WORK/repo"; mkdir -p "$R"
        : > "$WORK/t.add"; : > "$WORK/t.all"; : > "$WORK/c.add"; : > "$WORK/c.all"; : > "$WORK/t.ver"; : > "$WORK/c.ver"; : > "$WORK/t.same"
        for i in $(seq "$RUNS"); do
            rm -rf "$R"; mkdir -p "$R"; cp -a "$IDX/packages/x86_64/"bench-p*.apk "$R/"
            "$KILN" index --signing-key "$KEY" "$R" >/dev/null                   # the 1,000-package index
            cp -a "$WORK/extra/packages/x86_64/bench-extra-1-r0.apk" "$R/"
            s=$(now); o=$(/usr/bin/time -f "%e %U %S" -o "$WORK/tm" "$KILN" index --signing-key "$KEY" "$R"); e=$(now); el "$s" "$e" >> "$WORK/t.add"
            cpu "$WORK/tm" >> "$WORK/c.add"
            s=$(now); /usr/bin/time -f "%e %U %S" -o "$WORK/tm" "$KILN" index --verify-all --signing-key "$KEY" "$R" >/dev/null; e=$(now); el "$s" "$e" >> "$WORK/t.all"
            cpu "$WORK/tm" >> "$WORK/c.all"
            s=$(now); /usr/bin/time -f "%e %U %S" -o "$WORK/tm" "$KILN" version >/dev/null; e=$(now); el "$s" "$e" >> "$WORK/t.ver"
            cpu "$WORK/tm" >> "$WORK/c.ver"
            s=$(now); "$KILN" index --signing-key "$KEY" "$R" >/dev/null; e=$(now); el "$s" "$e" >> "$WORK/t.same"   # nothing changed
        done
        ADD=$(median < "$WORK/t.add"); ALL=$(median < "$WORK/t.all"); VER=$(median < "$WORK/t.ver")
        CADD=$(median < "$WORK/c.add"); CALL=$(median < "$WORK/c.all"); CVER=$(median < "$WORK/c.ver")
        echo "index, $kind packages ($(du -sm "$IDX/packages/x86_64" | cut -f1) MB for 1,000):"
        printf "  kiln index after adding 1 package to 1,000: %.3fs wall, %.3fs cpu  (%s)\n" "$ADD" "$CADD" "${o#*: }"
        printf "  kiln index --verify-all (1,001 packages):    %.3fs wall, %.3fs cpu   incremental/full: wall %s %%, cpu %s %%\n" "$ALL" "$CALL" \
            "$(awk "BEGIN{printf \"%.1f\", 100 * $ADD / $ALL}")" "$(awk "BEGIN{printf \"%.1f\", 100 * $CADD / $CALL}")"
        printf "  floor: kiln version (process start): %.3fs wall, %.3fs cpu = %s %% / %s %% of the full re-verify\n" "$VER" "$CVER" \
            "$(awk "BEGIN{printf \"%.1f\", 100 * $VER / $ALL}")" "$(awk "BEGIN{printf \"%.1f\", 100 * $CVER / $CALL}")"
        SAME=$(median < "$WORK/t.same")
        printf "  fixed part: kiln index with nothing changed %.3fs = %s %% of the full re-verify (start, previous index + state, stat, re-sign, write)\n" \
            "$SAME" "$(awk "BEGIN{printf \"%.1f\", 100 * $SAME / $ALL}")"
    done
    BITS=$(openssl pkey -in "$KEY" -noout -text 2>/dev/null | head -1 | grep -o '[0-9]\+' | head -1)
    SIGN=$(openssl speed -seconds 1 "rsa${BITS:-4096}" 2>/dev/null | awk '/^rsa/ {print $4}' | tr -d s)
    echo "  floor of any index run: one RSA-${BITS:-?} signature ${SIGN:-?} s (openssl speed) plus the process start above"
    echo "load after index runs: $(load)"
fi

# --- 6: peak RSS of kiln image with a ~200 MB layer ------------------------------------------------
if [[ ",$SKIP," != *",image,"* ]]; then
    IMG="$WORK/img"; mkdir -p "$IMG"
    # One package holding the benchmark tree (kiln's own writer via kiln build; the tree is the source
    # directory, copied into the build's workspace), in a signed repository.
    printf 'package:\n  name: bench-big\n  version: "1"\n  epoch: 0\n  options:\n    no-depends: true\npipeline:\n  - runs: mkdir -p ${{targets.destdir}}/usr/share/big && for d in *; do [ "$d" = melange-out ] || cp -a "$d" ${{targets.destdir}}/usr/share/big/; done\n' > "$IMG/big.yaml"
    # BIGREPO=DIR reuses a repository built before (DIR/packages/x86_64/bench-big-1-r0.apk): building
    # the package takes minutes on a loaded machine.
    if [ -n "${BIGREPO:-}" ]; then mkdir -p "$IMG/out"; cp -a "$BIGREPO/packages" "$IMG/out/"; else
    "$KILN" build "$IMG/big.yaml" --toolchain host --offline --out "$IMG/out" --signing-key "${KEY:-$ROOT/keys/kiln-dev.rsa}" \
        --source-dir "$TREE" >/dev/null 2>"$IMG/build.err" || { echo "image: could not build the big package: $(tail -3 "$IMG/build.err")"; exit 0; }
    fi
    printf 'contents:\n  repositories: [%s]\n  keyring: [%s]\n  packages: [bench-big]\n' \
        "$IMG/out/packages" "${KEY:-$ROOT/keys/kiln-dev.rsa}.pub" > "$IMG/image.yaml"
    /usr/bin/time -v "$KILN" image "$IMG/image.yaml" --out "$IMG/layout" --variant standard --source-date-epoch 0 >/dev/null 2>"$IMG/time.txt" \
        || { echo "image: kiln image failed: $(head -3 "$IMG/time.txt")"; exit 0; }
    RSS=$(awk -F': ' '/Maximum resident set size/{print $2}' "$IMG/time.txt")
    BIG=$(find "$IMG/layout/blobs/sha256" -type f -printf '%s\n' | sort -n | tail -1)
    printf "kiln image, %d-byte layer: peak RSS %d KiB (%.1f MiB), wall %s\n" "$BIG" "$RSS" "$(awk "BEGIN{print $RSS / 1024}")" \
        "$(awk -F': ' '/Elapsed/{print $2}' "$IMG/time.txt")"
fi
echo "load at the end: $(load)"
