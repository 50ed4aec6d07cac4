#!/bin/sh
# The pod proofs (issue 17): every line of recipes/pods/proofs.txt run with `kiln pod run`, its exit
# status compared with the expected one and its pattern looked for (grep -E) in the probe
# container's log. One PASS/FAIL line per proof, then a table; exits 1 if any proof failed.
# Usage: scripts/pod-proofs.sh KILN OUT   (logs in OUT/<pod>-<variant>/, table in OUT/proofs.txt;
# POD_PROOFS=FILE reads another table, its pod files relative to it)
set -u
KILN=${1:?usage: pod-proofs.sh KILN OUT}
OUT=${2:?usage: pod-proofs.sh KILN OUT}
HERE=$(cd "$(dirname "$0")/.." && pwd)
TABLE=${POD_PROOFS:-$HERE/recipes/pods/proofs.txt}
[ -f "$TABLE" ] || { echo "pod-proofs: $TABLE not found"; exit 1; }
mkdir -p "$OUT"
rows="$OUT/.rows"; : > "$rows"
fails=0; n=0; lineno=0
trim() { printf '%s' "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//'; }
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    case "$line" in ''|'#'*) continue ;; esac
    pod=$(trim "$(printf '%s' "$line" | awk -F' [|] ' '{print $1}')")
    variant=$(trim "$(printf '%s' "$line" | awk -F' [|] ' '{print $2}')")
    expect=$(trim "$(printf '%s' "$line" | awk -F' [|] ' '{print $3}')")
    pattern=$(trim "$(printf '%s' "$line" | awk -F' [|] ' '{print $4}')")
    desc=$(trim "$(printf '%s' "$line" | awk -F' [|] ' '{print $5}')")
    if [ -z "$pod" ] || [ -z "$variant" ] || [ -z "$pattern" ] || ! [ "$expect" -ge 0 ] 2>/dev/null; then
        echo "FAIL $TABLE:$lineno: expected 'pod-file | variant | exit | pattern | description', got: $line"
        printf 'FAIL\t%s\t-\t-\t-\t%s\n' "line $lineno" "malformed proof line" >> "$rows"
        n=$((n + 1)); fails=$((fails + 1)); continue
    fi
    n=$((n + 1))
    name="$(basename "$pod" .yaml)-$variant"
    dir="$OUT/$name"; rm -rf "$dir"; mkdir -p "$dir"
    start=$(date +%s)
    "$KILN" pod run "$(dirname "$TABLE")/$pod" --variant "$variant" --log-dir "$dir" > "$dir/stdout" 2> "$dir/stderr" < /dev/null
    status=$?
    secs=$(( $(date +%s) - start ))
    probe=$(sed -n 's/^pod [^:]*: probe \([a-z0-9-]*\) exited with status .*/\1/p' "$dir/stderr" | head -n 1)
    why=""
    if [ -z "$probe" ]; then why="the pod did not finish: $(grep '^kiln: error' "$dir/stderr" | head -n 1)"
    elif [ "$status" -ne "$expect" ]; then why="exit status $status, expected $expect"
    elif ! grep -Eq -- "$pattern" "$dir/$probe.log"; then why="'$pattern' not in $probe's log"
    fi
    if [ -z "$why" ]; then verdict=PASS; else verdict=FAIL; fails=$((fails + 1)); fi
    echo "$verdict $pod --variant $variant: exit $status${probe:+ ($probe)}, ${secs}s — $desc${why:+ — $why}"
    if [ -n "$why" ]; then echo "  log: $dir/stderr"; tail -n 15 "$dir/stderr" | sed 's/^/  | /'; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$verdict" "$pod" "$variant" "$status" "${secs}s" "$desc" >> "$rows"
done < "$TABLE"
{
    printf '%-5s %-24s %-9s %-5s %-5s %s\n' RESULT POD VARIANT EXIT TIME PROOF
    while IFS="$(printf '\t')" read -r v p va st t d; do printf '%-5s %-24s %-9s %-5s %-5s %s\n' "$v" "$p" "$va" "$st" "$t" "$d"; done < "$rows"
} > "$OUT/proofs.txt"
echo "== pod proofs: $((n - fails)) of $n passed"
cat "$OUT/proofs.txt"
rm -f "$rows"
[ "$fails" -eq 0 ]
