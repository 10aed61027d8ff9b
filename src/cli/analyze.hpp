#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "linflow/theory.hpp"

namespace linflow::cli {

struct AnalyzeOptions {
  std::string config;
  std::string out;
  std::vector<std::string> overrides;
  bool simulate = false;  ///< also run the configured solver and compare every prediction with the run
  bool hessian = false;   ///< classify the start (and the end) by the Hessian (output.hessian)
  bool strict = false;    ///< exit with code 3 when the simulation contradicts a prediction
  bool quiet = false;     ///< print nothing but errors and contradictions
};

void setup_analyze(CLI::App& app, AnalyzeOptions& opt, std::function<int()>& action);
int run_analyze(const AnalyzeOptions& opt);

/// The human report: hypotheses, prediction, conditions, bounds, what does and does not apply, and with an
/// observation a table of each prediction beside what was observed, contradictions last and loud.
std::string describe_analysis(const theory::Analysis& analysis, const theory::Observation* observation);

}  // namespace linflow::cli
