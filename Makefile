# kiln — `make demo` (the main job) and `make test` each do all of their own set-up on a fresh
# Debian 12 machine with the Swift toolchain.
SHELL := /bin/bash
.DEFAULT_GOAL := build

SWIFT        ?= swift
SWIFT_FLAGS  ?=
BIN          := .build/debug/kiln
OUT          ?= out

# Debian packages kiln needs to build, test and demo. `make deps` installs only what is missing.
DEB_PACKAGES := libarchive-dev zlib1g-dev libdeflate-dev libssl-dev pkg-config openssl bubblewrap git patch docker-registry apache2-utils time \
                ca-certificates skopeo umoci jq mmdebstrap python3-venv xz-utils gcc libc6-dev binutils \
                libfaketime disorderfs pigz libarchive-tools slurm-wlm slurmctld slurmd slurm-client munge

.PHONY: release demo-registry fuzz deps browser-deps build test test-full test-fips-provider demo clean keys help venv demo-attest demo-packages toolchain toolchain-lock sources fips-provider demo-images demo-pods demo-fips-module demo-twins demo-attest-run

help:
	@echo "make demo   - install what is missing, build recipes, images, sign, verify, summary"
	@echo "make test   - install what is missing, build and run the test suite"
	@echo "make deps | build | keys | clean | test-full | fuzz (FUZZ_SECONDS=60 per parser)"
	@echo "make release - .build/release/kiln, optimized, Swift runtime linked in (what the benchmarks measure)"
	@echo "make demo again: unchanged steps are reused and say so (STAMP_FORCE=1 runs every demo step)"
	@echo "make toolchain - bootstrap (once) the pinned Debian build root; toolchain-lock - re-pin it"
	@echo "make sources   - fill the source cache from Debian's archive (apt); fips-provider - out/fips/"

# One dpkg-query for the whole list (a rerun of `make demo` runs this once, not per package).
# BUILD_DONE=1 (set by `make demo` for its sub-makes) skips deps and build: done once already.
ifneq ($(BUILD_DONE),1)
deps:
	@missing=$$(printf '%s\n' $(DEB_PACKAGES) | awk 'FILENAME != "-" { if (/ install ok installed$$/) ok[$$1]; next } !($$1 in ok)' \
	    <(dpkg-query -W -f='$${Package} $${Status}\n' $(DEB_PACKAGES) 2>/dev/null) - | paste -sd' ' -); \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "kiln: these Debian packages are missing: $$missing"; \
	        echo "kiln: run 'sudo make deps' (installing needs root), then try again."; exit 1; fi; \
	    echo "deps: installing $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing \
	        || { echo "kiln: apt-get install failed for: $$missing"; exit 1; }; \
	else echo "deps: all Debian packages present"; fi

# The no-op check of `swift build` costs seconds; with the default flags it is skipped when Sources/,
# Package.swift and Package.resolved have the bytes of the last successful build and its binary is unchanged.
build: deps
ifeq ($(SWIFT_FLAGS),)
	@scripts/stamp.sh swift-build $(OUT)/stamps --tree Sources --file Package.swift --file Package.resolved \
	    --text "$(SWIFT)" --output .build/debug/kiln -- $(SWIFT) build
else
	$(SWIFT) build $(SWIFT_FLAGS)
endif
else
deps build: ;
endif

# Development keys (private keys are git-ignored). Users trust the .pub files.
keys: build
	@mkdir -p keys
	@[ -f keys/kiln-dev.rsa ] || $(BIN) keygen --type rsa --out keys/kiln-dev
	@[ -f keys/cosign-dev.key ] || $(BIN) keygen --type ecdsa --out keys/cosign-dev

# Headless Chromium for the nightly report's browser test; big, so a target of its own that `test` uses.
BROWSER_PACKAGES := chromium fonts-dejavu-core
browser-deps:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(BROWSER_PACKAGES)"

# Python verifiers the tests run (never installed system-wide): spdx-tools (pyspdxtools),
# cyclonedx-python-lib (CycloneDX schema), securesystemslib[crypto] (DSSE envelopes; needs cryptography),
# hera (Argo's Workflow models, whose JSON schema checks `kiln nightly --emit argo`), check-jsonschema,
# kubernetes-validate (Kubernetes schemas for the pod fields).
VENV        := .venv
PY_PACKAGES := spdx-tools "cyclonedx-python-lib[validation]" "securesystemslib[crypto]" \
               hera check-jsonschema kubernetes-validate

venv: $(VENV)/.installed

$(VENV)/.installed: Makefile | deps
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(PY_PACKAGES)
	@touch $@

# The pinned Debian build root (recipes/toolchain/bookworm.lock) that `kiln build --toolchain debian`
# uses: bootstrapped once with mmdebstrap from apt's sources, cached under $(OUT)/toolchain/.
TOOLCHAIN_LOCK := recipes/toolchain/bookworm.lock
toolchain: build
	$(BIN) toolchain bootstrap --lock $(TOOLCHAIN_LOCK) --out $(OUT)

toolchain-lock: build
	$(BIN) toolchain bootstrap --update-lock --lock $(TOOLCHAIN_LOCK) --out $(OUT)

# Debian-carried sources and runtime packages (recipes/debian-sources.txt) into $(OUT)/sources, by
# digest: any Debian revision whose file has the pinned sha256 is accepted (kiln source debian).
sources: build
	$(BIN) source debian --list recipes/debian-sources.txt --out $(OUT)

# A FIPS provider + configs for other FIPS-mode tests: builds openssl-fips-provider (in the Debian
# root) and leaves $(OUT)/fips/{fips.so,fipsmodule.cnf,openssl-fips.cnf}.
# Use: OPENSSL_MODULES=$(OUT)/fips KILN_TEST_FIPS_CONF=$(OUT)/fips/openssl-fips.cnf
fips-provider: toolchain sources
	scripts/fips-provider.sh $(BIN) $(OUT)

# The FIPS provider the FIPS-mode tests of kiln's own crypto (KilnCrypto, KilnAPK, KilnAttest) load:
# built from the recipe with the host toolchain (provider only, ~1 min) into $(OUT)/test/fips.
TEST_FIPS := $(abspath $(OUT))/test/fips
test-fips-provider: build sources
	scripts/fips-provider.sh $(BIN) $(OUT)/test $(if $(KILN_TEST_FIPS_TOOLCHAIN),$(KILN_TEST_FIPS_TOOLCHAIN),host) $(OUT)/sources

test: deps venv browser-deps toolchain sources test-fips-provider keys
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	KILN_TEST_FIPS_CONF=$(TEST_FIPS)/openssl-fips.cnf OPENSSL_MODULES=$(TEST_FIPS) $(SWIFT) test $(SWIFT_FLAGS) --skip-build

# KILN_WOLFI_DIR=DIR (a wolfi-dev/os checkout, kept out of this repository): WolfiRecipeBuildTests
# builds three of its recipes unmodified; without it that test skips, saying so.
test-full: export KILN_TEST_FULL=1
test-full: test

# First half of the demo: every recipe in recipes/ built in the pinned Debian root (sources from
# Debian's archive via `make sources`), in both variants where a recipe has a `fips` option, in
# dependency order — by the nightly engine, so a rerun with nothing changed rebuilds nothing.
demo-packages: sources toolchain keys
	$(BIN) nightly --recipes recipes --no-images --toolchain debian --offline --out $(OUT)

demo: build demo-packages
	@echo "== kiln demo"
	$(BIN) --help
	$(BIN) version
	@$(MAKE) --no-print-directory demo-images BUILD_DONE=1
	@$(MAKE) --no-print-directory demo-pods BUILD_DONE=1
	@$(MAKE) --no-print-directory demo-twins BUILD_DONE=1
	@$(MAKE) --no-print-directory demo-registry BUILD_DONE=1

# A rerun with nothing changed (issue 17's budget): `kiln image` leaves a layout whose inputs are unchanged
# alone (LAYOUT/.kiln-image.json, checked against the layout's bytes), and the demo-only steps below are
# content-keyed with scripts/stamp.sh (STAMPS/NAME.key): skipped when a successful run recorded the same
# inputs — the kiln binary, this Makefile, the step's script, the layouts' every byte, the pod files, the
# keys' public parts, the module — and its outputs are unchanged; then its output is printed again, marked
# "unchanged since …". A failed step records nothing, so it runs again. STAMP_FORCE=1 runs every step.
STAMPS      := $(OUT)/stamps
STAMP_KILN  := --file $(BIN) --file Makefile

# Second half of the demo (issue 7): every config in recipes/images/ built in both variants from the
# packages above, signed with the dev ECDSA key (SBOMs + SLSA provenance attached), the FIPS variants
# smoke-tested with `kiln run`, their crypto boundary audited statically (`kiln audit`), everything
# verified offline (-fips tags with --require-fips, which needs a passing boundary attestation), and the
# summary table (image, variant, digest, size, packages, FIPS label, BOUNDARY audit verdict, verified).
COSIGN_KEY  ?= keys/cosign-dev.key
APK_KEYRING ?= keys/kiln-dev.rsa.pub
IMAGE_CONFIGS := $(sort $(wildcard recipes/images/*.yaml))

$(COSIGN_KEY): | build
	@mkdir -p $(dir $@)
	$(BIN) keygen --type ecdsa --out $(basename $@)

# kiln's own crypto in FIPS mode from the module the catalog just built (issue 17): fips.so and
# fipsmodule.cnf from out/packages' openssl-fips-provider (kiln apk extract), a config activating only
# it; images are signed and verified with $(KILN_FIPS). Stops with the reason if the module cannot load.
FIPS_MODULE := $(abspath $(OUT))/fips-module
KILN_FIPS    = OPENSSL_MODULES=$(FIPS_MODULE)/root/usr/lib/ossl-modules $(BIN) --fips --fips-config $(FIPS_MODULE)/openssl-fips.cnf
demo-fips-module: build
	@scripts/stamp.sh demo-fips-module $(STAMPS) $(STAMP_KILN) --file scripts/fips-module.sh --file $(APK_KEYRING) \
	    --file $(OUT)/packages/x86_64/APKINDEX.tar.gz --text "$(FIPS_MODULE)" --output $(FIPS_MODULE)/module.txt \
	    --output $(FIPS_MODULE)/openssl-fips.cnf --output $(FIPS_MODULE)/root/usr/lib/ossl-modules/fips.so \
	    --output $(FIPS_MODULE)/root/etc/ssl/fipsmodule.cnf -- \
	    scripts/fips-module.sh $(BIN) $(OUT)/packages $(FIPS_MODULE) $(APK_KEYRING)

demo-images: build $(COSIGN_KEY) demo-fips-module
	@if [ -z "$(IMAGE_CONFIGS)" ]; then echo "demo-images: no image configs in recipes/images/"; exit 0; fi; \
	for c in $(IMAGE_CONFIGS); do n=$$(basename $$c .yaml); \
	    echo "== kiln image $$c"; \
	    $(KILN_FIPS) image $$c --repo $(OUT)/packages --keyring $(APK_KEYRING) --out $(OUT)/images/$$n --sign-key $(COSIGN_KEY) || exit 1; \
	done; \
	$(MAKE) --no-print-directory demo-attest SIGN=0

# Verify (and with SIGN=1, the default, first sign) every OCI layout under $(OUT)/images. With SIGN=0 (as
# demo-images runs it) the checks are stamped: inputs are every byte under $(OUT)/images, the module, the
# public key and the FIPS registry; outputs the three logs.
SIGN ?= 1
demo-attest: build $(COSIGN_KEY) demo-fips-module
	@if [ "$(SIGN)" = 1 ]; then $(MAKE) --no-print-directory demo-attest-run SIGN=1; else \
	scripts/stamp.sh demo-attest $(STAMPS) $(STAMP_KILN) --tree $(OUT)/images --tree $(FIPS_MODULE)/root \
	    --file $(FIPS_MODULE)/openssl-fips.cnf --file $(COSIGN_KEY:.key=.pub) --tree recipes/fips \
	    --output $(OUT)/audit-fips.log --output $(OUT)/verify-fips.log --output $(OUT)/verify.log -- \
	    $(MAKE) --no-print-directory demo-attest-run SIGN=0; fi

demo-attest-run:
	@layouts=$$(for d in $(OUT)/images/*/; do [ -f "$$d/oci-layout" ] && echo "$${d%/}"; done); \
	if [ -z "$$layouts" ]; then echo "demo-attest: no OCI layouts under $(OUT)/images (build images first)"; exit 1; fi; \
	if [ "$(SIGN)" = 1 ]; then for l in $$layouts; do $(KILN_FIPS) sign "$$l" --key $(COSIGN_KEY) || exit 1; done; fi; \
	fips=$$(for l in $$layouts; do jq -r --arg l "$$l" '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty | select(endswith("-fips")) | "\($$l):\(.)"' "$$l/index.json"; done); \
	for ref in $$fips; do l=$${ref%%:*}; t=$${ref#*:}; sbom="$$l-sbom/$$(echo $$t | tr ':/' '__').spdx.json"; \
	    if [ -f "$$sbom" ] && jq -e '.packages[] | select(.name == "openssl")' "$$sbom" >/dev/null; then \
	        echo "== kiln run --entrypoint /usr/bin/openssl $$ref -- list -providers (FIPS smoke test)"; \
	        $(BIN) run --entrypoint /usr/bin/openssl "$$ref" -- list -providers || exit 1; \
	        $(BIN) run --entrypoint /usr/bin/openssl "$$ref" -- dgst -sha256 /etc/os-release || { echo "FIPS smoke test: SHA-256 failed in $$ref"; exit 1; }; \
	        if out=$$($(BIN) run --entrypoint /usr/bin/openssl "$$ref" -- dgst -md5 /etc/os-release 2>&1); then echo "FIPS smoke test: MD5 was NOT refused in $$ref"; exit 1; fi; \
	        echo "$$out" | grep -qiE 'unsupported|error setting digest|disabled' || { echo "FIPS smoke test: unexpected failure: $$out"; exit 1; }; \
	        echo "MD5 refused in $$ref (FIPS provider enforced)"; fi; \
	done; \
	if [ -n "$$fips" ]; then echo "== kiln audit (static FIPS boundary of every FIPS variant)"; $(BIN) audit $$fips --html $(OUT)/audit-html > $(OUT)/audit-fips.log || { cat $(OUT)/audit-fips.log; exit 1; }; grep '^audit ' $(OUT)/audit-fips.log; fi; \
	if [ -n "$$fips" ]; then echo "== kiln verify --require-fips (FIPS variants)"; $(KILN_FIPS) verify $$fips --key $(COSIGN_KEY:.key=.pub) --require-fips > $(OUT)/verify-fips.log || { cat $(OUT)/verify-fips.log; exit 1; }; grep '^verified ' $(OUT)/verify-fips.log; fi; \
	echo "== kiln verify (all images)"; $(KILN_FIPS) verify $$layouts --key $(COSIGN_KEY:.key=.pub) > $(OUT)/verify.log || { cat $(OUT)/verify.log; exit 1; }; \
	sed -n '/^verified /,$$p' $(OUT)/verify.log; \
	echo "kiln's signatures made and verified in FIPS mode by: $$(cat $(FIPS_MODULE)/module.txt)"

# The pod proofs (issue 17): each line of recipes/pods/proofs.txt run with `kiln pod run` (containers of
# the images above sharing one loopback-only network), checked for its exit status and probe log.
# Stamped: the proof table's folder (pod files) and, as the pod files name ../../out/images, every byte of
# the layouts there. POD_PROOFS=FILE runs another table (see scripts/pod-proofs.sh).
POD_DIR = $(patsubst %/,%,$(dir $(or $(POD_PROOFS),recipes/pods/proofs.txt)))
demo-pods: build
	@scripts/stamp.sh demo-pods $(STAMPS) $(STAMP_KILN) --file scripts/pod-proofs.sh --text "POD_PROOFS=$(POD_PROOFS)" \
	    --tree $(POD_DIR) --tree $(POD_DIR)/../../out/images --output $(OUT)/pods/proofs.txt -- scripts/pod-proofs.sh $(BIN) $(OUT)/pods

# Summary of the twins (issue 17): sizes of each standard/FIPS pair and the standard twin's audit
# findings beside the FIPS twin's verdict ("what the FIPS build removed").
demo-twins: build
	@scripts/stamp.sh demo-twins $(STAMPS) $(STAMP_KILN) --file scripts/fips-twins.sh --tree $(OUT)/images --tree recipes/fips \
	    --output $(OUT)/twins/twins.txt -- scripts/fips-twins.sh $(BIN) $(OUT)/images $(OUT)/twins

# Last part of the demo (issue 18): a registry on loopback over TLS (CA made by `kiln certificate`), every
# demo image pushed with its signatures and attestations, one pulled back and verified, throughput vs skopeo.
demo-registry: build $(COSIGN_KEY)
	@scripts/stamp.sh demo-registry $(STAMPS) $(STAMP_KILN) --file scripts/registry-demo.sh --tree $(OUT)/images \
	    --file $(COSIGN_KEY:.key=.pub) --file /usr/bin/docker-registry --file /usr/bin/skopeo \
	    --output $(OUT)/registry-demo/pulled/index.json -- \
	    scripts/registry-demo.sh $(BIN) $(OUT)/images $(COSIGN_KEY:.key=.pub) $(OUT)/registry-demo

# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every parser of untrusted bytes
# (Sources/KilnFuzz), FUZZ_SECONDS per target; crashes land in $(OUT)/fuzz/crashes/<target>/.
# The optimized binary the benchmarks (scripts/bench-*.sh) measure and a user installs: the Swift
# runtime and Foundation linked in (`--static-swift-stdlib`), so a start costs ~19 ms instead of ~33 ms
# of dynamic symbol binding; OpenSSL, libarchive, zlib and libdeflate stay Debian's shared libraries.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib --product kiln

# `make test` replays Tests/fuzz-corpus/ and a deterministic mutation run (KilnFuzzTests).
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) OUT=$(OUT) scripts/fuzz.sh

clean:
	rm -rf .build .build-fuzz $(OUT)
