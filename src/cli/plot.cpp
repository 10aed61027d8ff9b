#include "cli/plot.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include "cli/resources.hpp"
#include "linflow/error.hpp"

namespace linflow::cli {

void setup_plot(CLI::App& app, PlotOptions& opt, std::function<int()>& action) {
  auto* sub = app.add_subcommand(
      "plot", "Draw the figures of a train/demo or sweep output directory (PNG and SVG, with scripts/plot.py)");
  sub->add_option("dir", opt.dir, "Output directory of train, demo, sweep or experiment")->required();
  sub->add_option("--field", opt.field,
                  "Sweep: summary field(s) on the y axis, comma-separated for one panel each (default t_eps; dotted "
                  "names reach into stats, as in stats.rhs_evals)");
  sub->add_option("--x", opt.x,
                  "Sweep: axis key, or numeric summary field, on the x axis (default the first range axis)");
  sub->add_option("--xscale", opt.xscale, "Sweep: x axis scale")
      ->check(CLI::IsMember({"auto", "log", "linear"}))
      ->capture_default_str();
  sub->add_option("--yscale", opt.yscale, "Sweep: y axis scale (auto: log when the values span two decades)")
      ->check(CLI::IsMember({"auto", "log", "linear"}))
      ->capture_default_str();
  sub->footer(
      "Figures (in DIR/figures/, PNG and SVG; their paths are printed):\n"
      "  train, demo, analyze --simulate directory:\n"
      "    loss       excess loss L - L* against t (linear and log time), eps and t_eps marked; with analysis.json\n"
      "               the docs/theory.md section 6 kappa bound and the late-time rate\n"
      "    spectrum   singular values of W and alignments u_i^T W v_i against t, target singular values dashed\n"
      "    sharpness  with output.sharpness: the top Hessian eigenvalue against t, for GD with the line 2/eta\n"
      "               (eta = solver.lr): the edge-of-stability picture\n"
      "  sweep directory (sweep.json + runs.jsonl), or an experiment with --field/--x:\n"
      "    sweep_FIELD_vs_X   FIELD against X, one colour per setting of the other axes (named as depth N, sigma0,\n"
      "               ...), the median over the seeds with the 25th-75th percentile band, the runs per point (n)\n"
      "               in the legend, which stands outside the data; widths of distinct depths plot as depth N\n"
      "    trajectories       with sweep.save = [\"trajectory\"]: excess loss against t of every run, one colour per\n"
      "                       grid point, log-log\n"
      "  experiment directory (its own figure):\n"
      "    escape_time        observed t_eps against sigma0 per depth with the section 6 escape integral as\n"
      "                       curves, and the relative error against the P9 tolerance\n"
      "    stable_set_map     the slice coloured by the limit GF reached, the boundary c_1 = 0 and the section 5\n"
      "                       sufficient conditions as contours\n"
      "    rate_vs_depth      late-time rate against depth with the section 6 line; t_eps against its kappa bound\n"
      "    bound_vs_observed  observed t_eps against the section 6 kappa bound, log-log, with y = x\n"
      "    beyond_one_neuron  fraction of runs at the global optimum against init.scale per depth, Wilson bars\n"
      "  gd-step-size has no figure of its own: its sweep figure is drawn.");
  sub->callback([&] { action = [&] { return run_plot(opt); }; });
}

int run_plot(const PlotOptions& opt) {
  if (!std::filesystem::is_directory(opt.dir)) throw InputError(opt.dir + ": not a directory");
  const std::string python = python_interpreter();
  std::vector<std::string> args{python, plot_script().string(), opt.dir};
  if (!opt.field.empty()) args.insert(args.end(), {"--field", opt.field});
  if (!opt.x.empty()) args.insert(args.end(), {"--x", opt.x});
  if (opt.xscale != "auto") args.insert(args.end(), {"--xscale", opt.xscale});
  if (opt.yscale != "auto") args.insert(args.end(), {"--yscale", opt.yscale});
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::cout.flush();
  // fork + execvp rather than system(): no shell, so directory names need no quoting.
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    execvp(argv[0], argv.data());
    std::cerr << "linflow: error: cannot run " << python << ": " << std::strerror(errno)
              << " (set LINFLOW_PYTHON to a Python 3 with matplotlib)\n";
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid failed: ") + std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) return 2;    // plot.py reported bad input
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return 1;  // the child reported that exec failed
  std::cerr << "linflow: error: plotting failed (" << python << " " << args[1] << " exited with status "
            << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << ")\n";
  return 1;
}

}  // namespace linflow::cli
