#!/bin/bash
# Content-keyed stamps for the demo-only steps of `make demo` (pod proofs, twins, registry demo, the
# attest checks): the step's COMMAND runs unless a successful earlier run recorded the same inputs' key
# and its recorded outputs still have the bytes it left. Then the output of that run is printed again,
# labelled as reused. A failed run records nothing (and removes the old stamp), so it runs again.
#
# The key is the sha256 of: the step's NAME, each --file (its sha256; "missing" when absent), each --tree
# (every file below it: relative path + sha256, symlinks by target), each --text. Hashes are cached in
# STAMPS/.hashes by (device, inode, size, mtime ns, ctime ns): a file rewritten with the same bytes is
# hashed again and keys the same; the content decides, never a time stamp alone.
#
# usage: scripts/stamp.sh NAME STAMPS [--file F]... [--tree D]... [--text S]... [--output F]... -- COMMAND...
#   STAMPS/NAME.key  key + finish time of the last successful run;  STAMPS/NAME.out  its output;
#   STAMPS/NAME.outputs  sha256 of each --output as that run left it. STAMP_FORCE=1 always runs.
set -u
NAME=${1:?usage: stamp.sh NAME STAMPS [--file F|--tree D|--text S|--output F]... -- COMMAND...}; STAMPS=${2:?}; shift 2
files=(); trees=(); texts=(); outputs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --file) files+=("$2"); shift 2 ;;
        --tree) trees+=("$2"); shift 2 ;;
        --text) texts+=("$2"); shift 2 ;;
        --output) outputs+=("$2"); shift 2 ;;
        --) shift; break ;;
        *) echo "stamp.sh: unknown argument '$1' (expected --file, --tree, --text, --output or --)"; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "stamp.sh $NAME: no command after --"; exit 2; }
mkdir -p "$STAMPS"; STAMPS=$(cd "$STAMPS" && pwd)
CACHE="$STAMPS/.hashes"; touch "$CACHE"
[ "$(wc -l < "$CACHE")" -lt 20000 ] || { tail -n 5000 "$CACHE" > "$CACHE.new" && mv "$CACHE.new" "$CACHE"; }
# awk prologue: cache lines "id sha256 path" into c[id " " path]; then for each "id path" line, id and p.
JOIN='FILENAME == ARGV[1] { c[$1 " " substr($0, length($1) + length($2) + 3)] = $2; next } { id = $1; p = substr($0, length($1) + 2) }'

# sha256 of each path given on stdin (one per line), as "sha256  path" lines in input order, through the cache.
hashes() {
    local list; list=$(cat)
    [ -n "$list" ] || return 0
    # identity of every file; the awk join prints cached hashes and the paths still to hash.
    local ids; ids=$(printf '%s\n' "$list" | tr '\n' '\0' | xargs -0 stat -L -c '%d:%i:%s:%.9Y:%.9Z %n' 2>/dev/null)
    local todo; todo=$(printf '%s\n' "$ids" | awk "$JOIN"' { if (!((id " " p) in c)) print p }' "$CACHE" -)
    if [ -n "$todo" ]; then
        local new; new=$(printf '%s\n' "$todo" | tr '\n' '\0' | xargs -0 sha256sum)
        # append "id sha256 path" for the newly hashed files
        printf '%s\n' "$new" | awk 'NR == FNR { i = index($0, " "); id[substr($0, i + 1)] = substr($0, 1, i - 1); next }
            { p = substr($0, 67); if (p in id) print id[p], $1, p }' <(printf '%s\n' "$ids") - >> "$CACHE"
    fi
    # every path must have a 64-hex hash; a file that vanished or could not be read stops the step.
    printf '%s\n' "$ids" | awk "$JOIN"' { h = c[id " " p]; if (length(h) != 64 || h ~ /[^0-9a-f]/) { print "stamp.sh: cannot hash " p > "/dev/stderr"; exit 1 }
        print h "  " p }' "$CACHE" -
}

key() {
    echo "step $NAME"
    for f in "${files[@]+"${files[@]}"}"; do
        if [ -f "$f" ]; then h=$(printf '%s\n' "$f" | hashes) || echo UNHASHABLE; printf 'file %s %s\n' "$f" "${h:0:64}"
        else echo "file $f missing"; fi
    done
    for d in "${trees[@]+"${trees[@]}"}"; do
        if [ -d "$d" ]; then
            echo "tree $d"
            (cd "$d" && find . -type l -printf 'link %p -> %l\n' | LC_ALL=C sort)
            (cd "$d" && find . -type f | LC_ALL=C sort | sed "s|^\./||" | hashes) || echo UNHASHABLE
        else echo "tree $d missing"; fi
    done
    for t in "${texts[@]+"${texts[@]}"}"; do echo "text $t"; done
    echo "command $*"
}

set -o pipefail
KEYTEXT=$(key "$@")
if printf '%s\n' "$KEYTEXT" | grep -q '^UNHASHABLE'; then echo "stamp.sh $NAME: could not hash the inputs; running the step"; KEY=unhashable
else KEY=$(printf '%s\n' "$KEYTEXT" | sha256sum | cut -c1-64); fi
OUTS="$STAMPS/$NAME.outputs"
outputs_now() { for o in "${outputs[@]+"${outputs[@]}"}"; do if [ -f "$o" ]; then printf '%s\n' "$o" | hashes || echo "unhashable  $o"; else echo "missing  $o"; fi; done; }
if [ "${STAMP_FORCE:-0}" != 1 ] && [ "$KEY" != unhashable ] && [ -f "$STAMPS/$NAME.key" ] && [ -f "$STAMPS/$NAME.out" ] && [ -f "$OUTS" ] \
   && [ "$(cut -d' ' -f1 "$STAMPS/$NAME.key")" = "$KEY" ] && [ "$(outputs_now)" = "$(cat "$OUTS")" ]; then
    echo "== $NAME: unchanged since $(cut -d' ' -f2 "$STAMPS/$NAME.key") (inputs sha256 ${KEY:0:16}): output of that successful run, reused"
    cat "$STAMPS/$NAME.out"
    exit 0
fi
rm -f "$STAMPS/$NAME.key"
"$@" 2>&1 | tee "$STAMPS/$NAME.out.new"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then rm -f "$STAMPS/$NAME.out.new"; exit "$status"; fi
mv "$STAMPS/$NAME.out.new" "$STAMPS/$NAME.out"
outputs_now > "$OUTS"
echo "$KEY $(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$STAMPS/$NAME.key"
