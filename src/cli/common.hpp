#pragma once
// Shared helpers of the CLI subcommands: progress on stderr and the human summary of a run.
#include <chrono>
#include <string>

#include "linflow/run.hpp"
#include "linflow/solver.hpp"

namespace linflow::cli {

/// A ProgressSink for a run of `solver`'s options that stays quiet for the first `delay` seconds, then updates one
/// line on a terminal (every 0.2 s) or prints a line (at `delay`, then every 5 s) on stderr: t, the excess loss, the
/// fraction done (progress_fraction, solver.hpp) and the time left at the pace so far. A run that starts again from
/// t = 0 (analyze --simulate's second pass) restarts the estimate. `finish()` ends the line.
class ProgressPrinter {
 public:
  ProgressPrinter(std::string label, const SolverOptions& solver, double delay_seconds = 1.5);
  ProgressSink sink();
  void finish();

 private:
  void show(const Progress& p);
  std::string label_;
  SolverOptions solver_;
  double delay_;
  bool tty_;
  bool shown_ = false;
  long lines_ = 0;
  double initial_excess_ = -1;  ///< the first excess loss of the pass, < 0 before it
  double last_t_ = 0;
  std::chrono::steady_clock::time_point start_, last_, pass_start_;
};

/// A short human summary of a finished run (several lines), after the readers' notes.
std::string describe_run(const RunResult& result);
/// The readers' notes (a CSV header skipped, …), one "note:" line each.
std::string describe_notes(const ReadNotes& notes);

/// The exit code of a command stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report a Ctrl-C).
constexpr int kExitInterrupted = 130;

/// Installs the handlers of SIGINT and SIGTERM for a command that computes: the first signal calls
/// request_interrupt() (linflow/interrupt.hpp), so runs stop at their next step and the command writes what it has;
/// the handler is then reset (SA_RESETHAND), so a second signal ends the process at once.
void install_interrupt_handlers();

/// For a single run that ended interrupted: the one line to print (on stderr) saying where it stopped and where its
/// files are (or that `out` kept a finished run instead).
std::string interrupted_line(const RunResult& result, const std::string& out);

}  // namespace linflow::cli
