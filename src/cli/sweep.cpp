#include "cli/sweep.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/common.hpp"
#include "linflow/error.hpp"

namespace linflow::cli {
namespace {

// Progress of a sweep on stderr: one updating line on a terminal, a line every 5 s otherwise; quiet for the first
// second so that short sweeps print nothing.
class SweepProgressPrinter {
 public:
  SweepProgressPrinter() : tty_(isatty(fileno(stderr)) != 0), last_(std::chrono::steady_clock::now()) {}
  SweepProgressSink sink() {
    return [this](const SweepProgress& p) { show(p); };
  }
  void finish() {
    if (shown_ && tty_) std::cerr << '\n';
    shown_ = false;
  }

 private:
  void show(const SweepProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    // The first line at the first run finished after 1 s, whatever the output; later ones at the interval.
    if (p.elapsed < 1.0 || (shown_ && since < (tty_ ? 0.2 : 5.0) && p.done < p.total)) return;
    last_ = now;
    const double rate = static_cast<double>(p.done - p.resumed) / p.elapsed;
    char line[256];
    std::snprintf(line, sizeof line, "sweep: %ld/%ld runs (%.0f%%), %.3g runs/s, %.0f s elapsed, ETA %.0f s", p.done,
                  p.total, 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total), rate, p.elapsed, p.eta);
    if (tty_) {
      std::cerr << '\r' << line << "\033[K" << std::flush;
    } else {
      std::cerr << line << '\n';
    }
    shown_ = true;
  }

  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace

void setup_sweep(CLI::App& app, SweepCommandOptions& opt, std::function<int()>& action) {
  auto* sub = app.add_subcommand(
      "sweep",
      "Run a grid or random sample of configurations (a sweep file); write runs.jsonl and sweep.json. Under "
      "mpirun the runs are split across ranks");
  sub->add_option("--config,-c", opt.config, "TOML sweep file (see include/linflow/sweep.hpp)")->required();
  sub->add_option("--out,-o", opt.out, "Output directory (created if missing)")->required();
  sub->add_option("--threads,-j", opt.threads, "Compute threads (0 = one per hardware thread; under MPI: on rank 0)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  sub->add_option("--set", opt.overrides,
                  "Override a key of the base configuration: section.key=value (repeatable; not a key an axis varies)");
  sub->add_flag("--resume", opt.resume,
                "Continue an interrupted sweep in --out, or extend it (more seeds, points, values): run only the "
                "runs that are not in runs.jsonl");
  sub->add_flag("--quiet,-q", opt.quiet, "Print nothing but errors");
  sub->callback([&] { action = [&] { return run_sweep_command(opt); }; });
}

SweepSummary execute_sweep(const SweepConfig& sweep, const std::string& out, int threads, bool resume, bool quiet,
                           const ProcessGroup& group) {
  SweepOptions options;
  options.out_dir = out;
  options.threads = threads;
  options.resume = resume;
  options.processes = &group;
  SweepProgressPrinter printer;
  const bool show = !quiet && group.rank() == 0;
  SweepSummary summary = run_sweep(sweep, options, show ? printer.sink() : SweepProgressSink{});
  printer.finish();
  if (show && summary.status != SweepStatus::interrupted) {
    const std::filesystem::path dir(out);
    std::cout << "sweep: " << summary.message << "\n"
              << "output: " << (dir / "runs.jsonl").string() << ", " << (dir / "sweep.json").string() << "\n";
  }
  return summary;
}

int sweep_exit_code(const SweepSummary& summary, const std::string& resume) {
  if (summary.status == SweepStatus::interrupted) {
    std::cerr << "linflow: sweep " << summary.message << "; continue with: " << resume << "\n";
    return kExitInterrupted;
  }
  if (summary.status != SweepStatus::run_errors) return 0;
  std::cerr << "linflow: error: " << summary.errors << " of " << summary.total
            << R"( runs had invalid parameters ("status": "error" lines in )" << summary.runs_file << ")\n";
  return 2;
}

std::string set_arguments(const std::vector<std::string>& overrides) {
  std::string text;
  for (const auto& o : overrides) text += " --set " + o;
  return text;
}

int run_sweep_command(const SweepCommandOptions& opt) {
  const ProcessGroup group;  // before anything can fail, so that every rank takes part in MPI's start and end
  try {
    const SweepConfig sweep = load_sweep(opt.config, opt.overrides);
    install_interrupt_handlers();
    const SweepSummary summary = execute_sweep(sweep, opt.out, opt.threads, opt.resume, opt.quiet, group);
    return group.rank() == 0
               ? sweep_exit_code(summary, "linflow sweep -c " + opt.config + " -o " + opt.out + " -j " +
                                              std::to_string(opt.threads) + set_arguments(opt.overrides) + " --resume")
               : 0;
  } catch (const InputError&) {
    // Rank 0 reports the error and exits with 2. A worker exits quietly with 0: a non-zero exit would make mpiexec
    // kill rank 0, possibly before it has printed the error.
    if (group.rank() != 0) return 0;
    throw;
  }
}

}  // namespace linflow::cli
