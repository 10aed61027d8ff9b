#!/usr/bin/env bash
# Installs the Debian packages linflow needs to build, test, benchmark and plot, plus any packages named as
# arguments (scripts/setup_bench.sh adds the peer benchmark's).
# Idempotent: does nothing when everything is present. Needs root (or sudo) only when something is missing.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libeigen3-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libboost-dev
  libsundials-dev libspectra-dev libzip-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format clang-tidy clang libclang-rt-14-dev
  libopenmpi-dev openmpi-bin libopenblas-dev
  python3 python3-numpy python3-matplotlib
  # the Python module (python/): build, tests, pip install, notebooks (examples/), the Python-loop benchmark
  python3-dev pybind11-dev python3-pybind11 python3-pytest python3-pandas python3-tqdm python3-nbconvert
  python3-ipykernel python3-scipy python3-setuptools python3-pip python3-venv python3-wheel
  python3-sklearn  # examples/digits.ipynb: load_digits, bundled with the package (no download)
  "$@"
)
# libxsmm (small-matrix kernels generated at run time) is packaged for amd64 only; elsewhere the build goes without.
if [ "$(dpkg --print-architecture)" = amd64 ]; then packages+=(libxsmm-dev); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "linflow setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
