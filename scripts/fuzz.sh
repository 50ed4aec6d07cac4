#!/bin/bash
# make fuzz: coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every parser kiln runs on
# untrusted bytes (Sources/KilnFuzz). FUZZ_SECONDS per target (default 60). Seeds come from the
# repository (recipes, image configs, pipelines, locks, keys, /bin/true) and out/packages when built;
# crashing inputs land in out/fuzz/crashes/<target>/ — copy them into Tests/fuzz-corpus/<target>/ so
# `make test` replays them (KilnFuzzTests) once fixed.
set -euo pipefail
SECONDS_PER=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"recipe image-config pipeline tar tar-stream gzip apk apkindex pkginfo elf oci-json layout-reference pem toolchain-lock source-list dependency"}
OUT=${OUT:-out}/fuzz
swift build --product kiln-fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DKILN_FUZZ -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
BIN=.build-fuzz/debug/kiln-fuzz
seed() { # target, files...
    local t=$1; shift; mkdir -p "$OUT/corpus/$t"
    for f in "$@"; do [ -f "$f" ] && cp "$f" "$OUT/corpus/$t/$(basename "$f")" || true; done
    [ -d "Tests/fuzz-corpus/$t" ] && cp Tests/fuzz-corpus/$t/* "$OUT/corpus/$t/" 2>/dev/null || true
}
seed recipe recipes/*.yaml recipes/fips/*.yaml
seed image-config recipes/images/*.yaml
seed pipeline Sources/KilnBuild/Pipelines/*.yaml Sources/KilnBuild/Pipelines/*/*.yaml
seed toolchain-lock recipes/toolchain/*.lock
seed source-list recipes/debian-sources.txt
seed elf /bin/true /usr/lib/x86_64-linux-gnu/libz.so.1
seed pem keys/*.pub
seed apk $(ls out/packages/x86_64/*.apk 2>/dev/null | head -5)
seed apkindex out/packages/x86_64/APKINDEX.tar.gz
seed gzip out/packages/x86_64/APKINDEX.tar.gz
tmp=$(mktemp -d); tar --format=pax -cf "$tmp/seed.tar" -C recipes images; seed tar "$tmp/seed.tar"; seed tar-stream "$tmp/seed.tar"; rm -rf "$tmp"
for t in oci-json layout-reference pkginfo dependency; do seed $t; done
echo '{"schemaVersion":2,"manifests":[]}' > "$OUT/corpus/oci-json/index.json"
echo 'out/images/curl:curl:1-r0' > "$OUT/corpus/layout-reference/ref"
printf 'pkgname = a\npkgver = 1-r0\n' > "$OUT/corpus/pkginfo/pkginfo"
echo 'so:libc.so.6' > "$OUT/corpus/dependency/dep"
status=0
for t in $TARGETS; do
    mkdir -p "$OUT/crashes/$t"
    log="$OUT/$t.log"
    echo "fuzz: $t for ${SECONDS_PER}s"
    if ! KILN_FUZZ_TARGET=$t "$BIN" -max_total_time="$SECONDS_PER" -rss_limit_mb=2048 -timeout=10 -max_len=1048576 \
            -artifact_prefix="$OUT/crashes/$t/" -print_final_stats=1 "$OUT/corpus/$t" > "$log" 2>&1; then
        echo "fuzz: $t FOUND A CRASH: $(ls "$OUT/crashes/$t" | head -3) (log $log)"; status=1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz: $t: $execs executions, $rate/s"
done
exit $status
