#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "linflow/sweep.hpp"

namespace linflow::cli {

struct SweepCommandOptions {
  std::string config;
  std::string out;
  int threads = 1;
  bool resume = false;
  bool quiet = false;
  std::vector<std::string> overrides;  ///< --set on the sweep's base configuration
};

void setup_sweep(CLI::App& app, SweepCommandOptions& opt, std::function<int()>& action);
int run_sweep_command(const SweepCommandOptions& opt);

/// Runs `sweep` into `out` on this process's share of `group`, with progress (unless quiet) on stderr; on rank 0
/// prints the summary line and the output files unless quiet. Shared by `sweep` and `experiment`.
SweepSummary execute_sweep(const SweepConfig& sweep, const std::string& out, int threads, bool resume, bool quiet,
                           const ProcessGroup& group);

/// " --set A --set B": the overrides as they go on a command line (in the --resume line an interruption prints).
std::string set_arguments(const std::vector<std::string>& overrides);

/// Exit code for a sweep on rank 0: 0; 2 (with one line on stderr) when runs had invalid parameters; 130 when it was
/// interrupted, with one line on stderr saying what is done and the command `resume` that continues it.
int sweep_exit_code(const SweepSummary& summary, const std::string& resume);

}  // namespace linflow::cli
