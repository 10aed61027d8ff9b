#pragma once
// The analyses behind `analyze_experiment`, one file each, and what they share.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "linflow/experiment.hpp"

namespace linflow::detail {

ExperimentReport analyze_escape_time(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs);
ExperimentReport analyze_gd_step_size(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs);
ExperimentReport analyze_stable_set_map(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs);
ExperimentReport analyze_rate_vs_depth(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs);
ExperimentReport analyze_bound_vs_observed(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs);
ExperimentReport analyze_beyond_one_neuron(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs);
ExperimentReport analyze_stage_wise(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs);

/// Rows of cells as text columns padded to a common width (first row: the header).
std::vector<std::string> format_table(const std::vector<std::vector<std::string>>& rows);
/// `v` with `digits` significant digits ("%.*g").
std::string format_number(double v, int digits = 3);

/// The "analysis" and "observed" members of a run line of a sweep with `analyze = true` (sweep.hpp). Throws
/// InputError naming the experiment and the run when they are missing (the sweep was run without analyze, or the
/// run's parameters were rejected).
const nlohmann::json& run_analysis(const nlohmann::json& run, const std::string& experiment);
const nlohmann::json& run_observation(const nlohmann::json& run, const std::string& experiment);
/// A GF run to which the exact theory of docs/theory.md §4–§6 applies, as the §6 experiments need it: its
/// configuration, "analysis" and "observed" members, and the "NAME run K: " prefix of its error messages. Throws
/// InputError when the run is not GF or the analysis says the exact theory does not apply.
struct ExactTheoryRun {
  RunConfig config;
  const nlohmann::json& analysis;
  const nlohmann::json& observed;
  std::string at;
};
ExactTheoryRun exact_theory_run(const SweepConfig& sweep, const nlohmann::json& run, const char* experiment);
/// A limit as one word and its saddle index, from a "prediction" or "observed" JSON object: "global_min",
/// "saddle 2", "origin", "unknown".
std::string limit_name(const nlohmann::json& limit_holder);
/// A JSON number as double, or NaN for null/absent.
double number_or_nan(const nlohmann::json& j, const char* key);
/// `v` as JSON: null when not finite.
nlohmann::ordered_json json_number(double v);

/// Wilson score interval of a binomial proportion: `successes` of `trials`, two-sided with normal quantile z
/// (1.96: 95 %). Returns {lower, upper}; {0, 1} when trials = 0.
std::pair<double, double> wilson_interval(long successes, long trials, double z = 1.96);

}  // namespace linflow::detail
