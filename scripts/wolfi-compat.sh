#!/usr/bin/env bash
# wolfi-compat.sh WOLFI_DIR [KILN]: how much of Wolfi's catalog (a checkout of wolfi-dev/os, kept OUT of
# this repository) kiln can parse and plan without building — `kiln plan` over every top-level recipe,
# once with kiln's built-in pipelines alone and once with `--pipeline-dir WOLFI_DIR/pipelines`.
# Prints, for each pass, the recipes planned, the test blocks planned and the top rejection categories.
# Cost: two single-process passes (about a minute each with a debug build on one core).
# Env: TOP (categories shown, default 15), KEEP (a directory to keep the raw `kiln plan` output in).
set -euo pipefail
wolfi=${1:?usage: scripts/wolfi-compat.sh WOLFI_DIR [KILN]}
kiln=${2:-$(dirname "$0")/../.build/debug/kiln}
top=${TOP:-15}
[ -d "$wolfi/pipelines" ] || { echo "wolfi-compat: $wolfi has no pipelines/ directory (a wolfi-dev/os checkout?)" >&2; exit 2; }
[ -x "$kiln" ] || { echo "wolfi-compat: $kiln is not executable (swift build first, or pass KILN)" >&2; exit 2; }
work=${KEEP:-$(mktemp -d)}
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
n=$(find "$wolfi" -maxdepth 1 -name '[!.]*.yaml' -type f | wc -l)

pass() {   # pass NAME [kiln plan options...]
    local name=$1; shift
    local out="$work/$name.tsv"
    "$kiln" plan "$@" "$wolfi" >"$out" 2>"$work/$name.err" || true
    local ok fail tok tfail tskip
    ok=$(grep -c '^ok	' "$out" || true); fail=$(grep -c '^fail	' "$out" || true)
    tok=$(grep -c '^test-ok	' "$out" || true); tfail=$(grep -c '^test-fail	' "$out" || true)
    tskip=$(grep '^test-ok	' "$out" | grep -c '	skipped ' || true)
    echo "== $name: recipes planned $ok/$n ($(awk -v a="$ok" -v b="$n" 'BEGIN{printf "%.1f", b?a*100/b:0}') %), rejected $fail"
    echo "   test blocks planned $tok/$((tok + tfail)) ($(awk -v a="$tok" -v b="$((tok + tfail))" 'BEGIN{printf "%.1f", b?a*100/b:0}') %), $tskip of them skip an unknown pipeline"
    if [ "$fail" -gt 0 ]; then
        echo "   top rejection categories (recipes):"
        grep '^fail	' "$out" | cut -f3 | sort | uniq -c | sort -rn | head -n "$top" | sed 's/^/    /'
    fi
    if [ "$tfail" -gt 0 ]; then
        echo "   top rejection categories (test blocks):"
        grep '^test-fail	' "$out" | cut -f4 | sort | uniq -c | sort -rn | head -n "$top" | sed 's/^/    /'
    fi
    if [ "$tskip" -gt 0 ]; then
        echo "   test pipelines skipped as unknown (blocks):"
        grep '^test-ok	' "$out" | grep '	skipped ' | cut -f4 | sed 's/^skipped //' | tr ',' '\n' | sort | uniq -c | sort -rn | head -n "$top" | sed 's/^/    /'
    fi
    local other; other=$(grep -c -v -e '^ok	' -e '^fail	' -e '^test-' "$out" || true)
    [ "$other" -eq 0 ] || echo "   WARNING: $other unexpected output line(s) in $out"
    grep -q 'kiln plan:' "$work/$name.err" || { echo "   WARNING: kiln plan did not finish:"; tail -3 "$work/$name.err" | sed 's/^/    /'; }
}

echo "wolfi-compat: $n recipes in $wolfi ($(git -C "$wolfi" log -1 --format=%h 2>/dev/null || echo 'not a git checkout'))"
pass builtins
pass wolfi-pipelines --pipeline-dir "$wolfi/pipelines"
[ -z "${KEEP:-}" ] || echo "raw output kept in $work"
