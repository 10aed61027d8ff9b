// beyond-one-neuron: the open problem of docs/theory.md §3. With min_j d_j = k ≥ 2 nothing in §4–§6 applies; Bah et al.
// 2019 [published] guarantee convergence to a critical point (for full-rank X Xᵀ) but, for N ≥ 3, not its rank. Each
// run is analysed and simulated (sweep.analyze); `observe` names the critical point nearest the final state. The
// measurement: per depth × init kind × scale, the fraction of runs at the global optimum (the Eckart–Young optimum
// of rank k) with a 95 % Wilson interval. No result predicts it, so the verdict is a measured statement; it is PASS
// when every run ended at some critical point — the part Bah et al. do guarantee.
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "experiments/analyses.hpp"
#include "linflow/error.hpp"
#include "linflow/network.hpp"

namespace linflow::detail {
namespace {

constexpr const char* kName = "beyond-one-neuron";
constexpr double kWilsonZ = 1.959963984540054;  // two-sided 95 %

struct Group {
  int depth = 0;
  std::string kind;
  double scale = 0;
  std::vector<int> widths;
  long runs = 0, global = 0, critical = 0;
  std::map<std::string, long> limits;  // observed limit → count
};

// The run stopped at its horizon (time or step budget) rather than at eps or a stall: a lower critical point it
// sits at may be a plateau of saddle-to-saddle learning, not its limit.
bool stopped_by_horizon(const std::string& status) { return status == "t_max" || status == "max_steps"; }

}  // namespace

ExperimentReport analyze_beyond_one_neuron(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs) {
  std::map<std::tuple<int, std::string, double>, Group> groups;
  long total = 0, global = 0, critical = 0, plateau = 0;
  double horizon = 0;
  std::map<std::string, long> not_critical_status;
  for (const auto& run : runs) {
    const long k = run.at("run").get<long>();
    const std::string at = std::string(kName) + " run " + std::to_string(k) + ": ";
    const RunConfig c = run_configuration(sweep, k);
    if (c.solver.method != Method::gf) throw InputError(at + "needs solver.method = \"gf\"");
    if (Shape(c.widths).min_width() < 2) {
      throw InputError(at + "widths " + nlohmann::json(c.widths).dump() +
                       " have a width-one layer: this experiment is about networks without one");
    }
    const nlohmann::json& observed = run_observation(run, kName);
    run_analysis(run, kName);
    const int depth = static_cast<int>(c.widths.size()) - 1;
    const std::string kind = to_string(c.init.kind);
    Group& g = groups[{depth, kind, c.init.scale}];
    g.depth = depth;
    g.kind = kind;
    g.scale = c.init.scale;
    g.widths = c.widths;
    const std::string limit = limit_name(observed);
    const bool at_global = limit == "global_min";
    const bool at_critical = limit != "unknown";
    ++g.runs;
    g.global += at_global;
    g.critical += at_critical;
    ++g.limits[limit];
    ++total;
    global += at_global;
    critical += at_critical;
    if (!at_critical) ++not_critical_status[run.value("status", "unknown")];
    if (at_critical && !at_global && stopped_by_horizon(run.value("status", ""))) {
      ++plateau;
      horizon = std::max(horizon, c.solver.t_max);
    }
  }
  if (groups.empty()) throw InputError(std::string(kName) + ": no runs to analyse");

  ExperimentReport report;
  std::vector<std::vector<std::string>> table{
      {"N", "widths", "init", "scale", "runs", "global min", "fraction", "95% Wilson", "observed limits"}};
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  std::map<int, std::pair<long, long>> by_depth;  // depth → (global, runs)
  for (const auto& [key, g] : groups) {
    const auto [lo, hi] = wilson_interval(g.global, g.runs, kWilsonZ);
    const double fraction = static_cast<double>(g.global) / static_cast<double>(g.runs);
    std::string limits;
    nlohmann::ordered_json limits_json = nlohmann::ordered_json::object();
    for (const auto& [limit, n] : g.limits) {
      limits += (limits.empty() ? "" : ", ") + std::to_string(n) + " " + limit;
      limits_json[limit] = n;
    }
    by_depth[g.depth].first += g.global;
    by_depth[g.depth].second += g.runs;
    table.push_back({std::to_string(g.depth), nlohmann::json(g.widths).dump(), g.kind, format_number(g.scale, 3),
                     std::to_string(g.runs), std::to_string(g.global), format_number(fraction, 3),
                     "[" + format_number(lo, 3) + ", " + format_number(hi, 3) + "]", limits});
    list.push_back({{"depth", g.depth},
                    {"widths", g.widths},
                    {"kind", g.kind},
                    {"scale", g.scale},
                    {"runs", g.runs},
                    {"global_min", g.global},
                    {"critical_point", g.critical},
                    {"fraction", fraction},
                    {"wilson_95", {lo, hi}},
                    {"limits", limits_json}});
  }
  report.table = format_table(table);

  report.passed = critical == total;
  const auto [lo, hi] = wilson_interval(global, total, kWilsonZ);
  std::string per_depth;
  for (const auto& [depth, counts] : by_depth) {
    per_depth += (per_depth.empty() ? "" : ", ") + std::string("N=") + std::to_string(depth) + " " +
                 std::to_string(counts.first) + "/" + std::to_string(counts.second);
  }
  std::string v = std::string(kName) + ": " + (report.passed ? "PASS" : "FAIL") + " — GF reached the global optimum " +
                  "(rank min_j d_j Eckart–Young) in " + std::to_string(global) + "/" + std::to_string(total) +
                  " runs (95% Wilson [" + format_number(lo, 3) + ", " + format_number(hi, 3) + "]; " + per_depth +
                  ") from random balanced and gaussian starts with no width-one layer; ";
  if (report.passed) {
    v += "every run ended at a critical point (Bah et al. 2019)";
    if (plateau > 0) {
      v += "; " + std::to_string(plateau) +
           " of those still sat at a lower-rank saddle when the horizon (t = " + format_number(horizon, 3) +
           " or the step budget) ran out: plateaus of saddle-to-saddle learning, not " +
           "evidence of a non-global limit";
    }
  } else {
    std::string statuses;
    for (const auto& [status, n] : not_critical_status) {
      statuses += (statuses.empty() ? "" : ", ") + std::to_string(n) + " " + status;
    }
    v += std::to_string(total - critical) + " runs ended at no critical point (" + statuses +
         ": the horizon is too short, or Bah et al.'s convergence failed)";
  }
  report.verdict = v;
  report.json["experiment"] = kName;
  report.json["passed"] = report.passed;
  report.json["verdict"] = report.verdict;
  report.json["runs"] = total;
  report.json["global_min"] = global;
  report.json["critical_point"] = critical;
  report.json["saddle_at_horizon"] = plateau;
  report.json["wilson_95"] = {lo, hi};
  report.json["groups"] = list;
  return report;
}

}  // namespace linflow::detail
