#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace linflow::cli {

struct ExperimentOptions {
  std::string name;
  std::string out;
  int threads = 1;
  bool resume = false;
  bool list = false;
  bool quiet = false;
  std::vector<std::string> overrides;  ///< --set on the experiment's base configuration
};

void setup_experiment(CLI::App& app, ExperimentOptions& opt, std::function<int()>& action);
/// Exit code 0 when the verdict is PASS, 1 when the measurements contradict the prediction (FAIL).
int run_experiment(const ExperimentOptions& opt);

}  // namespace linflow::cli
