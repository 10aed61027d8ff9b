#pragma once
// Files the CLI ships beside itself: the built-in experiments and the plotting script, and the Python that runs it.
// Each is taken from an environment variable when it is set (and then only from there), otherwise from the install
// tree next to the executable (<prefix>/share/linflow/…), then from the source tree it was built from (compiled in).
#include <filesystem>
#include <string>

namespace linflow::cli {

/// The experiments directory: $LINFLOW_EXPERIMENTS, <exe>/../share/linflow/experiments, <source>/experiments.
/// Throws InputError naming the places tried when none exists.
std::filesystem::path experiments_dir();

/// plot.py: $LINFLOW_PLOT_SCRIPT, <exe>/../share/linflow/plot.py, <source>/scripts/plot.py. InputError when missing.
std::filesystem::path plot_script();

/// A Python 3 with matplotlib: $LINFLOW_PYTHON, else the interpreter CMake found at configure time (the first of
/// `python3` on PATH and /usr/bin/python3 that imports matplotlib), else "python3".
std::string python_interpreter();

}  // namespace linflow::cli
