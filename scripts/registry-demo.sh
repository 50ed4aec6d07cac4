#!/bin/sh
# The registry part of `make demo`: a private CA and server certificate made by `kiln certificate`,
# Debian's docker-registry on a free loopback port over TLS (storage under WORK), every demo image
# pushed with `kiln push --all` (signatures, attestations, referrers fallback index), one FIPS image
# pulled back and verified offline and by digest, a second push (uploads nothing), and throughput
# against `skopeo copy` of the same layouts in the same run. The registry is stopped on exit.
#
# usage: scripts/registry-demo.sh KILN IMAGES_DIR COSIGN_PUB [WORK]
set -eu
KILN=$1; IMAGES=$2; PUB=$3; WORK=${4:-out/registry-demo}
REG_BIN=${DOCKER_REGISTRY:-/usr/bin/docker-registry}
[ -x "$REG_BIN" ] || { echo "registry-demo: $REG_BIN is missing (make deps installs docker-registry)"; exit 1; }
rm -rf "$WORK"; mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

echo "== kiln certificate (CA + server certificate for 127.0.0.1, kiln's own crypto)"
"$KILN" certificate --out "$WORK/tls" --name 127.0.0.1 --name localhost
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$WORK/registry.yml" <<CFG
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/storage}, delete: {enabled: true}}
http:
  addr: 127.0.0.1:$PORT
  tls: {certificate: $WORK/tls/server.crt, key: $WORK/tls/server.key}
CFG
"$REG_BIN" serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2>/dev/null; wait $REG_PID 2>/dev/null || true' EXIT INT TERM
i=0; until python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "registry-demo: docker-registry did not start"; cat "$WORK/registry.log"; exit 1; }; sleep 0.1
done
REG=127.0.0.1:$PORT
TLS="--ca-file $WORK/tls/ca.crt"
echo "== docker-registry (pid $REG_PID) on https://$REG"

now() { date +%s.%N; }
mib() { du -sb "$@" | awk '{s += $1} END {printf "%.1f", s / 1048576}'; }
rate() { awk -v b="$1" -v a="$2" -v m="$3" 'BEGIN {t = b - a; printf "%.2f s, %.1f MiB/s", t, m / t}'; }

LAYOUTS=$(for d in "$IMAGES"/*/; do [ -f "$d/oci-layout" ] && echo "${d%/}"; done)
[ -n "$LAYOUTS" ] || { echo "registry-demo: no OCI layouts under $IMAGES"; exit 1; }
SIZE=$(mib $(for l in $LAYOUTS; do echo "$l/blobs"; done))

echo "== kiln push --all (TLS in kiln's OpenSSL context)"
t0=$(now)
for l in $LAYOUTS; do "$KILN" push --all "$l" "$REG/kiln" $TLS > "$WORK/push-$(basename "$l").log" || { cat "$WORK/push-$(basename "$l").log"; exit 1; }; grep '^pushed ' "$WORK/push-$(basename "$l").log"; done
t1=$(now)
KILN_PUSH=$(rate "$t1" "$t0" "$SIZE")
echo "== second kiln push (must upload nothing)"
for l in $LAYOUTS; do "$KILN" push --all "$l" "$REG/kiln" $TLS | grep '^pushed ' | tee -a "$WORK/push-again.log"; done
if grep -v ': 0 blob(s) uploaded' "$WORK/push-again.log"; then echo "registry-demo: the second push uploaded blobs"; exit 1; fi

# Pull back the first -fips image (else the first image) and verify it offline and by digest.
REF=$(for l in $LAYOUTS; do jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty' "$l/index.json"; done | grep -v '^sha256-' | grep -- '-fips$' | head -1)
[ -n "$REF" ] || REF=$(for l in $LAYOUTS; do jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty' "$l/index.json"; done | grep -v '^sha256-' | head -1)
NAME=${REF%%:*}; TAG=${REF##*:}
echo "== kiln pull $REG/kiln/$NAME:$TAG"
t0=$(now)
"$KILN" pull "$REG/kiln/$NAME:$TAG" "$WORK/pulled" $TLS | tail -2
t1=$(now)
PSIZE=$(mib "$WORK/pulled/blobs")
KILN_PULL=$(rate "$t1" "$t0" "$PSIZE")
DIGEST=$(jq -r --arg t "$TAG" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$WORK/pulled/index.json")
echo "== kiln verify (pulled layout, then $REG/kiln/$NAME@$DIGEST)"
FIPSFLAG=""; case "$TAG" in *-fips) FIPSFLAG=--require-fips;; esac
"$KILN" verify "$WORK/pulled:$TAG" --key "$PUB" $FIPSFLAG | sed -n '/^verified /,$p'
"$KILN" verify "$REG/kiln/$NAME@$DIGEST" --key "$PUB" $TLS $FIPSFLAG | grep '^verified '

if command -v skopeo >/dev/null; then
    echo "== skopeo copy of the same layouts (same registry, same run)"
    t0=$(now)
    for l in $LAYOUTS; do
        for r in $(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty' "$l/index.json" | grep -v '^sha256-'); do
            skopeo copy -q --dest-tls-verify=false "oci:$l:$r" "docker://$REG/skopeo/${r%%:*}:${r##*:}" >/dev/null
        done
    done
    t1=$(now)
    SKOPEO_PUSH=$(rate "$t1" "$t0" "$SIZE")
    t0=$(now)
    skopeo copy -q --src-tls-verify=false "docker://$REG/kiln/$NAME:$TAG" "oci:$WORK/skopeo-pulled:$TAG" >/dev/null
    t1=$(now)
    SKOPEO_PULL=$(rate "$t1" "$t0" "$(mib "$WORK/skopeo-pulled/blobs")")
    SK=$(skopeo inspect --tls-verify=false --raw "docker://$REG/kiln/$NAME:$TAG" | sha256sum | cut -c1-64)
    [ "sha256:$SK" = "$DIGEST" ] || { echo "registry-demo: skopeo sees sha256:$SK, kiln pushed $DIGEST"; exit 1; }
    echo "skopeo inspect sees the manifest digest kiln pushed: $DIGEST"
fi
echo "== registry throughput ($SIZE MiB of layouts pushed, $PSIZE MiB pulled; loopback TLS)"
echo "kiln push:   $KILN_PUSH"
echo "kiln pull:   $KILN_PULL"
[ -z "${SKOPEO_PUSH:-}" ] || { echo "skopeo push: $SKOPEO_PUSH"; echo "skopeo pull: $SKOPEO_PULL"; }
