#include "linflow/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/files.hpp"
#include "experiments/analyses.hpp"
#include "linflow/error.hpp"
#include "run/json_text.hpp"

namespace linflow {
namespace {

using Analysis = ExperimentReport (*)(const SweepConfig&, const std::vector<nlohmann::json>&);

struct Entry {
  const char* name;
  const char* summary;
  Analysis analysis;
};

constexpr Entry kExperiments[] = {
    {"escape-time", "GF escape time from a small aligned start vs the docs/theory.md §6 integral (P9), N = 2..6",
     detail::analyze_escape_time},
    {"gd-step-size", "GD converges below 2/(N s_1^{2-2/N}) and not above it (docs/theory.md §3), N = 2..4",
     detail::analyze_gd_step_size},
    {"stable-set-map",
     "GF limit over a 2-D slice of balanced rank-one starts vs docs/theory.md §5 (c_1 != 0 => global min)",
     detail::analyze_stable_set_map},
    {"rate-vs-depth",
     "GF late-time rate and t_eps vs docs/theory.md §6 (rate 2(s_1-s_2)s_1^{1-2/N}, kappa bound), N = 2..8",
     detail::analyze_rate_vs_depth},
    {"bound-vs-observed",
     "GF t_eps vs the docs/theory.md §6 kappa bound over random balanced rank-one starts with f0 > s_2",
     detail::analyze_bound_vs_observed},
    {"beyond-one-neuron", "open problem: how often GF reaches the global optimum with no width-one layer (Monte Carlo)",
     detail::analyze_beyond_one_neuron},
    {"stage-wise",
     "stage-wise learning of full-width spectral starts: stage times vs docs/theory.md §10 (Saxe et al. 2014), N = "
     "2..6",
     detail::analyze_stage_wise},
};

}  // namespace

std::vector<ExperimentInfo> experiments() {
  std::vector<ExperimentInfo> out;
  for (const auto& e : kExperiments) out.push_back({e.name, e.summary});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

ExperimentReport analyze_experiment(const std::string& name, const SweepConfig& sweep,
                                    const std::vector<nlohmann::json>& runs) {
  for (const auto& e : kExperiments) {
    if (name == e.name) return e.analysis(sweep, runs);
  }
  std::string names;
  for (const auto& e : kExperiments) names += (names.empty() ? "" : ", ") + std::string(e.name);
  throw InputError("unknown experiment '" + name + "' (known: " + names + ")");
}

ExperimentReport report_experiment(const std::string& name, const SweepConfig& sweep, const std::string& out_dir) {
  const std::filesystem::path dir(out_dir);
  ExperimentReport report = analyze_experiment(name, sweep, read_runs((dir / "runs.jsonl").string()));
  detail::write_file_atomically(dir / "experiment.json", detail::json_text(report.json, 2));
  return report;
}

namespace detail {

std::vector<std::string> format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::vector<std::string> lines;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    lines.push_back(line);
  }
  return lines;
}

std::string format_number(double v, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, v);
  return buffer;
}

namespace {
const nlohmann::json& member(const nlohmann::json& run, const char* key, const std::string& experiment) {
  if (!run.contains(key) || !run[key].is_object()) {
    const std::string status = run.value("status", "unknown");
    throw InputError(experiment + " run " + std::to_string(run.at("run").get<long>()) + ": no \"" + key +
                     "\" in its line (status " + status +
                     (status == "error" ? ": " + run.value("message", "") : "; the sweep needs analyze = true") + ")");
  }
  return run[key];
}
}  // namespace

const nlohmann::json& run_analysis(const nlohmann::json& run, const std::string& experiment) {
  return member(run, "analysis", experiment);
}

const nlohmann::json& run_observation(const nlohmann::json& run, const std::string& experiment) {
  return member(run, "observed", experiment);
}

ExactTheoryRun exact_theory_run(const SweepConfig& sweep, const nlohmann::json& run, const char* experiment) {
  const long k = run.at("run").get<long>();
  const std::string at = std::string(experiment) + " run " + std::to_string(k) + ": ";
  RunConfig config = run_configuration(sweep, k);
  if (config.solver.method != Method::gf) throw InputError(at + "needs solver.method = \"gf\"");
  const nlohmann::json& analysis = run_analysis(run, experiment);
  const nlohmann::json& observed = run_observation(run, experiment);
  if (analysis.value("status", "") != "exact_theory") {
    throw InputError(at + "docs/theory.md §6 does not apply (analysis status " + analysis.value("status", "?") +
                     "): the experiment needs balanced rank-one starts with a one-neuron layer on a whitened target");
  }
  return {std::move(config), analysis, observed, at};
}

std::string limit_name(const nlohmann::json& holder) {
  std::string limit = holder.value("limit", "unknown");
  if (limit == "saddle" && holder.contains("saddle_index") && holder["saddle_index"].is_number_integer()) {
    return "saddle " + std::to_string(holder["saddle_index"].get<int>());
  }
  return limit;
}

double number_or_nan(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
}

nlohmann::ordered_json json_number(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
}

std::pair<double, double> wilson_interval(long successes, long trials, double z) {
  if (trials <= 0) return {0.0, 1.0};
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

}  // namespace detail
}  // namespace linflow
