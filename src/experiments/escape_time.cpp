// escape-time: gradient flow from a small start aligned with the top singular pair, W(0) = σ0 u_1 v_1ᵀ, balanced.
// Aligned, f = u_1ᵀ Z v_1 = s_1 for ever and the excess loss is ½(s_1 − σ)² (docs/theory.md §2, energy), so t_eps is
// the time σ takes from σ0 to σ1 = s_1 − √(2 eps): the §6 escape integral ∫ dx / (N x^{2−2/N}(s_1 − x)) [proved], which
// prediction P9 says GF reproduces to 1e-4 relative.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "experiments/analyses.hpp"
#include "linflow/error.hpp"
#include "linflow/network.hpp"
#include "linflow/theory.hpp"

namespace linflow::detail {
namespace {

constexpr double kTolerance = 1e-4;  // docs/theory.md §8, P9

struct Row {
  long run = 0;
  int depth = 0;
  double sigma0 = 0;
  double sigma1 = 0;  // the escape level s_1 − √(2 eps)
  double predicted = 0;
  std::optional<double> observed;
  std::string status;
};

// The §6 formula needs exactly this start; anything else would make the comparison meaningless.
void check_aligned(const RunConfig& c, const Problem& problem, long run) {
  const std::string at = "escape-time run " + std::to_string(run) + ": ";
  if (c.solver.method != Method::gf) throw InputError(at + "needs solver.method = \"gf\"");
  if (!problem.whitened()) throw InputError(at + "needs a whitened problem (a target matrix)");
  if (Shape(c.widths).min_width() != 1) throw InputError(at + "needs a one-neuron layer");
  if (c.init.kind != InitKind::balanced_rank1 || !c.init.u0 || !c.init.v0) {
    throw InputError(at + "needs init.kind = \"balanced_rank1\" with u0 and v0 given");
  }
  const double s1 = problem.s()(0);
  const double f0 = c.init.u0->normalized().dot(problem.q() * c.init.v0->normalized());
  // Aligned to round-off: f0 = s_1 up to a few ulps of the inputs.
  if (!(std::abs(f0 - s1) <= 64 * std::numeric_limits<double>::epsilon() * s1)) {
    throw InputError(at + "the start is not aligned with the top singular pair: u0ᵀ Z v0 = " + format_number(f0, 17) +
                     " ≠ s_1 = " + format_number(s1, 17));
  }
}

}  // namespace

ExperimentReport analyze_escape_time(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs) {
  std::vector<Row> rows;
  double s1 = 0;
  for (const auto& run : runs) {
    Row row;
    row.run = run.at("run").get<long>();
    row.status = run.value("status", "unknown");
    const RunConfig c = run_configuration(sweep, row.run);
    const Problem problem = make_problem(c);
    check_aligned(c, problem, row.run);
    s1 = problem.s()(0);
    row.depth = static_cast<int>(c.widths.size()) - 1;
    row.sigma0 = c.init.sigma0;
    const double sigma1 = s1 - std::sqrt(2 * c.solver.eps);
    row.sigma1 = sigma1;
    if (!(row.sigma0 < sigma1)) {
      throw InputError("escape-time run " + std::to_string(row.run) + ": σ0 = " + format_number(row.sigma0) +
                       " is not below the escape level s_1 − √(2 eps) = " + format_number(sigma1));
    }
    row.predicted = theory::magnitude_travel_time(row.depth, s1, row.sigma0, sigma1);
    if (run.contains("t_eps") && run["t_eps"].is_number()) row.observed = run["t_eps"].get<double>();
    rows.push_back(row);
  }
  if (rows.empty()) throw InputError("escape-time: no runs to analyse");
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.depth != b.depth ? a.depth < b.depth : a.sigma0 > b.sigma0; });

  ExperimentReport report;
  std::vector<std::vector<std::string>> table{{"N", "sigma0", "predicted t", "observed t_eps", "rel. error", "status"}};
  double worst = 0;
  long missing = 0;
  nlohmann::ordered_json measured = nlohmann::ordered_json::array();
  for (const auto& r : rows) {
    const double error = r.observed ? std::abs(*r.observed - r.predicted) / r.predicted : INFINITY;
    if (r.observed) {
      worst = std::max(worst, error);
    } else {
      ++missing;
    }
    table.push_back({std::to_string(r.depth), format_number(r.sigma0, 2), format_number(r.predicted, 10),
                     r.observed ? format_number(*r.observed, 10) : "not reached", format_number(error, 2), r.status});
    measured.push_back({{"run", r.run},
                        {"depth", r.depth},
                        {"sigma0", r.sigma0},
                        {"sigma1", r.sigma1},
                        {"predicted", r.predicted},
                        {"observed", r.observed ? nlohmann::ordered_json(*r.observed) : nlohmann::ordered_json()},
                        {"relative_error", r.observed ? nlohmann::ordered_json(error) : nlohmann::ordered_json()},
                        {"status", r.status}});
  }
  report.table = format_table(table);

  // Growth in 1/σ0 from the two smallest σ0 of each depth (§6): N = 2 logarithmic with slope 1/(2 s_1) in
  // ln(1/σ0); N ≥ 3 a power law with exponent 1 − 2/N, approached as σ0 → 0.
  std::map<int, std::vector<const Row*>> by_depth;
  for (const auto& r : rows) {
    if (r.observed) by_depth[r.depth].push_back(&r);
  }
  std::string growth;
  nlohmann::ordered_json growth_json = nlohmann::ordered_json::array();
  for (const auto& [depth, list] : by_depth) {
    if (list.size() < 2) continue;
    const Row& a = *list[list.size() - 2];
    const Row& b = *list.back();  // the smallest σ0
    const double dlog = std::log(a.sigma0 / b.sigma0);
    const bool logarithmic = depth == 2;
    const double measured_growth =
        logarithmic ? (*b.observed - *a.observed) / dlog : std::log(*b.observed / *a.observed) / dlog;
    const double predicted_growth = logarithmic ? 1 / (2 * s1) : 1 - 2.0 / depth;
    growth += (growth.empty() ? "" : ", ") + std::string("N=") + std::to_string(depth) + " " +
              (logarithmic ? "slope " : "exponent ") + format_number(measured_growth, 3) + " (" +
              format_number(predicted_growth, 3) + ")";
    growth_json.push_back({{"depth", depth},
                           {"kind", logarithmic ? "dt/dln(1/sigma0)" : "dln t/dln(1/sigma0)"},
                           {"measured", measured_growth},
                           {"predicted", predicted_growth}});
  }

  report.passed = missing == 0 && worst <= kTolerance;
  const std::string count = std::to_string(rows.size());
  report.verdict = "escape-time: " + std::string(report.passed ? "PASS" : "FAIL") + " — ";
  if (missing > 0) {
    report.verdict += std::to_string(missing) + " of " + count + " runs never escaped (no t_eps)";
  } else {
    report.verdict += "t_eps " + std::string(report.passed ? "matches" : "misses") + " the §6 escape integral to " +
                      format_number(worst, 2) + " relative over " + count + " runs (P9 tolerance " +
                      format_number(kTolerance, 1) + ")";
  }
  if (!growth.empty()) report.verdict += "; growth in 1/σ0 as σ0 → 0, measured (predicted): " + growth;
  report.json["experiment"] = "escape-time";
  report.json["passed"] = report.passed;
  report.json["verdict"] = report.verdict;
  report.json["tolerance"] = kTolerance;
  report.json["s1"] = s1;
  report.json["max_relative_error"] = missing == 0 ? nlohmann::ordered_json(worst) : nlohmann::ordered_json();
  report.json["growth"] = growth_json;
  report.json["runs"] = measured;
  return report;
}

}  // namespace linflow::detail
