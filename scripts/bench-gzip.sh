#!/usr/bin/env bash
# Layer compression benchmark: `tar | gzip -6` vs kiln's TarWriter + ParallelGzipSink (1, 2, N threads)
# over a directory tree; prints wall and CPU seconds, sizes and the speed-up, and checks that the
# output is byte-identical for every thread count.
# Usage: scripts/bench-gzip.sh [TREE]   (default: a ~290 MB copy of /usr/lib/gcc, /usr/lib/python3.11
# and /usr/share/doc in a temporary directory). Builds the tests first if needed (debug build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TREE=${1:-}
if [ -z "$TREE" ]; then
  W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
  TREE=$W/tree; mkdir -p "$TREE"
  for d in /usr/lib/gcc /usr/lib/python3.11 /usr/share/doc; do [ -d "$d" ] && cp -a "$d" "$TREE/"; done
fi
echo "tree: $TREE ($(du -sh "$TREE" | cut -f1))"
swift build --build-tests >/dev/null
KILN_BENCH=1 KILN_BENCH_TREE="$TREE" swift test --skip-build --filter ParallelGzipTests/testBenchmark 2>&1 \
  | grep -E '^bench:|error|failed' | sed 's/^bench: //'
