#!/usr/bin/env python3
"""Figures of a linflow output directory, as PNG and SVG in DIR/figures/ (their paths are printed, one a line):
what `linflow plot DIR [--field NAME] [--x KEY]` runs. Exit code 2 on bad input, with one line on stderr.

The figures are drawn by python/linflow/plotting.py, the one implementation the Python module (linflow.plot_run,
plot_sweep, plot_experiment) uses too; this script loads that file by path (next to it when installed in
share/linflow, else in the source tree), so it needs matplotlib but not the compiled module. Its docstring lists
the figures.
"""
import importlib.util
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed


def load_plotting():
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(here, "plotting.py"), os.path.join(here, "..", "python", "linflow", "plotting.py")]
    for path in candidates:
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("linflow_plotting", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    print(f"plot.py: error: cannot find plotting.py (tried {', '.join(candidates)})", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    sys.exit(load_plotting().main(sys.argv[1:]))
