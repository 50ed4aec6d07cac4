#!/usr/bin/env bash
# Sandbox overhead benchmark for `kiln build`:
#  1. per-step cost: a recipe of N empty `runs: "true"` steps vs one of 1 step, built by kiln
#     (each step = one bwrap sandbox); reported as milliseconds per step.
#  2. a small C project (hand-written configure + make + make install) built directly with make
#     on the host vs the same through kiln's autoconf pipelines in the sandbox.
# Usage: scripts/bench-sandbox.sh [N]   (needs `swift build` first; uses .build/debug/kiln)
set -euo pipefail
N=${1:-50}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$ROOT/.build/debug/kiln}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export CI=1 SOURCE_DATE_EPOCH=1700000000
now() { date +%s.%N; }
# Measure the build only (kiln build packages trees as .apk afterwards unless told not to).
NOPKG=$("$KILN" build --help 2>/dev/null | grep -q -- --no-package && echo --no-package || true)

mk_recipe() { # name steps
  { printf 'package:\n  name: %s\n  version: "1"\npipeline:\n' "$1"
    for _ in $(seq "$2"); do printf '  - runs: "true"\n'; done; } > "$W/$1.yaml"
}
mk_recipe one 1; mk_recipe many "$N"
"$KILN" build $NOPKG "$W/one.yaml" --out "$W/warm" >/dev/null 2>&1   # warm caches
t0=$(now); "$KILN" build $NOPKG "$W/one.yaml" --out "$W/o1" >/dev/null 2>&1; t1=$(now)
"$KILN" build $NOPKG "$W/many.yaml" --out "$W/o2" >/dev/null 2>&1; t2=$(now)
calc() { awk "BEGIN { print $1 }"; }
one=$(calc "$t1 - $t0"); many=$(calc "$t2 - $t1")
per=$(calc "($many - $one) * 1000 / ($N - 1)")
printf 'kiln build, 1 empty step:   %.3f s\n' "$one"
printf 'kiln build, %d empty steps: %.3f s\n' "$N" "$many"
printf 'sandbox cost per empty runs: "true" step: %.1f ms\n' "$per"

# The C project: same sources, built directly and through kiln.
P="$W/hello-1.0"; mkdir -p "$P"
cat > "$P/configure" <<'EOC'
#!/bin/sh
prefix=/usr
for a in "$@"; do case "$a" in --prefix=*) prefix="${a#*=}";; esac; done
echo "PREFIX=$prefix" > config.mk
EOC
chmod +x "$P/configure"
printf 'include config.mk\nall: hello\nhello: main.c\n\tcc -O2 main.c -o hello\ninstall: all\n\tinstall -D -m 755 hello $(DESTDIR)$(PREFIX)/bin/hello\n' > "$P/Makefile"
printf '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n' > "$P/main.c"
tar --sort=name --mtime=@0 --owner=0 --group=0 -czf "$W/hello-1.0.tar.gz" -C "$W" hello-1.0
sha=$(sha256sum "$W/hello-1.0.tar.gz" | cut -d' ' -f1)
cat > "$W/hello.yaml" <<EOR
package:
  name: hello
  version: "1.0"
pipeline:
  - uses: fetch
    with:
      uri: https://example.invalid/hello-1.0.tar.gz
      expected-sha256: $sha
  - uses: autoconf/configure
  - uses: autoconf/make
  - uses: autoconf/make-install
EOR
"$KILN" source add "$W/hello-1.0.tar.gz" --source-cache "$W/cache" >/dev/null
t0=$(now)
( mkdir -p "$W/direct" && cd "$W/direct" && tar -xzf "$W/hello-1.0.tar.gz" --strip-components=1 &&
  ./configure --prefix=/usr >/dev/null && make -j"$(nproc)" >/dev/null && make install DESTDIR="$W/direct/dest" >/dev/null )
t1=$(now)
"$KILN" build $NOPKG "$W/hello.yaml" --out "$W/o3" --source-cache "$W/cache" --offline >/dev/null 2>&1
t2=$(now)
printf 'C project directly with make:        %.3f s\n' "$(calc "$t1 - $t0")"
printf 'C project with kiln build (5 steps): %.3f s\n' "$(calc "$t2 - $t1")"
