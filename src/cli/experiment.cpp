#include "cli/experiment.hpp"

#include <filesystem>
#include <iostream>

#include "cli/common.hpp"
#include "cli/resources.hpp"
#include "cli/sweep.hpp"
#include "linflow/error.hpp"
#include "linflow/experiment.hpp"

namespace linflow::cli {
namespace {

namespace fs = std::filesystem;

void list_experiments() {
  const fs::path dir = experiments_dir();
  for (const auto& e : experiments()) {
    std::cout << e.name << "  " << e.summary << "  (" << (dir / (e.name + ".toml")).string() << ")\n";
  }
}

}  // namespace

void setup_experiment(CLI::App& app, ExperimentOptions& opt, std::function<int()>& action) {
  auto* sub = app.add_subcommand(
      "experiment",
      "Run a built-in experiment (a sweep shipped in experiments/) and print its verdict; exit code 1 "
      "when the verdict is FAIL");
  sub->add_option("name", opt.name, "Experiment name (see --list)");
  sub->add_option("--out,-o", opt.out, "Output directory (created if missing)");
  sub->add_option("--threads,-j", opt.threads, "Compute threads (0 = one per hardware thread; under MPI: on rank 0)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  sub->add_option("--set", opt.overrides,
                  "Override a key of the experiment's base configuration: section.key=value (repeatable)");
  sub->add_flag("--resume", opt.resume, "Continue an interrupted experiment in --out (or extend it)");
  sub->add_flag("--list", opt.list, "List the built-in experiments and exit");
  sub->add_flag("--quiet,-q", opt.quiet, "Print only the verdict");
  sub->callback([&] { action = [&] { return run_experiment(opt); }; });
}

int run_experiment(const ExperimentOptions& opt) {
  if (opt.list) {
    list_experiments();
    return 0;
  }
  if (opt.name.empty() || opt.out.empty()) throw InputError("experiment: give a NAME and --out DIR (or --list)");
  bool known = false;
  std::string names;
  for (const auto& e : experiments()) {
    known = known || e.name == opt.name;
    names += (names.empty() ? "" : ", ") + e.name;
  }
  if (!known) throw InputError("unknown experiment '" + opt.name + "' (known: " + names + ")");

  const ProcessGroup group;
  try {
    const fs::path file = experiments_dir() / (opt.name + ".toml");
    const SweepConfig sweep = load_sweep(file.string(), opt.overrides);
    if (!opt.quiet && group.rank() == 0) {
      std::cout << "experiment " << opt.name << ": " << sweep.description << "\n"
                << "sweep file: " << file.string() << " (" << run_count(sweep) << " runs)\n";
    }
    install_interrupt_handlers();
    const SweepSummary summary = execute_sweep(sweep, opt.out, opt.threads, opt.resume, opt.quiet, group);
    if (group.rank() != 0) return 0;
    const std::string resume = "linflow experiment " + opt.name + " -o " + opt.out + " -j " +
                               std::to_string(opt.threads) + set_arguments(opt.overrides) + " --resume";
    if (const int code = sweep_exit_code(summary, resume); code != 0) return code;

    const ExperimentReport report = report_experiment(opt.name, sweep, opt.out);
    if (!opt.quiet) {
      for (const auto& line : report.table) std::cout << line << "\n";
      std::cout << "report: " << (fs::path(opt.out) / "experiment.json").string() << "\n";
    }
    std::cout << report.verdict << "\n";
    return report.passed ? 0 : 1;
  } catch (const InputError&) {
    // Rank 0 reports the error and exits with 2. A worker exits quietly with 0: a non-zero exit would make mpiexec
    // kill rank 0, possibly before it has printed the error.
    if (group.rank() != 0) return 0;
    throw;
  }
}

}  // namespace linflow::cli
