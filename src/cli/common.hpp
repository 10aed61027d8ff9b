#pragma once
// Shared helpers of the CLI subcommands: progress on stderr and the human summary of a run.
#include <chrono>
#include <string>

#include "linflow/run.hpp"
#include "linflow/solver.hpp"

namespace linflow::cli {

/// A ProgressSink that stays quiet for the first `delay` seconds, then updates one line on a terminal (or prints
/// a line every 5 s otherwise) on stderr. `finish()` ends the line.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(std::string label, double delay_seconds = 1.5);
  ProgressSink sink();
  void finish();

 private:
  void show(const Progress& p);
  std::string label_;
  double delay_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

/// A short human summary of a finished run (several lines).
std::string describe_run(const RunResult& result);

}  // namespace linflow::cli
