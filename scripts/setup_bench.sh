#!/usr/bin/env bash
# Installs what the peer benchmark (bench/run_peers, part of `make bench`) needs on top of scripts/setup.sh:
# SciPy and PyTorch for the peers, and OpenBLAS so that NumPy and PyTorch multiply matrices with an optimised BLAS
# (Debian's default libblas3 is the reference implementation, 5-10x slower at d = 256: a weak peer proves
# nothing). Installing libopenblas0-pthread makes it the system's libblas.so.3 through update-alternatives.
# Idempotent; needs root (or sudo) only when something is missing. `make test` does not need any of it.
set -euo pipefail
exec "$(dirname "$0")/setup.sh" python3-scipy python3-torch libopenblas0-pthread
