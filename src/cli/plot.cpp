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
  sub->add_option("--field", opt.field, "Sweep: summary field to plot (default t_eps)");
  sub->add_option("--x", opt.x, "Sweep: axis key for the horizontal axis (default the first axis)");
  sub->callback([&] { action = [&] { return run_plot(opt); }; });
}

int run_plot(const PlotOptions& opt) {
  if (!std::filesystem::is_directory(opt.dir)) throw InputError(opt.dir + ": not a directory");
  const std::string python = python_interpreter();
  std::vector<std::string> args{python, plot_script().string(), opt.dir};
  if (!opt.field.empty()) args.insert(args.end(), {"--field", opt.field});
  if (!opt.x.empty()) args.insert(args.end(), {"--x", opt.x});
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
