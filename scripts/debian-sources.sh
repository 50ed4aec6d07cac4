#!/bin/bash
# make sources: fill kiln's source cache from Debian's archive, with apt's own client.
#   scripts/debian-sources.sh KILN OUT LIST
# - skips everything when every pinned file is already cached (a rerun does nothing);
# - adds a temporary deb-src entry under /etc/apt/sources.list.d/ with the same URIs, suites,
#   components and Signed-By as apt's Debian sources, runs `apt-get update`, fetches with
#   `apt-get source --download-only PKG=VERSION` (only the orig tarball matters: the archive may
#   answer 404 for .dsc/.debian.tar.xz) and `apt-get download PKG=VERSION`, then removes the entry
#   and runs `apt-get update` again;
# - checks each file's sha256 against the pin and adds it with `kiln source add`.
set -euo pipefail
KILN=${1:?usage: debian-sources.sh KILN OUT LIST}; OUT=${2:?}; LIST=${3:?}
CACHE="$OUT/sources"
mapfile -t ROWS < <(grep -v '^\s*#' "$LIST" | grep -v '^\s*$')
missing=()
for row in "${ROWS[@]}"; do
    read -r kind pkg ver file sha <<<"$row"
    [ -f "$CACHE/sha256/$sha" ] || missing+=("$row")
done
if [ ${#missing[@]} -eq 0 ]; then echo "sources: all ${#ROWS[@]} Debian files already in $CACHE"; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "sources: adding a deb-src entry and running apt-get needs root: sudo make sources" >&2; exit 1; fi

SRC=/etc/apt/sources.list.d/debian.sources
TMPLIST=/etc/apt/sources.list.d/kiln-deb-src.sources
[ -f "$SRC" ] || { echo "sources: $SRC not found; kiln derives its deb-src entry from apt's Debian sources" >&2; exit 1; }
WORK=$(mktemp -d)
cleanup() {
    rm -f "$TMPLIST"
    apt-get update -qq >/dev/null 2>&1 || echo "sources: warning: apt-get update after removing $TMPLIST failed" >&2
    rm -rf "$WORK"
}
trap cleanup EXIT
# Same stanzas as apt's Debian sources, Types: deb-src.
awk '/^#/ {next} /^Types:/ {print "Types: deb-src"; next} {print}' "$SRC" > "$TMPLIST"
echo "sources: apt-get update (with a temporary deb-src entry)"
apt-get update -qq
chmod 0777 "$WORK"
cd "$WORK"
for row in "${missing[@]}"; do
    read -r kind pkg ver file sha <<<"$row"
    case "$kind" in
        source) echo "sources: apt-get source --download-only $pkg=$ver"
                apt-get source -qq --download-only "$pkg=$ver" >/dev/null 2>apt-$pkg.err || true ;;
        binary) echo "sources: apt-get download $pkg=$ver"
                apt-get download -qq "$pkg=$ver" 2>apt-$pkg.err || true ;;
        *) echo "sources: $LIST: unknown kind '$kind'" >&2; exit 1 ;;
    esac
    if [ ! -f "$file" ]; then
        echo "sources: apt did not deliver $file for $pkg=$ver:" >&2; cat apt-$pkg.err >&2; exit 1
    fi
    got=$(sha256sum "$file" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
        echo "sources: $file has sha256 $got but the recipes pin $sha; update the recipe and $LIST together" >&2; exit 1
    fi
done
cd - >/dev/null
for row in "${missing[@]}"; do
    read -r kind pkg ver file sha <<<"$row"
    "$KILN" source add --out "$OUT" "$WORK/$file"
done
echo "sources: ${#missing[@]} file(s) added to $CACHE"
