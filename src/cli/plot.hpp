#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace linflow::cli {

struct PlotOptions {
  std::string dir;
  std::string field;            ///< sweep: the summary field on the y axis (default t_eps)
  std::string x;                ///< sweep: the axis key (or numeric field) on the x axis (default the first range axis)
  std::string xscale = "auto";  ///< sweep: log, linear or auto (log when the values span two decades)
  std::string yscale = "auto";
};

void setup_plot(CLI::App& app, PlotOptions& opt, std::function<int()>& action);
/// Runs scripts/plot.py on opt.dir with the Python of `python_interpreter()`; returns 0, or 1 when plotting failed.
int run_plot(const PlotOptions& opt);

}  // namespace linflow::cli
