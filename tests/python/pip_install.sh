#!/usr/bin/env bash
# The two documented ways to install the Python module, each checked by importing the result outside the trees:
#   pip:   python3 -m venv --system-site-packages V; V/bin/python -m pip install --no-build-isolation --no-index SRC
#          (setup.py builds the extension with CMake; LINFLOW_CMAKE_BUILD_DIR=BUILD reuses this build tree)
#   cmake: cmake --install BUILD --prefix P; PYTHONPATH=P/lib/pythonX.Y/site-packages (and P/bin/linflow plot, whose
#          figures come from the installed plotting.py)
# Usage: pip_install.sh pip|cmake PYTHON SOURCE_DIR BUILD_DIR WORK_DIR. Exit 77 (skipped) without venv or pip.
set -euo pipefail
how=$1 py=$2 src=$3 build=$4 work=$5
rm -rf "$work"
mkdir -p "$work"
cd "$work"
check='import linflow, os, sys
where = os.path.realpath(linflow.__file__)
assert where.startswith(os.path.realpath(sys.argv[1])), where
r = linflow.train({"network": {"widths": [3, 1, 3]}, "problem": {"singular_values": [2.0, 1.0]}})
assert r.status == "converged", r.summary["message"]
assert os.path.isfile(os.path.join(linflow.experiments_dir(), "escape-time.toml"))
print("imported", where, "-", r.summary["message"])'
case "$how" in
  pip)
    if ! "$py" -c "import setuptools, wheel, venv, ensurepip, pip" 2>/dev/null; then
      echo "skipped: $py lacks venv, ensurepip, pip, setuptools or wheel (Debian python3-venv, python3-pip, python3-setuptools, python3-wheel)"
      exit 77
    fi
    "$py" -m venv --system-site-packages "$work/venv"
    LINFLOW_CMAKE_BUILD_DIR="$build" "$work/venv/bin/python" -m pip install -q --no-build-isolation --no-index "$src"
    env -u PYTHONPATH "$work/venv/bin/python" -c "$check" "$work/venv"
    ;;
  cmake)
    cmake --install "$build" --prefix "$work/prefix" > /dev/null
    site=$(echo "$work"/prefix/lib/python3*/site-packages)
    PYTHONPATH="$site" "$py" -c "$check" "$site"
    "$work/prefix/bin/linflow" demo -o "$work/demo" > /dev/null
    "$work/prefix/bin/linflow" plot "$work/demo" > "$work/plot.txt"  # not into grep -q, which would close the pipe
    grep -q 'figures/loss.png' "$work/plot.txt"
    ;;
  *) echo "usage: $0 pip|cmake PYTHON SOURCE_DIR BUILD_DIR WORK_DIR" >&2; exit 2 ;;
esac
