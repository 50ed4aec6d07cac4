#!/bin/sh
# The figures for issue 20's note: the generated 6-recipe catalog (two independent chains of three)
# with `kiln nightly --executor local` and with `--executor slurm` on a throwaway Slurm cluster on
# loopback (munged, slurmctld, three slurmd — the SlurmExecutorTests harness, every daemon stopped
# by pid), plus Slurm's overhead per node (sbatch → the worker starts, the worker ends → kiln sees
# the job gone and reads the result), read from the coordinator's node logs.
# Usage: scripts/bench-slurm.sh [RUNS]   (as root; `make deps` installs Slurm and munge)
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-3}
swift build --build-tests 2>&1 | tail -1
KILN_BENCH_SLURM=1 KILN_BENCH_RUNS=$RUNS swift test --skip-build --filter SlurmBenchmarkTests 2>&1 | grep -E '^slurm bench|error|failed' || true
